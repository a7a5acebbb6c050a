"""The pipeline stages the flows call, imported lazily so a missing stage is skipped, not fatal.

Plain Python (no Prefect): per-document steps that load inputs from the
:class:`~pipeline.io.OutputStore`, call one or two pipeline entry points and write the outputs.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pyarrow as pa

from flows.incremental import error_key, rel_path_of
from pipeline.config import Settings
from pipeline.errors import DocumentError
from pipeline.io import OutputStore
from pipeline.safety import clean_message, printable_path
from pipeline.schema import to_table
from pipeline.workers import run_in_child, run_isolated

log = logging.getLogger(__name__)

# module -> the entry points the flows need from it
REQUIRED = {
    "pipeline.ingest": ("discover", "ingest_document"),
    "pipeline.entities": ("load_register", "extract_entities", "build_organisations"),
    "pipeline.stance": ("load_targets", "load_stance_model", "detect_stances",
                        "aggregate_positions"),
    "pipeline.arguments": ("build_arguments",),
    "pipeline.report": ("render_report", "write_report", "load_evaluation", "report_artifacts"),
    "pipeline.corrections": ("apply_corrections", "summary"),
}


def stage(module: str) -> ModuleType | None:
    """Import a pipeline stage; ``None`` (with a logged note) while it is not there yet."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        _note(module, f"not available yet ({exc})")
        return None
    missing = [name for name in REQUIRED.get(module, ()) if not hasattr(mod, name)]
    if missing:
        _note(module, f"lacks {', '.join(missing)}")
        return None
    return mod


_NOTED: set[str] = set()


def _note(module: str, why: str) -> None:
    if module not in _NOTED:
        _NOTED.add(module)
        log.warning("stage %s %s: skipped", module, why)


_LOADED: dict[tuple[str, str], Any] = {}
_LOCK = threading.RLock()  # re-entrant: a loader may use another cached model


def cached(kind: str, fingerprint: str, load: Callable[[], Any]) -> Any:
    """Load a model/register once per process and stage fingerprint."""
    with _LOCK:
        if (kind, fingerprint) not in _LOADED:
            _LOADED[(kind, fingerprint)] = load()
        return _LOADED[(kind, fingerprint)]


def error_table(rel_path: str, doc_id: str | None, stage_name: str, kind: str,
                message: str) -> pa.Table:
    """One ``errors`` row (its path printable, its message with any secret redacted)."""
    return to_table("errors", [{"source_path": printable_path(rel_path), "doc_id": doc_id,
                                "stage": stage_name, "kind": kind,
                                "message": clean_message(message),
                                "occurred_at": datetime.now(UTC)}])


def ingest_one(source: Any, settings: Settings, store: OutputStore) -> dict[str, Any]:
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
        return {"rel_path": rel, "doc_id": None, "error": exc.kind, "message": exc.reason}
    store.write_part("pages", doc.doc_id, doc.pages)
    store.write_part("sentences", doc.doc_id, doc.sentences)
    store.write_part("documents", doc.doc_id, to_table("documents", [doc.document]))
    return {"rel_path": rel, "doc_id": doc.doc_id, "error": None,
            "n_pages": doc.pages.num_rows, "n_sentences": doc.sentences.num_rows}


def mark_copies(store: OutputStore, settings: Settings) -> dict[str, int]:
    """Mark near-identical documents as copies of one canonical document (``copy_of``)."""
    from pipeline.copies import mark_copies as mark

    return mark(store, settings.ingest.copy_similarity)


def ingest_job(source: Any, settings: Settings) -> Any:
    """The worker side of :func:`ingest_one`: the ingested document (no writes)."""
    return importlib.import_module("pipeline.ingest").ingest_document(source, settings)


def ingest_warm(source: Any, settings: Settings) -> None:
    """Load what ingestion needs before a document's clock starts."""
    from pipeline.ingest.segment import spacy_splitter
    from pipeline.ingest.vocab import spacy_lexicon

    spacy_lexicon(settings.nlp.spacy_model)
    spacy_splitter(settings.nlp.spacy_model, settings.nlp.batch_size)


