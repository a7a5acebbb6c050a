"""The Prefect flows: ``ingest_flow``, ``analyse_flow``, ``report_flow`` and parent ``run_flow``.

Flow bodies plan (from the manifest), submit per-document tasks to the task runner (threads
locally, or a Dask cluster), and commit the manifest on the driver as each document completes,
so only one process ever writes the manifest. Parameters are plain strings so a deployment can
carry them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.futures import PrefectFuture, as_completed
from prefect.logging import get_run_logger
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from flows import incremental as inc
from flows import stages, tasks
from flows.catalog import analysis_stages
from flows.catalog import stages as catalog_stages
from flows.preflight import hold_lock, report_outputs, review_key
from pipeline.config import Settings, load_settings, stancemap_home
from pipeline.ingest import discover
from pipeline.io import OutputStore, is_remote, local_path, pull, staging_dir
from pipeline.workers import close_pools

progress_log = logging.getLogger("stancemap.progress")


def make_task_runner(runner: str, dask_address: str | None = None,
                     threads: int = 1) -> TaskRunner[Any]:
    """``threads`` threads on this machine, or the Dask cluster at ``dask_address`` (a
    temporary local one when no address is given)."""
    if runner == "dask":
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=dask_address) if dask_address else DaskTaskRunner()
    if runner != "local":
        raise ValueError(f"unknown runner {runner!r}: use 'local' or 'dask'")
    return ThreadPoolTaskRunner(max_workers=threads)


def _progress(stage: str, done: int, total: int) -> None:
    progress_log.info("%s %d/%d", stage, done, total,
                      extra={"stage": stage, "done": done, "total": total})


@dataclass(frozen=True)
class RunSetup:
    """A run's settings and stage fingerprints, loaded once and handed to its subflows."""

    config: str | None
    settings: Settings
    fingerprints: dict[str, str]


_SETUP: ContextVar[RunSetup | None] = ContextVar("stancemap_run_setup", default=None)


def run_setup(config: str | None, settings: Settings | None = None) -> RunSetup:
    """The set-up of the run in progress for ``config``, else one loaded now (``settings``
    when the caller has them already)."""
    current = _SETUP.get()
    if current is not None and current.config == config:
        return current
    settings = settings or load_settings(Path(config) if config else None)
    return RunSetup(config, settings, inc.stage_fingerprints(settings))


@contextlib.contextmanager
def using(setup: RunSetup) -> Iterator[RunSetup]:
    """Make ``setup`` the one that flows of ``setup.config`` use (subflows, a CLI's call):
    settings pass down without being flow parameters, which the Prefect API would store."""
    token = _SETUP.set(setup)
    try:
        yield setup
    finally:
        _SETUP.reset(token)


def _runner(settings: Settings, runner: str | None, dask_address: str | None) -> TaskRunner[Any]:
    # With worker processes, one thread per worker keeps them all busy; without, the work
    # holds the GIL (and spaCy's lock), so more threads would not help.
    isolated = settings.runtime.isolation == "process"
    return make_task_runner(runner or settings.runtime.runner,
                            dask_address or settings.runtime.dask_address,
                            settings.runtime.worker_count if isolated else 1)


def _drain(futures: dict[Any, tuple[PrefectFuture[Any], Any]]) -> Iterator[tuple[Any, Any]]:
    """Yield ``(item, result or exception)`` as each submitted task finishes."""
    for future in as_completed([f for f, _ in futures.values()]):
        item = futures[future.task_run_id][1]
        try:
            yield item, future.result()
        except Exception as exc:  # a task that failed after its retries
            yield item, exc


@flow(name="stancemap-ingest", log_prints=False)
def ingest_flow(corpus: str, out: str, config: str | None = None) -> dict[str, Any]:
    """Ingest new and changed files of ``corpus`` into ``out``; drop deleted files' rows."""
    logger = get_run_logger()
    setup = run_setup(config)
    settings = setup.settings
    store = OutputStore(Path(out))
    fingerprint = setup.fingerprints["ingest"]
    summary: dict[str, Any] = {"ingested": 0, "skipped": 0, "failed": 0, "deleted": 0,
                               "notes": []}
    with hold_lock(store):
        manifest = inc.Manifest.load(store)
        summary["notes"] += inc.output_inside_corpus(Path(corpus), store.root)
        sources = discover(Path(corpus), settings, exclude=[store.root])
        plan = inc.plan_ingest(sources, manifest, fingerprint)
        logger.info("%d files to ingest, %d unchanged, %d deleted", len(plan.todo),
                    len(plan.unchanged), len(plan.deleted))
        for rel in plan.deleted:
            inc.forget_file(store, manifest, rel)
        submitted = {}
        for source in sorted(plan.todo, key=_largest_first):
            future = tasks.ingest_document_task.submit(source, settings, store)
            submitted[future.task_run_id] = (future, source)
        for done, (source, result) in enumerate(_drain(submitted), start=1):
            result = _ingest_outcome(store, source, result)
            inc.commit_ingest(store, manifest, source, result,
                              plan.shas.get(inc.rel_path_of(source)), fingerprint)
            summary["failed" if result.error else "ingested"] += 1
            if result.error:
                summary.setdefault("failed_files", []).append((result.rel_path, result.error))
            _progress("ingest", done, len(plan.todo))
        manifest.commit()
        inc.count_copies(summary, inc.settle_copies(store, manifest),
                         {inc.rel_path_of(s) for s in plan.todo})
        if plan.todo or plan.deleted:
            summary["copies"] = tasks.copies_task(store, settings)
    summary.update(skipped=len(plan.unchanged), deleted=len(plan.deleted))
    return summary


