"""The ``stancemap`` command line: the only place that prints.

Heavy modules (Prefect, the pipeline stages, spaCy, torch) are imported inside the commands, so
``stancemap --help`` answers at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

app = typer.Typer(
    name="stancemap",
    help="Who supports or opposes which policy option, with evidence, across a corpus of "
    "policy documents. Outputs are parquet tables, reports and a read-only SQL interface.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

CorpusArg = Annotated[Path, typer.Argument(help="Folder of documents (searched recursively).",
                                           exists=True, file_okay=False, resolve_path=True)]
OutOpt = Annotated[str, typer.Option(
    "--out", "-o", help="Output folder of tables and reports, or an fsspec URL (run, serve, "
    "query), e.g. s3://bucket/stancemap: a local staging copy is published there.")]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", "-c", help="YAML file overriding pipeline/defaults.yaml (same keys).",
    exists=True, dir_okay=False)]
PasswordOpt = Annotated[str | None, typer.Option(
    "--password", help="Password for encrypted PDFs (or set STANCEMAP_CORPUS__PASSWORD).")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's run logs.")]


class Runner(StrEnum):
    """Where per-document work runs."""

    local = "local"
    dask = "dask"


class Format(StrEnum):
    """Output formats of ``query``."""

    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextlib.contextmanager
def _expected_errors() -> Iterator[None]:
    """Turn stancemap's own errors into a one-line message and exit code 2."""
    from pipeline.errors import StancemapError

    try:
        yield
    except StancemapError as exc:
        raise _fail(str(exc)) from None


def _prepare(verbose: bool, password: str | None = None) -> None:
    """Environment for Prefect and the pipeline, set before either is imported."""
    from stancemap.runtime import configure_prefect

    if password:
        os.environ["STANCEMAP_CORPUS__PASSWORD"] = password
    configure_prefect("INFO" if verbose else "WARNING")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    """End with status 128 + SIGTERM through a normal exit. Prefect marks the flow run crashed
    and then re-sends the signal to the handler it found (this one): exiting normally runs the
    clean-up at exit, which stops Prefect's temporary server and the worker processes, where
    the default action would kill this process alone and leave them running."""
    raise SystemExit(128 + signum)


class _ProgressHandler(logging.Handler):
    """Drives a rich progress bar from the flows' ``stancemap.progress`` log records."""

    def __init__(self, progress: Any) -> None:
        super().__init__(level=logging.INFO)
        self.progress = progress
        self.bars: dict[str, Any] = {}

    def emit(self, record: logging.LogRecord) -> None:
        stage = getattr(record, "stage", None)
        if stage is None:
            return
        done, total = getattr(record, "done", 0), getattr(record, "total", None)
        if stage not in self.bars:
            self.bars[stage] = self.progress.add_task(stage, total=total)
        self.progress.update(self.bars[stage], completed=done, total=total)


@contextlib.contextmanager
def _progress() -> Iterator[None]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=False) as progress:
        handler = _ProgressHandler(progress)
        logger = logging.getLogger("stancemap.progress")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        try:
            yield
        finally:
            logger.removeHandler(handler)


def _load(config: Path | None) -> Any:
    """The settings; ``runtime.log_level`` sets the level of the pipeline's logs."""
    from pipeline.config import load_settings
    from pipeline.errors import ConfigError

    settings = load_settings(config)
    for name in ("pipeline", "flows"):
        try:
            logging.getLogger(name).setLevel(settings.runtime.log_level.upper())
        except ValueError as exc:
            raise ConfigError(f"runtime.log_level: {exc}") from None
    return settings


def _target(out: str) -> str:
    """``out`` as flows take it: an fsspec URL as given, a folder as an absolute path."""
    from pipeline.io import is_remote, local_path

    return out if is_remote(out) else str(local_path(out).resolve())


def _local(out: str, command: str) -> Path:
    """The local folder ``out``; URLs are refused with a clear message."""
    from pipeline.io import is_remote, local_path

    if is_remote(out):
        raise _fail(f"`stancemap {command}` needs a local output folder, not {out}; "
                    "`run`, `serve` and `query` accept URLs")
    return local_path(out).resolve()


