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


def test_a_duckdb_error_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["query", "SELECT doc_id FROM pagez", "--out",
                                 str(_outputs(tmp_path))])
    assert result.exit_code == 2
    assert result.output == ('error: query failed: Catalog Error: Table with name pagez does not '
                             'exist! Did you mean "pages"?\n')


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


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``stancemap ARGS`` in a fresh process with its own state folder."""
    env = {**os.environ, "STANCEMAP_HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, "-m", "stancemap.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)


def _one_line_error(result: subprocess.CompletedProcess[str], code: int, *phrases: str) -> None:
    text = " ".join(result.stderr.split())
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert text.startswith("error:") and text.count("error:") == 1, text
    for phrase in phrases:
        assert phrase in text, text


def test_run_with_a_file_for_out(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("A council supports the plan.", encoding="utf-8")
    out = tmp_path / "out.txt"
    out.write_text("not a folder", encoding="utf-8")
    _one_line_error(_cli(tmp_path, "run", str(corpus), "--out", str(out)), 2,
                    f"--out {out} is a file, not a folder", "give a folder for the outputs")
    below = out / "sub"
    _one_line_error(_cli(tmp_path, "ingest", str(corpus), "--out", str(below)), 2,
                    f"cannot create the output folder {below}", "choose a folder you can write to")
    assert out.read_text(encoding="utf-8") == "not a folder"


def test_serve_refuses_a_bad_cron_before_announcing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    result = _cli(tmp_path, "serve", str(corpus), "--out", str(tmp_path / "out"), "--cron",
                  "every monday")
    _one_line_error(result, 2, '--cron "every monday" is not a cron expression',
                    '"0 6 * * 1" for Mondays at 06:00')
    assert "serving" not in result.stdout


def test_empty_corpus_warns_and_exits_3(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    result = _cli(tmp_path, "run", str(corpus), "--out", str(tmp_path / "out"))
    assert result.returncode == 3
    text = " ".join(result.stderr.split())
    assert f"warning: {corpus} holds no files: nothing to ingest." in text
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "out" / "documents").exists()


def test_evaluate_names_missing_gold_columns(tmp_path: Path) -> None:
    out = tmp_path / "out"
    store = OutputStore(out)
    store.write_part("positions", "d1", to_table("positions", []))
    gold = tmp_path / "bad.csv"
    gold.write_text("document,organisation,position\nx.txt,A council,support\n",
                    encoding="utf-8")
    docs = tmp_path / "docs"
    docs.mkdir()
    _one_line_error(_cli(tmp_path, "evaluate", "--gold", str(gold), "--docs", str(docs),
                         "--out", str(out)), 2,
                    f"gold file {gold} lacks the column(s) file, holder, holder_is_author, "
                    "target, stance (it has: document, organisation, position)",
                    "a gold CSV has the columns file (or id), holder, holder_is_author, target,"
                    " stance and optionally evidence")


def test_version() -> None:
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"stancemap {version('stancemap')}"


def _commands() -> list[list[str]]:
    import typer.main

    return [[], *([name] for name in sorted(typer.main.get_command(app).commands))]  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", _commands(), ids=lambda c: " ".join(c) or "stancemap")
def test_help_has_no_placeholders(command: list[str]) -> None:
    """Every command (add new ones with ``@app.command(cls=_Command)``)."""
    result = runner.invoke(app, [*command, "--help"], terminal_width=100)
    assert result.exit_code == 0
    assert "<bool>" not in result.output and "{" not in result.output, result.output
    if command in (["run"], ["ingest"], ["serve"]):
        assert f"{command[0]} [OPTIONS] CORPUS" in result.output


def test_summary_names_the_first_failed_files(capsys: pytest.CaptureFixture[str]) -> None:
    from stancemap.cli import _print_summary

    failed = [(f"f{i}.pdf", "encrypted" if i % 2 else "empty") for i in range(7)]
    _print_summary({"ingested": 3, "failed": 6, "failed_files": failed[:6],
                    "analysis_failed_files": [("g.txt", "stance failed")], "copies": 2})
    out = " ".join(capsys.readouterr().out.split())
    assert "summary: 3 ingested, 0 skipped, 6 failed, 0 deleted" in out
    assert ("failed: f0.pdf (empty), f1.pdf (encrypted), f2.pdf (empty), f3.pdf (encrypted), "
            "f4.pdf (empty) and 2 more; reasons in the errors table and the report") in out
    assert "copies: 2 documents repeat another's text (documents.copy_of) and count once" in out


def test_prefect_telemetry_and_its_notice_are_off(tmp_path: Path) -> None:
    code = ("import os; os.environ.pop('DO_NOT_TRACK', None); "
            "from stancemap.runtime import configure_prefect; configure_prefect(); "
            "from prefect._internal.analytics.enabled import is_telemetry_enabled; "
            "print(is_telemetry_enabled())")
    env = {**os.environ, "STANCEMAP_HOME": str(tmp_path / "home")}
    env.pop("DO_NOT_TRACK", None)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, env=env, timeout=120, check=True)
    assert result.stdout.strip() == "False"


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


def test_an_empty_out_is_refused(tmp_path: Path) -> None:
    for command in (["query", "SELECT 1"], ["report"], ["run", str(tmp_path)]):
        result = runner.invoke(app, [*command, "--out", ""])
        assert result.exit_code == 2
        assert "Invalid value for '--out' / '-o': is empty: give the output folder (or URL)" \
            in " ".join(result.output.replace("│", " ").split())


@pytest.mark.parametrize("command", [
    ["report"], ["export", "--xlsx", "x.xlsx"], ["evaluate", "--corrections", "decisions.csv"],
    ["query", "SELECT 1"]])
def test_commands_that_read_outputs_refuse_a_folder_without_any(
        tmp_path: Path, command: list[str]) -> None:
    corpus = tmp_path / "corpus"  # the analyst gave the corpus folder, not the outputs
    corpus.mkdir()
    (corpus / "a.txt").write_text("A council supports the plan.", encoding="utf-8")
    args = [str(tmp_path / a) if a.endswith((".xlsx", ".csv")) else a for a in command]
    for out in (corpus, tmp_path / "mistyped"):
        result = runner.invoke(app, [*args, "--out", str(out)])
        assert result.exit_code == 2
        assert " ".join(result.output.split()) == (
            f"error: no outputs at {out}: run `stancemap run CORPUS --out {out}` first")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]
    assert [p.name for p in corpus.iterdir()] == ["a.txt"]


def test_query_reads_a_folder_whose_first_run_has_begun(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "_state").mkdir(parents=True)  # the run holds its lock; no table is written yet
    result = runner.invoke(app, ["query", "SELECT count(*) AS n FROM documents", "--out",
                                 str(out), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.split() == ['"n"', "0"]


@pytest.mark.filterwarnings("ignore:Logger 'prefect.flow_runs.test' attempted to send logs")
def test_the_console_leaves_stancemaps_own_errors_to_the_cli() -> None:
    import logging

    from pipeline.errors import SchemaMismatchError
    from stancemap.cli import _progress

    class Kept(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    kept = Kept()
    root = logging.getLogger()
    root.addHandler(kept)
    log = logging.getLogger("prefect.flow_runs.test")
    try:
        with _progress():
            for error in (SchemaMismatchError("a damaged part"), KeyError("a bug")):
                try:
                    raise error
                except Exception:
                    log.error("Encountered exception during execution: %r", error,
                              exc_info=True)
        log.error("after the flows", exc_info=SchemaMismatchError("printed again"))
    finally:
        root.removeHandler(kept)
    assert kept.messages == ["Encountered exception during execution: KeyError('a bug')",
                             "after the flows"]


def test_an_out_that_is_a_link_loop_or_leads_nowhere_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / "gone").symlink_to(tmp_path / "never-made")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    message = ("error: --out {} is a symbolic link that leads to no folder (a missing target "
               "or a link loop): give a folder for the outputs")
    for command in (["report"], ["review"], ["export", "--xlsx", str(tmp_path / "x.xlsx")]):
        result = runner.invoke(app, [*command, "--out", str(tmp_path / "a")])
        assert result.exit_code == 2
        assert " ".join(result.output.split()) == message.format(tmp_path / "a")
    (corpus / "a.txt").write_text("A council supports the plan.", encoding="utf-8")
    _one_line_error(_cli(tmp_path, "run", str(corpus), "--out", str(tmp_path / "gone")), 2,
                    message.format(tmp_path / "gone").removeprefix("error: "))
    assert not (tmp_path / "never-made").exists()


def test_a_summary_json_that_is_a_folder_is_refused_before_the_run(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    result = runner.invoke(app, ["run", str(corpus), "--out", str(tmp_path / "out"),
                                 "--summary-json", str(tmp_path)])
    assert result.exit_code == 2
    assert f"Invalid value for '--summary-json': file '{tmp_path}' is a directory" in \
        " ".join(result.output.replace("│", " ").split())
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("command", "option"), [
    (["query", "SELECT 1", "--format", "csv"], "--output"),
    (["export"], "--xlsx"),
    (["run", "corpus"], "--summary-json")])
def test_a_file_to_write_in_a_missing_folder_is_refused(
        tmp_path: Path, command: list[str], option: str) -> None:
    out = _outputs(tmp_path)
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("A council supports the plan.", encoding="utf-8")
    dest = tmp_path / "mistyped" / "result.file"
    args = [str(tmp_path / a) if a == "corpus" else a for a in command]
    result = runner.invoke(app, [*args, "--out", str(out), option, str(dest)])
    assert result.exit_code == 2
    assert " ".join(result.output.split()) == (
        f"error: {option} {dest}: the folder {dest.parent} does not exist; create it or "
        "choose a file in an existing folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "out"]


def test_an_infinite_limit_in_the_environment_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "--out", str(_outputs(tmp_path)), "--xlsx",
                                 str(tmp_path / "all.xlsx")],
                           env={"STANCEMAP_CORPUS__MAX_FILE_MB": "1e999"})
    assert result.exit_code == 2
    assert result.output == ("error: invalid configuration: corpus.max_file_mb: Input should be "
                             "a finite number (environment variable "
                             "STANCEMAP_CORPUS__MAX_FILE_MB)\n")
    assert not (tmp_path / "all.xlsx").exists()


def test_a_bad_organisation_entry_is_one_line_naming_the_file_and_entry(tmp_path: Path) -> None:
    patterns = tmp_path / "organisations.yaml"
    patterns.write_text("organisations:\n  - id: brightwater-trust\n    name: Brightwater Trust\n"
                        "  - Harbourside Council\n", encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(f"entities:\n  patterns: {patterns}\n", encoding="utf-8")
    result = runner.invoke(app, ["export", "--out", str(_outputs(tmp_path)), "--xlsx",
                                 str(tmp_path / "all.xlsx"), "--config", str(config)])
    assert result.exit_code == 2
    assert result.output == (f"error: invalid entity pattern file {patterns} (entities.patterns):"
                             " organisations entry 1 (brightwater-trust): no 'type' key\n")
