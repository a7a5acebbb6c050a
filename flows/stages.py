"""The pipeline steps the flows' tasks call, between the store and the pipeline.

Plain Python (no Prefect): per-document steps that load inputs from the
:class:`~pipeline.io.OutputStore`, run them in a worker process through one pipeline entry
point (:func:`pipeline.ingest.ingest_document`, :func:`pipeline.chain.analyse_document`) and
write the outputs; corpus-level stages build their tables by their catalogue row's ``build``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from flows.catalog import STAGES, Stage
from flows.incremental import AnalysisOutcome, IngestOutcome, error_key, rel_path_of
from pipeline import corrections, report
from pipeline.chain import ENTITIES, STANCE, Analysers, analyse_document, load_analysers
from pipeline.config import Settings
from pipeline.copies import mark_copies as mark_near_copies
from pipeline.errors import DocumentError
from pipeline.ingest import IngestedDocument, SourceFile, ingest_document
from pipeline.io import OutputStore
from pipeline.safety import clean_message, printable_path
from pipeline.schema import to_table
from pipeline.workers import release_memory, run_in_child, run_isolated

if TYPE_CHECKING:
    from pipeline.embeddings import EmbeddingCache
    from pipeline.report import Report

log = logging.getLogger(__name__)

_LOADED: dict[tuple[str, str], Any] = {}
_LOCK = threading.RLock()  # re-entrant: a loader may use another cached model


def cached(kind: str, fingerprint: str, load: Callable[[], Any]) -> Any:
    """Load a model/register once per process and stage fingerprint."""
    with _LOCK:
        if (kind, fingerprint) not in _LOADED:
            _LOADED[(kind, fingerprint)] = load()
        return _LOADED[(kind, fingerprint)]


def build_corpus_stage(name: str, store: OutputStore, settings: Settings,
                       fingerprint: str) -> int:
    """Build and write the tables of the corpus-level stage ``name``; the rows of its first."""
    try:
        return _build_and_write(STAGES[name], store, settings, fingerprint)
    finally:
        release_memory()  # the tables are out of scope once the builder returns


def _build_and_write(stage: Stage, store: OutputStore, settings: Settings,
                     fingerprint: str) -> int:
    assert stage.build is not None, f"{stage.name} is not a corpus-level stage"
    tables = stage.build(store, settings, fingerprint)
    for table in stage.writes:
        store.write_table(table, tables[table])
    return int(tables[stage.writes[0]].num_rows)


def error_table(rel_path: str, doc_id: str | None, stage_name: str, kind: str,
                message: str) -> pa.Table:
    """One ``errors`` row (its path printable, its message with any secret redacted)."""
    return to_table("errors", [{"source_path": printable_path(rel_path), "doc_id": doc_id,
                                "stage": stage_name, "kind": kind,
                                "message": clean_message(message),
                                "occurred_at": datetime.now(UTC)}])


def ingest_one(source: SourceFile, settings: Settings, store: OutputStore) -> IngestOutcome:
    """Ingest one source file (in a worker process) into its ``documents``/``pages``/
    ``sentences`` parts.

    A :class:`DocumentError` (including a worker killed at a limit) becomes the file's
    ``errors`` part; I/O errors propagate (retried).
    """
    rel = rel_path_of(source)
    try:
        doc = run_isolated(settings, ingest_job, (source, settings), rel, warm=ingest_warm)
    except DocumentError as exc:
        store.write_part("errors", error_key(rel, "ingest"),
                         error_table(rel, None, "ingest", exc.kind, exc.reason))
        return IngestOutcome(rel, None, exc.kind, exc.reason)
    store.write_part("pages", doc.doc_id, doc.pages)
    store.write_part("sentences", doc.doc_id, doc.sentences)
    store.write_part("documents", doc.doc_id, to_table("documents", [doc.document]))
    return IngestOutcome(rel, doc.doc_id, n_pages=doc.pages.num_rows,
                         n_sentences=doc.sentences.num_rows)


def mark_copies(store: OutputStore, settings: Settings) -> dict[str, int]:
    """Mark near-identical documents as copies of one canonical document (``copy_of``)."""
    try:
        return mark_near_copies(store, settings.ingest.copy_similarity)
    finally:
        release_memory()


def apply_corrections(store: OutputStore, settings: Settings, path: Path) -> dict[str, Any]:
    """Apply the analyst's corrections file ``path`` to the positions; its summary (counts and
    the problems to list)."""
    result: dict[str, Any] = corrections.summary(
        corrections.apply_corrections(store, settings, path))
    return result


def ingest_job(source: SourceFile, settings: Settings) -> IngestedDocument:
    """The worker side of :func:`ingest_one`: the ingested document (no writes)."""
    return ingest_document(source, settings)


def ingest_warm(source: Any, settings: Settings) -> None:
    """Load what ingestion needs before a document's clock starts."""
    from pipeline.ingest.segment import spacy_splitter
    from pipeline.ingest.vocab import spacy_lexicon

    spacy_lexicon(settings.nlp.spacy_model)
    spacy_splitter(settings.nlp.spacy_model, settings.nlp.batch_size)


def write_report(store: OutputStore, settings: Settings) -> tuple[list[str], Report]:
    """Render the HTML and Markdown reports of ``store`` into its folder: their paths and the
    rendered report."""
    rendered = report.render_report(store, settings, report.load_evaluation(store))
    return [str(path) for path in report.write_report(rendered, store.root)], rendered


