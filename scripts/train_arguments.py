"""Train the argument-unit classifier and measure argument detection.

The classifier is trained on the hand-written sentences of
models/arguments/training_sentences.csv. When ``--shared`` holds dev/ and dev2/, argument
detection is measured on real sentences of those texts: the gold evidence sentences of a
side-taking stance are arguments, and the sentences labelled by hand in
models/arguments/mining_labels.csv (doc id, sha256 of the sentence, 0/1; no text is stored)
are arguments or not. The texts are read from ``--shared`` at training time.

A sentence is detected as an argument when
:meth:`pipeline.arguments.mining.ArgumentRules.not_argument_reason` (the rules of the
configured target file) finds nothing against it and the classifier's top kind is not
``none``. The shipped classifier never saw the real sentences, so its figures on them are held
out. For comparison, a classifier also trained on the real sentences is scored by
document-grouped 5-fold cross-validation (the hand-written sentences always in the training
folds); it did not do better, so it is not shipped. Writes
models/arguments/classifier.npz (weights, no pickle) and classifier.json (data sizes, sha256
of the data, the figures).

    python scripts/train_arguments.py [--shared ../shared] [--out NPZ]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.arguments.build import load_argument_rules  # noqa: E402
from pipeline.arguments.mining import ArgumentRules  # noqa: E402
from pipeline.arguments.units import KINDS, NONE_KIND, ArgumentClassifier, features  # noqa: E402
from pipeline.config import load_settings  # noqa: E402
from pipeline.embeddings import sentence_transformer_fn  # noqa: E402

log = logging.getLogger("train_arguments")
MODELS = ROOT / "models" / "arguments"
SIDE_TAKING = {"support", "oppose", "conditional"}


def read_examples(path: Path) -> tuple[list[str], list[str]]:
    """(texts, kinds) from a ``kind,text`` CSV; unknown kinds are an error."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    bad = sorted({r["kind"] for r in rows} - set(KINDS))
    if bad:
        raise ValueError(f"{path}: unknown kinds {bad}")
    return [r["text"] for r in rows], [r["kind"] for r in rows]


def sentence_hash(text: str) -> str:
    """How mining_labels.csv names a sentence: sha256 of its whitespace-normalised text."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:16]


def _norm(text: str) -> str:
    text = re.sub(r"\s+", " ", text.lower().replace("’", "'"))
    return re.sub(r"[^a-z0-9 ]", "", text).strip()


def real_sentences(shared: Path, labels_file: Path) -> list[dict[str, object]]:
    """Labelled sentences of ``shared``/dev and dev2 as segmented by ``pipeline.ingest``:
    ``doc`` (group), ``text`` and ``label`` (1 argument, 0 not)."""
    from pipeline.errors import DocumentError
    from pipeline.ingest import discover, ingest_document

    settings = load_settings()
    with open(labels_file, newline="", encoding="utf-8") as fh:
        hand = {(r["split"], r["doc"], r["sentence_sha256"]): int(r["label"])
                for r in csv.DictReader(fh)}
    out: list[dict[str, object]] = []
    for split in ("dev", "dev2"):
        gold: dict[str, list[str]] = {}
        with open(shared / split / "gold_stances.csv", newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row["stance"] in SIDE_TAKING and len(_norm(row["evidence"])) > 15:
                    gold.setdefault(row["id"], []).append(_norm(row["evidence"]))
        for source in discover(shared / split / "docs", settings):
            try:
                ingested = ingest_document(source, settings)
            except DocumentError as exc:
                log.warning("skipped %s", exc)
                continue
            doc = source.path.stem
            for text in ingested.sentences.column("text").to_pylist():
                n = _norm(text)
                label = hand.get((split, doc, sentence_hash(text)))
                if any(e in n or (len(n) > 25 and n in e) for e in gold.get(doc, [])):
                    label = 1
                if label is not None:
                    out.append({"doc": f"{split}/{doc}", "text": text, "label": label})
    return out


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


def _prf(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    tp = float(np.sum(truth & predicted))
    precision = tp / max(float(predicted.sum()), 1.0)
    recall = tp / max(float(truth.sum()), 1.0)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3)}


def detection_cv(x_hand: np.ndarray, kinds: list[str], real: list[dict[str, object]],
                 x_real: np.ndarray, rules: ArgumentRules) -> dict[str, object]:
    """Argument detection on the real sentences: the hand-written-only classifier, and one
    also trained on the other folds' real sentences (document-grouped 5-fold CV), each with
    and without ``rules``."""
    from sklearn.model_selection import GroupKFold

    truth = np.asarray([bool(r["label"]) for r in real])
    texts = [str(r["text"]) for r in real]
    allowed = np.asarray([rules.not_argument_reason(t) is None for t in texts])
    base = ArgumentClassifier().fit(x_hand, kinds)
    base_says = base.predict(x_real) != NONE_KIND
    pseudo = _pseudo_kinds(base, x_real, truth)
    cv_says = np.zeros(len(real), dtype=bool)
    groups = [str(r["doc"]) for r in real]
    for train, test in GroupKFold(5).split(x_real, truth, groups):
        model = ArgumentClassifier().fit(np.vstack([x_hand, x_real[train]]),
                                         kinds + [pseudo[i] for i in train])
        cv_says[test] = model.predict(x_real[test]) != NONE_KIND
    return {
        "n_sentences": len(real), "n_arguments": int(truth.sum()),
        "n_documents": len(set(groups)),
        "hand_written_classifier": _prf(truth, base_says),
        "hand_written_classifier_and_rules": _prf(truth, base_says & allowed),
        "grouped_cv_classifier": _prf(truth, cv_says),
        "grouped_cv_classifier_and_rules": _prf(truth, cv_says & allowed),
        "rules_only": _prf(truth, allowed),
    }


def _pseudo_kinds(model: ArgumentClassifier, x: np.ndarray, truth: np.ndarray) -> list[str]:
    """Kinds for real sentences labelled only argument / not: an argument takes the
    classifier's most likely kind other than ``none``."""
    proba = model.predict_proba(x)
    classes = model.classes_.tolist()
    proba[:, classes.index(NONE_KIND)] = -1.0
    best = [classes[int(i)] for i in np.argmax(proba, axis=1)]
    return [kind if arg else NONE_KIND for kind, arg in zip(best, truth.tolist(), strict=True)]


def main() -> None:
    """Train, cross-validate, save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=MODELS / "training_sentences.csv")
    parser.add_argument("--labels", type=Path, default=MODELS / "mining_labels.csv")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--out", type=Path, default=MODELS / "classifier.npz")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = load_settings()
    nlp = settings.nlp
    texts, kinds = read_examples(args.data)
    embed = sentence_transformer_fn(nlp.embedding_model, nlp.embedding_batch_size)
    x = features(embed(texts), texts)
    report: dict[str, object] = {
        "n_examples": len(texts), "per_kind": {k: kinds.count(k) for k in KINDS},
        "cv": cross_validate(x, kinds), "embedding_model": nlp.embedding_model,
        "data_sha256": hashlib.sha256(args.data.read_bytes()).hexdigest(),
    }
    if (args.shared / "dev").is_dir() and (args.shared / "dev2").is_dir():
        real = real_sentences(args.shared, args.labels)
        real_texts = [str(r["text"]) for r in real]
        report["detection"] = detection_cv(x, kinds, real, features(embed(real_texts),
                                                                     real_texts),
                                           load_argument_rules(settings))
        report["labels_sha256"] = hashlib.sha256(args.labels.read_bytes()).hexdigest()
    ArgumentClassifier().fit(x, kinds).save(args.out)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    log.info("%s", json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
