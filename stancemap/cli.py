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
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperCommand, TyperGroup

# Exit codes (README, "Exit codes"): 0 done (something succeeded, or nothing needed doing),
# 1 every new or changed file failed, 2 usage, configuration, output or lock error,
# 3 the corpus folder holds no files, 143 stopped by SIGTERM.
EXIT_FAILED, EXIT_USAGE, EXIT_EMPTY = 1, 2, 3
_MAX_FAILED_NAMED = 5


class _PlainHelp:
    """Help as a person reads it: ``CORPUS``, not typer's ``{corpus}``; no ``<bool>`` type
    after a plain flag."""

    __slots__ = ()

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces: list[str] = super().collect_usage_pieces(ctx)  # type: ignore[misc]
        return [piece.strip("{}") for piece in pieces]

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) or getattr(param, "count", False):
                param.metavar = ""
        return params


class _Command(_PlainHelp, TyperCommand):
    __slots__ = ()


class _Group(_PlainHelp, TyperGroup):
    __slots__ = ()


app = typer.Typer(
    name="stancemap",
    help="Who supports or opposes which policy option, with evidence, across a corpus of "
    "policy documents. Outputs are parquet tables, reports and a read-only SQL interface.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_Group,
)
console = Console()
err_console = Console(stderr=True)

CorpusArg = Annotated[Path, typer.Argument(help="Folder of documents (searched recursively).",
                                           exists=True, file_okay=False, resolve_path=True,
                                           metavar="CORPUS")]


def _out_given(value: str) -> str:
    """``--out`` is a folder or URL, never empty (an unset shell variable in ``"$OUT"`` would
    otherwise make it the current folder)."""
    if not value.strip():
        raise typer.BadParameter("is empty: give the output folder (or URL)")
    return value


OutOpt = Annotated[str, typer.Option(
    "--out", "-o", help="Output folder of tables and reports, or an fsspec URL (run, serve, "
    "query), e.g. s3://bucket/stancemap: a local staging copy is published there.",
    callback=_out_given)]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", "-c", help="YAML file overriding pipeline/defaults.yaml (same keys).",
    exists=True, dir_okay=False)]
PasswordOpt = Annotated[str | None, typer.Option(
    "--password", help="Password for encrypted PDFs (or set STANCEMAP_CORPUS__PASSWORD).")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's run logs.")]
CorrectionsOpt = Annotated[Path | None, typer.Option(
    "--corrections", help="The analyst's corrections CSV (default: review.corrections, else "
    "<OUT name>.corrections.csv beside OUT).", dir_okay=False)]


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
    xlsx = "xlsx"


_DANGLING = ("--out {out} is a symbolic link that leads to no folder (a missing target or a "
             "link loop): give a folder for the outputs")


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("stancemap")
        except PackageNotFoundError:
            found = "unknown (not installed)"
        console.print(f"stancemap {found}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", help="Show the version and exit.", callback=_version,
        is_eager=True)] = False) -> None:
    """Who supports or opposes which policy option, with evidence, across a corpus of
    policy documents. Outputs are parquet tables, reports and a read-only SQL interface."""


@contextlib.contextmanager
def _expected_errors() -> Iterator[None]:
    """Turn stancemap's own errors, and a file that cannot be read or written, into a
    one-line message and exit code 2."""
    from pipeline.errors import StancemapError

    try:
        yield
    except StancemapError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        raise _fail(f"cannot read or write{where}: {exc.strerror or exc}; check the path "
                    "and its permissions") from None


def _check_out(out: str) -> None:
    """A local output folder is a folder that exists (or can be created) and can be written."""
    from pipeline.io import is_remote, local_path

    if is_remote(out):
        return
    path = local_path(out)
    if path.exists() and not path.is_dir():
        raise _fail(f"--out {out} is a file, not a folder: give a folder for the outputs "
                    "(it is created if missing)")
    if path.is_symlink() and not path.exists():
        raise _fail(_DANGLING.format(out=out))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _fail(f"cannot create the output folder {out}: {exc.strerror or exc}; choose a "
                    "folder you can write to") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise _fail(f"cannot write to the output folder {out}: permission denied; choose a "
                    "folder you can write to")


