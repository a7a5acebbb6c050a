"""Precision, recall and F1 with ONE rule for empty sets.

An empty denominator scores 1.0 when the other side is empty too (nothing to find and nothing
found is perfect) and 0.0 otherwise (finding nothing of something, or something of nothing,
is not). So precision with nothing predicted is 1.0 only when the gold is empty as well, and
F1 is 1.0 exactly when prediction and gold agree.
"""

from __future__ import annotations

from dataclasses import dataclass


def _share(hits: int, total: int, other: int) -> float:
    if total:
        return hits / total
    return 1.0 if other == 0 else 0.0


def precision(tp: int, n_predicted: int, n_gold: int) -> float:
    """``tp / n_predicted``; with nothing predicted, 1.0 if the gold is empty too, else 0.0."""
    return _share(tp, n_predicted, n_gold)


def recall(tp: int, n_gold: int, n_predicted: int) -> float:
    """``tp / n_gold``; with an empty gold, 1.0 if nothing was predicted either, else 0.0."""
    return _share(tp, n_gold, n_predicted)


def f1(p: float, r: float) -> float:
    """The harmonic mean of precision ``p`` and recall ``r`` (0.0 when both are 0)."""
    return 2 * p * r / (p + r) if p + r else 0.0


class PrecisionRecall:
    """Precision, recall and F1 of the counts :meth:`counts` gives (a mixin of score rows)."""

    def counts(self) -> tuple[int, int, int, int]:
        """True positives of precision, predicted, true positives of recall, gold."""
        raise NotImplementedError

    @property
    def precision(self) -> float:
        """TP / predicted (see the module docstring for empty sets)."""
        tp, n_predicted, _, n_gold = self.counts()
        return precision(tp, n_predicted, n_gold)

    @property
    def recall(self) -> float:
        """TP / gold (see the module docstring for empty sets)."""
        _, n_predicted, tp, n_gold = self.counts()
        return recall(tp, n_gold, n_predicted)

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        return f1(self.precision, self.recall)


@dataclass
class Scores(PrecisionRecall):
    """Counts and precision / recall / F1 of one slice (true positives counted once)."""

    tp: int = 0
    n_predicted: int = 0
    n_gold: int = 0

    def counts(self) -> tuple[int, int, int, int]:
        """The one TP count serves precision and recall."""
        return self.tp, self.n_predicted, self.tp, self.n_gold

    def as_dict(self) -> dict[str, float | int]:
        """Counts and rounded scores."""
        return {"tp": self.tp, "predicted": self.n_predicted, "gold": self.n_gold,
                "precision": round(self.precision, 4), "recall": round(self.recall, 4),
                "f1": round(self.f1, 4)}
