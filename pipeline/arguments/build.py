"""Build the comparative summary tables: ``arguments``, ``clusters`` and ``comparison``.

:func:`build_argument_tables` is the pure core (tables and an embedding function in, tables
out); :func:`build_arguments` wires it to an :class:`~pipeline.io.OutputStore`, the embedding
cache and the trained argument classifier.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline.arguments.cluster import OUTLIER, ClusterParams, cluster_vectors, split_by_sign
from pipeline.arguments.duplicates import SignatureCache, near_duplicate_groups
from pipeline.arguments.keywords import ctfidf_keywords, label_from_keywords
from pipeline.arguments.units import NONE_KIND, ArgumentClassifier, features
from pipeline.config import ArgumentsConfig, Settings
from pipeline.embeddings import EmbeddingCache, embedder_for, normalise
from pipeline.io import OutputStore, atomic_write_bytes
from pipeline.schema import to_table

log = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], np.ndarray]
STANCE_SIGN = {"support": 1, "conditional": 1, "oppose": -1}
NO_STANCE = "none"
KEY_POINT_MAX_WORDS = 45


@dataclass
class ArgumentResult:
    """The three tables, plus the argument embeddings (rows aligned with ``arguments``)."""

    arguments: pa.Table
    clusters: pa.Table
    comparison: pa.Table
    vectors: np.ndarray = field(repr=False)


def argument_id(doc_id: str, sentence_id: str) -> str:
    """The stable id of the argument stated by one sentence."""
    return "a-" + hashlib.sha256(f"{doc_id}\x1f{sentence_id}".encode()).hexdigest()[:16]


def cluster_params(config: ArgumentsConfig) -> ClusterParams:
    """The clustering knobs of ``config``."""
    return ClusterParams(
        clusterer=config.clusterer, distance_threshold=config.distance_threshold,
        min_cluster_size=config.min_cluster_size, max_clusters=config.max_clusters,
        merge_similarity=config.merge_similarity, outlier_distance=config.outlier_distance,
        micro_above=config.micro_above, n_micro=config.n_micro,
    )


def _author(doc: dict[str, Any]) -> str:
    """Who speaks when a sentence carries no attributed stance: the document's author."""
    for key in ("author_org", "title"):
        if doc.get(key):
            return str(doc[key])
    return PurePath(str(doc.get("source_path") or doc["doc_id"])).stem


def _centre(vectors: np.ndarray) -> np.ndarray:
    """Subtract the corpus mean and renormalise.

    In a one-topic corpus every sentence shares a large common direction ("this is about
    care systems"); removing it lets the themes that differ decide the distances.
    """
    if len(vectors) < 2:
        return vectors
    return normalise(vectors - vectors.mean(axis=0, keepdims=True))


def _best_stances(stances: pa.Table) -> dict[str, dict[str, Any]]:
    """Per sentence, its strongest stance row: a side-taking one first, then by confidence."""
    best: dict[str, dict[str, Any]] = {}
    for row in stances.to_pylist():
        rank = (row["stance"] != "neutral", row["confidence"], row["target"])
        current = best.get(row["sentence_id"])
        if current is None or rank > (current["stance"] != "neutral", current["confidence"],
                                      current["target"]):
            best[row["sentence_id"]] = row
    return best


def _select_units(
    sentences: list[dict[str, Any]], vectors: np.ndarray, classifier: ArgumentClassifier,
    stance_of: dict[str, dict[str, Any]],
) -> tuple[list[int], list[str]]:
    """Indices of the sentences that are arguments and their kinds.

    A sentence is an argument when the classifier gives it a kind other than ``none``, or
    when the stance stage found it takes a side (then its kind is the best non-none kind).
    """
    if not sentences:
        return [], []
    proba = classifier.predict_proba(features(vectors, [s["text"] for s in sentences]))
    classes = classifier.classes_.tolist()
    none_col = classes.index(NONE_KIND)
    ranked = np.argsort(-proba, axis=1, kind="stable")
    chosen, kinds = [], []
    for i, sentence in enumerate(sentences):
        stance = stance_of.get(sentence["sentence_id"])
        takes_side = stance is not None and stance["stance"] in STANCE_SIGN
        if ranked[i, 0] != none_col:
            kinds.append(classes[ranked[i, 0]])
        elif takes_side:
            kinds.append(classes[ranked[i, 1]])
        else:
            continue
        chosen.append(i)
    return chosen, kinds


