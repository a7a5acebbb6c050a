"""Training data, fitting and document-grouped cross-validation of the learned stance decision.

Shared by ``scripts/train_stance.py`` (fits the shipped decider) and ``scripts/eval_stance.py``
(``make eval``). Documents come from ``../shared`` at run time (nothing third-party is
written into the repository); the hand-written sentences of
``models/stance/training_sentences.csv`` are added to every training fold.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import logging
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.stance.dataset import GoldRow, PreparedDocument, label_pairs, read_gold_rows
from pipeline.stance.learned import StanceDecider

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.stance import StanceModel, TargetSet

log = logging.getLogger("stance_cv")
SPLITS = ("dev", "dev2")
HOLDERS = (None, "", "author", "cited")  # who holds a sentence's view (none given: the writer)
REVIEWED = "reviewed/"  # key prefix of the documents of an analyst's review
FOLDS = 5
INNER_FOLDS = 3


@dataclass
class Example:
    """One document's (or one hand-written sentence's) feature rows and labels."""

    name: str
    relevance: np.ndarray
    relevance_y: list[str]
    stance: np.ndarray
    stance_y: list[str]
    holder: np.ndarray
    holder_y: list[str]
    # trains the holder head: a shared document, or a hand-written sentence that says who
    # holds its view (the older ones, all the writer's own, would teach it nobody is cited)
    trains_holder: bool = True


@dataclass
class Corpus:
    """The shared documents (prepared and labelled) plus the hand-written examples."""

    documents: dict[str, PreparedDocument]  # "dev/007" -> prepared
    examples: dict[str, Example]  # same keys, plus "hand/<n>"
    gold: dict[str, list[GoldRow]]
    sha256: str


class Context:
    """What featurisation needs: settings, targets, model, register."""

    def __init__(self, settings: Settings) -> None:
        from pipeline.entities import load_register
        from pipeline.stance import load_targets
        from pipeline.stance.model import read_stance_model

        self.settings = settings
        self.targets: TargetSet = load_targets(settings.resolve(settings.stance.targets))
        self.model: StanceModel = read_stance_model(settings.resolve(settings.stance.classifier))
        self.model.method = "learned"
        self.model.min_confidence = settings.stance.min_confidence
        self.register = load_register(settings)

    def use_cache(self, folder: Path) -> None:
        """Embed through the cached embedder kept in ``folder``."""
        from pipeline.embeddings import embedder_for

        folder.mkdir(parents=True, exist_ok=True)
        self.model.embed_fn = embedder_for(self.settings.nlp, folder).embed


def _example(name: str, ctx: Context, prepared: PreparedDocument, gold: list[GoldRow]) -> Example:
    from pipeline.stance.detect import stance_features

    features, _ = stance_features(
        prepared.document, prepared.sentences, prepared.docs, prepared.entities, ctx.targets,
        ctx.model, register=ctx.register, author=prepared.author,
        doc_aliases=prepared.doc_aliases,
    )
    labels = label_pairs(features.pairs, prepared.texts, gold)
    for row in labels.unmatched:
        log.warning("%s: gold evidence not found in any sentence: %.60s", name, row.evidence)
    keys = sorted(labels.stance)
    return Example(
        name, features.relevance, labels.relevance,
        features.stance[keys], [labels.stance[k] for k in keys],
        features.holder[keys], [labels.holder[k] for k in keys],
    )


def read_rows(path: Path) -> list[dict[str, str]]:
    """Rows of the hand-written training CSV (text, target, stance, holder), validated: each
    sentence once, since each row becomes a one-sentence document whose other targets are
    negatives."""
    from pipeline.stance.targets import STANCE_LABELS

    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    seen = set()
    for i, row in enumerate(rows, start=2):
        if (row.get("stance") not in STANCE_LABELS or not row.get("text") or not row.get("target")
                or row.get("holder") not in HOLDERS or row["text"] in seen):
            raise ValueError(f"{path}:{i}: bad or repeated row {row}")
        seen.add(row["text"])
    return rows


def hand_written(ctx: Context, path: Path) -> dict[str, Example]:
    """One example per hand-written sentence, read as a one-sentence document by its author;
    its view is the author's, or a third party's where its ``holder`` column says ``cited``
    ("X warned that ...")."""
    from pipeline.nlp import parse
    from pipeline.schema import empty_table, to_table

    rows = read_rows(path)
    docs = parse([r["text"] for r in rows], ctx.settings.nlp.spacy_model, 64)
    ctx.model.embed([r["text"] for r in rows])  # one batch warms the embedding cache
    out = {}
    for n, (row, doc) in enumerate(zip(rows, docs, strict=True)):
        doc_id = f"hand{n:012d}"
        sentences = to_table("sentences", [{
            "sentence_id": f"{doc_id}-00000", "doc_id": doc_id, "idx": 0, "page": None,
            "section": None, "start": 0, "end": len(row["text"]), "text": row["text"],
        }])
        prepared = PreparedDocument(
            {"doc_id": doc_id, "source_path": f"{doc_id}.txt", "author_org": "The Writer"},
            sentences, [doc], empty_table("entities"), None,
        )
        gold = []
        cited = row.get("holder") == "cited"
        if row["target"] != "none" and row["stance"] != "neutral":
            gold = [GoldRow(doc_id, "A Cited Body" if cited else "The Writer", not cited,
                            row["target"], row["stance"], row["text"])]
        example = _example(f"hand/{n}", ctx, prepared, gold)
        example.trains_holder = bool(row.get("holder"))
        out[f"hand/{n}"] = example
    return out


def load_corpus(ctx: Context, shared: Path, cache: Path, hand: Path,
                reviewed: Sequence[tuple[Path, Path]] = ()) -> Corpus:
    """Prepare, featurise and label dev + dev2 (cached), the hand-written sentences and the
    documents of each analyst's review in ``reviewed`` (outputs folder, corpus folder)."""
    from stance_data import prepared_folder

    documents: dict[str, PreparedDocument] = {}
    examples: dict[str, Example] = {}
    gold_by_doc: dict[str, list[GoldRow]] = {}
    digest = hashlib.sha256()
    for split in SPLITS:
        gold_csv = shared / split / "gold_stances.csv"
        digest.update(gold_csv.read_bytes())
        gold = read_gold_rows(gold_csv)
        prepared = prepared_folder(shared / split / "docs", ctx.settings, cache / "docs")
        for rel, doc in sorted(prepared.items()):
            stem = Path(rel).stem
            digest.update((shared / split / "docs" / rel).read_bytes())
            key = f"{split}/{stem}"
            documents[key] = doc
            gold_by_doc[key] = [g for g in gold if g.document == stem]
            examples[key] = _example(key, ctx, doc, gold_by_doc[key])
    digest.update(hand.read_bytes())
    examples.update(hand_written(ctx, hand))
    known = {doc.document["doc_id"] for doc in documents.values()}
    for out_dir, corpus_dir in reviewed:
        examples.update(reviewed_examples(ctx, out_dir, corpus_dir, cache, known, digest))
    return Corpus(documents, examples, gold_by_doc, digest.hexdigest())


