"""Train the argument-unit classifier on models/arguments/training_sentences.csv.

Writes models/arguments/classifier.npz (weights, no pickle) and classifier.json (data size
and stratified 5-fold cross-validated scores). Deterministic: fixed folds, lbfgs solver.

    python scripts/train_arguments.py [--data CSV] [--out NPZ]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from pathlib import Path

import numpy as np

from pipeline.arguments.units import KINDS, ArgumentClassifier, features
from pipeline.config import load_settings
from pipeline.embeddings import sentence_transformer_fn

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("train_arguments")


def read_examples(path: Path) -> tuple[list[str], list[str]]:
    """(texts, kinds) from a ``kind,text`` CSV; unknown kinds are an error."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    bad = sorted({r["kind"] for r in rows} - set(KINDS))
    if bad:
        raise ValueError(f"{path}: unknown kinds {bad}")
    return [r["text"] for r in rows], [r["kind"] for r in rows]


def cross_validate(x: np.ndarray, y: list[str]) -> dict[str, object]:
    """Stratified 5-fold accuracy, macro F1 and per-kind F1 of the classifier."""
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(y)
    predicted = np.empty_like(labels)
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(x, labels):
        predicted[test] = ArgumentClassifier().fit(x[train], labels[train]).predict(x[test])
    per_kind = f1_score(labels, predicted, labels=list(KINDS), average=None)
    return {
        "accuracy": round(float(accuracy_score(labels, predicted)), 3),
        "macro_f1": round(float(f1_score(labels, predicted, average="macro")), 3),
        "f1": {k: round(float(v), 3) for k, v in zip(KINDS, per_kind, strict=True)},
        "argument_vs_none_accuracy": round(
            float(np.mean((labels == "none") == (predicted == "none"))), 3),
    }


def main() -> None:
    """Train, cross-validate, save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    models = ROOT / "models" / "arguments"
    parser.add_argument("--data", type=Path, default=models / "training_sentences.csv")
    parser.add_argument("--out", type=Path, default=models / "classifier.npz")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    nlp = load_settings().nlp
    texts, kinds = read_examples(args.data)
    embed = sentence_transformer_fn(nlp.embedding_model, nlp.embedding_batch_size)
    x = features(embed(texts), texts)
    scores = cross_validate(x, kinds)
    model = ArgumentClassifier().fit(x, kinds)
    model.save(args.out)
    report = {"n_examples": len(texts), "per_kind": {k: kinds.count(k) for k in KINDS},
              "cv": scores, "embedding_model": nlp.embedding_model}
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    log.info("%s", json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
