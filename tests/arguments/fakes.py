"""Test doubles for the arguments tests: a topic-based fake embedder, a hand-set classifier."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from pipeline.arguments.units import KINDS, ArgumentClassifier

TOPICS = ("funding", "council", "staff", "patients", "data")
DIM = 16


class FakeEmbedder:
    """Each topic word adds a basis vector, plus tiny text-seeded noise; counts calls."""

    def __init__(self) -> None:
        self.n_texts = 0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.n_texts += len(texts)
        rows = []
        for text in texts:
            words = re.findall(r"[a-z]+", text.lower())
            vector = np.zeros(DIM)
            for t, topic in enumerate(TOPICS):
                vector[t] += sum(w.startswith(topic[:5]) for w in words)
            seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
            vector[len(TOPICS):] = np.random.default_rng(seed).normal(0, 0.05, DIM - len(TOPICS))
            if not vector[: len(TOPICS)].any():
                vector[-1] = 1.0
            rows.append(vector / np.linalg.norm(vector))
        return np.asarray(rows, dtype=np.float32)


def lexical_classifier(dim: int = DIM) -> ArgumentClassifier:
    """Kinds from the lexical cues only: modal → recommendation, if → condition,
    concern → concern, we/our → claim; nothing → none."""
    model = ArgumentClassifier()
    model.classes_ = np.asarray(KINDS)
    model.coef_ = np.zeros((len(KINDS), dim + 5))
    for kind, cue in (("recommendation", 0), ("condition", 1), ("concern", 2), ("claim", 3)):
        model.coef_[KINDS.index(kind), dim + cue] = 2.0 + cue * 0.1 if kind != "claim" else 1.0
    model.intercept_ = np.asarray([0.0, 0.0, 0.0, 0.0, 0.5])
    return model
