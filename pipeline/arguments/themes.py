"""The theme index: what the last full build of the arguments learned, kept between runs.

A full build clusters every argument (:mod:`pipeline.arguments.cluster`). The index keeps its
themes (centroid, id, label, keywords, the mean the vectors were centred on), each argument's
similarity to its theme and near-duplicate links, and each document's MinHash signature and
change token. A later run that added, changed or removed only a few documents then places the
new arguments in the existing themes (:func:`pipeline.arguments.build.update_argument_tables`)
instead of re-clustering the corpus; :func:`needs_rebuild` says when it must re-learn them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from pipeline.config import ArgumentsConfig
from pipeline.io import read_arrays, write_arrays

INDEX_VERSION = 1


@dataclass
class ThemeIndex:
    """Themes and per-argument, per-document state of the last build (arrays row-aligned)."""

    mean: np.ndarray  # (d,) subtracted from vectors before comparing (zeros: no centring)
    centroids: np.ndarray  # (k, d) normalised theme centroids in the centred space
    cluster_ids: list[str]
    labels: list[str]
    keywords: list[list[str]]
    argument_ids: list[str]  # sorted: the rows of the ``arguments`` table built with it
    similarity: np.ndarray  # (n,) cosine to the own theme's centroid; nan for outliers
    band_keys: np.ndarray  # (n, bands) uint32 MinHash LSH band hashes
    argument_groups: list[str]  # near-duplicate group among arguments ("" for none)
    doc_ids: list[str]  # every document covered (sorted)
    doc_signatures: np.ndarray  # (m, n_perm) uint64 MinHash of each document's text
    doc_usable: np.ndarray  # (m,) bool: the document has text to compare
    doc_tokens: list[str] = field(default_factory=list)  # change token of each document
    fingerprint: str = ""  # the arguments stage's settings and code when built
    built_documents: int = 0  # documents at the last full build
    changed_documents: int = 0  # documents added, changed or removed by updates since

    def theme_of(self) -> dict[str, int]:
        """Cluster id -> theme number."""
        return {cluster_id: i for i, cluster_id in enumerate(self.cluster_ids)}

    def place(self, space: np.ndarray, outlier_distance: float) -> tuple[np.ndarray, np.ndarray]:
        """The nearest theme of each row of ``space`` (centred, normalised) and the cosine to
        it; rows further than ``outlier_distance`` from every theme get ``-1`` and nan."""
        labels = np.full(len(space), -1, dtype=np.int64)
        sims = np.full(len(space), np.nan, dtype=np.float32)
        if len(space) and len(self.centroids):
            scores = space @ self.centroids.T
            nearest = np.argmax(scores, axis=1)
            best = scores[np.arange(len(space)), nearest]
            close = 1.0 - best <= outlier_distance
            labels[close] = nearest[close]
            sims[close] = best[close]
        return labels, sims


def needs_rebuild(index: ThemeIndex | None, fingerprint: str | None, n_changed: int,
                  config: ArgumentsConfig) -> str | None:
    """Why the themes must be re-learnt from scratch, or None when new documents can join them.

    Re-learn when there is no index or it was built with other settings or code, when the
    corpus is smaller than ``update_from_documents`` (a full build is cheap there), or when
    the documents changed since the last full build, these included, exceed
    ``rebuild_share`` of the documents it saw.
    """
    if index is None or not fingerprint:
        return "no theme index"
    if index.fingerprint != fingerprint:
        return "settings or code changed"
    if index.built_documents < config.update_from_documents:
        return f"fewer than {config.update_from_documents} documents"
    if index.changed_documents + n_changed > config.rebuild_share * index.built_documents:
        return f"more than {config.rebuild_share:.0%} of the documents changed"
    return None


def save_index(path: Path, index: ThemeIndex) -> None:
    """Write ``index`` to ``path`` atomically."""
    texts = {"cluster_ids": index.cluster_ids, "labels": index.labels,
             "argument_ids": index.argument_ids, "argument_groups": index.argument_groups,
             "doc_ids": index.doc_ids, "doc_tokens": index.doc_tokens}
    meta = {"version": INDEX_VERSION, "fingerprint": index.fingerprint,
            "built_documents": index.built_documents,
            "changed_documents": index.changed_documents, "keywords": index.keywords}
    write_arrays(path, {
        "meta": np.asarray(json.dumps(meta)),
        **{name: np.asarray(values, dtype=str) for name, values in texts.items()},
        "mean": index.mean, "centroids": index.centroids, "similarity": index.similarity,
        "band_keys": index.band_keys, "doc_signatures": index.doc_signatures,
        "doc_usable": index.doc_usable,
    })


def load_index(path: Path) -> ThemeIndex | None:
    """The index saved at ``path``; None when absent, unreadable or of another version."""
    arrays = read_arrays(path)
    if arrays is None:
        return None
    try:
        return _from_arrays(arrays)
    except (KeyError, ValueError):
        return None


def _from_arrays(arrays: Mapping[str, np.ndarray]) -> ThemeIndex | None:
    meta = json.loads(str(arrays["meta"]))
    if meta.get("version") != INDEX_VERSION:
        return None

    def strings(name: str) -> list[str]:
        return [str(v) for v in arrays[name].tolist()]

    return ThemeIndex(
        mean=arrays["mean"], centroids=arrays["centroids"], cluster_ids=strings("cluster_ids"),
        labels=strings("labels"), keywords=[list(k) for k in meta["keywords"]],
        argument_ids=strings("argument_ids"), similarity=arrays["similarity"],
        band_keys=arrays["band_keys"], argument_groups=strings("argument_groups"),
        doc_ids=strings("doc_ids"), doc_signatures=arrays["doc_signatures"],
        doc_usable=arrays["doc_usable"], doc_tokens=strings("doc_tokens"),
        fingerprint=str(meta["fingerprint"]), built_documents=int(meta["built_documents"]),
        changed_documents=int(meta["changed_documents"]),
    )


def stamped(index: ThemeIndex, fingerprint: str, tokens: Mapping[str, str]) -> ThemeIndex:
    """``index`` with the stage fingerprint and each covered document's change token."""
    return replace(index, fingerprint=fingerprint,
                   doc_tokens=[tokens.get(doc_id, "") for doc_id in index.doc_ids])
