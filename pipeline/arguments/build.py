"""Build the comparative summary tables: ``arguments``, ``clusters`` and ``comparison``.

:func:`build_argument_tables` is the pure core (tables and an embedding function in, tables
out); :func:`build_arguments` wires it to an :class:`~pipeline.io.OutputStore`, the embedding
cache and the trained argument classifier.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline.arguments.cluster import OUTLIER, ClusterParams, cluster_vectors, split_by_sign
from pipeline.arguments.codebook import AnalystTheme, load_codebook
from pipeline.arguments.duplicates import (
    SignatureCache,
    UnionFind,
    band_hashes,
    group_ids,
    groups_from_signatures,
    minhash_signatures,
    similarity,
    usable,
)
from pipeline.arguments.keywords import ctfidf_keywords
from pipeline.arguments.match import (
    MATCHER_PATH,
    export_matcher,
    match_scores,
    matcher_for,
    matcher_onnx,
)
from pipeline.arguments.mining import ArgumentRules, argument_rules, label_from_key_point
from pipeline.arguments.themes import ThemeIndex, load_index, needs_rebuild, save_index, stamped
from pipeline.arguments.units import NONE_KIND, ArgumentClassifier, features
from pipeline.config import ArgumentsConfig, Settings
from pipeline.embeddings import EmbeddingCache, embedder_for, normalise
from pipeline.entities import load_register
from pipeline.io import OutputStore, read_arrays, write_arrays
from pipeline.schema import to_table
from pipeline.stance import load_targets
from pipeline.workers import run_in_child

log = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], np.ndarray]
Matched = Callable[[Sequence[int]], np.ndarray]  # matcher vectors of the arguments at indices
STANCE_SIGN = {"support": 1, "conditional": 1, "oppose": -1}
NO_STANCE = "none"
SHORTER_BONUS = 0.005  # key point choice: similarity traded per word of length
_BLOCK = 8192  # sentences classified at a time (memory)


@dataclass
class ArgumentResult:
    """The three tables, the theme index that goes with them and, from a full build, the
    argument embeddings (rows aligned with ``arguments``)."""

    arguments: pa.Table
    clusters: pa.Table
    comparison: pa.Table
    themes: ThemeIndex = field(repr=False)
    vectors: np.ndarray | None = field(default=None, repr=False)


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
    stance_of: dict[str, dict[str, Any]], rules: ArgumentRules,
) -> tuple[list[int], list[str]]:
    """Indices of the sentences that are arguments and their kinds.

    A sentence that ``rules`` rule out
    (:meth:`~pipeline.arguments.mining.ArgumentRules.not_argument_reason`: a question, heading,
    procedural or boilerplate text, a bare description) never is. Otherwise it is an argument
    when the classifier gives it a kind other than ``none``, or when the stance stage found it
    takes a side (then its kind is the best non-none kind).
    """
    if not sentences:
        return [], []
    # in blocks: the classifier's float64 input for every sentence of a large corpus at once
    # is about 0.7 GB at 1,000 documents
    proba = np.concatenate([
        classifier.predict_proba(features(vectors[start : start + _BLOCK],
                                          [s["text"] for s in sentences[start : start + _BLOCK]]))
        for start in range(0, len(sentences), _BLOCK)])
    classes = classifier.classes_.tolist()
    none_col = classes.index(NONE_KIND)
    ranked = np.argsort(-proba, axis=1, kind="stable")
    chosen, kinds = [], []
    for i, sentence in enumerate(sentences):
        if rules.not_argument_reason(sentence["text"]) is not None:
            continue
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


@dataclass
class _Duplicates:
    """Near-duplicate state of one build: per document and per argument (row-aligned)."""

    doc_ids: list[str]
    doc_signatures: np.ndarray
    doc_usable: np.ndarray
    doc_groups: dict[str, str]
    argument_groups: dict[str, str]
    band_keys: np.ndarray


def _doc_texts(sentences: list[dict[str, Any]], doc_ids: Sequence[str]) -> list[str]:
    """Each document's possible arguments joined: what whole-document duplicates compare."""
    texts: dict[str, list[str]] = defaultdict(list)
    for s in sentences:
        texts[s["doc_id"]].append(s["text"])
    return [" ".join(texts.get(doc_id, [])) for doc_id in doc_ids]