@contextlib.contextmanager
def _locked(out: str) -> Iterator[None]:
    """Hold a local output folder's lock before Prefect starts (a URL's staging copy is
    locked by the run itself)."""
    from pipeline.io import OutputStore, is_remote

    if is_remote(out):
        yield
        return
    from flows.run import hold_lock

    with hold_lock(OutputStore(Path(out))):
        yield


def _print_summary(summary: dict[str, Any]) -> None:
    parts = [f"{summary.get(k, 0)} {k}" for k in ("ingested", "skipped", "failed", "deleted")]
    if "analysed" in summary:
        parts.append(f"{summary['analysed']} analysed")
    if summary.get("analysis_failed"):
        parts.append(f"{summary['analysis_failed']} failed analysis")
    console.print("summary: " + ", ".join(parts), highlight=False)
    for note in summary.get("notes", []):
        console.print(f"  note: {note}", highlight=False)


def _exit_code(summary: dict[str, Any]) -> int:
    """Non-zero only when every file this run tried failed."""
    if summary.get("failed", 0) and not summary.get("ingested", 0):
        err_console.print(f"[bold red]error:[/] all {summary['failed']} new or changed files "
                          "failed; see the errors table", highlight=False)
        return 1
    return 0


@app.command()
def run(corpus: CorpusArg, out: OutOpt, config: ConfigOpt = None, password: PasswordOpt = None,
        runner: Annotated[Runner | None, typer.Option(
            help="Where per-document work runs (default: runtime.runner of the config).")] = None,
        dask_address: Annotated[str | None, typer.Option(
            help="Scheduler of an existing Dask cluster, e.g. tcp://10.0.0.5:8786.")] = None,
        summary_json: Annotated[Path | None, typer.Option(
            help="Also write the run summary to this JSON file.")] = None,
        verbose: VerboseOpt = False) -> None:
    """Run the whole pipeline on CORPUS: ingest, entities, stance, arguments, report.

    Incremental: unchanged files are skipped, changed ones re-processed, deleted ones removed
    from every table.
    """
    _prepare(verbose, password)
    with _expected_errors():
        settings = _load(config)
        from flows.run import run_flow, run_setup, using

        out = _target(out)
        config_arg = str(config) if config else None
        with _locked(out), _progress(), using(run_setup(config_arg, settings)):
            summary = run_flow(str(corpus), out, config_arg,
                               runner.value if runner else None, dask_address)
    _print_summary(summary)
    if summary_json is not None:
        from pipeline.io import atomic_write_bytes

        atomic_write_bytes(summary_json, json.dumps(summary, indent=1, default=str).encode())
    console.print(f"outputs: {out}", highlight=False)
    raise typer.Exit(_exit_code(summary))


@app.command()
def ingest(corpus: CorpusArg, out: OutOpt, config: ConfigOpt = None,
           password: PasswordOpt = None, verbose: VerboseOpt = False) -> None:
    """Ingest CORPUS into the documents, pages, sentences and errors tables (incremental)."""
    _prepare(verbose, password)
    with _expected_errors():
        settings = _load(config)
        from flows.run import hold_lock, ingest_flow, run_setup, using
        from pipeline.io import OutputStore

        folder = _local(out, "ingest")
        config_arg = str(config) if config else None
        with hold_lock(OutputStore(folder)), _progress(), using(run_setup(config_arg, settings)):
            summary = ingest_flow(str(corpus), str(folder), config_arg)
    _print_summary(summary)
    raise typer.Exit(_exit_code(summary))


@app.command()
def report(out: OutOpt, config: ConfigOpt = None, verbose: VerboseOpt = False) -> None:
    """Write OUT/report.html and OUT/report.md from the tables in OUT."""
    _prepare(verbose)
    with _expected_errors():
        settings = _load(config)
        from flows.run import hold_lock, report_flow, run_setup, using
        from pipeline.io import OutputStore

        folder = _local(out, "report")
        config_arg = str(config) if config else None
        with hold_lock(OutputStore(folder)), using(run_setup(config_arg, settings)):
            summary = report_flow(str(folder), config_arg, force=True)
    for path in summary.get("report", []):
        console.print(f"wrote {path}", highlight=False)
    for note in summary["notes"]:
        console.print(f"note: {note}", highlight=False)


