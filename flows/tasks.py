"""Thin Prefect tasks: load inputs from the OutputStore, call one pipeline step, write outputs.

Nothing is cached or persisted by Prefect: the manifest (:mod:`flows.incremental`) is what
makes runs incremental, and Prefect's result store would keep (and later load) results as
pickles under the stancemap home, where anyone able to write there could plant code. A run
killed between writing a document's parts and committing them redoes that document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from flows import stages
from flows.incremental import AnalysisOutcome, IngestOutcome
from pipeline import report
from pipeline.config import Settings
from pipeline.io import OutputStore

IO_RETRIES = 2
IO_RETRY_DELAY: list[float] = [1.0, 5.0]


@task(name="ingest-document", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY,
      cache_policy=NO_CACHE, persist_result=False)
def ingest_document_task(source: Any, settings: Settings, store: OutputStore) -> IngestOutcome:
    """Ingest one source file into its parts (or its ``errors`` part)."""
    result = stages.ingest_one(source, settings, store)
    get_run_logger().info("ingested %s -> %s", result.rel_path,
                          result.doc_id or f"error ({result.error})")
    return result


@task(name="analyse-document", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY,
      cache_policy=NO_CACHE, persist_result=False)
def analyse_document_task(rel_path: str, doc_id: str, settings: Settings, store: OutputStore,
                          todo: list[str], fingerprints: dict[str, str]) -> AnalysisOutcome:
    """Parse one document once and run the entity and stance stages ``todo`` on it."""
    result = stages.analyse_one(rel_path, doc_id, settings, store, todo, fingerprints)
    get_run_logger().info("analysed %s (%s)", rel_path, ", ".join(todo))
    return result


@task(name="mark-copies", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY,
      cache_policy=NO_CACHE, persist_result=False)
def copies_task(store: OutputStore, settings: Settings) -> int:
    """Set ``documents.copy_of`` corpus-wide (near-identical texts count once); the number of
    documents that are copies."""
    result = stages.mark_copies(store, settings)
    get_run_logger().info("copies: %d documents are copies, %d parts updated",
                          result["copies"], result["updated"])
    return result["copies"]


@task(name="build-corpus-stage", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY,
      cache_policy=NO_CACHE, persist_result=False)
def corpus_stage_task(name: str, store: OutputStore, settings: Settings, fingerprint: str) -> int:
    """Rebuild the tables of the corpus-level stage ``name`` (organisations, arguments) from
    the store; ``fingerprint`` is the stage's settings and code (the arguments stage adds a
    few changed documents to the themes learnt under it when it can). Returns the rows of its
    first table."""
    return stages.build_corpus_stage(name, store, settings, fingerprint)


@task(name="apply-corrections", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY,
      cache_policy=NO_CACHE, persist_result=False)
def corrections_task(store: OutputStore, settings: Settings, path: str) -> dict[str, Any]:
    """Apply the analyst's corrections file to the positions (pipeline.corrections)."""
    return stages.apply_corrections(store, settings, Path(path))


@task(name="render-report", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY,
      cache_policy=NO_CACHE, persist_result=False)
def report_task(store: OutputStore, settings: Settings) -> list[str]:
    """Render the HTML and Markdown reports into the output folder; publish them as artifacts."""
    written, rendered = stages.write_report(store, settings)
    markdown, rows = report.report_artifacts(rendered)
    create_markdown_artifact(key="stancemap-report", markdown=markdown)
    create_table_artifact(key="stancemap-positions", table=rows)
    return written


@task(name="publish-outputs", retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY,
      cache_policy=NO_CACHE, persist_result=False)
def publish_task(store: OutputStore, url: str) -> int:
    """Publish the staging copy ``store`` to the fsspec ``url`` (files uploaded or deleted)."""
    from pipeline import io

    count = io.publish(store, url)
    get_run_logger().info("published %d files to %s", count, url)
    return count