def _largest_first(item: Any) -> tuple[int, str]:
    """Largest file first (a source, or a manifest ``(path, entry)``): the longest documents
    start early, so the last one to finish leaves a core idle for less time."""
    if isinstance(item, tuple):
        return -int(item[1].get("size") or 0), item[0]
    return -int(getattr(item, "size", 0) or 0), inc.rel_path_of(item)


def _ingest_outcome(store: OutputStore, source: Any,
                    result: inc.IngestOutcome | Exception) -> inc.IngestOutcome:
    """A task's result, or an ``errors`` part for a task that crashed after its retries."""
    if not isinstance(result, Exception):
        return result
    rel = inc.rel_path_of(source)
    get_run_logger().error("ingesting %s failed: %s", rel, result)
    store.write_part("errors", inc.error_key(rel, "ingest"),
                     stages.error_table(rel, None, "ingest", "internal", str(result)))
    return inc.IngestOutcome(rel, None, "internal", str(result))


@flow(name="stancemap-analyse", log_prints=False)
def analyse_flow(out: str, config: str | None = None) -> dict[str, Any]:
    """Entities and stance per ingested document, then organisations and arguments."""
    setup = run_setup(config)
    settings, fps = setup.settings, setup.fingerprints
    store = OutputStore(Path(out))
    summary: dict[str, Any] = {"analysed": 0, "analysis_failed": 0, "notes": []}
    with hold_lock(store):
        manifest = inc.Manifest.load(store)
        todo_by_file = {rel: _analysis_todo(entry, analysis_stages(), fps,
                                            inc.missing_outputs(store, entry))
                        for rel, entry in sorted(manifest.files.items())}
        if any(todo_by_file.values()):
            stages.prepare_analysis(settings, store)
        submitted = {}
        for rel, entry in sorted(manifest.files.items(), key=_largest_first):
            todo = todo_by_file[rel]
            if todo:
                future = tasks.analyse_document_task.submit(rel, entry["doc_id"], settings,
                                                            store, todo, fps)
                submitted[future.task_run_id] = (future, (rel, todo))
        started = time.monotonic()
        for done, ((rel, todo), result) in enumerate(_drain(submitted), start=1):
            failed = _analysis_outcome(store, rel, manifest, todo, result)
            inc.commit_analysis(manifest, store, rel, {s: fps[s] for s in todo}, failed)
            summary["analysis_failed" if failed else "analysed"] += 1
            if failed:
                summary.setdefault("analysis_failed_files", []).append(
                    (rel, " and ".join(sorted(failed)) + " failed"))
            _progress("analyse", done, len(submitted))
        summary["analyse_seconds"] = _since(started)
        close_pools()  # free the workers' models before the corpus-level stages
        if submitted:  # authors are known now: different authors are never copies
            summary["copies"] = tasks.copies_task(store, settings)
        _corpus_stages(store, settings, manifest, fps, summary)
    return summary


def _analysis_todo(entry: dict[str, Any], available: list[str], fps: dict[str, str],
                   missing: set[str]) -> list[str]:
    """The analysis stages whose fingerprint differs from what was done on this document, or
    whose outputs are ``missing`` (deleted since)."""
    if not entry.get("doc_id") or entry["stages"].get("ingest") != fps["ingest"]:
        return []
    return [s for s in available if entry["stages"].get(s) != fps[s] or s in missing]


def _analysis_outcome(store: OutputStore, rel: str, manifest: inc.Manifest, todo: list[str],
                      result: inc.AnalysisOutcome | Exception) -> dict[str, str]:
    """Stage -> error key of the stages that failed (all of ``todo`` if the task crashed)."""
    if not isinstance(result, Exception):
        return dict(result.failed)
    get_run_logger().error("analysing %s failed: %s", rel, result)
    doc_id = manifest.files[rel]["doc_id"]
    failed = {}
    for stage in todo:
        key = inc.error_key(rel, stage)
        store.write_part("errors", key,
                         stages.error_table(rel, doc_id, stage, "internal", str(result)))
        failed[stage] = key
    return failed