@app.command()
def query(sql: Annotated[str, typer.Argument(help="One read-only SQL statement; tables are "
                                             "named after the outputs (documents, stances...).")],
          out: OutOpt,
          fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] =
          Format.table,
          output: Annotated[Path | None, typer.Option(help="Write the result to this file.")] =
          None) -> None:
    """Answer SQL over the output tables (read-only DuckDB)."""
    with _expected_errors():
        from pipeline.io import materialise
        from pipeline.query import format_result, run_query
        from stancemap.runtime import stancemap_home

        folder = materialise(out, stancemap_home() / "staging")
        if not folder.is_dir():
            raise _fail(f"no outputs at {out}: run `stancemap run CORPUS --out {out}` first")
        table = run_query(sql, folder)
        if fmt is Format.parquet and output is None:
            raise _fail("--format parquet needs --output FILE")
        rendered = format_result(table, fmt.value, output)
    if output is not None:
        console.print(f"wrote {table.num_rows} rows to {output}", highlight=False)
    elif isinstance(rendered, str):
        sys.stdout.write(rendered)


@app.command()
def evaluate(gold: Annotated[Path, typer.Option(help="Gold stances CSV.", exists=True,
                                                dir_okay=False)],
             docs: Annotated[Path, typer.Option(help="Folder of the gold documents.",
                                                exists=True, file_okay=False)],
             out: OutOpt, config: ConfigOpt = None) -> None:
    """Score OUT's positions against a gold CSV; write OUT/evaluation.json and .md.

    Run `stancemap run DOCS --out OUT` first; `stancemap report` then shows the scores.
    """
    with _expected_errors():
        from pipeline.evaluate import evaluate as score
        from pipeline.io import OutputStore, atomic_write_bytes

        settings = _load(config)
        folder = _local(out, "evaluate")
        store = OutputStore(folder)
        if not store.exists("positions"):
            raise _fail(f"no positions in {out}: run `stancemap run {docs} --out {out}` first")
        result = score(gold, docs, store.read_table("positions"), store.read_table("documents"),
                       register=_register(settings))
        atomic_write_bytes(folder / "evaluation.json", result.to_json().encode("utf-8"))
        atomic_write_bytes(folder / "evaluation.md", result.to_markdown().encode("utf-8"))
    for mode, group in result.scores.items():
        overall = group.get("overall")
        if overall is not None:
            console.print(f"{mode}: P {overall.precision:.2f}  R {overall.recall:.2f}  "
                          f"F1 {overall.f1:.2f}  ({overall.tp} of {overall.n_gold} gold, "
                          f"{overall.n_predicted} predicted)", highlight=False)
    for name in ("evaluation.json", "evaluation.md"):
        console.print(f"wrote {folder / name}", highlight=False)


def _register(settings: Any) -> Any:
    """The entities register for matching holders, when the entities stage is installed."""
    try:
        from pipeline.entities import load_register
    except ImportError:
        return None
    return load_register(settings)


@app.command()
def serve(corpus: CorpusArg, out: OutOpt,
          cron: Annotated[str, typer.Option(help="When to refresh, as a cron expression (UTC), "
                                            "e.g. '0 6 * * 1' = Mondays 06:00.")],
          config: ConfigOpt = None,
          name: Annotated[str, typer.Option(help="Deployment name.")] = "stancemap-refresh",
          verbose: VerboseOpt = False) -> None:
    """Serve a deployment that refreshes CORPUS into OUT on a schedule (runs until stopped).

    Uses the Prefect server at PREFECT_API_URL, or one on 127.0.0.1:4200, or starts one with
    its state in ~/.stancemap/prefect-server (schedules need a real server).
    """
    _prepare(verbose)
    with _expected_errors():
        _load(config)
        from stancemap.runtime import ensure_server

        try:
            api_url, server = ensure_server()
        except RuntimeError as exc:
            raise _fail(str(exc)) from None
        os.environ["PREFECT_API_URL"] = api_url
        console.print(f"serving {name} ({cron}) on {api_url}; UI at "
                      f"{api_url.removesuffix('/api')}; Ctrl-C to stop", highlight=False)
        from flows.serve import serve_refresh

        try:
            serve_refresh(str(corpus), _target(out), cron, str(config) if config else None, name)
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)


if __name__ == "__main__":
    app()