def reviewed_examples(ctx: Context, out_dir: Path, corpus_dir: Path, cache: Path,
                      known: set[str], digest: hashlib._Hash) -> dict[str, Example]:
    """Examples from an analyst's review of the outputs ``out_dir`` of ``corpus_dir``
    (:func:`~pipeline.stance.dataset.reviewed_gold`); a document whose content is one of
    ``known`` (the shared documents the CV scores) is left out, so no figure comes from a
    document that trained it. ``digest`` takes what was used."""
    from stance_data import prepared_folder

    from pipeline.io import OutputStore
    from pipeline.stance.dataset import reviewed_gold

    gold = reviewed_gold(OutputStore(out_dir).read_table("positions"))
    prepared = prepared_folder(corpus_dir, ctx.settings, cache / "docs", only=set(gold))
    out = {}
    for rel, doc in sorted(prepared.items()):
        if doc.document["doc_id"] in known:
            log.warning("%s: the same text as a shared document; not used for training", rel)
            continue
        digest.update((corpus_dir / rel).read_bytes())
        digest.update(repr(gold[rel]).encode())
        key = f"{REVIEWED}{out_dir.name}/{rel}"
        out[key] = _example(key, ctx, doc, gold[rel])
    log.info("%d reviewed documents from %s", len(out), out_dir)
    return out