def _argument_rows(
    sentences: list[dict[str, Any]], chosen: list[int], kinds: list[str],
    documents: dict[str, dict[str, Any]], stance_of: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    rows = []
    for i, kind in zip(chosen, kinds, strict=True):
        s = sentences[i]
        stance = stance_of.get(s["sentence_id"])
        doc = documents.get(s["doc_id"], {"doc_id": s["doc_id"]})
        rows.append({
            "argument_id": argument_id(s["doc_id"], s["sentence_id"]),
            "doc_id": s["doc_id"], "sentence_id": s["sentence_id"],
            "holder": stance["holder"] if stance else _author(doc),
            "holder_is_author": bool(stance["holder_is_author"]) if stance else True,
            "target": stance["target"] if stance else None,
            "stance": stance["stance"] if stance else None,
            "kind": kind, "text": s["text"], "page": s["page"],
            "cluster_id": None, "duplicate_group": None,
        })
    return rows


def _duplicate_groups(rows: list[dict[str, Any]], sentences: list[dict[str, Any]],
                      threshold: float, doc_signatures: SignatureCache | None) -> None:
    """Set ``duplicate_group``: whole documents first, then sentences repeated across docs."""
    doc_texts: dict[str, list[str]] = defaultdict(list)
    for s in sentences:
        doc_texts[s["doc_id"]].append(s["text"])
    doc_ids = sorted(doc_texts)
    doc_groups = near_duplicate_groups(doc_ids, [" ".join(doc_texts[d]) for d in doc_ids],
                                       threshold, cache=doc_signatures)
    arg_groups = near_duplicate_groups([r["argument_id"] for r in rows],
                                       [r["text"] for r in rows], threshold)
    docs_in_group: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r["argument_id"] in arg_groups:
            docs_in_group[arg_groups[r["argument_id"]]].add(r["doc_id"])
    for r in rows:
        group = arg_groups.get(r["argument_id"])
        if r["doc_id"] in doc_groups:
            r["duplicate_group"] = doc_groups[r["doc_id"]]
        elif group is not None and len(docs_in_group[group]) > 1:
            r["duplicate_group"] = group


def _key_point(rows: list[dict[str, Any]], members: np.ndarray, vectors: np.ndarray,
               centroid: np.ndarray) -> int:
    """The member closest to the centroid, among those of readable length if any."""
    readable = [i for i in members if 8 <= len(rows[i]["text"].split()) <= KEY_POINT_MAX_WORDS]
    candidates = np.asarray(readable or members, dtype=np.int64)
    return int(candidates[int(np.argmax(vectors[candidates] @ centroid))])


def _cluster_rows(
    rows: list[dict[str, Any]], vectors: np.ndarray, labels: np.ndarray
) -> tuple[list[dict[str, Any]], dict[int, np.ndarray]]:
    """One ``clusters`` row per label; also each label's centroid. Sets ``cluster_id``."""
    keywords = ctfidf_keywords([r["text"] for r in rows], labels.tolist())
    out, centroids = [], {}
    for c in sorted(set(labels.tolist()) - {OUTLIER}):
        members = np.flatnonzero(labels == c)
        centroid = vectors[members].mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        centroids[c] = centroid
        key = rows[_key_point(rows, members, vectors, centroid)]
        cluster_id = "c-" + hashlib.sha256(key["argument_id"].encode()).hexdigest()[:12]
        member_rows = [rows[i] for i in members]
        for r in member_rows:
            r["cluster_id"] = cluster_id
        stances = Counter(r["stance"] for r in member_rows)
        out.append({
            "cluster_id": cluster_id, "label": label_from_keywords(keywords[c]),
            "keywords": keywords[c], "key_point": key["text"],
            "key_point_doc_id": key["doc_id"], "key_point_page": key["page"],
            "size": len(members), "n_documents": len({r["doc_id"] for r in member_rows}),
            "n_holders": len({r["holder"] for r in member_rows}),
            "n_voices": len({r["duplicate_group"] or r["holder"] for r in member_rows}),
            "n_support": stances["support"], "n_oppose": stances["oppose"],
            "n_conditional": stances["conditional"], "n_neutral": stances["neutral"],
            "targets": sorted({r["target"] for r in member_rows if r["target"]}),
        })
    return out, centroids


def _comparison_rows(rows: list[dict[str, Any]], vectors: np.ndarray, labels: np.ndarray,
                     centroids: dict[int, np.ndarray]) -> list[dict[str, Any]]:
    """Cluster × holder × stance, so agreement and disagreement never share a row."""
    groups: dict[tuple[int, str, str], list[int]] = defaultdict(list)
    for i, (r, c) in enumerate(zip(rows, labels.tolist(), strict=True)):
        if c != OUTLIER:
            groups[(c, r["holder"], r["stance"] or NO_STANCE)].append(i)
    majority: dict[tuple[int, str], tuple[int, bool, str]] = {}
    for (c, holder, stance), members in groups.items():
        rank = (len(members), stance != NO_STANCE, stance)
        if (c, holder) not in majority or rank > majority[(c, holder)]:
            majority[(c, holder)] = rank
    out = []
    for (c, holder, stance), members in sorted(groups.items()):
        best = members[int(np.argmax(vectors[members] @ centroids[c]))]
        out.append({
            "cluster_id": rows[best]["cluster_id"], "holder": holder, "stance": stance,
            "n_arguments": len(members), "is_majority": majority[(c, holder)][2] == stance,
            "evidence": rows[best]["text"], "doc_id": rows[best]["doc_id"],
            "page": rows[best]["page"],
        })
    return sorted(out, key=lambda r: (r["cluster_id"], r["holder"], r["stance"]))


def build_argument_tables(
    sentences: pa.Table, stances: pa.Table, documents: pa.Table, embed: Embed,
    classifier: ArgumentClassifier, config: ArgumentsConfig,
    doc_signatures: SignatureCache | None = None,
) -> ArgumentResult:
    """Find, cluster and compare the arguments of ``sentences`` (the pure core).

    ``doc_signatures`` holds (and receives) the MinHash signatures of whole documents.

    ``embed`` maps texts to normalised vectors (e.g. :meth:`EmbeddingCache.embed`).
    """
    long_enough = pa.array([_long_enough(t, config) for t in sentences.column("text").to_pylist()],
                           type=pa.bool_())
    # Only the columns used, and only possible arguments, become Python rows (memory).
    sentence_rows = sorted(
        sentences.select(_SENTENCE_COLUMNS).filter(long_enough).to_pylist(),
        key=lambda s: (s["doc_id"], s["idx"]),
    )
    stance_of = _best_stances(stances)
    docs = {d["doc_id"]: d for d in documents.to_pylist()}
    vectors = embed([s["text"] for s in sentence_rows]) if sentence_rows else np.zeros((0, 1))
    chosen, kinds = _select_units(sentence_rows, vectors, classifier, stance_of)
    rows = _argument_rows(sentence_rows, chosen, kinds, docs, stance_of)
    order = sorted(range(len(rows)), key=lambda i: rows[i]["argument_id"])
    rows = [rows[i] for i in order]
    arg_vectors = vectors[np.asarray(chosen, dtype=np.int64)[order]] if rows else vectors[:0]
    _duplicate_groups(rows, sentence_rows, config.near_duplicate_threshold, doc_signatures)
    space = _centre(arg_vectors) if config.centre_embeddings else arg_vectors
    labels = cluster_vectors(space, cluster_params(config))
    if config.split_by_stance and len(rows):
        signs = np.asarray([STANCE_SIGN.get(r["stance"] or "", 0) for r in rows])
        labels = split_by_sign(space, labels, signs, config.min_cluster_size)
    cluster_rows, centroids = _cluster_rows(rows, space, labels)
    log.info("arguments: %d of %d sentences (%s), %d clusters", len(rows), len(sentence_rows),
             dict(Counter(r["kind"] for r in rows)), len(cluster_rows))
    return ArgumentResult(
        arguments=to_table("arguments", rows),
        clusters=to_table("clusters", cluster_rows),
        comparison=to_table("comparison",
                            _comparison_rows(rows, arg_vectors, labels, centroids)),
        vectors=arg_vectors,
    )


_SENTENCE_COLUMNS = ["doc_id", "sentence_id", "idx", "text", "page"]


def _long_enough(text: str, config: ArgumentsConfig) -> bool:
    """Whether a sentence may be an argument (shorter ones are headings and fragments)."""
    return len(text.split()) >= config.min_words


def embed_candidates(sentences: pa.Table, config: ArgumentsConfig, embed: Embed) -> int:
    """Embed one document's possible arguments with ``embed`` (the store's cached embedder),
    so that :func:`build_arguments` finds them cached; how many texts that was.

    The per-document stages call this in their worker processes: embedding there runs on
    every core at once, where the corpus-level stage runs in one process.
    """
    texts = [t for t in sentences.column("text").to_pylist() if _long_enough(t, config)]
    if texts:
        embed(texts)
    return len(texts)


def load_classifier(settings: Settings) -> ArgumentClassifier:
    """The trained argument classifier named by ``settings.arguments.classifier``."""
    return ArgumentClassifier.load(settings.resolve(settings.arguments.classifier))


def cached_embedder(store: OutputStore, settings: Settings) -> EmbeddingCache:
    """An :class:`EmbeddingCache` under ``store``'s cache for the configured model."""
    return embedder_for(settings.nlp, store.cache_dir("embeddings"))


def build_arguments(store: OutputStore, settings: Settings) -> ArgumentResult:
    """Read ``sentences``, ``stances`` and ``documents`` from ``store``; build the tables.

    The caller writes ``.arguments``, ``.clusters`` and ``.comparison`` with
    ``store.write_table``.
    """
    cache = cached_embedder(store, settings)
    signatures_file = store.cache_dir("minhash") / "documents.npz"
    signatures = _read_signatures(signatures_file)
    result = build_argument_tables(
        store.read_table("sentences"), store.read_table("stances"),
        store.read_table("documents"), cache.embed, load_classifier(settings),
        settings.arguments, signatures,
    )
    cache.compact()
    _write_signatures(signatures_file, signatures.kept())
    return result


def _read_signatures(path: Path) -> SignatureCache:
    """The document signatures saved by the last run (none if absent or unreadable)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return SignatureCache(dict(zip(data["keys"].tolist(), data["signatures"],
                                           strict=True)))
    except FileNotFoundError:
        return SignatureCache()
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring unreadable signature cache %s: %s", path, exc)
        return SignatureCache()


def _write_signatures(path: Path, signatures: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, keys=np.asarray(list(signatures), dtype="U32"),
             signatures=np.asarray(list(signatures.values()), dtype=np.uint64))
    atomic_write_bytes(path, buffer.getvalue())

