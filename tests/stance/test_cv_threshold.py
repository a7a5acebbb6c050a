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


def _position(confidence: float, author: bool) -> dict[str, object]:
    return {"confidence": confidence, "n_support": 1, "n_oppose": 0, "n_conditional": 0,
            "n_neutral": 0, "holder_is_author": author, "holder_id": None, "mixed": False,
            "stance": "support"}


def test_each_fold_is_scored_by_a_head_fitted_on_the_other_folds() -> None:
    cv = load_script("stance_cv")
    rows = [_position(c, a) for c in (0.2, 0.5, 0.8) for a in (True, False)] * 2
    labels = ["right", "wrong", "right", "right", "wrong", "right"] * 2
    folds = [0] * 6 + [1] * 6
    probability = cv.out_of_fold_probability(rows, labels, folds)
    other = cv._PositionHead(rows[6:], labels[6:]).position_probability(rows[:6])
    assert np.array_equal(probability[:6], other)
    assert cv.choose_min_probability(rows, labels, folds, 8) == cv.best_min_probability(
        probability, labels, 8)


def test_each_fold_takes_the_sentence_threshold_best_on_the_other_folds() -> None:
    cv = load_script("stance_cv")
    # at 0.1 every fold keeps a right and a wrong position, at 0.2 only the right one,
    # except fold 0, whose right position sits under 0.2
    low = [(k, ok) for k in range(cv.FOLDS) for ok in (True, False)]
    high = [(k, True) for k in range(1, cv.FOLDS)]
    gold = list(range(cv.FOLDS))  # one gold position per fold
    # fold 0's choice sees folds 1-4: 0.1 gives 2*4/(8+4), 0.2 gives 2*4/(4+4)
    # fold k > 0 sees fold 0 too: 0.1 gives 2*4/(8+4), 0.2 gives 2*3/(3+4)
    assert cv.best_per_fold({0.1: low, 0.2: high}, gold) == [0.2] * cv.FOLDS
    assert cv.best_per_fold({0.1: low, 0.2: []}, gold) == [0.1] * cv.FOLDS


def test_another_partition_deals_the_documents_into_other_folds() -> None:
    cv = load_script("stance_cv")
    keys = [f"dev2/{n:03d}" for n in range(40)]
    default = [cv.fold_of(k, cv.FOLDS) for k in keys]
    assert default == [cv.fold_of(k, cv.FOLDS, "") for k in keys]
    for partition in cv.PARTITIONS:
        other = [cv.fold_of(k, cv.FOLDS, partition) for k in keys]
        assert other != default and set(other) == set(range(cv.FOLDS))
    assert cv.fold_of("hand/3", cv.FOLDS, "s1") == -1


def test_the_readme_table_gives_the_mean_over_the_deals() -> None:
    table = load_script("eval_stance").table
    figures = {"all_p": 0.5, "all_r": 0.4, "all_f1": 0.44, "author_f1": 0.4, "cited_f1": 0.2}
    other = dict(figures, all_f1=0.40)
    cv = {"lenient": figures, "lenient_without_position_head_other_partitions": {"s1": other}}
    lines = table(cv, figures).splitlines()
    assert lines[3] == "| dev + dev2 (132 texts) | document-grouped 5-fold CV | 0.50 | 0.40 | " \
                       "**0.44** | 0.40 | 0.20 |"
    assert lines[4] == "| same | mean over 2 deals of the documents into folds | 0.50 | 0.40 | " \
                       "**0.42** | 0.40 | 0.20 |"