def _stack(examples: list[Example], head: str) -> tuple[np.ndarray, list[str]]:
    xs = [getattr(e, head) for e in examples if len(getattr(e, f"{head}_y"))]
    ys = [y for e in examples for y in getattr(e, f"{head}_y")]
    return np.vstack(xs), ys


def fold_of(key: str, folds: int, partition: str = "") -> int:
    """Deterministic document-grouped fold of a shared document (hand-written and reviewed
    ones, which train every fold and are never scored: -1); another ``partition`` name deals
    the documents into other folds."""
    if key.startswith(("hand/", REVIEWED)):
        return -1
    return int(hashlib.sha256((partition + key).encode()).hexdigest(), 16) % folds


def fit(examples: list[Example], c: float, inner_folds: int = INNER_FOLDS,
        position: tuple[np.ndarray, list[str]] | None = None) -> StanceDecider:
    """Fit the three sentence heads; Platt calibration on inner document-grouped out-of-fold
    scores (hand-written sentences always train, never calibrate); ``position`` trains the
    position head (see :func:`position_examples`)."""
    shared = [e for e in examples if not e.name.startswith("hand/")]
    scores, labels = [], []
    for k in range(inner_folds):
        held = [e for e in shared if fold_of(e.name + "#inner", inner_folds) == k]
        rest = [e for e in examples if e not in held]
        x, y = _stack(rest, "relevance")
        from pipeline.stance.model import SoftmaxClassifier

        head = SoftmaxClassifier(c=c).fit(x, y)
        hx, hy = _stack(held, "relevance")
        scores.append(head.predict_proba(hx)[:, head.classes_.index("yes")])
        labels += hy
    calibration = (np.concatenate(scores), np.array([y == "yes" for y in labels]))
    holder = [e for e in examples if e.trains_holder]
    return StanceDecider(c=c).fit(
        _stack(examples, "relevance"), _stack(examples, "stance"), _stack(holder, "holder"),
        calibration, position,
    )


def predict(ctx: Context, corpus: Corpus, keys: list[str], decider: StanceDecider,
            min_confidence: float) -> tuple[pa.Table, pa.Table]:
    """Stances and positions of the documents ``keys`` decided by ``decider``."""
    from dataclasses import replace

    from pipeline.stance import aggregate_positions, detect_stances

    model = replace(ctx.model, decider=decider, min_confidence=min_confidence)
    stances, positions = [], []
    for key in keys:
        doc = corpus.documents[key]
        table = detect_stances(
            doc.document, doc.sentences, doc.docs, doc.entities, ctx.targets, model,
            register=ctx.register, author=doc.author, doc_aliases=doc.doc_aliases,
        )
        stances.append(table)
        positions.append(aggregate_positions(
            table, doc.document, review_threshold=ctx.settings.stance.review_threshold))
    return pa.concat_tables(stances), pa.concat_tables(positions)


def cross_validate(ctx: Context, corpus: Corpus, c: float, folds: int = FOLDS,
                   partition: str = "") -> tuple[pa.Table, pa.Table]:
    """Document-grouped K-fold: each shared document is decided by a model that never saw it.
    Positions are computed at confidence 0 so that thresholds can be applied afterwards."""
    hand = [e for k, e in corpus.examples.items() if k.startswith("hand/")]
    stances, positions = [], []
    for k in range(folds):
        held = sorted(d for d in corpus.documents if fold_of(d, folds, partition) == k)
        train = [e for d, e in corpus.examples.items()
                 if not d.startswith("hand/") and fold_of(d, folds, partition) != k]
        decider = fit([*train, *hand], c)
        s, p = predict(ctx, corpus, held, decider, 0.0)
        stances.append(s)
        positions.append(p)
        log.info("fold %d: %d held-out documents", k, len(held))
    return pa.concat_tables(stances), pa.concat_tables(positions)


