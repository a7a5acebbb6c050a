"""The one function that analyses one ingested document: :func:`analyse_document`.

Parse the sentences once with spaCy, extract entities and the author, detect stances and
aggregate positions, and embed the argument candidates ahead of the corpus-level arguments
stage. Typed inputs, typed outputs, no store and no Prefect: the flow's worker job
(:mod:`flows.stages`), the evaluation harnesses (:mod:`pipeline.evaluate`,
:mod:`pipeline.entities.evaluate`) and ``scripts/eval_arguments.py`` all call it, so an
evaluation measures what a run does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pyarrow as pa

from pipeline.errors import DocumentError

if TYPE_CHECKING:
    from pipeline.arguments import ArgumentMatching
    from pipeline.config import Settings
    from pipeline.entities import Author, EntityResult, OrganisationRegister
    from pipeline.ingest import IngestedDocument, SourceFile
    from pipeline.stance import StanceModel, TargetSet

log = logging.getLogger(__name__)

ENTITIES = "entities"
STANCE = "stance"
ANALYSIS_STAGES = (ENTITIES, STANCE)
Embed = Callable[[Sequence[str]], np.ndarray]
T = TypeVar("T")
# (kind, loader) -> the loaded object; the flow's workers keep one per process and fingerprint
Memo = Callable[[str, Callable[[], Any]], Any]


def _load_now(kind: str, load: Callable[[], T]) -> T:
    return load()


@dataclass(frozen=True)
class Analysers:
    """What analysing a document needs, loaded once and reused for every document.

    ``targets`` and ``stance_model`` are ``None`` when stances are not wanted; ``embed`` (the
    store's cached embedder) is ``None`` when argument candidates are not embedded ahead, and
    ``matching`` when the arguments are not also embedded ahead with the matcher.
    """

    settings: Settings
    register: OrganisationRegister
    targets: TargetSet | None = None
    stance_model: StanceModel | None = None
    embed: Embed | None = None
    matching: ArgumentMatching | None = None


@dataclass
class DocumentAnalysis:
    """What :func:`analyse_document` found in one document.

    ``document`` is the ``documents`` row with the author the entities stage found;
    ``failures`` maps each stage that failed to its exception (a failed entities stage also
    skips stance, which needs its author and aliases); ``seconds`` is each stage's time.
    """

    document: dict[str, Any]
    entities: EntityResult | None = None
    stances: pa.Table | None = None
    positions: pa.Table | None = None
    failures: dict[str, Exception] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def raise_failure(self) -> None:
        """Raise the first stage failure, if any (for harnesses that stop on errors)."""
        for exc in self.failures.values():
            raise exc


def load_analysers(settings: Settings, stages: Collection[str] = ANALYSIS_STAGES,
                   cache_folder: Path | None = None, *, candidates: bool = False,
                   memo: Memo = _load_now) -> Analysers:
    """Load the register, and for ``stance`` the targets and the stance model.

    With ``cache_folder`` (an output store's embedding cache) sentences are embedded through
    the cached embedder of ``settings.nlp`` kept there (the vectors a run uses and caches),
    else by sentence-transformers; ``candidates`` also embeds each document's argument
    candidates into that cache. ``memo(kind, load)`` lets a caller keep what is loaded.
    """
    from pipeline.embeddings import embedder_for
    from pipeline.entities import load_register

    register = memo("register", lambda: load_register(settings))
    embedder = (memo("embedder", lambda: embedder_for(settings.nlp, cache_folder))
                if cache_folder is not None else None)
    targets = model = None
    if STANCE in stages:
        from pipeline.stance import load_stance_model, load_targets

        targets = memo("targets", lambda: load_targets(settings.resolve(settings.stance.targets)))

        def load_model() -> StanceModel:
            model = load_stance_model(settings)
            if embedder is not None:
                # One embedder per process: the vectors stance reads or computes are then at
                # hand when the same sentences are embedded for the arguments stage.
                model.embed_fn = embedder.embed
            return model

        model = memo("stance_model", load_model)
    embed = matching = None
    if embedder is not None and candidates and cache_folder is not None:
        from pipeline.arguments import load_argument_matching

        embed = embedder.embed
        folder = cache_folder
        matching = memo("matching", lambda: load_argument_matching(settings, folder))
    return Analysers(settings, register, targets, model, embed, matching)


def author_update(document: Mapping[str, Any], author: Author | None) -> dict[str, Any]:
    """The ``documents`` row with the author the entities stage found (if any)."""
    if author is None:
        return dict(document)
    return {**document, "author_org": author.name, "author_org_id": author.canonical_id,
            "author_confidence": author.confidence}


def analyse_document(document: Mapping[str, Any], sentences: pa.Table, analysers: Analysers,
                     stages: Collection[str] = ANALYSIS_STAGES) -> DocumentAnalysis:
    """Analyse one ingested document (its ``documents`` row and ``sentences`` table).

    Entities always run (stance needs the author and the document's own aliases); stance runs
    when ``stages`` holds it and its analysers are loaded. A stage's failure is caught and
    kept in :attr:`DocumentAnalysis.failures`; only parsing failures propagate.
    """
    from pipeline.entities import extract_entities
    from pipeline.nlp import parse

    settings = analysers.settings
    docs = parse(sentences.column("text").to_pylist(), settings.nlp.spacy_model,
                 settings.nlp.batch_size)
    analysis = DocumentAnalysis(dict(document))
    started = time.perf_counter()
    try:
        analysis.entities = extract_entities(analysis.document, sentences, docs,
                                             analysers.register)
        analysis.document = author_update(analysis.document, analysis.entities.author)
    except Exception as exc:  # any stage failure is kept for this document only
        analysis.failures[ENTITIES] = exc
    analysis.seconds[ENTITIES] = time.perf_counter() - started
    if STANCE in stages and analysis.entities is not None:
        _stance(analysis, sentences, docs, analysers)
    if analysers.embed is not None:
        _embed_candidates(analysis, sentences, analysers)
    return analysis


def _stance(analysis: DocumentAnalysis, sentences: pa.Table, docs: Sequence[Any],
            analysers: Analysers) -> None:
    from pipeline.stance import aggregate_positions, detect_stances

    assert analysis.entities is not None
    if analysers.targets is None or analysers.stance_model is None:
        raise ValueError("stance was asked for, but its targets and model are not loaded")
    started = time.perf_counter()
    found = analysis.entities
    try:
        analysis.stances = detect_stances(
            analysis.document, sentences, docs, found.entities, analysers.targets,
            analysers.stance_model, register=analysers.register, author=found.author,
            doc_aliases=found.doc_aliases)
        settings = analysers.settings.stance
        analysis.positions = aggregate_positions(
            analysis.stances, analysis.document, review_threshold=settings.review_threshold,
            scorer=analysers.stance_model.decider,
            min_probability=settings.min_position_confidence)
    except Exception as exc:  # any stage failure is kept for this document only
        analysis.stances = analysis.positions = None
        analysis.failures[STANCE] = exc
    analysis.seconds[STANCE] = time.perf_counter() - started


def _embed_candidates(analysis: DocumentAnalysis, sentences: pa.Table,
                      analysers: Analysers) -> None:
    """Fill the embedding caches with this document's possible arguments, and its arguments'
    matcher vectors (work the corpus-level arguments stage would otherwise do in one process);
    a failure only costs that speed-up."""
    from pipeline.arguments import embed_candidates

    assert analysers.embed is not None
    try:
        embed_candidates(sentences, analysers.settings.arguments, analysers.embed,
                         analysis.stances, analysers.matching)
    except Exception:  # the arguments stage embeds what is missing
        log.warning("could not embed the arguments of %s ahead of time",
                    analysis.document.get("source_path"), exc_info=True)


@dataclass(frozen=True)
class AnalysedSource:
    """One file of a folder: where it came from, its ingested rows and their analysis."""

    source: SourceFile
    ingested: IngestedDocument
    analysis: DocumentAnalysis


def analyse_sources(folder: Path, analysers: Analysers,
                    stages: Collection[str] = ANALYSIS_STAGES,
                    keep: Callable[[SourceFile], bool] | None = None) -> Iterator[AnalysedSource]:
    """Ingest and analyse every file of ``folder`` (those ``keep`` accepts) in one process:
    the harness for evaluations run without the flow. Files that fail to ingest are logged
    and skipped."""
    from pipeline.ingest import discover, ingest_document

    for source in discover(folder, analysers.settings):
        if keep is not None and not keep(source):
            continue
        try:
            ingested = ingest_document(source, analysers.settings)
        except DocumentError as exc:
            log.warning("skipped %s: %s", source.rel_path, exc)
            continue
        analysis = analyse_document(ingested.document, ingested.sentences, analysers, stages)
        yield AnalysedSource(source, ingested, analysis)
