"""Evaluation: one scoring rule for every stage (:mod:`pipeline.evaluation.scores`).

Stances (:mod:`pipeline.evaluate`), entities (:mod:`pipeline.entities.evaluate`) and arguments
score with the same precision / recall / F1, so their figures mean the same thing.
"""

from pipeline.evaluation.scores import PrecisionRecall, Scores, f1, precision, recall

__all__ = ["PrecisionRecall", "Scores", "f1", "precision", "recall"]