def at_threshold(stances: pa.Table, corpus: Corpus, keys: list[str], threshold: float,
                 review: float) -> pa.Table:
    """Positions re-aggregated from ``stances`` with rows below ``threshold`` made neutral."""
    from pipeline.stance import aggregate_positions

    by_doc = _rows_by_doc(stances, threshold)
    out = []
    for key in keys:
        document = corpus.documents[key].document
        table = pa.Table.from_pylist(by_doc.get(document["doc_id"], []), schema=stances.schema)
        out.append(aggregate_positions(table, document, review_threshold=review))
    return pa.concat_tables(out)


def _rows_by_doc(stances: pa.Table, threshold: float) -> dict[str, list[dict[str, Any]]]:
    """Stance rows per document, those below ``threshold`` made neutral."""
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for row in stances.to_pylist():
        if row["stance"] != "neutral" and row["confidence"] < threshold:
            row["stance"] = "neutral"
        by_doc.setdefault(row["doc_id"], []).append(row)
    return by_doc


SCORE_LINE = re.compile(r"^(strict|polarity)\s+(\w+)\s+P=([\d.]+) R=([\d.]+) F1=([\d.]+)", re.M)


def score(positions: pa.Table, gold_csv: Path, scorer: Path) -> tuple[str, dict[str, float]]:
    """Run the official scorer on ``positions``; its output and the lenient figures."""
    with tempfile.TemporaryDirectory(prefix="stancemap-score-") as tmp:
        path = Path(tmp) / "positions.parquet"
        pq.write_table(positions, path)
        done = subprocess.run(
            [sys.executable, str(scorer), "--positions", str(path), "--gold", str(gold_csv)],
            capture_output=True, text=True, check=False,
        )
    figures = {}
    for mode, scope, p, r, f in SCORE_LINE.findall(done.stdout):
        if mode == "polarity":
            figures.update(
                {f"{scope}_p": float(p), f"{scope}_r": float(r), f"{scope}_f1": float(f)}
            )
    return done.stdout, figures


def combined_gold(shared: Path, folder: Path) -> Path:
    """dev + dev2 gold in one CSV whose ids name the split ("dev2/207"), for one scorer run."""
    out = folder / "gold_dev_dev2.csv"
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = None
        for split in SPLITS:
            with (shared / split / "gold_stances.csv").open(newline="", encoding="utf-8") as src:
                for row in csv.DictReader(src):
                    row["id"] = f"{split}_{row['id']}"
                    if writer is None:
                        writer = csv.DictWriter(fh, fieldnames=list(row))
                        writer.writeheader()
                    writer.writerow(row)
    return out


def renamed(positions: pa.Table, corpus: Corpus) -> pa.Table:
    """Positions whose ``source_path`` stems are ``<split>_<id>`` (see :func:`combined_gold`)."""
    names = {doc.document["doc_id"]: key.replace("/", "_") for key, doc in corpus.documents.items()}
    paths = [f"{names[d]}.txt" for d in positions.column("doc_id").to_pylist()]
    index = positions.schema.get_field_index("source_path")
    return positions.set_column(index, "source_path", pa.array(paths, pa.string()))



def _gold_keys(sc: Any, gold_csv: Path) -> list[tuple]:
    with gold_csv.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return sorted({_key(sc, r["id"], r["holder"], sc.truthy(r["holder_is_author"]), r["target"],
                        r["stance"])
                   for r in rows if r["stance"] in sc.NON_NEUTRAL and r["target"] in sc.CORE})


def _key(sc: Any, doc: str, holder: str, is_author: bool, target: str, stance: str) -> tuple:
    """A position's key as the official scorer builds it (lenient)."""
    side = "support" if stance == "conditional" else stance
    norm = sc.norm_holder(holder)
    name = norm if holder and norm not in {"author", ""} else "AUTHOR"
    return (doc, "AUTHOR" if is_author else norm, target, side, name)


