"""Excel workbooks (openpyxl): the whole analysis in one file, or one query result.

Every sheet has real typed cells (numbers, booleans, dates; timestamps in UTC), a bold frozen
header row and an autofilter. Text that a spreadsheet would read as a formula is stored as
text, characters XML cannot hold are dropped and over-long cells are cut at Excel's limit, so
no document can make a cell run anything or break the file.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.config import Settings
from pipeline.io import OutputStore, atomic_write_bytes

MAX_CELL_CHARS = 32_767  # Excel's limit for one cell
MAX_WIDTH = 60
# Sheet name -> the table it shows (the matrix is assembled by the report's rule).
TABLE_SHEETS = (("Positions", "positions"), ("Themes", "clusters"),
                ("Comparison", "comparison"), ("Documents", "documents"), ("Errors", "errors"),
                ("Corrections", "corrections"))


def _value(value: Any) -> Any:
    """A cell value openpyxl can store faithfully."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, list | tuple):
        return "; ".join("" if v is None else str(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        return ILLEGAL_CHARACTERS_RE.sub("", value)[:MAX_CELL_CHARS]
    return value


def _put(ws: Any, row: int, column: int, value: Any) -> Any:
    cell = ws.cell(row=row, column=column, value=_value(value))
    if isinstance(cell.value, str) and cell.data_type == "f":
        cell.data_type = "s"  # text, never a formula
    if isinstance(cell.value, dt.datetime):
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
    elif isinstance(cell.value, dt.date):
        cell.number_format = "yyyy-mm-dd"
    return cell


def _finish(ws: Any, header: Sequence[str], widths: list[int], freeze: str = "A2") -> None:
    """Bold frozen header, autofilter over the data, column widths."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    for column, name in enumerate(header, start=1):
        _put(ws, 1, column, name).font = Font(bold=True)
    ws.freeze_panes = freeze
    if header:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{max(ws.max_row, 1)}"
    for column, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(column)].width = min(MAX_WIDTH, max(8, width + 2))


def write_table_sheet(ws: Any, table: pa.Table) -> None:
    """Fill the worksheet ``ws`` with ``table``: one typed column per table column."""
    header = list(table.column_names)
    widths = [len(name) for name in header]
    for r, row in enumerate(table.to_pylist(), start=2):
        for c, name in enumerate(header, start=1):
            cell = _put(ws, r, c, row[name])
            widths[c - 1] = max(widths[c - 1], min(MAX_WIDTH, len(str(cell.value or ""))))
    _finish(ws, header, widths)


def _matrix_sheet(ws: Any, store: OutputStore, settings: Settings) -> None:
    """Holders x targets, one coloured cell per position (the report's matrix rule)."""
    from openpyxl.styles import Font, PatternFill

    from pipeline.report import REVIEW_MARK, collect, stance_style

    data = collect(store, settings)
    header = ["Holder", "Type", "Cited only", *(t.label for t in data.targets)]
    widths = [len(h) for h in header]
    for r, holder in enumerate(data.holders, start=2):
        for c, value in enumerate((holder.name, holder.org_type, not holder.is_author), 1):
            _put(ws, r, c, value)
        widths[0] = max(widths[0], min(MAX_WIDTH, len(holder.name)))
        for c, target in enumerate(data.targets, start=4):
            cell = holder.cells.get(target.id)
            if cell is None:
                continue
            mark = f" {REVIEW_MARK}" if cell.review == "corrected" else ""
            out = _put(ws, r, c, cell.stance + (" (cited)" if cell.cited else "") + mark)
            colour = stance_style(cell.stance)[0].lstrip("#")
            out.fill = PatternFill(start_color=colour, end_color=colour, fill_type="solid")
            out.font = Font(bold=True, color="FFFFFF" if cell.stance != "neutral" else "000000")
    _finish(ws, header, widths, freeze="B2")


def build_workbook(store: OutputStore, settings: Settings) -> Any:
    """The analysis as an openpyxl workbook: Matrix, then one sheet per :data:`TABLE_SHEETS`."""
    from openpyxl import Workbook

    book = Workbook()
    matrix = book.active
    matrix.title = "Matrix"
    _matrix_sheet(matrix, store, settings)
    for title, name in TABLE_SHEETS:
        write_table_sheet(book.create_sheet(title), store.read_table(name))
    return book


def _save(book: Any, path: Path) -> None:
    buffer = io.BytesIO()
    book.save(buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def write_workbook(store: OutputStore, settings: Settings, path: Path) -> list[str]:
    """Write the analysis workbook to ``path`` atomically; return its sheet names."""
    book = build_workbook(store, settings)
    _save(book, path)
    return list(book.sheetnames)


def table_workbook(table: pa.Table, sheet: str = "Result") -> bytes:
    """``table`` as the bytes of a one-sheet workbook (``stancemap query --format xlsx``)."""
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.title = sheet
    write_table_sheet(ws, table)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
