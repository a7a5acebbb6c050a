"""Benchmark the corpus-level arguments steps on synthetic arguments: time and peak memory.

Synthetic data: unit vectors (dim 384) scattered around a few hundred random centres plus 5%
uniform noise, and short texts drawn from each centre's own vocabulary. Each size runs in a
fresh process so that peak RSS is its own. Steps timed: clustering (``cluster_vectors``),
c-TF-IDF labels, near-duplicate grouping.

    python scripts/bench_clustering.py [--sizes 10000 100000] [--centres 300]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np

from pipeline.arguments.build import cluster_params
from pipeline.arguments.cluster import OUTLIER, cluster_vectors
from pipeline.arguments.duplicates import near_duplicate_groups
from pipeline.arguments.keywords import ctfidf_keywords
from pipeline.config import load_settings

DIM = 384


def synthetic(n: int, centres: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """``n`` normalised vectors near ``centres`` centres (5% pure noise) and their texts."""
    rng = np.random.default_rng(seed)
    centre_vectors = rng.normal(size=(centres, DIM)).astype(np.float32)
    centre_vectors /= np.linalg.norm(centre_vectors, axis=1, keepdims=True)
    owner = rng.integers(0, centres, size=n)
    clean = rng.random(n) >= 0.05
    x = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 5000):  # in chunks, so generating never outweighs clustering
        rows = slice(start, start + 5000)
        chunk = rng.standard_normal(size=(len(owner[rows]), DIM), dtype=np.float32)
        keep = clean[rows]
        chunk[keep] = chunk[keep] * 0.025 + centre_vectors[owner[rows][keep]]
        x[rows] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    vocab = [f"w{i}" for i in range(centres * 8)]
    texts = [" ".join([*rng.choice(vocab[c * 8 : c * 8 + 8], size=6).tolist(), "policy", "care"])
             for c in owner.tolist()]
    return x, texts


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(n: int, centres: int, max_clusters: int | None = None) -> dict[str, Any]:
    """Run the steps on ``n`` synthetic arguments in this process; return the figures.

    ``peak_rss_mb`` is the whole process's peak resident memory (Python, libraries, input
    included); ``rss_before_mb`` the resident memory just before the steps, with the input.
    """
    x, texts = synthetic(n, centres)
    params = cluster_params(load_settings().arguments)
    if max_clusters:
        params = dataclasses.replace(params, max_clusters=max_clusters)
    before = _current_rss_mb()
    t0 = time.perf_counter()
    labels = cluster_vectors(x, params)
    t1 = time.perf_counter()
    ctfidf_keywords(texts, labels.tolist())
    t2 = time.perf_counter()
    near_duplicate_groups([str(i) for i in range(n)], texts, threshold=0.8)
    t3 = time.perf_counter()
    return {
        "n": n, "centres": centres, "clusterer": params.clusterer,
        "max_clusters": params.max_clusters,
        "clusters": int(labels.max()) + 1,
        "share_clustered": round(float(np.mean(labels != OUTLIER)), 3),
        "seconds_cluster": round(t1 - t0, 1), "seconds_labels": round(t2 - t1, 1),
        "seconds_duplicates": round(t3 - t2, 1),
        "input_mb": round(x.nbytes / 2**20, 1),
        "rss_before_mb": round(before, 1), "peak_rss_mb": round(_rss_mb(), 1),
    }


def main() -> None:
    """Run each size in a child process and print one JSON line per size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--centres", type=int, default=300)
    parser.add_argument("--max-clusters", type=int, help="override arguments.max_clusters")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(bench(args.one, args.centres, args.max_clusters)))
        return
    extra = ["--max-clusters", str(args.max_clusters)] if args.max_clusters else []
    for n in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--centres",
                              str(args.centres), *extra], check=True, capture_output=True,
                             text=True)
        print(out.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
