"""Stance stage: who supports or opposes which target, with evidence, per sentence and document.

Entry points: :func:`load_targets`, :func:`load_stance_model`, :func:`detect_stances` and
:func:`aggregate_positions`. Targets are data (``models/targets/*.yaml``); the classifier
weights are trained by ``scripts/train_stance.py``.
"""

from pipeline.stance.aggregate import aggregate_positions
from pipeline.stance.detect import detect_stances
from pipeline.stance.model import StanceModel, load_stance_model
from pipeline.stance.targets import STANCE_LABELS, Target, TargetSet, load_targets

__all__ = [
    "STANCE_LABELS",
    "StanceModel",
    "Target",
    "TargetSet",
    "aggregate_positions",
    "detect_stances",
    "load_stance_model",
    "load_targets",
]
