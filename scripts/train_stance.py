"""Train the stance classifier heads from models/stance/training_sentences.csv.

Usage: python scripts/train_stance.py [--data CSV] [--out NPZ]

Deterministic: the embeddings are computed on CPU and lbfgs has no random state, so the same
CSV gives the same weights. Writes NPZ (weights) and a JSON sidecar (classes, provenance,
cross-validated accuracy).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import logging
from pathlib import Path

import numpy as np

from pipeline.config import PROJECT_ROOT
from pipeline.stance.model import SoftmaxClassifier, StanceModel, save_stance_model
from pipeline.stance.targets import STANCE_LABELS

log = logging.getLogger("train_stance")
EMBEDDING_MODEL = "all-MiniLM-L6-v2"


def read_rows(path: Path) -> list[dict[str, str]]:
    """Rows of the training CSV (text, target, stance), validated."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for i, row in enumerate(rows, start=2):
        if row.get("stance") not in STANCE_LABELS or not row.get("text") or not row.get("target"):
            raise ValueError(f"{path}:{i}: bad row {row}")
    return rows


def cross_val_accuracy(x: np.ndarray, labels: list[str], folds: int = 5) -> float:
    """Accuracy over ``folds`` interleaved folds (row i goes to fold i % folds)."""
    idx = np.arange(len(labels))
    y = np.array(labels)
    correct = 0
    for k in range(folds):
        test, train = idx[idx % folds == k], idx[idx % folds != k]
        clf = SoftmaxClassifier().fit(x[train], y[train].tolist())
        proba = clf.predict_proba(x[test])
        predicted = np.array(clf.classes_)[proba.argmax(axis=1)]
        correct += int((predicted == y[test]).sum())
    return correct / len(labels)


def train(data: Path, out: Path) -> StanceModel:
    """Embed the sentences, fit both heads and save them to ``out``."""
    rows = read_rows(data)
    probe = StanceModel(SoftmaxClassifier(), SoftmaxClassifier(), EMBEDDING_MODEL)
    x = probe.embed([r["text"] for r in rows])
    stances = [r["stance"] for r in rows]
    targets = [r["target"] for r in rows]
    info = {
        "training_file": str(data.relative_to(PROJECT_ROOT))
        if data.is_relative_to(PROJECT_ROOT)
        else str(data),
        "training_sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
        "n_sentences": len(rows),
        "cv_accuracy": {
            "stance": round(cross_val_accuracy(x, stances), 4),
            "target": round(cross_val_accuracy(x, targets), 4),
        },
    }
    model = StanceModel(
        SoftmaxClassifier().fit(x, stances),
        SoftmaxClassifier().fit(x, targets),
        EMBEDDING_MODEL,
        info=info,
    )
    save_stance_model(model, out)
    log.info("wrote %s (%s)", out, info)
    return model


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=PROJECT_ROOT / "models/stance/training_sentences.csv"
    )
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "models/stance/classifier.npz")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    train(args.data, args.out)


if __name__ == "__main__":
    main()