def _corpus_stages(store: OutputStore, settings: Settings, manifest: inc.Manifest,
                   fps: dict[str, str], summary: dict[str, Any]) -> None:
    """Rebuild the corpus-level stages (organisations, arguments) when any document or their
    settings changed."""
    signature = manifest.signature()
    for stage in catalog_stages("corpus", "analyse"):
        name = stage.name
        key = f"{signature}:{fps[name]}"
        if manifest.corpus.get(name) == key and all(map(store.exists, stage.writes)):
            summary["notes"].append(f"{name}: unchanged")
            continue
        started = time.monotonic()
        task = tasks.corpus_stage_task.with_options(name=f"build-{name}")
        summary[name] = task(name, store, settings, fps[name])
        summary[f"{name}_seconds"] = _since(started)
        manifest.corpus[name] = key
        manifest.commit()


@flow(name="stancemap-report", log_prints=False)
def report_flow(out: str, config: str | None = None, force: bool = False) -> dict[str, Any]:
    """Render the reports from the tables in ``out`` (skipped when nothing changed, unless
    ``force``)."""
    setup = run_setup(config)
    store = OutputStore(Path(out))
    return report_outputs(store, setup.settings, force,
                          lambda: tasks.report_task(store, setup.settings), setup.fingerprints)


@contextlib.contextmanager
def staged(out: str) -> Iterator[OutputStore]:
    """The locked store a run writes: ``out`` itself, or for an fsspec URL a local staging
    copy (under ``$STANCEMAP_HOME/staging``) brought up to date from the URL first."""
    if not is_remote(out):
        store = OutputStore(local_path(out))
        with hold_lock(store):
            yield store
        return
    store = OutputStore(staging_dir(out, stancemap_home() / "staging"))
    with hold_lock(store):
        pulled = pull(out, store)
        get_run_logger().info("staging copy of %s: %s (%d files pulled)", out, store.root,
                              pulled)
        yield store


def apply_review(store: OutputStore, setup: RunSetup, path: Path) -> dict[str, Any]:
    """Apply the corrections file ``path`` unless neither it, the positions nor the code
    changed since it was last applied; the summary's ``notes`` list every stale, unmatched or
    invalid decision."""
    manifest = inc.Manifest.load(store)
    settings, fps = setup.settings, setup.fingerprints

    def key() -> str:
        return review_key(store, fps, path)

    if manifest.corpus.get("review") == key() and store.exists("corrections"):
        return {"notes": [f"corrections {path}: unchanged"]}
    if not path.exists() and not store.exists("corrections"):
        manifest.corpus["review"] = key()
        manifest.commit()
        return {"notes": [f"corrections: none yet ({path}; `stancemap review` writes it)"]}
    started = time.monotonic()
    result = tasks.corrections_task(store, settings, str(path))
    result["seconds"] = _since(started)
    manifest.corpus["review"] = key()
    manifest.commit()
    problems = result.pop("problems")
    counts = ", ".join(f"{result[k]} {k}" for k in ("applied", "stale", "unmatched", "invalid"))
    return {"corrections": result,
            "notes": [f"corrections {path}: {counts} ({result['reanchored']} re-anchored)",
                      *problems]}


@flow(name="stancemap-run", log_prints=False)
def run_flow(corpus: str, out: str, config: str | None = None, runner: str | None = None,
             dask_address: str | None = None, corrections: str | None = None) -> dict[str, Any]:
    """Ingest, analyse and report ``corpus`` into ``out`` (a folder or an fsspec URL),
    incrementally, applying the analyst's ``corrections`` file (default: see
    :func:`pipeline.corrections.corrections_path`); return the summary."""
    from pipeline.corrections import corrections_path

    started = time.monotonic()
    setup = run_setup(config)
    settings = setup.settings
    review_file = corrections_path(out, settings, corrections, stancemap_home())
    with staged(out) as store, using(setup):
        local = str(store.root)
        summary = ingest_flow.with_options(task_runner=_runner(settings, runner, dask_address))(
            corpus, local, config)
        ingested = time.monotonic()
        analysed = analyse_flow.with_options(task_runner=_runner(settings, runner, dask_address))(
            local, config)
        reviewed = apply_review(store, setup, review_file)
        reported = report_flow(local, config)
        summary["orphans_removed"] = inc.collect_garbage(store, inc.Manifest.load(store))
        if is_remote(out):
            summary["published"] = tasks.publish_task(store, out)
    notes = (summary["notes"] + analysed.pop("notes") + reviewed.pop("notes")
             + reported.pop("notes"))
    summary.update(analysed, **reviewed, **reported, notes=notes, seconds=_since(started),
                   ingest_seconds=round(ingested - started, 2))
    create_markdown_artifact(key="stancemap-run-summary", markdown=summary_markdown(summary),
                             description=f"stancemap run of {corpus} into {out}")
    return summary


def _since(started: float) -> float:
    return round(time.monotonic() - started, 2)


def summary_markdown(summary: dict[str, Any]) -> str:
    """The run summary as a Markdown table (the artifact each run publishes)."""
    rows = [f"| {key} | {value} |" for key, value in summary.items() if key != "notes"]
    notes = [f"- {note}" for note in summary.get("notes", [])]
    return "\n".join(["# stancemap run summary", "", "| what | value |", "|---|---|", *rows,
                      "", *notes])