def _find_duplicates(rows: list[dict[str, Any]], sentences: list[dict[str, Any]],
                     doc_ids: list[str], threshold: float,
                     doc_signatures: SignatureCache | None) -> _Duplicates:
    """Whole documents that are copies of each other, and arguments repeated across docs."""
    doc_texts = _doc_texts(sentences, doc_ids)
    signatures = minhash_signatures(doc_texts, cache=doc_signatures)
    doc_usable = usable(doc_texts)
    texts = [r["text"] for r in rows]
    arg_signatures = minhash_signatures(texts)
    return _Duplicates(
        doc_ids, signatures, doc_usable,
        groups_from_signatures(doc_ids, signatures, doc_usable, threshold),
        groups_from_signatures([r["argument_id"] for r in rows], arg_signatures, usable(texts),
                               threshold),
        band_hashes(arg_signatures),
    )


def _set_duplicate_groups(rows: list[dict[str, Any]], doc_groups: dict[str, str],
                          argument_groups: dict[str, str]) -> None:
    """Set ``duplicate_group``: the document's group if the whole document is a copy, else the
    argument's group when it spans more than one document."""
    docs_in_group: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r["argument_id"] in argument_groups:
            docs_in_group[argument_groups[r["argument_id"]]].add(r["doc_id"])
    for r in rows:
        group = argument_groups.get(r["argument_id"])
        if r["doc_id"] in doc_groups:
            r["duplicate_group"] = doc_groups[r["doc_id"]]
        elif group is not None and len(docs_in_group[group]) > 1:
            r["duplicate_group"] = group
        else:
            r["duplicate_group"] = None


def _key_point(rows: list[dict[str, Any]], members: np.ndarray, sims: np.ndarray,
               rules: ArgumentRules) -> int:
    """The member an analyst can quote for its theme: among quotable members (concise,
    complete argumentative sentences) if any, the most similar to the theme, shorter ones
    preferred (a sentence of 30 words must be 0.1 closer than one of 10 to win)."""
    quotable = [i for i in members if rules.is_quotable(rows[i]["text"], argument=True)]
    candidates = np.asarray(quotable or members, dtype=np.int64)
    words = np.asarray([len(rows[i]["text"].split()) for i in candidates], dtype=np.float32)
    score = np.nan_to_num(sims[candidates], nan=-1.0) - SHORTER_BONUS * words
    return int(candidates[int(np.argmax(score))])


def _theme_centroids(space: np.ndarray, labels: np.ndarray, k: int | None = None) -> np.ndarray:
    """The normalised mean of each theme's members, a row per label ``0..k-1`` (zeros for a
    theme without members)."""
    k = (int(labels.max()) + 1 if len(labels) else 0) if k is None else k
    centroids = np.zeros((k, space.shape[1]), dtype=np.float32)
    for c in range(k):
        if not np.any(labels == c):
            continue
        centroid = space[labels == c].mean(axis=0)
        centroids[c] = centroid / max(float(np.linalg.norm(centroid)), 1e-12)
    return centroids


