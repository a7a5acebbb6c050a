"""The matcher's scores and the ArgKP track-1 predictions and mAP built on them."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.arguments.match import argkp_map, argkp_predictions, argkp_scores, match_scores

ARGS = [
    {"arg_id": "a1", "topic": "t", "stance": "1"},
    {"arg_id": "a2", "topic": "t", "stance": "1"},
    {"arg_id": "a3", "topic": "t", "stance": "1"},
    {"arg_id": "a4", "topic": "t", "stance": "1"},
    {"arg_id": "a5", "topic": "t", "stance": "-1"},
    {"arg_id": "a6", "topic": "t", "stance": "-1"},
]
KPS = [
    {"key_point_id": "k1", "topic": "t", "stance": "1"},
    {"key_point_id": "k2", "topic": "t", "stance": "1"},
    {"key_point_id": "k3", "topic": "t", "stance": "-1"},
]


def test_scores_are_cosines_less_the_mean_over_the_candidates() -> None:
    arguments = np.asarray([[3.0, 4.0], [1.0, 0.0]])
    scores = match_scores(arguments, np.asarray([[0.0, 2.0], [1.0, 0.0]]))
    # cosines [[0.8, 0.6], [0.0, 1.0]] less their row means 0.7 and 0.5
    assert scores == pytest.approx(np.asarray([[0.1, -0.1], [-0.5, 0.5]]))
    assert match_scores(arguments, np.asarray([[0.0, 2.0]])) == pytest.approx(np.zeros((2, 1)))
    assert match_scores(np.zeros((0, 2)), np.ones((1, 2))).shape == (0, 1)


def test_the_mean_is_over_the_closest_six_candidates() -> None:
    key_points = np.asarray([[1.0, 0.0]] + [[0.0, 1.0]] * 6 + [[-1.0, 0.0]] * 3)
    scores = match_scores(np.asarray([[1.0, 0.0]]), key_points)
    # closest six: one at cosine 1 and five at 0; the three opposite ones are left out
    assert scores[0, 0] == pytest.approx(1 - 1 / 6)


def test_argkp_scores_compare_arguments_with_their_own_topic_and_stance() -> None:
    vectors = np.asarray([[1.0, 0.0]] * 6)
    kp_vectors = np.asarray([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    scores = argkp_scores(ARGS, KPS, vectors, kp_vectors)
    assert scores[0, :2] == pytest.approx([0.5, -0.5])
    assert scores[4, 2] == pytest.approx(0.0)  # the only con key point
    assert np.isneginf(scores[0, 2]) and np.isneginf(scores[4, 0])


def test_predictions_cover_the_key_points_of_the_same_topic_and_stance() -> None:
    scores = np.arange(18, dtype=float).reshape(6, 3) / 20
    predictions = argkp_predictions(ARGS, KPS, scores)
    assert predictions["a1"] == {"k1": 0.0, "k2": 0.05}
    assert predictions["a5"] == {"k3": 0.7}


def test_map_follows_the_official_definition() -> None:
    labels = [
        {"arg_id": "a1", "key_point_id": "k1", "label": "1"},
        {"arg_id": "a2", "key_point_id": "k2", "label": "0"},
        {"arg_id": "a3", "key_point_id": "k1", "label": "1"},
        {"arg_id": "a5", "key_point_id": "k3", "label": "1"},
    ]
    predictions = {
        "a1": {"k1": 0.9, "k2": 0.1},  # best k1: a match
        "a2": {"k1": 0.2, "k2": 0.8},  # best k2: labelled no match
        "a3": {"k1": 0.3},  # below the top half of its topic and stance
        "a4": {"k1": 0.7},  # best k1: unlabelled (strict 0, relaxed 1)
        "a5": {"k3": 0.6},
        "a6": {"k3": 0.5},
    }
    strict, relaxed = argkp_map(ARGS, KPS, labels, predictions)
    # pro: top 2 of 4 are a1 (match) and a2 (no match): AP 1.0 x 1/2 positives; relaxed same.
    # con: top 1 of 2 is a5 (match): AP 1.0 x 1/1.
    assert (strict, relaxed) == pytest.approx((0.75, 0.75))
