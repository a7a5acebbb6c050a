"""`stancemap run` and `stancemap ingest` in-process on the session's Prefect test server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.io import OutputStore
from stancemap.cli import app

pytestmark = pytest.mark.slow

pytest.importorskip("pipeline.ingest", reason="the ingest stage has not landed")

runner = CliRunner()


def test_run_prints_the_summary_and_writes_it(prefect_api: str, tiny_corpus: Path,
                                              tmp_path: Path) -> None:
    out, summary_file = tmp_path / "out", tmp_path / "summary.json"
    result = runner.invoke(app, ["run", str(tiny_corpus), "--out", str(out), "--summary-json",
                                 str(summary_file)])
    assert result.exit_code == 0, result.output
    assert "summary: 3 ingested, 0 skipped, 1 failed, 0 deleted" in result.output
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    assert (summary["ingested"], summary["failed"]) == (3, 1)
    again = runner.invoke(app, ["run", str(tiny_corpus), "--out", str(out)])
    assert again.exit_code == 0
    assert "summary: 0 ingested, 4 skipped, 0 failed, 0 deleted" in again.output


def test_everything_failing_exits_non_zero(prefect_api: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blank.md").write_text("   \n", encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["ingest", str(corpus), "--out", str(out)])
    assert result.exit_code == 1
    assert "all 2 new or changed files failed" in result.output
    assert OutputStore(out).read_table("errors").num_rows == 2
    nothing_to_do = runner.invoke(app, ["ingest", str(corpus), "--out", str(out)])
    assert nothing_to_do.exit_code == 0
    assert "0 ingested, 2 skipped" in nothing_to_do.output
