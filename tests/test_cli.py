"""The command line: help, one-line errors, the lock message, query output."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.io import OutputStore
from pipeline.schema import to_table
from stancemap.cli import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _outputs(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    store = OutputStore(out)
    for doc_id, n in (("d1", 2), ("d2", 1)):
        store.write_part("pages", doc_id, to_table(
            "pages", [{"doc_id": doc_id, "page": i + 1, "text": "t", "n_chars": 1}
                      for i in range(n)]))
    return out


def test_help_lists_every_command_quickly() -> None:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "stancemap.cli", "--help"],
                            capture_output=True, text=True, cwd=ROOT, check=True)
    assert time.monotonic() - started < 10
    for command in ("run", "ingest", "report", "query", "evaluate", "serve"):
        assert command in result.stdout


def test_query_prints_a_table(tmp_path: Path) -> None:
    out = _outputs(tmp_path)
    result = runner.invoke(app, ["query", "SELECT doc_id, count(*) AS n FROM pages "
                                 "GROUP BY doc_id ORDER BY doc_id", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["doc_id", "n", "------", "-", "d1", "2", "d2", "1",
                                     "(2", "rows)"]


def test_query_writes_csv_to_a_file(tmp_path: Path) -> None:
    out = _outputs(tmp_path)
    dest = tmp_path / "result.csv"
    result = runner.invoke(app, ["query", "SELECT count(*) AS n FROM pages", "--out", str(out),
                                 "--format", "csv", "--output", str(dest)])
    assert result.exit_code == 0, result.output
    assert dest.read_text(encoding="utf-8").split() == ['"n"', "3"]


def test_query_errors_are_one_line(tmp_path: Path) -> None:
    out = _outputs(tmp_path)
    refused = runner.invoke(app, ["query", "DELETE FROM pages", "--out", str(out)])
    assert refused.exit_code == 2
    assert "Traceback" not in refused.output and "error:" in refused.output
    missing = runner.invoke(app, ["query", "SELECT 1", "--out", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "no outputs at" in missing.output


def test_bad_config_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("runtime:\n  runner: kubernetes\n", encoding="utf-8")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    env = {**os.environ, "STANCEMAP_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-m", "stancemap.cli", "run", str(corpus), "--out",
                             str(tmp_path / "out"), "--config", str(config)],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_second_run_on_the_same_outputs_exits_with_a_clear_message(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    out = tmp_path / "out"
    env = {**os.environ, "STANCEMAP_HOME": str(tmp_path / "home")}
    with OutputStore(out).lock():
        result = subprocess.run([sys.executable, "-m", "stancemap.cli", "run", str(corpus),
                                 "--out", str(out)], capture_output=True, text=True, cwd=ROOT,
                                env=env, timeout=300)
    assert result.returncode == 2
    assert "another stancemap run" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(out.glob("*.parquet")) and not (out / "documents").exists()


@pytest.mark.parametrize("command", [["ingest", "corpus"], ["report"]])
def test_commands_that_need_a_local_folder_refuse_a_url(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--out", "memory://bucket/run"])
    assert result.exit_code == 2
    assert f"`stancemap {command[0]}` needs a local output folder, not memory://bucket/run" \
        in " ".join(result.output.split())


def test_query_reads_outputs_published_at_a_url(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.io import publish

    url = f"memory://stancemap-cli-test/{tmp_path.name}"
    store = OutputStore(_outputs(tmp_path))
    store.write_state("manifest", {"files": {}})
    publish(store, url)
    monkeypatch.setenv("STANCEMAP_HOME", str(tmp_path / "home"))
    result = runner.invoke(app, ["query", "SELECT count(*) AS n FROM pages", "--out", url,
                                 "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.split() == ['"n"', "3"]


def test_a_bad_theme_file_stops_the_run_naming_its_line(tmp_path: Path) -> None:
    themes = tmp_path / "themes.yaml"
    themes.write_text("themes:\n  - id: voice\n    key_piont: Councils keep a voice.\n",
                      encoding="utf-8")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    result = runner.invoke(app, ["run", str(corpus), "--out", str(tmp_path / "out"),
                                 "--themes", str(themes)])
    assert result.exit_code == 2
    assert f"{themes}:3: unknown key 'key_piont'" in result.output
    assert not (tmp_path / "out").exists()
