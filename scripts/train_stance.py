"""Train the stance models: the sentence classifier heads and the learned stance decision.

Usage: python scripts/train_stance.py [--data CSV] [--out NPZ]
       python scripts/train_stance.py --decider [--shared ../shared] [--cache DIR]
                                      [--reviewed OUT CORPUS ...]

The first form fits the sentence classifier on models/stance/training_sentences.csv. The second
fits the learned decision (models/stance/decider.npz) on the real annotated texts of
``../shared/dev`` and ``../shared/dev2`` (read from there at training time, never copied) plus
the hand-written sentences, after a document-grouped 5-fold cross-validation scored by the
official scorer; the figures go into the sidecar. ``--reviewed OUT CORPUS`` adds the documents
of CORPUS whose every position in the outputs OUT an analyst reviewed (``stancemap review``):
they train every fold and the shipped model, and are never scored.

Deterministic: the embeddings are computed on CPU, folds are fixed by document name and lbfgs
has no random state, so the same inputs give the same weights. Writes NPZ (weights) and a JSON
sidecar (classes, provenance, cross-validated figures).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stance_cv

from pipeline.config import PROJECT_ROOT
from pipeline.stance.model import SoftmaxClassifier, StanceModel, save_stance_model

log = logging.getLogger("train_stance")
EMBEDDING_MODEL = "all-MiniLM-L6-v2"


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
    rows = stance_cv.read_rows(data)
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


DECIDER_C = 0.25


def train_decider(shared: Path, cache: Path, hand: Path, out: Path,
                  reviewed: Sequence[tuple[Path, Path]] = ()) -> None:
    """Cross-validate, then fit the learned decision on all of dev + dev2 (and the documents
    of the analysts' reviews ``reviewed``: outputs folder, corpus folder) and save it."""
    from pipeline.config import load_settings

    settings = load_settings(None)
    ctx = stance_cv.Context(settings)
    ctx.use_cache(cache / "embeddings")
    corpus = stance_cv.load_corpus(ctx, shared, cache, hand, reviewed)
    figures, position = stance_cv.cv_figures(ctx, corpus, shared, DECIDER_C)
    decider = stance_cv.fit(list(corpus.examples.values()), DECIDER_C, position=position)
    decider.info = {
        "training_data": "../shared/dev + ../shared/dev2 (gold evidence sentences) and "
        + str(hand.relative_to(PROJECT_ROOT) if hand.is_relative_to(PROJECT_ROOT) else hand)
        + "".join(f" and the review of {o} (documents in {c})" for o, c in reviewed),
        "training_sha256": corpus.sha256,
        "n_documents": len(corpus.documents),
        "n_reviewed_documents": sum(k.startswith(stance_cv.REVIEWED) for k in corpus.examples),
        "n_examples": {
            head: sum(len(getattr(e, f"{head}_y")) for e in corpus.examples.values())
            for head in ("relevance", "stance", "holder")
        } | {"position": len(position[1])},
        "cross_validation": figures,
    }
    decider.save(out)
    log.info("wrote %s", out)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=PROJECT_ROOT / "models/stance/training_sentences.csv"
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--decider", action="store_true", help="fit the learned decision")
    parser.add_argument("--shared", type=Path, default=PROJECT_ROOT.parent / "shared")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/stancemap-stance-cache"))
    parser.add_argument(
        "--reviewed", nargs=2, type=Path, action="append", default=[], metavar=("OUT", "CORPUS"),
        help="also train on the documents of CORPUS whose positions in OUT an analyst reviewed "
        "(stancemap review); repeatable",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.decider:
        out = args.out or PROJECT_ROOT / "models/stance/decider.npz"
        train_decider(args.shared, args.cache, args.data, out,
                      [(o, c) for o, c in args.reviewed])
    else:
        train(args.data, args.out or PROJECT_ROOT / "models/stance/classifier.npz")


if __name__ == "__main__":
    main()
