"""The one scoring rule shared by the stance, entity and argument evaluations."""

from __future__ import annotations

import pytest

from pipeline.entities.evaluate import LabelScore
from pipeline.evaluation import Scores, f1, precision, recall


@pytest.mark.parametrize(("tp", "n_predicted", "n_gold", "expected"), [
    (2, 4, 5, (0.5, 0.4, 2 * 0.5 * 0.4 / 0.9)),
    (0, 0, 0, (1.0, 1.0, 1.0)),  # nothing to find, nothing found: perfect
    (0, 0, 3, (0.0, 0.0, 0.0)),  # found nothing of something
    (0, 2, 0, (0.0, 0.0, 0.0)),  # found something of nothing
    (0, 2, 3, (0.0, 0.0, 0.0)),
])
def test_one_rule_for_empty_sets(tp: int, n_predicted: int, n_gold: int,
                                 expected: tuple[float, float, float]) -> None:
    scores = Scores(tp, n_predicted, n_gold)
    assert (scores.precision, scores.recall, scores.f1) == pytest.approx(expected)
    assert precision(tp, n_predicted, n_gold) == pytest.approx(expected[0])
    assert recall(tp, n_gold, n_predicted) == pytest.approx(expected[1])


def test_entity_and_stance_scores_agree() -> None:
    for tp, n_predicted, n_gold in ((0, 0, 0), (0, 0, 2), (0, 3, 0), (1, 2, 4)):
        label = LabelScore("ORG", tp, n_predicted, tp, n_gold)
        scores = Scores(tp, n_predicted, n_gold)
        assert (label.precision, label.recall, label.f1) == (
            scores.precision, scores.recall, scores.f1)


def test_as_dict_rounds() -> None:
    assert Scores(1, 3, 2).as_dict() == {"tp": 1, "predicted": 3, "gold": 2,
                                         "precision": 0.3333, "recall": 0.5, "f1": 0.4}
    assert f1(0.0, 0.0) == 0.0