def write_report(store: OutputStore, settings: Settings) -> tuple[list[str], Any]:
    """Render the HTML and Markdown reports of ``store`` into its folder: their paths and the
    rendered report (the report stage must be available)."""
    report = importlib.import_module("pipeline.report")
    rendered = report.render_report(store, settings, report.load_evaluation(store))
    return [str(path) for path in report.write_report(rendered, store.root)], rendered


def _author_update(document: dict[str, Any], author: Any) -> dict[str, Any]:
    """The document row with the author the entities stage found (if any)."""
    if author is None:
        return document
    name = getattr(author, "name", None)
    canonical = getattr(author, "canonical_id", None)
    confidence = getattr(author, "confidence", None)
    if name is None and isinstance(author, tuple) and len(author) == 3:
        name, canonical, confidence = author
    if name is None:
        return document
    return {**document, "author_org": name, "author_org_id": canonical,
            "author_confidence": confidence}


def prepare_analysis(settings: Settings, store: OutputStore) -> None:
    """Export the ONNX embedding model into the store's cache if it is not there, in a child
    process: worker processes run without torch, which the export needs, and this process
    need not keep torch and the sentence-transformers model (about 600 MB) for the rest of
    the run."""
    if stage("pipeline.stance") is None and stage("pipeline.arguments") is None:
        return
    from pipeline.embeddings import export_if_missing

    run_in_child(export_if_missing, (settings.nlp, store.cache_dir("embeddings")),
                 "onnx-export")


def analyse_one(rel_path: str, doc_id: str, settings: Settings, store: OutputStore,
                todo: list[str], fingerprints: dict[str, str]) -> dict[str, Any]:
    """Run the analysis stages ``todo`` (``entities``, ``stance``) on one ingested document,
    in a worker process; the result maps each failed stage to its error key.

    A worker killed at a limit (or dead) fails every stage of ``todo`` for this document.
    """
    args = (rel_path, doc_id, settings, store, todo, fingerprints)
    try:
        result: dict[str, Any] = run_isolated(settings, analyse_job, args, rel_path,
                                              warm=analyse_warm)
    except DocumentError as exc:
        failed = {name: _record(store, rel_path, doc_id, name, exc) for name in todo}
        return {"rel_path": rel_path, "doc_id": doc_id, "failed": failed}
    return result


def analyse_job(rel_path: str, doc_id: str, settings: Settings, store: OutputStore,
                todo: list[str], fingerprints: dict[str, str]) -> dict[str, Any]:
    """The worker side of :func:`analyse_one`: parse once, run the stages, write their parts.

    Sentences are parsed once with spaCy; both stages consume the same Docs. A failure of a
    stage becomes an ``errors`` row with that stage.
    """
    from pipeline.nlp import parse

    documents = store.read_table("documents", {doc_id}).to_pylist()
    if not documents:
        raise FileNotFoundError(f"documents part of {doc_id} ({rel_path}) is missing")
    document = documents[0]
    sentences = store.read_table("sentences", {doc_id})
    docs = parse(sentences.column("text").to_pylist(), settings.nlp.spacy_model,
                 settings.nlp.batch_size)
    failed: dict[str, str] = {}
    found = _entities(rel_path, doc_id, document, sentences, docs, settings, store,
                      fingerprints, todo, failed)
    if "stance" in todo and "entities" not in failed:
        _stance(rel_path, doc_id, document, sentences, docs, settings, store, fingerprints,
                found, failed)
    _embed_arguments(rel_path, sentences, settings, store)
    return {"rel_path": rel_path, "doc_id": doc_id, "failed": failed}


def _embed_arguments(rel_path: str, sentences: pa.Table, settings: Settings,
                     store: OutputStore) -> None:
    """Fill the embedding cache with this document's possible arguments (work the corpus-level
    arguments stage would otherwise do in one process); a failure only costs that speed-up."""
    arguments_mod = stage("pipeline.arguments")
    if arguments_mod is None:
        return
    try:
        arguments_mod.embed_candidates(sentences, settings.arguments,
                                       _embedder(settings, store).embed)
    except Exception:  # the arguments stage embeds what is missing
        log.warning("could not embed the arguments of %s ahead of time", rel_path,
                    exc_info=True)


