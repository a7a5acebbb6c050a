"""Clustering: groups, outliers, merging, the cap, micro-clusters, stance splitting."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pipeline.arguments.cluster import OUTLIER, ClusterParams, cluster_vectors, split_by_sign


def _blobs(sizes: list[int], dim: int = 8, noise: float = 0.05, seed: int = 0) -> np.ndarray:
    """``sizes[i]`` unit vectors near the i-th basis vector, rows grouped by blob."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, size in enumerate(sizes):
        centre = np.zeros(dim)
        centre[i] = 1.0
        rows.append(centre + rng.normal(0, noise, (size, dim)))
    x = np.vstack(rows)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


PARAMS = ClusterParams(distance_threshold=0.5, min_cluster_size=2, max_clusters=10,
                       merge_similarity=0.9, outlier_distance=0.45)


def test_blobs_become_clusters_numbered_by_size() -> None:
    labels = cluster_vectors(_blobs([3, 5, 4]), PARAMS)
    assert labels.tolist() == [2] * 3 + [0] * 5 + [1] * 4


def test_lone_point_stays_an_outlier() -> None:
    labels = cluster_vectors(_blobs([4, 4, 1]), PARAMS)
    assert labels.tolist() == [0] * 4 + [1] * 4 + [OUTLIER]


def test_min_cluster_size_dissolves_small_clusters() -> None:
    labels = cluster_vectors(_blobs([4, 2]), dataclasses.replace(PARAMS, min_cluster_size=3))
    assert labels.tolist() == [0] * 4 + [OUTLIER] * 2


def test_same_input_same_labels() -> None:
    x = _blobs([6, 3, 5, 1], seed=3)
    assert cluster_vectors(x, PARAMS).tolist() == cluster_vectors(x.copy(), PARAMS).tolist()


def test_cap_keeps_largest_clusters_and_leaves_far_points_out() -> None:
    labels = cluster_vectors(_blobs([5, 4, 3]), dataclasses.replace(PARAMS, max_clusters=2))
    assert labels.tolist() == [0] * 5 + [1] * 4 + [OUTLIER] * 3


def test_cap_moves_close_points_to_nearest_kept_cluster() -> None:
    x = _blobs([5, 4, 3])
    x[9:] = x[0] * 0.95 + x[9:] * 0.31  # third blob sits near the first
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    params = dataclasses.replace(PARAMS, max_clusters=2, merge_similarity=0.999,
                                 distance_threshold=0.03)
    labels = cluster_vectors(x, params)
    assert labels[9:].tolist() == [labels[0]] * 3


def test_near_identical_clusters_merge() -> None:
    x = _blobs([4, 4], noise=0.0)
    x[4:] = x[0] * 0.96 + x[4:] * 0.28  # centroid cosine 0.96 to the first blob
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    split = dataclasses.replace(PARAMS, distance_threshold=0.01, merge_similarity=0.99)
    assert len(set(cluster_vectors(x, split).tolist())) == 2
    merged = dataclasses.replace(split, merge_similarity=0.9)
    assert cluster_vectors(x, merged).tolist() == [0] * 8


def test_micro_cluster_path_finds_the_same_groups() -> None:
    x = _blobs([40, 30, 20], noise=0.03)
    direct = cluster_vectors(x, PARAMS)
    micro = cluster_vectors(x, dataclasses.replace(PARAMS, micro_above=10, n_micro=12))
    assert micro.tolist() == direct.tolist() == [0] * 40 + [1] * 30 + [2] * 20


def test_hdbscan_marks_noise_as_outliers() -> None:
    x = _blobs([6, 6, 1])
    labels = cluster_vectors(x, dataclasses.replace(PARAMS, clusterer="hdbscan"))
    assert labels.tolist() == [0] * 6 + [1] * 6 + [OUTLIER]


def test_too_few_points_are_all_outliers() -> None:
    assert cluster_vectors(_blobs([1]), PARAMS).tolist() == [OUTLIER]
    assert cluster_vectors(np.zeros((0, 8), dtype=np.float32), PARAMS).tolist() == []


def test_unknown_clusterer_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown clusterer"):
        cluster_vectors(_blobs([3, 3]), dataclasses.replace(PARAMS, clusterer="kmeans"))


def test_split_by_sign_separates_supporters_and_opponents() -> None:
    x = _blobs([6], noise=0.1)
    labels = np.zeros(6, dtype=np.int64)
    signs = np.asarray([1, 1, -1, -1, 0, 1])
    split = split_by_sign(x, labels, signs, min_size=2)
    assert split[0] == split[1] == split[5] != split[2] == split[3]
    assert split[4] in (split[0], split[2])


def test_split_by_sign_leaves_one_sided_clusters() -> None:
    labels = np.asarray([0, 0, 0, 1, 1])
    signs = np.asarray([1, 1, -1, 0, 0])
    assert split_by_sign(_blobs([3, 2]), labels, signs, min_size=2).tolist() == labels.tolist()
