"""Excel export: the analysis workbook and query results as real workbooks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
from openpyxl import load_workbook
from typer.testing import CliRunner

from pipeline.config import Settings
from pipeline.export import table_workbook, write_workbook
from pipeline.io import OutputStore
from stancemap.cli import app
from tests.fixtures.report.outputs import HOSTILE, build_outputs, fixture_settings


def _sheet_rows(ws: object) -> list[tuple[object, ...]]:
    return [tuple(row) for row in ws.iter_rows(values_only=True)]  # type: ignore[attr-defined]


def test_workbook_has_every_sheet_with_typed_cells(tmp_path: Path) -> None:
    store = build_outputs(tmp_path / "out")
    settings: Settings = fixture_settings(tmp_path)
    path = tmp_path / "analysis.xlsx"
    sheets = write_workbook(store, settings, path)
    assert sheets == ["Matrix", "Positions", "Themes", "Comparison", "Documents", "Errors",
                      "Corrections"]
    book = load_workbook(path)
    assert book.sheetnames == sheets

    matrix = book["Matrix"]
    header = _sheet_rows(matrix)[0]
    assert header[:4] == ("Holder", "Type", "Cited only", "Option 1: statutory committee")
    rows = {r[0]: r for r in _sheet_rows(matrix)[1:]}
    exampleton = rows["Exampleton Borough Council"]
    assert exampleton[1:5] == ("council", False, "conditional", "oppose")
    oppose = matrix.cell(row=list(rows).index("Exampleton Borough Council") + 2, column=5)
    assert oppose.fill.fgColor.rgb.endswith("D55E00")
    assert matrix.freeze_panes == "B2"

    positions = book["Positions"]
    header = _sheet_rows(positions)[0]
    assert header == tuple(store.read_table("positions").column_names)
    assert positions.freeze_panes == "A2"
    last_row = store.read_table("positions").num_rows + 1
    last_column = positions.cell(1, len(header)).column_letter
    assert positions.auto_filter.ref == f"A1:{last_column}{last_row}"
    first = dict(zip(header, _sheet_rows(positions)[1], strict=True))
    assert isinstance(first["page"], int) and isinstance(first["mixed"], bool)
    assert isinstance(first["confidence"], float)
    evidence = [dict(zip(header, r, strict=True))["evidence"]
                for r in _sheet_rows(positions)[1:]]
    assert "We reject it: " + HOSTILE in evidence

    documents = dict(zip(_sheet_rows(book["Documents"])[0], _sheet_rows(book["Documents"])[1],
                         strict=True))
    assert documents["date"] == dt.datetime(2020, 12, 10)  # a real date cell
    assert documents["ingested_at"] == dt.datetime(2021, 2, 1, 9, 30)
    themes = dict(zip(_sheet_rows(book["Themes"])[0], _sheet_rows(book["Themes"])[1],
                      strict=True))
    assert (themes["key_point"], themes["keywords"]) == ("Councils would lose their voice.",
                                                          "voice; councils")
    assert _sheet_rows(book["Errors"])[1][3] == "corrupt"
    assert len(_sheet_rows(book["Comparison"])) == 4


def test_text_that_looks_like_a_formula_stays_text(tmp_path: Path) -> None:
    table = pa.table({"text": ['=HYPERLINK("http://x","y")', "bell\x07"], "n": [1, 2]})
    path = tmp_path / "q.xlsx"
    path.write_bytes(table_workbook(table))
    ws = load_workbook(path).active
    assert ws["A2"].data_type == "s" and ws["A2"].value == '=HYPERLINK("http://x","y")'
    assert ws["A3"].value == "bell"
    assert ws["B3"].value == 2


def test_cli_export_and_query_xlsx(tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_outputs(out)
    config = tmp_path / "config.yaml"
    config.write_text(f"stance:\n  targets: {fixture_settings(tmp_path).stance.targets}\n",
                      encoding="utf-8")
    runner = CliRunner()
    book = tmp_path / "all.xlsx"
    result = runner.invoke(app, ["export", "--out", str(out), "--xlsx", str(book), "--config",
                                 str(config)])
    assert result.exit_code == 0, result.output
    assert "Matrix" in load_workbook(book).sheetnames
    query = tmp_path / "q.xlsx"
    result = runner.invoke(app, ["query", "SELECT holder, page FROM positions ORDER BY holder",
                                 "--out", str(out), "--output", str(query)])
    assert result.exit_code == 0, result.output
    rows = _sheet_rows(load_workbook(query).active)
    assert rows[0] == ("holder", "page") and rows[1] == ("Exampleton Borough Council", 2)
    assert len(rows) == 1 + OutputStore(out).read_table("positions").num_rows
    refused = runner.invoke(app, ["query", "SELECT 1", "--out", str(out), "--format", "xlsx"])
    assert refused.exit_code == 2
    assert OutputStore(out).exists("positions")