def _embedder(settings: Settings, store: OutputStore) -> Any:
    """The store's cached embedder, one per process (it keeps the vectors it has read)."""
    from pipeline.embeddings import embedder_for

    folder = store.cache_dir("embeddings")
    return cached("embedder", str(folder), lambda: embedder_for(settings.nlp, folder))


def analyse_warm(rel_path: str, doc_id: str, settings: Settings, store: OutputStore,
                 todo: list[str], fingerprints: dict[str, str]) -> None:
    """Load the parser, register, targets and stance model before a document's clock starts."""
    from pipeline.nlp import load_spacy

    load_spacy(settings.nlp.spacy_model)
    entities_mod = stage("pipeline.entities")
    if entities_mod is not None:
        cached("register", fingerprints["entities"], lambda: entities_mod.load_register(settings))
    if "stance" in todo and stage("pipeline.stance") is not None:
        _stance_inputs(settings, store, fingerprints)
    if stage("pipeline.stance") is not None or stage("pipeline.arguments") is not None:
        _embedder(settings, store).prepare()


def _entities(rel_path: str, doc_id: str, document: dict[str, Any], sentences: pa.Table,
              docs: list[Any], settings: Settings, store: OutputStore,
              fingerprints: dict[str, str], todo: list[str], failed: dict[str, str]) -> Any:
    """The entity result (also when only stance is redone: stance needs its author and
    document-defined aliases); its parts are written only when ``entities`` is to do."""
    entities_mod = stage("pipeline.entities")
    if entities_mod is None:
        return None
    try:
        register = cached("register", fingerprints["entities"],
                          lambda: entities_mod.load_register(settings))
        result = entities_mod.extract_entities(document, sentences, docs, register)
        if "entities" in todo:
            store.write_part("entities", doc_id, result.entities)
            document.update(_author_update(document, result.author))
            store.write_part("documents", doc_id, to_table("documents", [document]))
        return (register, result)
    except Exception as exc:  # any stage failure is recorded for this document only
        failed["entities"] = _record(store, rel_path, doc_id, "entities", exc)
        return None


def _stance(rel_path: str, doc_id: str, document: dict[str, Any], sentences: pa.Table,
            docs: list[Any], settings: Settings, store: OutputStore,
            fingerprints: dict[str, str], found: Any, failed: dict[str, str]) -> None:
    stance_mod = stage("pipeline.stance")
    if stance_mod is None:
        return
    register, result = found if found is not None else (None, None)
    try:
        targets, model = _stance_inputs(settings, store, fingerprints)
        entities = result.entities if result else store.read_table("entities", {doc_id})
        stances = stance_mod.detect_stances(
            document, sentences, docs, entities, targets, model, register=register,
            author=result.author if result else document.get("author_org"),
            doc_aliases=result.doc_aliases if result else None)
        store.write_part("stances", doc_id, stances)
        store.write_part("positions", doc_id, stance_mod.aggregate_positions(
            stances, document, review_threshold=settings.stance.review_threshold))
    except Exception as exc:  # any stage failure is recorded for this document only
        failed["stance"] = _record(store, rel_path, doc_id, "stance", exc)


def _stance_inputs(settings: Settings, store: OutputStore,
                   fingerprints: dict[str, str]) -> tuple[Any, Any]:
    """The targets and the stance model, loaded once per process."""
    stance_mod = importlib.import_module("pipeline.stance")
    targets = cached("targets", fingerprints["stance"],
                     lambda: stance_mod.load_targets(settings.resolve(settings.stance.targets)))
    folder = store.cache_dir("embeddings")

    def load_model() -> Any:
        model = stance_mod.load_stance_model(settings)
        # The process's one cached embedder: the vectors it reads or computes for stance are
        # then at hand when the same sentences are embedded for the arguments stage.
        model.embed_fn = _embedder(settings, store).embed
        return model

    model = cached("stance_model", f"{fingerprints['stance']}|{folder}", load_model)
    return targets, model


def _record(store: OutputStore, rel_path: str, doc_id: str, stage_name: str,
            exc: Exception) -> str:
    log.exception("%s failed on %s", stage_name, rel_path)
    key = error_key(rel_path, stage_name)
    kind = exc.kind if isinstance(exc, DocumentError) else type(exc).__name__
    store.write_part("errors", key, error_table(rel_path, doc_id, stage_name, kind, str(exc)))
    return key
