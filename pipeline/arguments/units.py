"""Argument units: which sentences state a claim, concern, recommendation or condition.

A multinomial logistic regression over the sentence embedding plus a few lexical cues
(modal verbs, conditional connectives, first person, length). It is trained by
``scripts/train_arguments.py`` on hand-written sentences and stored as ``.npz``; prediction
needs only numpy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pipeline.learn import SoftmaxClassifier

KINDS = ("claim", "concern", "recommendation", "condition", "none")
NONE_KIND = "none"

_CUES = (
    re.compile(r"\b(should|must|ought|need to|needs to|recommend\w*|urge\w*|call on)\b", re.I),
    re.compile(r"\b(if|unless|provided|providing|subject to|as long as|so long as|only|once|"
               r"conditional|contingent|on condition)\b", re.I),
    re.compile(r"\b(concern\w*|risk\w*|worr\w*|fear\w*|danger\w*|unclear)\b", re.I),
    re.compile(r"\b(we|our|us)\b", re.I),
)


def lexical_features(texts: Sequence[str]) -> np.ndarray:
    """One row per text: a 0/1 flag per cue pattern and a squashed word count."""
    known: dict[str, list[float]] = {}  # repeated texts are matched once
    rows = []
    for text in texts:
        if text not in known:
            flags = [1.0 if cue.search(text) else 0.0 for cue in _CUES]
            known[text] = [*flags, min(len(text.split()), 40) / 40.0]
        rows.append(known[text])
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), len(_CUES) + 1)


def features(embeddings: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    """The classifier input: embeddings followed by :func:`lexical_features`."""
    return np.hstack([np.asarray(embeddings, dtype=np.float32), lexical_features(texts)])


class ArgumentClassifier(SoftmaxClassifier):
    """The shared softmax classifier (unweighted classes, float64), kinds as an array, saved
    as ``.npz``."""

    def __init__(self, c: float = 4.0) -> None:
        super().__init__(c, class_weight=None, dtype=np.float64)

    def fit(self, x: np.ndarray, y: Sequence[str]) -> ArgumentClassifier:
        """Fit on feature rows ``x`` and kind labels ``y``; deterministic (lbfgs)."""
        super().fit(x, y)
        self.classes_ = np.asarray(self.classes_, dtype=str)
        return self

    def save(self, path: Path) -> None:
        """Write the learned weights to ``path`` (``.npz``, no pickle)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, classes=self.classes_, coef=self.coef_, intercept=self.intercept_,
                 c=np.asarray(self.c))

    @classmethod
    def load(cls, path: Path) -> ArgumentClassifier:
        """Read weights written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            model = cls.from_arrays(data["coef"], data["intercept"], data["classes"].astype(str),
                                    c=float(data["c"]))
        if set(model.classes_.tolist()) != set(KINDS):
            raise ValueError(f"{path}: classes {model.classes_.tolist()} are not {list(KINDS)}")
        return model