def _check_parent(path: Path | None, option: str) -> None:
    """Refuse a file to write whose folder does not exist (a mistyped path): it is not
    created, so the result never lands somewhere unexpected."""
    if path is not None and not path.parent.exists():
        raise _fail(f"{option} {path}: the folder {path.parent} does not exist; create it or "
                    "choose a file in an existing folder")


def _has_files(corpus: Path) -> bool:
    return any(files for _, _, files in os.walk(corpus))


def _empty_corpus(corpus: Path, out: str) -> bool:
    """Warn when CORPUS holds no file; exit at once unless OUT has earlier outputs (whose
    documents a run then removes, as their files are gone)."""
    from pipeline.io import is_remote, local_path

    if _has_files(corpus):
        return False
    err_console.print(f"[bold yellow]warning:[/] {corpus} holds no files: nothing to ingest. "
                      "Put the PDF, Word, HTML, Markdown or text documents in it (sub-folders "
                      "are searched).", highlight=False, soft_wrap=True)
    if not is_remote(out) and not (local_path(out) / "_state").is_dir():
        raise typer.Exit(EXIT_EMPTY)
    return True


def _prepare(verbose: bool, password: str | None = None) -> None:
    """Environment for Prefect and the pipeline, set before either is imported; a watchdog
    that ends whatever this command starts when it ends, even by kill -9."""
    from stancemap.runtime import configure_prefect, start_watchdog

    if password:
        os.environ["STANCEMAP_CORPUS__PASSWORD"] = password
    configure_prefect("INFO" if verbose else "WARNING")
    start_watchdog()
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