def prepare_analysis(settings: Settings, store: OutputStore) -> None:
    """Export the ONNX embedding model and the ArgKP matcher into the store's cache if they
    are not there, in a child process: worker processes run without torch, which the export
    needs, and this process need not keep torch and the sentence-transformers model (about
    600 MB) for the rest of the run."""
    run_in_child(export_models, (settings, store.cache_dir("embeddings")), "onnx-export")


def export_models(settings: Settings, folder: Path) -> None:
    """The child side of :func:`prepare_analysis`."""
    from pipeline.arguments.build import matches_ahead
    from pipeline.arguments.match import export_matcher
    from pipeline.embeddings import export_if_missing

    export_if_missing(settings.nlp, folder)
    if settings.nlp.embedding_backend != "torch" and matches_ahead(settings):
        export_matcher(folder, settings.nlp.embedding_batch_size)


def analyse_one(rel_path: str, doc_id: str, settings: Settings, store: OutputStore,
                todo: list[str], fingerprints: dict[str, str]) -> AnalysisOutcome:
    """Run the analysis stages ``todo`` (``entities``, ``stance``) on one ingested document,
    in a worker process; the result maps each failed stage to its error key.

    A worker killed at a limit (or dead) fails every stage of ``todo`` for this document.
    """
    args = (rel_path, doc_id, settings, store, todo, fingerprints)
    try:
        result: AnalysisOutcome = run_isolated(settings, analyse_job, args, rel_path,
                                               warm=analyse_warm)
    except DocumentError as exc:
        failed = {name: _record(store, rel_path, doc_id, name, exc) for name in todo}
        return AnalysisOutcome(rel_path, doc_id, failed)
    return result


def analyse_job(rel_path: str, doc_id: str, settings: Settings, store: OutputStore,
                todo: list[str], fingerprints: dict[str, str]) -> AnalysisOutcome:
    """The worker side of :func:`analyse_one`: analyse the document
    (:func:`pipeline.chain.analyse_document`) and write the parts of the stages ``todo``.

    A failure of a stage becomes an ``errors`` row with that stage.
    """
    documents = store.read_table("documents", {doc_id}).to_pylist()
    if not documents:
        raise FileNotFoundError(f"documents part of {doc_id} ({rel_path}) is missing")
    sentences = store.read_table("sentences", {doc_id})
    analysis = analyse_document(documents[0], sentences,
                                analysers(settings, store, todo, fingerprints), todo)
    if ENTITIES in todo and analysis.entities is not None:
        store.write_part("entities", doc_id, analysis.entities.entities)
        store.write_part("documents", doc_id, to_table("documents", [analysis.document]))
    if analysis.stances is not None and analysis.positions is not None:
        store.write_part("stances", doc_id, analysis.stances)
        store.write_part("positions", doc_id, analysis.positions)
    failed = {name: _record(store, rel_path, doc_id, name, exc)
              for name, exc in analysis.failures.items()}
    return AnalysisOutcome(rel_path, doc_id, failed)


def _embedder(settings: Settings, store: OutputStore) -> EmbeddingCache:
    """The store's cached embedder, one per process (it keeps the vectors it has read)."""
    from pipeline.embeddings import embedder_for

    folder = store.cache_dir("embeddings")
    embedder: EmbeddingCache = cached("embedder", str(folder),
                                      lambda: embedder_for(settings.nlp, folder))
    return embedder


def analysers(settings: Settings, store: OutputStore, todo: list[str],
              fingerprints: dict[str, str]) -> Analysers:
    """The register, targets and stance model for ``todo``, loaded once per process and stage
    fingerprint; sentences are embedded through the process's one cached embedder."""
    folder = store.cache_dir("embeddings")
    keys = {"register": fingerprints.get(ENTITIES, ""), "embedder": str(folder),
            "targets": fingerprints.get(STANCE, ""),
            "stance_model": f"{fingerprints.get(STANCE, '')}|{folder}",
            "matching": f"{fingerprints.get(STANCE, '')}|{folder}"}
    return load_analysers(settings, todo, folder, candidates=True,
                          memo=lambda kind, load: cached(kind, keys[kind], load))


def analyse_warm(rel_path: str, doc_id: str, settings: Settings, store: OutputStore,
                 todo: list[str], fingerprints: dict[str, str]) -> None:
    """Load the parser, register, targets, stance model and embedder before a document's
    clock starts."""
    from pipeline.nlp import load_spacy

    load_spacy(settings.nlp.spacy_model)
    analysers(settings, store, todo, fingerprints)
    _embedder(settings, store).prepare()


def _record(store: OutputStore, rel_path: str, doc_id: str, stage_name: str,
            exc: Exception) -> str:
    # a DocumentError (a limit, a bad file) is expected: its reason is enough, no traceback
    expected = isinstance(exc, DocumentError)
    log.error("%s failed on %s: %s", stage_name, rel_path, exc, exc_info=None if expected else exc)
    key = error_key(rel_path, stage_name)
    kind = exc.kind if isinstance(exc, DocumentError) else type(exc).__name__
    store.write_part("errors", key, error_table(rel_path, doc_id, stage_name, kind, str(exc)))
    return key
