"""Thin Prefect tasks: load inputs from the OutputStore, call one pipeline step, write outputs.

Per-document tasks are cached by (document content, stage fingerprint, output folder): a task
whose inputs and code are unchanged, and whose parts are still on disk, returns its persisted
result instead of running again. The manifest (:mod:`flows.incremental`) is what makes runs
incremental without Prefect's cache; the cache saves work when the manifest is lost or a run
was killed between writing parts and committing them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.context import TaskRunContext
from prefect.logging import get_run_logger

from flows import stages
from flows.catalog import STAGES
from flows.incremental import AnalysisOutcome, IngestOutcome
from pipeline import report
from pipeline.config import Settings
from pipeline.io import OutputStore

IO_RETRIES = 2
IO_RETRY_DELAY: list[float] = [1.0, 5.0]
RESULT_FORMAT = 2  # in the cache key: a cached result of another type is never returned


def _doc_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Cache key: content hash + stage fingerprint + output folder + stages to do."""
    store: OutputStore = parameters["store"]
    parts = [str(parameters.get(name)) for name in ("content_sha", "fingerprint", "todo")]
    key = "|".join([context.task.name, str(RESULT_FORMAT), str(store.root), *parts])
    return hashlib.sha256(key.encode()).hexdigest()


def outputs_present(store: OutputStore, doc_id: str, todo: list[str]) -> bool:
    """Whether the parts a per-document task writes are on disk.

    When they are not, the flow submits the task with ``refresh_cache=True``: a cached result
    must never stand for parts deleted since (e.g. a file changed and changed back).
    """
    tables = ["documents", *(table for s in todo for table in STAGES[s].writes)]
    return all((store.table_path(t) / f"{doc_id}.parquet").exists() for t in tables)


@task(name="ingest-document", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY,
      cache_key_fn=_doc_cache_key, persist_result=True)
def ingest_document_task(source: Any, settings: Settings, store: OutputStore,
                         content_sha: str, fingerprint: str) -> IngestOutcome:
    """Ingest one source file into its parts (or its ``errors`` part)."""
    result = stages.ingest_one(source, settings, store)
    get_run_logger().info("ingested %s -> %s", result.rel_path,
                          result.doc_id or f"error ({result.error})")
    return result


@task(name="analyse-document", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY,
      cache_key_fn=_doc_cache_key, persist_result=True)
def analyse_document_task(rel_path: str, doc_id: str, settings: Settings, store: OutputStore,
                          todo: list[str], fingerprints: dict[str, str], content_sha: str,
                          fingerprint: str) -> AnalysisOutcome:
    """Parse one document once and run the entity and stance stages ``todo`` on it."""
    result = stages.analyse_one(rel_path, doc_id, settings, store, todo, fingerprints)
    get_run_logger().info("analysed %s (%s)", rel_path, ", ".join(todo))
    return result


@task(name="mark-copies", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY)
def copies_task(store: OutputStore, settings: Settings) -> int:
    """Set ``documents.copy_of`` corpus-wide (near-identical texts count once); the number of
    documents that are copies."""
    result = stages.mark_copies(store, settings)
    get_run_logger().info("copies: %d documents are copies, %d parts updated",
                          result["copies"], result["updated"])
    return result["copies"]


@task(name="build-corpus-stage", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY)
def corpus_stage_task(name: str, store: OutputStore, settings: Settings, fingerprint: str) -> int:
    """Rebuild the tables of the corpus-level stage ``name`` (organisations, arguments) from
    the store; ``fingerprint`` is the stage's settings and code (the arguments stage adds a
    few changed documents to the themes learnt under it when it can). Returns the rows of its
    first table."""
    return stages.build_corpus_stage(name, store, settings, fingerprint)


@task(name="apply-corrections", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY)
def corrections_task(store: OutputStore, settings: Settings, path: str) -> dict[str, Any]:
    """Apply the analyst's corrections file to the positions (pipeline.corrections)."""
    return stages.apply_corrections(store, settings, Path(path))


@task(name="render-report", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY)
def report_task(store: OutputStore, settings: Settings) -> list[str]:
    """Render the HTML and Markdown reports into the output folder; publish them as artifacts."""
    rendered = report.render_report(store, settings, report.load_evaluation(store))
    written = report.write_report(rendered, store.root)
    markdown, rows = report.report_artifacts(rendered)
    create_markdown_artifact(key="stancemap-report", markdown=markdown)
    create_table_artifact(key="stancemap-positions", table=rows)
    return [str(path) for path in written]


@task(name="publish-outputs", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY)
def publish_task(store: OutputStore, url: str) -> int:
    """Publish the staging copy ``store`` to the fsspec ``url`` (files uploaded or deleted)."""
    from pipeline import io

    count = io.publish(store, url)
    get_run_logger().info("published %d files to %s", count, url)
    return count