def _own_similarity(space: np.ndarray, labels: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Each row's cosine to its own theme's centroid (nan for outliers)."""
    sims = np.full(len(space), np.nan, dtype=np.float32)
    member = labels >= 0
    if member.any():
        sims[member] = np.einsum("ij,ij->i", space[member], centroids[labels[member]])
    return sims


@dataclass(frozen=True)
class _Theme:
    cluster_id: str
    label: str
    keywords: list[str]
    key_point: str | None = None  # an analyst theme's own key point (None: discovered)


def _analyst_theme(theme: AnalystTheme, keywords: list[str]) -> _Theme:
    return _Theme(theme.cluster_id, theme.label or label_from_key_point(theme.key_point),
                  keywords, theme.key_point)


def _name_themes(rows: list[dict[str, Any]], labels: np.ndarray, sims: np.ndarray,
                 rules: ArgumentRules, codebook: Sequence[AnalystTheme] = ()) -> list[_Theme]:
    """Analyst themes first (labels ``0..len(codebook)-1``), then each discovered theme: a
    stable id from its key point, a label made from the key point, c-TF-IDF keywords."""
    k = max(int(labels.max()) + 1 if len(labels) else 0, len(codebook))
    keywords = ctfidf_keywords([r["text"] for r in rows], labels.tolist()) if len(rows) else {}
    themes = [_analyst_theme(t, keywords.get(c, [])) for c, t in enumerate(codebook)]
    for c in range(len(codebook), k):
        key = rows[_key_point(rows, np.flatnonzero(labels == c), sims, rules)]
        themes.append(_Theme("c-" + hashlib.sha256(key["argument_id"].encode()).hexdigest()[:12],
                             label_from_key_point(key["text"]), keywords[c]))
    return themes


def _cluster_rows(rows: list[dict[str, Any]], labels: np.ndarray, sims: np.ndarray,
                  themes: Sequence[_Theme], rules: ArgumentRules) -> list[dict[str, Any]]:
    """One ``clusters`` row per theme with members; sets each row's ``cluster_id``."""
    for r in rows:
        r["cluster_id"] = None
    out = []
    for c, theme in enumerate(themes):
        members = np.flatnonzero(labels == c)
        if not len(members) and theme.key_point is None:
            continue
        if theme.key_point is None:
            key = rows[_key_point(rows, members, sims, rules)]
        else:
            key = {"text": theme.key_point, "doc_id": None, "page": None}
        member_rows = [rows[i] for i in members]
        for r in member_rows:
            r["cluster_id"] = theme.cluster_id
        stances = Counter(r["stance"] for r in member_rows)
        out.append({
            "cluster_id": theme.cluster_id, "label": theme.label,
            "keywords": theme.keywords, "key_point": key["text"],
            "key_point_doc_id": key["doc_id"], "key_point_page": key["page"],
            "size": len(members), "n_documents": len({r["doc_id"] for r in member_rows}),
            "n_holders": len({r["holder"] for r in member_rows}),
            "n_voices": len({r["duplicate_group"] or r["holder"] for r in member_rows}),
            "n_support": stances["support"], "n_oppose": stances["oppose"],
            "n_conditional": stances["conditional"], "n_neutral": stances["neutral"],
            "targets": sorted({r["target"] for r in member_rows if r["target"]}),
            "origin": "discovered" if theme.key_point is None else "analyst",
        })
    return out


def _comparison_rows(rows: list[dict[str, Any]], labels: np.ndarray, sims: np.ndarray,
                     rules: ArgumentRules) -> list[dict[str, Any]]:
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
        best = max(members, key=lambda i: (bool(rows[i]["holder_is_author"]),
                                           rules.is_quotable(rows[i]["text"], argument=True),
                                           float(np.nan_to_num(sims[i], nan=-1.0)), -i))
        out.append({
            "cluster_id": rows[best]["cluster_id"], "holder": holder, "stance": stance,
            "n_arguments": len(members), "is_majority": majority[(c, holder)][2] == stance,
            "evidence": rows[best]["text"], "doc_id": rows[best]["doc_id"],
            "page": rows[best]["page"],
        })
    return sorted(out, key=lambda r: (r["cluster_id"], r["holder"], r["stance"]))


def _result(rows: list[dict[str, Any]], labels: np.ndarray, sims: np.ndarray,
            themes: Sequence[_Theme], index: ThemeIndex, vectors: np.ndarray | None,
            rules: ArgumentRules) -> ArgumentResult:
    """The three tables of ``rows`` (sorted by argument id) placed in ``themes``."""
    cluster_rows = _cluster_rows(rows, labels, sims, themes, rules)
    log.info("arguments: %d (%s), %d clusters", len(rows),
             dict(Counter(r["kind"] for r in rows)), len(cluster_rows))
    return ArgumentResult(
        arguments=to_table("arguments", rows),
        clusters=to_table("clusters", cluster_rows),
        comparison=to_table("comparison", _comparison_rows(rows, labels, sims, rules)),
        themes=index, vectors=vectors,
    )


def _candidates(sentences: pa.Table, stances: pa.Table, documents: pa.Table, embed: Embed,
                classifier: ArgumentClassifier, config: ArgumentsConfig, rules: ArgumentRules,
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], np.ndarray]:
    """Possible-argument sentences, the argument rows among them (sorted by id) and their
    embeddings."""
    long_enough = pa.array([_long_enough(t, config) for t in sentences.column("text").to_pylist()],
                           type=pa.bool_())
    # Only the columns used, and only possible arguments, become Python rows (memory).
    sentence_rows = sorted(
        sentences.select(_SENTENCE_COLUMNS).filter(long_enough).to_pylist(),
        key=lambda s: (s["doc_id"], s["idx"]),
    )
    stance_of = _best_stances(stances)
    docs = {d["doc_id"]: d for d in documents.to_pylist()}
    # A copy of another document (the same response as PDF and TXT) is one voice: its
    # canonical document speaks for it.
    copies = {doc_id for doc_id, d in docs.items() if d.get("copy_of")}
    if copies:
        sentence_rows = [s for s in sentence_rows if s["doc_id"] not in copies]
    vectors = embed([s["text"] for s in sentence_rows]) if sentence_rows else np.zeros((0, 1))
    chosen, kinds = _select_units(sentence_rows, vectors, classifier, stance_of, rules)
    rows = _argument_rows(sentence_rows, chosen, kinds, docs, stance_of)
    order = sorted(range(len(rows)), key=lambda i: rows[i]["argument_id"])
    rows = [rows[i] for i in order]
    arg_vectors = vectors[np.asarray(chosen, dtype=np.int64)[order]] if rows else vectors[:0]
    return sentence_rows, rows, arg_vectors


