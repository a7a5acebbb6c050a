"""How the stance CV chooses the withholding threshold (``scripts/stance_cv.py``)."""

from __future__ import annotations

import numpy as np

from tests.script_loader import load_script


def test_threshold_withholds_the_unlikely_wrong_positions() -> None:
    cv = load_script("stance_cv")
    probability = np.array([0.9, 0.8, 0.22, 0.21, 0.1])
    labels = ["right", "right", "wrong", "wrong", "right"]
    # keeping all: 2*3/(5+4) = 0.667; from 0.25 on: 2*2/(2+4) = 0.667; 0.2 keeps 4: 2*2/(4+4)
    assert cv.best_min_probability(probability, labels, 4) == 0.5  # a tie goes higher
    assert cv.best_min_probability(probability, labels, 2) == 0.5  # 2*2/(2+2) = 1.0


def test_threshold_keeps_everything_when_the_low_ones_are_right() -> None:
    cv = load_script("stance_cv")
    probability = np.array([0.9, 0.3, 0.1, 0.05])
    labels = ["right", "right", "right", "wrong"]
    assert cv.best_min_probability(probability, labels, 3) == 0.0  # 2*3/(4+3) beats 2*2/(2+3)
