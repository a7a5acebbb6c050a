"""Cluster argument embeddings in bounded memory, deterministically.

Small inputs are clustered directly. Above ``micro_above`` points, mini-batch k-means
(fixed seed) first compresses them into at most ``n_micro`` micro-clusters and only the
micro-centroids are clustered, so no step ever holds an n×n matrix. Then, for both paths:
points further than ``outlier_distance`` (cosine) from their cluster's centroid become
outliers, clusters smaller than ``min_cluster_size`` dissolve into outliers, clusters whose
centroids are near-identical merge, and beyond ``max_clusters`` the smallest clusters
dissolve (their points join the nearest kept cluster when close enough, else stay outliers).

Input rows must be L2-normalised and in a canonical order (the caller sorts by argument id);
labels are ``-1`` for outliers and ``0..k-1`` by decreasing size.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

OUTLIER = -1


@dataclass(frozen=True)
class ClusterParams:
    """Clustering knobs (see ``arguments:`` in ``defaults.yaml``)."""

    clusterer: str = "agglomerative"
    distance_threshold: float = 0.5
    min_cluster_size: int = 2
    max_clusters: int = 60
    merge_similarity: float = 0.9
    outlier_distance: float = 0.45
    micro_above: int = 3000
    n_micro: int = 1500


CHUNK = 8192  # rows per block in row-wise steps, so no step copies all of x


def _centroids(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Normalised mean of each label's rows (outliers ignored), without copying ``x``."""
    from scipy.sparse import csr_matrix

    rows = np.flatnonzero(labels >= 0)
    member = csr_matrix((np.ones(len(rows), dtype=np.float32), (labels[rows], rows)),
                        shape=(k, len(x)))
    sums = np.asarray(member @ x, dtype=np.float64)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return (sums / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def _similarity_to(x: np.ndarray, centroids: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Cosine of each row to its label's centroid (rows labelled -1 get -1), blockwise."""
    sims = np.full(len(x), -1.0, dtype=np.float32)
    for start in range(0, len(x), CHUNK):
        block = slice(start, start + CHUNK)
        own = labels[block]
        values = np.einsum("ij,ij->i", x[block], centroids[np.maximum(own, 0)])
        sims[block] = np.where(own >= 0, values, -1.0)
    return sims


def _micro_clusters(x: np.ndarray, n_micro: int) -> tuple[np.ndarray, np.ndarray]:
    """Compress ``x`` into micro-clusters: (normalised centroids, micro label of each row)."""
    from sklearn.cluster import MiniBatchKMeans

    k = min(n_micro, len(x))
    km = MiniBatchKMeans(n_clusters=k, random_state=0, batch_size=4096, n_init=1,
                         max_iter=50, init="random", reassignment_ratio=0.0)
    assigned = km.fit_predict(x)
    used, assigned = np.unique(assigned, return_inverse=True)
    return _centroids(x, assigned, len(used)), assigned


def _cluster_units(units: np.ndarray, params: ClusterParams, micro: bool) -> np.ndarray:
    if len(units) < 2:
        return np.full(len(units), OUTLIER if not micro else 0, dtype=np.int64)
    if params.clusterer == "hdbscan":
        from sklearn.cluster import HDBSCAN

        # Euclidean on unit vectors ranks pairs exactly as cosine does, and uses trees.
        min_size = 2 if micro else max(2, params.min_cluster_size)
        return np.asarray(HDBSCAN(min_cluster_size=min_size, min_samples=1,
                                  copy=True).fit_predict(units), dtype=np.int64)
    if params.clusterer == "agglomerative":
        from sklearn.cluster import AgglomerativeClustering

        model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                        distance_threshold=params.distance_threshold)
        return np.asarray(model.fit_predict(units), dtype=np.int64)
    raise ValueError(f"unknown clusterer {params.clusterer!r}: use agglomerative or hdbscan")


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters 0..k-1 by decreasing size, ties by first member; keep outliers."""
    ids = [c for c in np.unique(labels) if c >= 0]
    first = {c: int(np.argmax(labels == c)) for c in ids}
    order = sorted(ids, key=lambda c: (-int(np.sum(labels == c)), first[c]))
    mapping = {old: new for new, old in enumerate(order)}
    return np.asarray([mapping.get(int(c), OUTLIER) for c in labels], dtype=np.int64)


def _drop_far_and_small(x: np.ndarray, labels: np.ndarray, params: ClusterParams) -> np.ndarray:
    labels = _relabel(labels)
    k = int(labels.max()) + 1 if len(labels) else 0
    if k:
        sims = _similarity_to(x, _centroids(x, labels, k), labels)
        labels[(labels >= 0) & (1.0 - sims > params.outlier_distance)] = OUTLIER
    sizes = np.bincount(labels[labels >= 0], minlength=k)
    labels[(labels >= 0) & (sizes[np.maximum(labels, 0)] < params.min_cluster_size)] = OUTLIER
    return _relabel(labels)


def _merge_near_identical(x: np.ndarray, labels: np.ndarray, threshold: float) -> np.ndarray:
    k = int(labels.max()) + 1 if len(labels) else 0
    if k < 2:
        return labels
    centroids = _centroids(x, labels, k)
    parent = list(range(k))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    sims = centroids @ centroids.T
    for i, j in zip(*np.nonzero(np.triu(sims >= threshold, k=1)), strict=True):
        a, b = find(int(i)), find(int(j))
        if a != b:
            parent[max(a, b)] = min(a, b)
    roots = np.asarray([find(i) for i in range(k)])
    merged = np.where(labels >= 0, roots[np.maximum(labels, 0)], OUTLIER)
    return _relabel(merged)


def _cap(x: np.ndarray, labels: np.ndarray, params: ClusterParams) -> np.ndarray:
    k = int(labels.max()) + 1 if len(labels) else 0
    if k <= params.max_clusters:
        return labels
    centroids = _centroids(x, labels, k)[: params.max_clusters]
    dissolved = np.flatnonzero(labels >= params.max_clusters)
    for start in range(0, len(dissolved), CHUNK):
        block = dissolved[start : start + CHUNK]
        sims = x[block] @ centroids.T
        nearest = np.argmax(sims, axis=1)
        close = 1.0 - sims[np.arange(len(block)), nearest] <= params.outlier_distance
        labels[block] = np.where(close, nearest, OUTLIER)
    return _relabel(labels)


def cluster_vectors(x: np.ndarray, params: ClusterParams) -> np.ndarray:
    """Cluster the normalised rows of ``x``; return a label per row (``-1`` = outlier)."""
    x = np.asarray(x, dtype=np.float32)
    if len(x) < max(2, params.min_cluster_size):
        return np.full(len(x), OUTLIER, dtype=np.int64)
    micro = len(x) > params.micro_above
    if micro:
        units, unit_of = _micro_clusters(x, params.n_micro)
    else:
        units, unit_of = x, np.arange(len(x))
    unit_labels = _cluster_units(units, params, micro)
    labels = unit_labels[unit_of].astype(np.int64)
    labels = _drop_far_and_small(x, labels, params)
    labels = _merge_near_identical(x, labels, params.merge_similarity)
    labels = _cap(x, labels, params)
    log.info("clustered %d vectors with %s%s: %d clusters, %d outliers", len(x),
             params.clusterer, " over micro-clusters" if micro else "",
             int(labels.max()) + 1, int(np.sum(labels == OUTLIER)))
    return labels


def split_by_sign(x: np.ndarray, labels: np.ndarray, signs: np.ndarray,
                  min_size: int) -> np.ndarray:
    """Split clusters that hold at least ``min_size`` arguments of each stance sign.

    ``signs`` is +1 (support or conditional), -1 (oppose) or 0 (no side). In a split cluster
    the pro and con arguments form two clusters and each side-less argument joins the side
    whose centroid is nearer, so one theme never mixes supporters and opponents.
    """
    labels = labels.copy()
    next_label = int(labels.max()) + 1 if len(labels) else 0
    for c in range(next_label):
        members = np.flatnonzero(labels == c)
        pro, con = members[signs[members] > 0], members[signs[members] < 0]
        if len(pro) < min_size or len(con) < min_size:
            continue
        centres = np.stack([x[pro].mean(axis=0), x[con].mean(axis=0)])
        neutral = members[signs[members] == 0]
        goes_con = np.argmax(x[neutral] @ centres.T, axis=1) == 1 if len(neutral) else []
        labels[con] = next_label
        labels[neutral[np.asarray(goes_con, dtype=bool)]] = next_label
        next_label += 1
    return _relabel(labels)