def position_examples(positions: pa.Table, gold_csv: Path, scorer_path: Path
                      ) -> tuple[list[dict[str, Any]], list[str]]:
    """The non-neutral positions of ``positions`` (renamed, see :func:`renamed`) and whether
    the official scorer's one-to-one matching finds each right or wrong (lenient)."""
    sc = _scorer(scorer_path)
    rows = [r for r in positions.to_pylist() if r["stance"] != "neutral"]
    keys = [_key(sc, sc.stem(r["source_path"]), r["holder"], r["holder_is_author"], r["target"],
                 r["stance"]) for r in rows]
    _, _, wrong = sc.match(_gold_keys(sc, gold_csv), sorted(set(keys)))
    return rows, ["wrong" if k in wrong else "right" for k in keys]


class _PositionHead:
    """A position head alone (what :func:`cross_fit_positions` fits per fold)."""

    def __init__(self, rows: list[dict[str, Any]], labels: list[str]) -> None:
        from pipeline.stance.learned import fit_position_head, position_features

        self.head = fit_position_head(position_features(rows), labels)

    def position_probability(self, positions: Sequence[dict[str, Any]]) -> np.ndarray:
        """Probability that each position is right."""
        from pipeline.stance.learned import right_probability

        return right_probability(self.head, positions)


POSITION_GRID = (0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


def best_min_probability(probability: np.ndarray, labels: Sequence[str], n_gold: int) -> float:
    """The :data:`POSITION_GRID` value below which withholding positions gives the best F1:
    a position kept is right or wrong by ``labels``; ``n_gold`` positions are to be found.
    Ties go to the higher value (fewer positions asserted for the same F1)."""
    right = np.array([y == "right" for y in labels], dtype=bool)

    def f1(m: float) -> float:
        kept = probability >= m
        return 2 * float(right[kept].sum()) / max(int(kept.sum()) + n_gold, 1)

    return max(reversed(POSITION_GRID), key=f1)


def out_of_fold_probability(rows: Sequence[dict[str, Any]], labels: Sequence[str],
                            folds: Sequence[int]) -> np.ndarray:
    """Each position's probability of being right by a position head fitted on the positions
    of the other folds (``folds`` gives each position's fold)."""
    probability = np.zeros(len(rows))
    for k in sorted(set(folds)):
        train = [i for i, f in enumerate(folds) if f != k]
        held = [i for i, f in enumerate(folds) if f == k]
        head = _PositionHead([rows[i] for i in train], [labels[i] for i in train])
        probability[held] = head.position_probability([rows[i] for i in held])
    return probability


def choose_min_probability(rows: Sequence[dict[str, Any]], labels: Sequence[str],
                           folds: Sequence[int], n_gold: int) -> float:
    """The withholding threshold (:func:`best_min_probability`) chosen on out-of-fold
    probabilities: on the head's own training positions its probabilities are too good, and
    a threshold chosen on them withholds too much."""
    return best_min_probability(out_of_fold_probability(rows, labels, folds), labels, n_gold)


def min_confidence_per_fold(tables: dict[float, pa.Table], corpus: Corpus, gold_csv: Path,
                            scorer_path: Path) -> tuple[pa.Table, list[float]]:
    """Positions of each fold at the sentence threshold (a key of ``tables``, the positions
    at each threshold) that gives the other four folds the best F1 (ties to the higher
    threshold), and each fold's threshold: what choosing ``stance.min_confidence`` on the CV
    would give on unseen documents."""
    fold = _fold_by_doc_id(corpus)
    right = {}
    for threshold, table in tables.items():
        rows, labels = position_examples(table, gold_csv, scorer_path)
        right[threshold] = [(fold[r["doc_id"]], y == "right")
                            for r, y in zip(rows, labels, strict=True)]
    chosen = best_per_fold(right, gold_folds(gold_csv, scorer_path))
    out = []
    for k, best in enumerate(chosen):
        table = tables[best]
        held = pa.array([fold[d] == k for d in table.column("doc_id").to_pylist()], pa.bool_())
        out.append(table.filter(held))
    return pa.concat_tables(out), chosen


def _fold_by_doc_id(corpus: Corpus) -> dict[str, int]:
    """The fold of each shared document, by its doc_id."""
    return {doc.document["doc_id"]: fold_of(key, FOLDS) for key, doc in corpus.documents.items()}


def best_per_fold(right: dict[float, list[tuple[int, bool]]], in_gold: Sequence[int]
                  ) -> list[float]:
    """For each fold, the threshold whose positions ((fold, right?) per position in
    ``right[threshold]``) give the other folds the best F1; ``in_gold`` holds the fold of each
    gold position. Ties go to the higher threshold (fewer positions for the same F1)."""

    def f1(threshold: float, k: int) -> float:
        kept = [ok for fold, ok in right[threshold] if fold != k]
        return 2 * sum(kept) / max(len(kept) + sum(f != k for f in in_gold), 1)

    return [max(sorted(right, reverse=True), key=lambda t: f1(t, k)) for k in range(FOLDS)]


def gold_folds(gold_csv: Path, scorer_path: Path) -> list[int]:
    """The fold of each non-neutral core gold position (lenient keys, one per position)."""
    sc = _scorer(scorer_path)
    return [fold_of(key[0].replace("_", "/", 1), FOLDS) for key in _gold_keys(sc, gold_csv)]


def cross_fit_positions(stances: pa.Table, corpus: Corpus, rows: list[dict[str, Any]],
                        labels: list[str], settings: Settings, gold: list[int],
                        min_probability: float | None = None) -> tuple[pa.Table, list[float]]:
    """Positions whose confidence comes from a position head that never saw their document's
    fold: for each fold, the head is fitted on the other folds' out-of-fold positions ``rows``
    (with their ``labels``, see :func:`position_examples`) and the fold's documents are
    re-aggregated, withholding positions under ``min_probability``; with ``None``, under a
    threshold chosen on the other folds (:func:`choose_min_probability`; ``gold`` holds the
    fold of each gold position). Also returns each fold's threshold."""
    from pipeline.stance import aggregate_positions

    names = {doc.document["doc_id"]: key for key, doc in corpus.documents.items()}
    fold = _fold_by_doc_id(corpus)
    folds = [fold[r["doc_id"]] for r in rows]
    by_doc = _rows_by_doc(stances, settings.stance.min_confidence)
    out, chosen = [], []
    for k in range(FOLDS):
        train = [r for r, f in zip(rows, folds, strict=True) if f != k]
        train_y = [y for y, f in zip(labels, folds, strict=True) if f != k]
        head = _PositionHead(train, train_y)
        threshold = min_probability if min_probability is not None else choose_min_probability(
            train, train_y, [f for f in folds if f != k], sum(f != k for f in gold))
        chosen.append(threshold)
        for doc_id, doc_rows in sorted(by_doc.items()):
            if fold[doc_id] != k:
                continue
            table = pa.Table.from_pylist(doc_rows, schema=stances.schema)
            out.append(aggregate_positions(
                table, corpus.documents[names[doc_id]].document,
                review_threshold=settings.stance.review_threshold, scorer=head,
                min_probability=threshold))
    return renamed(pa.concat_tables(out), corpus), chosen


THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
BINS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)
# other deals of the documents into folds: with 113 gold positions one partition's F1 moves
# by a few hundredths with the deal alone
PARTITIONS = ("s1", "s2", "s3")