def _signs(rows: Sequence[dict[str, Any]]) -> np.ndarray:
    """+1 for support or conditional, -1 for oppose, 0 for no side."""
    return np.asarray([STANCE_SIGN.get(r["stance"] or "", 0) for r in rows], dtype=np.int64)


def _codebook_labels(rows: list[dict[str, Any]], matched: Matched, match: Embed,
                     codebook: Sequence[AnalystTheme], threshold: float) -> np.ndarray:
    """The analyst theme each argument matches best at ``threshold`` or above (among those
    whose target and stance agree with the argument's), else :data:`OUTLIER`."""
    labels = np.full(len(rows), OUTLIER, dtype=np.int64)
    if not codebook or not len(rows):
        return labels
    scores = match_scores(matched(range(len(rows))), match([t.key_point for t in codebook]))
    agrees = np.asarray([[(t.target is None or r["target"] in (None, t.target))
                          and (t.stance is None or r["stance"] == t.stance) for t in codebook]
                         for r in rows], dtype=bool)
    scores = np.where(agrees, scores, -np.inf)
    best = np.argmax(scores, axis=1)
    hit = scores[np.arange(len(rows)), best] >= threshold
    labels[hit] = best[hit]
    return labels


def _join_key_points(rows: list[dict[str, Any]], space: np.ndarray, matched: Matched,
                     themes: np.ndarray, kept: np.ndarray, threshold: float,
                     rules: ArgumentRules) -> np.ndarray:
    """The arguments outside the ``kept`` themes join the kept theme whose key point they
    match best, when the match score reaches ``threshold`` (the matcher puts arguments into
    themes as it matches ArgKP arguments).

    ``themes`` are the labels before the cap and ``kept`` after it. An outlier is matched by
    itself; a theme the cap dissolved is matched by its own key point and joins as a whole,
    so a large corpus does not embed the members of every dissolved theme with the matcher.
    """
    k = int(kept.max()) + 1 if len(kept) else 0
    left = kept == OUTLIER
    if not k or not left.any():
        return kept
    outliers = np.flatnonzero(themes == OUTLIER)
    dissolved = np.unique(themes[left & (themes >= 0)])
    before = _own_similarity(space, themes, _theme_centroids(space, themes))
    after = _own_similarity(space, kept, _theme_centroids(space, kept, k))
    queries = [*outliers.tolist(),
               *(_key_point(rows, np.flatnonzero(themes == d), before, rules) for d in dissolved)]
    keys = [_key_point(rows, np.flatnonzero(kept == c), after, rules) for c in range(k)]
    vectors = matched([*queries, *keys])
    scores = match_scores(vectors[: len(queries)], vectors[len(queries) :])
    best = np.argmax(scores, axis=1)
    best = np.where(scores[np.arange(len(queries)), best] >= threshold, best, OUTLIER)
    labels = kept.copy()
    labels[outliers] = best[: len(outliers)]
    joins = np.full(int(themes.max()) + 1, OUTLIER, dtype=np.int64)
    joins[dissolved] = best[len(outliers) :]
    moved = left & (themes >= 0)
    labels[moved] = joins[themes[moved]]
    return labels


def _largest(labels: np.ndarray, cap: int) -> np.ndarray:
    """Keep the ``cap`` largest themes (ties: first seen); the others' members become
    outliers. Labels are renumbered by size."""
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    first = {int(c): int(np.argmax(labels == c)) for c in ids}
    order = sorted(ids.tolist(), key=lambda c: (-int(counts[ids == c][0]), first[c]))
    mapping = {c: i for i, c in enumerate(order[:cap])}
    return np.asarray([mapping.get(int(c), OUTLIER) for c in labels], dtype=np.int64)