class _ExpectedErrorFilter(logging.Filter):
    """Keeps the console's log handlers from printing a record that carries one of
    stancemap's own errors: the CLI reports it in one line, where Prefect's handler would
    print it again with its traceback (the Prefect API still gets the record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from pipeline.errors import StancemapError

        return not (record.exc_info and isinstance(record.exc_info[1], StancemapError))


@contextlib.contextmanager
def _progress() -> Iterator[None]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    console_handlers = list(logging.getLogger().handlers)  # Prefect's, once it is imported
    expected = _ExpectedErrorFilter()
    with Progress(*columns, console=err_console, transient=False) as progress:
        handler = _ProgressHandler(progress)
        logger = logging.getLogger("stancemap.progress")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        for console_handler in console_handlers:
            console_handler.addFilter(expected)
        try:
            yield
        finally:
            logger.removeHandler(handler)
            for console_handler in console_handlers:
                console_handler.removeFilter(expected)


def _load(config: Path | None, analysis: bool = True) -> Any:
    """The settings; ``runtime.log_level`` sets the level of the pipeline's logs. With
    ``analysis``, the data files the analysis and the reports read (targets, organisations)
    are checked too."""
    from pipeline.config import load_settings
    from pipeline.errors import ConfigError

    settings = load_settings(config)
    for name in ("pipeline", "flows"):
        try:
            logging.getLogger(name).setLevel(settings.runtime.log_level.upper())
        except ValueError as exc:
            raise ConfigError(f"runtime.log_level: {exc}") from None
    if analysis:
        from flows.preflight import check_data_files

        check_data_files(settings)
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
    try:
        return local_path(out).resolve()
    except RuntimeError:  # pathlib's "Symlink loop" (Python < 3.13)
        raise _fail(_DANGLING.format(out=out)) from None


def _need_outputs(folder: Path, out: str, started: bool = False) -> None:
    """Refuse a folder holding none of stancemap's tables (a mistyped ``--out``, the corpus
    folder): reading it would show empty results, writing a report would make it look like
    outputs. With ``started``, a folder whose first run has begun (it holds the run's state)
    is accepted: a query there reads the tables as they are written."""
    from pipeline.io import STATE_DIR, OutputStore
    from pipeline.schema import TABLES

    store = OutputStore(folder)
    if started and (folder / STATE_DIR).is_dir():
        return
    if not folder.is_dir() or not any(store.exists(name) for name in TABLES):
        raise _fail(f"no outputs at {out}: run `stancemap run CORPUS --out {out}` first")


@contextlib.contextmanager
def _locked(out: str) -> Iterator[None]:
    """Hold a local output folder's lock before Prefect starts (a URL's staging copy is
    locked by the run itself)."""
    from pipeline.io import OutputStore, is_remote

    if is_remote(out):
        yield
        return
    from flows.preflight import hold_lock

    with hold_lock(OutputStore(Path(out))):
        yield


def _print_summary(summary: dict[str, Any]) -> None:
    parts = [f"{summary.get(k, 0)} {k}" for k in ("ingested", "skipped", "failed", "deleted")]
    if summary.get("identical"):
        parts.insert(1, f"{summary['identical']} identical copies")
    if "analysed" in summary:
        parts.append(f"{summary['analysed']} analysed")
    if summary.get("analysis_failed"):
        parts.append(f"{summary['analysis_failed']} failed analysis")
    console.print("summary: " + ", ".join(parts), highlight=False, soft_wrap=True)
    failed = [*summary.get("failed_files", []), *summary.get("analysis_failed_files", [])]
    if failed:
        named = ", ".join(f"{rel} ({why})" for rel, why in failed[:_MAX_FAILED_NAMED])
        more = len(failed) - _MAX_FAILED_NAMED
        console.print(f"  failed: {named}" + (f" and {more} more" if more > 0 else "")
                      + "; reasons in the errors table and the report", highlight=False,
                      soft_wrap=True)
    if summary.get("copies"):
        console.print(f"  copies: {summary['copies']} documents repeat another's text "
                      "(documents.copy_of) and count once", highlight=False, soft_wrap=True)
    for note in summary.get("notes", []):  # soft-wrapped: a path in a note is never broken
        console.print(f"  note: {note}", highlight=False, soft_wrap=True)


def _exit_code(summary: dict[str, Any]) -> int:
    """Non-zero only when every file this run tried failed."""
    if summary.get("failed", 0) and not summary.get("ingested", 0):
        err_console.print(f"[bold red]error:[/] all {summary['failed']} new or changed files "
                          "failed; see the errors table", highlight=False)
        return EXIT_FAILED
    return 0


@app.command(cls=_Command)
def run(corpus: CorpusArg, out: OutOpt, config: ConfigOpt = None, password: PasswordOpt = None,
        runner: Annotated[Runner | None, typer.Option(
            help="Where per-document work runs (default: runtime.runner of the config).")] = None,
        dask_address: Annotated[str | None, typer.Option(
            help="Scheduler of an existing Dask cluster, e.g. tcp://10.0.0.5:8786.")] = None,
        summary_json: Annotated[Path | None, typer.Option(
            help="Also write the run summary to this JSON file.", dir_okay=False)] = None,
        themes: Annotated[Path | None, typer.Option(
            help="Analyst themes (YAML: id, key_point, optional target and stance): "
                 "arguments are mapped to them first.")] = None,
        corrections: CorrectionsOpt = None, verbose: VerboseOpt = False) -> None:
    """Run the whole pipeline on CORPUS: ingest, entities, stance, arguments, report.

    Incremental: unchanged files are skipped, changed ones re-processed, deleted ones removed
    from every table.
    """
    _check_parent(summary_json, "--summary-json")
    _prepare(verbose, password)
    with _expected_errors():
        if themes is not None:
            from pipeline.arguments.codebook import load_codebook

            load_codebook(themes)  # a bad file fails here, naming its line
            os.environ["STANCEMAP_ARGUMENTS__THEMES"] = str(themes.resolve())
        settings = _load(config)
        _check_out(out)
        empty = _empty_corpus(corpus, out)
        out = _target(out)
        config_arg = str(config) if config else None
        with _locked(out):
            summary = _nothing_to_do(corpus, out, settings, corrections)
            if summary is None:
                from flows.run import run_flow, run_setup, using

                with _progress(), using(run_setup(config_arg, settings)):
                    summary = run_flow(str(corpus), out, config_arg,
                                       runner.value if runner else None, dask_address,
                                       str(corrections) if corrections else None)
        _print_summary(summary)
        if summary_json is not None:
            from pipeline.io import atomic_write_bytes

            atomic_write_bytes(summary_json, json.dumps(summary, indent=1, default=str).encode())
    console.print(f"outputs: {out}", highlight=False)
    raise typer.Exit(EXIT_EMPTY if empty else _exit_code(summary))


def _nothing_to_do(corpus: Path, out: str, settings: Any,
                   corrections: Path | None) -> dict[str, Any] | None:
    """The summary of an unchanged run of a local output folder, found without starting
    Prefect; ``None`` when there is work to do (or ``out`` is a URL)."""
    from pipeline.io import is_remote

    if is_remote(out):
        return None
    from flows.preflight import unchanged_run
    from pipeline.corrections import corrections_path
    from pipeline.io import OutputStore
    from stancemap.runtime import stancemap_home

    review_file = corrections_path(out, settings, str(corrections) if corrections else None,
                                   stancemap_home())
    return unchanged_run(corpus, OutputStore(Path(out)), settings, review_file)


@app.command(cls=_Command)
def ingest(corpus: CorpusArg, out: OutOpt, config: ConfigOpt = None,
           password: PasswordOpt = None, verbose: VerboseOpt = False) -> None:
    """Ingest CORPUS into the documents, pages, sentences and errors tables (incremental)."""
    _prepare(verbose, password)
    with _expected_errors():
        settings = _load(config, analysis=False)
        folder = _local(out, "ingest")
        _check_out(out)
        empty = _empty_corpus(corpus, out)
        from flows.run import hold_lock, ingest_flow, run_setup, using
        from pipeline.io import OutputStore

        config_arg = str(config) if config else None
        with hold_lock(OutputStore(folder)), _progress(), using(run_setup(config_arg, settings)):
            summary = ingest_flow(str(corpus), str(folder), config_arg)
    _print_summary(summary)
    raise typer.Exit(EXIT_EMPTY if empty else _exit_code(summary))


@app.command(cls=_Command)
def report(out: OutOpt, config: ConfigOpt = None, verbose: VerboseOpt = False) -> None:
    """Write OUT/report.html and OUT/report.md from the tables in OUT."""
    _prepare(verbose)
    with _expected_errors():
        settings = _load(config)
        from flows.preflight import report_outputs
        from flows.stages import write_report
        from pipeline.io import OutputStore

        folder = _local(out, "report")
        _need_outputs(folder, out)
        _check_out(out)
        store = OutputStore(folder)
        summary = report_outputs(store, settings, True, lambda: write_report(store, settings)[0])
    for path in summary.get("report", []):
        console.print(f"wrote {path}", highlight=False)
    for note in summary["notes"]:
        console.print(f"note: {note}", highlight=False)


@app.command(cls=_Command)
def query(sql: Annotated[str, typer.Argument(help="One read-only SQL statement; tables are "
                                             "named after the outputs (documents, stances...).")],
          out: OutOpt,
          fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] =
          Format.table,
          output: Annotated[Path | None, typer.Option(help="Write the result to this file.")] =
          None) -> None:
    """Answer SQL over the output tables (read-only DuckDB)."""
    _check_parent(output, "--output")
    with _expected_errors():
        from pipeline.io import materialise
        from pipeline.query import run_query, write_result
        from stancemap.runtime import stancemap_home

        folder = materialise(out, stancemap_home() / "staging")
        _need_outputs(folder, out, started=True)
        table = run_query(sql, folder)
        if fmt in (Format.parquet, Format.xlsx) and output is None:
            raise _fail(f"--format {fmt.value} needs --output FILE")
        if output is not None and output.suffix.lower() == ".xlsx" and fmt is Format.table:
            fmt = Format.xlsx  # a file named .xlsx gets a real workbook
        write_result(table, fmt.value, output)
    if output is not None:
        console.print(f"wrote {table.num_rows} rows to {output}", highlight=False)


@app.command(cls=_Command)
def evaluate(out: OutOpt,
             gold: Annotated[Path | None, typer.Option(help="Gold stances CSV.", exists=True,
                                                       dir_okay=False)] = None,
             docs: Annotated[Path | None, typer.Option(help="Folder of the gold documents.",
                                                       exists=True, file_okay=False)] = None,
             corrections: CorrectionsOpt = None, config: ConfigOpt = None) -> None:
    """Score OUT's positions against a gold CSV (--gold, --docs; writes OUT/evaluation.json
    and .md), or the machine's own output against the analyst's decisions (--corrections;
    writes OUT/review_evaluation.json).

    Run `stancemap run DOCS --out OUT` first; `stancemap report` then shows the scores.
    """
    if corrections is not None:
        _evaluate_review(out, corrections, config)
    if gold is None and docs is None:
        if corrections is None:
            raise _fail("give --gold and --docs, or --corrections")
        return
    if gold is None or docs is None:
        raise _fail("--gold and --docs go together")
    with _expected_errors():
        from pipeline.evaluate import evaluate as score
        from pipeline.io import OutputStore, atomic_write_bytes

        settings = _load(config)
        folder = _local(out, "evaluate")
        _need_outputs(folder, out)
        _check_out(out)
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


def _evaluate_review(out: str, corrections: Path, config: Path | None) -> None:
    """``evaluate --corrections``: precision of what the analyst reviewed."""
    with _expected_errors():
        from pipeline import corrections as corr
        from pipeline.io import OutputStore, atomic_write_bytes
        from pipeline.report import configured_targets

        settings = _load(config)
        store = OutputStore(_local(out, "evaluate"))
        _need_outputs(store.root, out)
        targets = {t.id: t.label for t in configured_targets(settings)} or None
        corpus = corr.Corpus(store, corr.organisation_names(store, settings))
        scores = corr.score_review(corr.review_positions(store, corrections, targets, corpus))
        atomic_write_bytes(store.root / "review_evaluation.json",
                           json.dumps(scores, indent=1).encode("utf-8"))
    if not scores:
        console.print(f"no applicable decisions in {corrections}", highlight=False)
    for group, s in scores.items():
        precision = "n/a" if s["precision"] is None else f"{s['precision']:.2f}"
        console.print(f"{group}: precision {precision} ({s['right']} of {s['reviewed']} "
                      f"reviewed right; {s['wrong_stance']} wrong stance, {s['wrong_holder']} "
                      f"wrong holder, {s['rejected']} rejected; {s['missed']} missed)",
                      highlight=False, soft_wrap=True)
    console.print(f"wrote {store.root / 'review_evaluation.json'}", highlight=False,
                  soft_wrap=True)


@app.command(cls=_Command)
def review(out: OutOpt, port: Annotated[int, typer.Option(
               help="Port on 127.0.0.1 (default: a free one).", min=0, max=65535)] = 0,
           corrections: CorrectionsOpt = None, config: ConfigOpt = None,
           who: Annotated[str | None, typer.Option(
               help="Name recorded with each decision (default: your user name).")] = None,
           ) -> None:
    """Review OUT's positions in the browser: confirm, correct, reject, add missed ones.

    Serves a page on 127.0.0.1 only and prints its URL (with the session's token); Ctrl-C
    stops it. Decisions go to the corrections file (default OUT's parent folder,
    <OUT name>.corrections.csv) and nowhere else; the next `stancemap run` applies them.
    """
    with _expected_errors():
        settings = _load(config)
        folder = _local(out, "review")
        if not (folder / "positions").is_dir():
            raise _fail(f"no positions in {out}: run `stancemap run CORPUS --out {out}` first")
        from pipeline.corrections import check_writable, corrections_path
        from pipeline.io import OutputStore
        from pipeline.review_app import make_server
        from stancemap.runtime import stancemap_home

        path = corrections_path(str(folder), settings, str(corrections) if corrections else None,
                                stancemap_home())
        check_writable(path)
        served = make_server(OutputStore(folder), settings, path, port, who)
    console.print(f"review page: {served.url}", highlight=False, soft_wrap=True)
    console.print(f"decisions go to {path}; Ctrl-C to stop", highlight=False, soft_wrap=True)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C once stopped
        served.run()
    console.print("review stopped", highlight=False)


@app.command(cls=_Command)
def export(out: OutOpt, xlsx: Annotated[Path, typer.Option(
               help="Workbook to write (matrix, positions, themes, comparison, documents, "
                    "errors, corrections).", dir_okay=False)],
           config: ConfigOpt = None) -> None:
    """Write OUT's analysis to one Excel workbook."""
    _check_parent(xlsx, "--xlsx")
    with _expected_errors():
        from pipeline.export import write_workbook
        from pipeline.io import OutputStore

        settings = _load(config)
        folder = _local(out, "export")
        _need_outputs(folder, out)
        sheets = write_workbook(OutputStore(folder), settings, xlsx)
    console.print(f"wrote {xlsx} ({', '.join(sheets)})", highlight=False)


def _register(settings: Any) -> Any:
    """The entities register for matching holders, when the entities stage is installed."""
    try:
        from pipeline.entities import load_register
    except ImportError:
        return None
    return load_register(settings)


@app.command(cls=_Command)
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
        _check_out(out)
        from flows.serve import check_cron

        check_cron(cron)
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