def other_partitions(ctx: Context, corpus: Corpus, gold_csv: Path, scorer_path: Path, c: float
                     ) -> dict[str, dict[str, float]]:
    """The sentence decision's lenient figures at ``stance.min_confidence`` with the documents
    dealt into folds by each of :data:`PARTITIONS`."""
    keys = sorted(corpus.documents)
    stance = ctx.settings.stance
    out = {}
    for partition in PARTITIONS:
        stances, _ = cross_validate(ctx, corpus, c, partition=partition)
        positions = renamed(at_threshold(stances, corpus, keys, stance.min_confidence,
                                         stance.review_threshold), corpus)
        out[partition] = score(positions, gold_csv, scorer_path)[1]
        log.info("partition %s: F1 %.2f", partition, out[partition].get("all_f1", 0.0))
    return out


def _scorer(path: Path) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("score_stances", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reliability(positions: pa.Table, gold_csv: Path, scorer_path: Path) -> list[dict[str, Any]]:
    """Per confidence bin: non-neutral core positions and the share that the official scorer's
    one-to-one matching finds right (lenient)."""
    rows, labels = position_examples(positions, gold_csv, scorer_path)
    bins: list[dict[str, Any]] = []
    for low, high in itertools.pairwise(BINS):
        chosen = [y for r, y in zip(rows, labels, strict=True) if low <= r["confidence"] < high]
        right = chosen.count("right")
        bins.append({"confidence": f"{low:.1f}-{min(high, 1.0):.1f}", "positions": len(chosen),
                     "correct": right,
                     "precision": round(right / len(chosen), 3) if chosen else None})
    return bins


def cv_figures(ctx: Context, corpus: Corpus, shared: Path, c: float
               ) -> tuple[dict[str, Any], tuple[np.ndarray, list[str]]]:
    """Cross-validated figures (official scorer, dev + dev2): the headline with the position
    head cross-fitted (see :func:`cross_fit_positions`) withholding as configured
    (``stance.min_position_confidence``), the same with a withholding threshold chosen per fold
    on the other folds, the sentence decision alone at each
    minimum confidence, the reliability table and the precision of positions at or above the
    review threshold; and the position head's training data (all out-of-fold positions)."""
    from pipeline.stance.learned import position_features

    scorer_path = shared / "tools" / "score_stances.py"
    stances, _ = cross_validate(ctx, corpus, c)
    keys = sorted(corpus.documents)
    stance = ctx.settings.stance
    with tempfile.TemporaryDirectory(prefix="stancemap-cv-") as tmp:
        gold = combined_gold(shared, Path(tmp))
        by_threshold, tables = {}, {}
        for threshold in {*THRESHOLDS, stance.min_confidence}:
            tables[threshold] = renamed(
                at_threshold(stances, corpus, keys, threshold, stance.review_threshold), corpus)
        for threshold in THRESHOLDS:
            text, figures = score(tables[threshold], gold, scorer_path)
            by_threshold[f"{threshold:.2f}"] = figures
            log.info("min_confidence %.2f: %s", threshold, text.strip().splitlines()[-1])
        per_fold, confidence_by_fold = min_confidence_per_fold(
            {t: tables[t] for t in THRESHOLDS}, corpus, gold, scorer_path)
        _, with_confidence_chosen = score(per_fold, gold, scorer_path)
        raw = tables[stance.min_confidence]
        _, sentence_only = score(raw, gold, scorer_path)
        partitions = other_partitions(ctx, corpus, gold, scorer_path, c)
        rows, labels = position_examples(raw, gold, scorer_path)
        in_gold = gold_folds(gold, scorer_path)
        positions, _ = cross_fit_positions(stances, corpus, rows, labels, ctx.settings,
                                           in_gold, stance.min_position_confidence)
        withheld, by_fold = cross_fit_positions(stances, corpus, rows, labels, ctx.settings,
                                                in_gold)
        _, with_chosen = score(withheld, gold, scorer_path)
        report, figures = score(positions, gold, scorer_path)
        curve = reliability(positions, gold, scorer_path)
        confident = positions.filter(pc.invert(positions.column("needs_review")))
        _, above = score(confident, gold, scorer_path)
    log.info("cross-validated: %s", report.strip().splitlines()[-1])
    return {
        "method": f"document-grouped {FOLDS}-fold CV over dev + dev2 ({len(keys)} documents), "
                  "scored by ../shared/tools/score_stances.py (polarity = lenient); the position "
                  "head cross-fitted on the other folds' out-of-fold positions",
        "min_confidence": stance.min_confidence,
        "min_position_confidence": stance.min_position_confidence,
        "lenient_with_withholding_chosen_per_fold": with_chosen,
        "min_position_confidence_chosen_per_fold": by_fold,
        "review_threshold": stance.review_threshold,
        "scorer_output": report.strip().splitlines(),
        "lenient": figures,
        "lenient_without_position_head": sentence_only,
        "lenient_without_position_head_other_partitions": partitions,
        "by_min_confidence": by_threshold,
        "lenient_with_min_confidence_chosen_per_fold": with_confidence_chosen,
        "min_confidence_chosen_per_fold": confidence_by_fold,
        "reliability": curve,
        "precision_not_needing_review": above.get("all_p"),
    }, (position_features(rows), labels)