def assign_themes(rows: list[dict[str, Any]], space: np.ndarray, matched: Matched,
                  match: Embed, config: ArgumentsConfig, rules: ArgumentRules,
                  codebook: Sequence[AnalystTheme] = ()) -> np.ndarray:
    """Each argument's theme: ``0..len(codebook)-1`` for analyst themes, then discovered
    themes, :data:`OUTLIER` for none.

    Arguments matching an analyst key point go there. The others are clustered (``space``:
    centred embeddings), split so that no theme holds both sides, capped at one theme per
    ``arguments_per_theme`` arguments, and the outliers then join the theme whose key point
    they match (``matched``: the matcher embeddings of the arguments at given indices, asked
    for only where needed; key points chosen by ``rules``), a theme the cap dissolved as a
    whole by its own key point. Themes split again if a join
    brought in the other side, and the cap holds at the end.
    """
    labels = _codebook_labels(rows, matched, match, codebook, config.match_threshold)
    rest = np.flatnonzero(labels == OUTLIER)
    # without analyst themes every argument is clustered: no copy of the vectors (memory)
    rest_space = space if len(rest) == len(rows) else space[rest]
    cap = min(config.max_clusters, max(1, len(rows) // config.arguments_per_theme))
    params = replace(cluster_params(config), max_clusters=cap)
    sub = cluster_vectors(rest_space, params)
    signs = _signs([rows[i] for i in rest])
    if config.split_by_stance:
        sub = split_by_sign(rest_space, sub, signs, 1)
    sub = _join_key_points([rows[i] for i in rest], rest_space,
                           lambda idx: matched([int(rest[i]) for i in idx]), sub,
                           _largest(sub, cap), config.match_threshold, rules)
    if config.split_by_stance:
        sub = _largest(split_by_sign(rest_space, sub, signs, 1), cap)
    labels[rest] = np.where(sub >= 0, sub + len(codebook), OUTLIER)
    return labels


def build_argument_tables(
    sentences: pa.Table, stances: pa.Table, documents: pa.Table, embed: Embed,
    classifier: ArgumentClassifier, config: ArgumentsConfig, rules: ArgumentRules,
    doc_signatures: SignatureCache | None = None, match: Embed | None = None,
    codebook: Sequence[AnalystTheme] = (),
) -> ArgumentResult:
    """Find, cluster and compare the arguments of ``sentences`` (the pure core, a full build).

    ``embed`` maps texts to normalised vectors (e.g. :meth:`EmbeddingCache.embed`); ``rules``
    (:func:`load_argument_rules`) rule sentences out and choose quotable key points;
    ``doc_signatures`` holds (and receives) the MinHash signatures of whole documents;
    ``match`` embeds texts for matching arguments to key points (the ArgKP matcher; ``embed``
    when None); ``codebook`` holds the analyst's themes.
    """
    sentence_rows, rows, vectors = _candidates(sentences, stances, documents, embed,
                                               classifier, config, rules)
    doc_ids = sorted(set(documents.column("doc_id").to_pylist())
                     | {s["doc_id"] for s in sentence_rows})
    dups = _find_duplicates(rows, sentence_rows, doc_ids, config.near_duplicate_threshold,
                            doc_signatures)
    _set_duplicate_groups(rows, dups.doc_groups, dups.argument_groups)
    mean = (vectors.mean(axis=0) if config.centre_embeddings and len(rows) >= 2
            else np.zeros(vectors.shape[1], dtype=np.float32))
    space = _centred(vectors, mean)
    match = match or embed
    texts = [r["text"] for r in rows]
    labels = assign_themes(rows, space, lambda idx: match([texts[i] for i in idx]), match,
                           config, rules, codebook)
    centroids = _theme_centroids(space, labels, max(len(codebook),
                                                    int(labels.max()) + 1 if len(rows) else 0))
    sims = _own_similarity(space, labels, centroids)
    themes = _name_themes(rows, labels, sims, rules, codebook)
    index = ThemeIndex(
        mean=mean.astype(np.float32), centroids=centroids,
        cluster_ids=[t.cluster_id for t in themes], labels=[t.label for t in themes],
        keywords=[t.keywords for t in themes], argument_ids=[r["argument_id"] for r in rows],
        similarity=sims, band_keys=dups.band_keys,
        argument_groups=[dups.argument_groups.get(r["argument_id"], "") for r in rows],
        doc_ids=doc_ids, doc_signatures=dups.doc_signatures, doc_usable=dups.doc_usable,
        built_documents=len(doc_ids),
    )
    return _result(rows, labels, sims, themes, index, vectors, rules)


def update_argument_tables(
    previous: pa.Table, index: ThemeIndex, sentences: pa.Table, stances: pa.Table,
    documents: pa.Table, removed: set[str], embed: Embed, classifier: ArgumentClassifier,
    config: ArgumentsConfig, rules: ArgumentRules, codebook: Sequence[AnalystTheme] = (),
) -> ArgumentResult:
    """Update the tables of a full build without re-clustering (the pure core of an update).

    ``previous`` is the ``arguments`` table built with ``index``; ``removed`` the documents
    whose arguments leave; ``sentences``, ``stances`` and ``documents`` are those of the
    documents that arrive. Their arguments are placed in the nearest existing theme (or left
    out as outliers beyond ``outlier_distance``); themes keep their id, label and keywords,
    and their counts, key points and comparison rows are recomputed.
    """
    keep = np.asarray([d not in removed for d in previous.column("doc_id").to_pylist()],
                      dtype=bool)
    kept_at = np.flatnonzero(keep)
    old_rows = previous.filter(pa.array(keep)).to_pylist()
    sentence_rows, new_rows, vectors = _candidates(sentences, stances, documents, embed,
                                                   classifier, config, rules)
    new_labels, new_sims = index.place(_centred(vectors, index.mean), config.outlier_distance)
    theme_of = index.theme_of()
    labels = np.concatenate([np.asarray([theme_of.get(r["cluster_id"] or "", OUTLIER)
                                         for r in old_rows], dtype=np.int64), new_labels])
    sims = np.concatenate([index.similarity[kept_at], new_sims])
    rows = old_rows + new_rows
    order = np.asarray(sorted(range(len(rows)), key=lambda i: rows[i]["argument_id"]),
                       dtype=np.int64)
    rows, labels, sims = [rows[i] for i in order], labels[order], sims[order]
    links, new_keys = _link_duplicates(old_rows, new_rows, index, kept_at,
                                       config.near_duplicate_threshold)
    argument_groups = group_ids([r["argument_id"] for r in old_rows + new_rows], links)
    doc_ids, doc_signatures, doc_usable = _merge_documents(index, removed, sentence_rows,
                                                           documents)
    _set_duplicate_groups(rows, groups_from_signatures(doc_ids, doc_signatures, doc_usable,
                                                       config.near_duplicate_threshold),
                          argument_groups)
    arrived = {r["doc_id"] for r in new_rows} | set(documents.column("doc_id").to_pylist())
    updated = replace(
        index, argument_ids=[r["argument_id"] for r in rows], similarity=sims,
        band_keys=np.concatenate([index.band_keys[kept_at], new_keys])[order],
        argument_groups=[argument_groups.get(r["argument_id"], "") for r in rows],
        doc_ids=doc_ids, doc_signatures=doc_signatures, doc_usable=doc_usable,
        changed_documents=index.changed_documents + len(arrived | removed),
    )
    analyst = {t.cluster_id: t.key_point for t in codebook}
    themes = [_Theme(cluster_id, label, keywords, analyst.get(cluster_id))
              for cluster_id, label, keywords in zip(index.cluster_ids, index.labels,
                                                     index.keywords, strict=True)]
    return _result(rows, labels, sims, themes, updated, None, rules)


def _link_duplicates(old_rows: list[dict[str, Any]], new_rows: list[dict[str, Any]],
                     index: ThemeIndex, kept_at: np.ndarray,
                     threshold: float) -> tuple[UnionFind, np.ndarray]:
    """Links over the kept arguments then the new ones, and the new ones' LSH band keys.

    Keep the groups of the last build among kept arguments and link each new argument to
    the arguments (kept or new) it is a near-duplicate of.

    Candidates share an LSH band key with it; each is confirmed on full MinHash signatures
    against the threshold, as a full build does. A group whose linking member left stays
    joined until the next full build.
    """
    n_old = len(old_rows)
    links = UnionFind(n_old + len(new_rows))
    first_of: dict[str, int] = {}
    for i, group in enumerate(index.argument_groups[j] for j in kept_at.tolist()):
        if group:
            links.union(first_of.setdefault(group, i), i)
    new_texts = [r["text"] for r in new_rows]
    memo = SignatureCache()
    new_signatures = minhash_signatures(new_texts, cache=memo)
    new_keys = band_hashes(new_signatures)
    all_keys = np.concatenate([index.band_keys[kept_at], new_keys])
    new_usable = usable(new_texts)
    for band in range(all_keys.shape[1] if len(all_keys) else 0):
        by_key: dict[int, list[int]] = defaultdict(list)
        for new in np.flatnonzero(new_usable).tolist():
            by_key[int(new_keys[new, band])].append(n_old + new)
        for j in np.flatnonzero(np.isin(all_keys[:, band], list(by_key))).tolist():
            for i in by_key[int(all_keys[j, band])]:
                if i == j or links.find(i) == links.find(j):
                    continue
                other = (old_rows[j]["text"] if j < n_old else new_texts[j - n_old])
                theirs = minhash_signatures([other], cache=memo)[0]
                if similarity(new_signatures[i - n_old], theirs) >= threshold:
                    links.union(i, j)
    return links, new_keys


def _merge_documents(index: ThemeIndex, removed: set[str], sentence_rows: list[dict[str, Any]],
                     documents: pa.Table) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The document ids, signatures and usable flags after an update, sorted by id."""
    kept = [i for i, doc_id in enumerate(index.doc_ids) if doc_id not in removed]
    arrived = sorted(set(documents.column("doc_id").to_pylist())
                     | {s["doc_id"] for s in sentence_rows})
    texts = _doc_texts(sentence_rows, arrived)
    doc_ids = [index.doc_ids[i] for i in kept] + arrived
    signatures = np.concatenate([index.doc_signatures[kept], minhash_signatures(texts)])
    flags = np.concatenate([index.doc_usable[kept], usable(texts)])
    order = sorted(range(len(doc_ids)), key=doc_ids.__getitem__)
    return [doc_ids[i] for i in order], signatures[order], flags[order]


def _centred(vectors: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``vectors`` less ``mean``, renormalised (unchanged when ``mean`` is zero).

    In a one-topic corpus every sentence shares a large common direction ("this is about
    care systems"); removing it lets the themes that differ decide the distances.
    """
    return normalise(vectors - mean, in_place=True) if mean.any() else vectors


_SENTENCE_COLUMNS = ["doc_id", "sentence_id", "idx", "text", "page"]


def _long_enough(text: str, config: ArgumentsConfig) -> bool:
    """Whether a sentence may be an argument (shorter ones are headings and fragments)."""
    return len(text.split()) >= config.min_words


@dataclass(frozen=True)
class ArgumentMatching:
    """What a per-document stage needs to embed a document's arguments with the matcher ahead
    of the corpus-level stage: the matcher's cached embedder and what selects the arguments."""

    match: Embed
    classifier: ArgumentClassifier
    rules: ArgumentRules


def matches_ahead(settings: Settings) -> bool:
    """Whether the per-document stages embed arguments with the matcher: only with analyst
    themes, which are matched against every argument, so embedding them all on every core
    ahead of the corpus-level stage pays (without themes that stage embeds only its outliers
    and key points)."""
    return settings.arguments.themes is not None


def load_argument_matching(settings: Settings, cache_folder: Path) -> ArgumentMatching | None:
    """The matcher of ``cache_folder`` with the argument classifier and rules, when
    :func:`matches_ahead`; ``None`` otherwise, or when the matcher is not exported there (a
    worker process cannot export it: no torch)."""
    if not matches_ahead(settings):
        return None
    if not MATCHER_PATH.exists() or not matcher_onnx(cache_folder).exists():
        return None
    match = matcher_for(cache_folder, settings.nlp.embedding_batch_size).embed
    return ArgumentMatching(match, load_classifier(settings), load_argument_rules(settings))


def embed_candidates(sentences: pa.Table, config: ArgumentsConfig, embed: Embed,
                     stances: pa.Table | None = None,
                     matching: ArgumentMatching | None = None) -> int:
    """Embed one document's possible arguments with ``embed`` (the store's cached embedder),
    and with ``matching`` and the document's ``stances`` its arguments with the matcher, so
    that :func:`build_arguments` finds them cached; how many possible arguments there were.

    The per-document stages call this in their worker processes: embedding there runs on
    every core at once, where the corpus-level stage runs in one process. The arguments are
    chosen as the corpus-level stage chooses them (:func:`_select_units`, sentence by
    sentence, from the document's own stances).
    """
    texts = sentences.column("text").to_pylist()
    keep = [i for i, text in enumerate(texts) if _long_enough(text, config)]
    if not keep:
        return 0
    vectors = embed([texts[i] for i in keep])
    if matching is not None and stances is not None:
        ids = sentences.column("sentence_id").to_pylist()
        rows = [{"text": texts[i], "sentence_id": ids[i]} for i in keep]
        chosen, _ = _select_units(rows, vectors, matching.classifier, _best_stances(stances),
                                  matching.rules)
        if chosen:
            matching.match([rows[i]["text"] for i in chosen])
    return len(keep)


def load_classifier(settings: Settings) -> ArgumentClassifier:
    """The trained argument classifier named by ``settings.arguments.classifier``."""
    return ArgumentClassifier.load(settings.resolve(settings.arguments.classifier))


def load_argument_rules(settings: Settings) -> ArgumentRules:
    """The mining rules of the consultation in ``settings.stance.targets``, its owner's names
    taken from the entity register (``settings.entities.patterns``)."""
    return argument_rules(load_targets(settings.resolve(settings.stance.targets)),
                          load_register(settings))


def cached_embedder(store: OutputStore, settings: Settings) -> EmbeddingCache:
    """An :class:`EmbeddingCache` under ``store``'s cache for the configured model."""
    return embedder_for(settings.nlp, store.cache_dir("embeddings"))


def build_arguments(store: OutputStore, settings: Settings,
                    fingerprint: str | None = None) -> ArgumentResult:
    """Read ``sentences``, ``stances`` and ``documents`` from ``store``; build the tables.

    With a ``fingerprint`` (the stage's settings and code), the theme index of the last run
    is kept in the store's cache: when only a few documents were added, changed or removed
    since (see :func:`~pipeline.arguments.themes.needs_rebuild`) their arguments join the
    existing themes; otherwise everything is re-clustered. The caller writes ``.arguments``,
    ``.clusters`` and ``.comparison`` with ``store.write_table``.
    """
    cache = cached_embedder(store, settings)
    classifier = load_classifier(settings)
    rules = load_argument_rules(settings)
    if MATCHER_PATH.exists():
        folder, batch = store.cache_dir("embeddings"), settings.nlp.embedding_batch_size
        if not matcher_onnx(folder).exists():
            # exporting loads torch and the sentence-transformers model (about 0.7 GB, never
            # given back): in a child, not in this process, which is about to hold every
            # argument of the corpus
            run_in_child(export_matcher, (folder, batch), "matcher-export")
        matcher = matcher_for(folder, batch)
    else:  # a checkout without the trained matcher: match with the general embeddings
        log.warning("arguments: %s is missing; matching with %s", MATCHER_PATH,
                    settings.nlp.embedding_model)
        matcher = cache
    themes_file = settings.arguments.themes
    codebook = load_codebook(settings.resolve(themes_file)) if themes_file else []
    index_file = store.cache_dir("arguments") / "themes.npz"
    tokens = {doc_id: "|".join(store.part_token(name, doc_id)
                               for name in ("documents", "sentences", "stances"))
              for doc_id in sorted(store.part_keys("documents"))}
    index = load_index(index_file) if fingerprint else None
    result = _update(store, index, tokens, fingerprint, cache.embed, classifier,
                     settings.arguments, rules, codebook)
    if result is None:
        result = _rebuild(store, cache.embed, classifier, settings.arguments, rules,
                          matcher.embed, codebook)
    cache.compact()
    matcher.compact()
    save_index(index_file, stamped(result.themes, fingerprint or "", tokens))
    return result


def _update(store: OutputStore, index: ThemeIndex | None, tokens: dict[str, str],
            fingerprint: str | None, embed: Embed, classifier: ArgumentClassifier,
            config: ArgumentsConfig, rules: ArgumentRules,
            codebook: Sequence[AnalystTheme] = ()) -> ArgumentResult | None:
    """The tables updated from the last run's, or None when the themes must be re-learnt."""
    covered = dict(zip(index.doc_ids, index.doc_tokens, strict=True)) if index else {}
    added = {doc_id for doc_id, token in tokens.items() if covered.get(doc_id) != token}
    removed = {doc_id for doc_id, token in covered.items() if tokens.get(doc_id) != token}
    reason = needs_rebuild(index, fingerprint, len(added | removed), config)
    previous = store.read_table("arguments") if reason is None else None
    if previous is not None and previous.column("argument_id").to_pylist() != (
            index.argument_ids if index else None):
        reason = "the arguments table is not the one the theme index was built with"
    if reason is not None or index is None or previous is None:
        log.info("arguments: clustering from scratch (%s)", reason)
        return None
    log.info("arguments: %d documents join the existing themes, %d leave", len(added),
             len(removed))
    return update_argument_tables(
        previous, index, store.read_table("sentences", added),
        store.read_table("stances", added), store.read_table("documents", added), removed,
        embed, classifier, config, rules, codebook)


def _rebuild(store: OutputStore, embed: Embed, classifier: ArgumentClassifier,
             config: ArgumentsConfig, rules: ArgumentRules, match: Embed | None = None,
             codebook: Sequence[AnalystTheme] = ()) -> ArgumentResult:
    """A full build over every document in ``store``."""
    signatures_file = store.cache_dir("minhash") / "documents.npz"
    signatures = _read_signatures(signatures_file)
    result = build_argument_tables(
        store.read_table("sentences"), store.read_table("stances"),
        store.read_table("documents"), embed, classifier, config, rules, signatures, match,
        codebook,
    )
    kept = signatures.kept()
    write_arrays(signatures_file, {
        "keys": np.asarray(list(kept), dtype="U32"),
        "signatures": np.asarray(list(kept.values()), dtype=np.uint64)})
    return result


def _read_signatures(path: Path) -> SignatureCache:
    """The document signatures saved by the last run (none if absent or unreadable)."""
    arrays = read_arrays(path)
    if arrays is None or {"keys", "signatures"} - set(arrays):
        return SignatureCache()
    return SignatureCache(dict(zip(arrays["keys"].tolist(), arrays["signatures"], strict=True)))
