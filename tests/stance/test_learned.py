"""The learned stance decision: heads, calibration, storage, training labels and holders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import ConfigError
from pipeline.schema import to_table
from pipeline.stance import aggregate_positions
from pipeline.stance.dataset import GoldRow, evidence_sentences, label_pairs
from pipeline.stance.learned import StanceDecider, platt

DOC = {"doc_id": "d0c0000000000001", "source_path": "response.txt"}


def _heads(seed: int = 3) -> tuple[tuple[np.ndarray, list[str]], ...]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, 5)).astype(np.float32)
    relevance = ["yes" if v > 0.3 else "no" for v in x[:, 0]]
    stance = ["support" if v > 0 else "oppose" for v in x[:, 1]]
    holder = ["author" if v > 0 else "cited" for v in x[:, 2]]
    return (x, relevance), (x, stance), (x, holder)


def _fitted() -> StanceDecider:
    relevance, stance, holder = _heads()
    scores = np.linspace(0.05, 0.95, 20)
    return StanceDecider(c=1.0).fit(relevance, stance, holder, (scores, scores > 0.5))


def test_fit_returns_self_with_learned_attributes() -> None:
    decider = StanceDecider(c=1.0)
    assert decider.fit(*_heads()) is decider
    assert decider.relevance_.classes_ == ["no", "yes"]
    assert decider.stance_.classes_ == ["oppose", "support"]
    assert decider.holder_.classes_ == ["author", "cited"]
    assert decider.calibration_ == (1.0, 0.0)  # no out-of-fold scores: identity


def test_save_and_load_round_trip_without_pickles(tmp_path: Path) -> None:
    decider = _fitted()
    decider.info = {"training_sha256": "abc"}
    path = tmp_path / "decider.npz"
    decider.save(path)
    loaded = StanceDecider.load(path)
    x = _heads(seed=9)[0][0]
    np.testing.assert_allclose(loaded.relevance_scores(x), decider.relevance_scores(x))
    np.testing.assert_allclose(loaded.author_probability(x), decider.author_probability(x))
    assert loaded.stances(x) == decider.stances(x)
    assert loaded.calibration_ == pytest.approx(decider.calibration_)
    assert loaded.info == {"training_sha256": "abc"}
    meta = json.loads(path.with_suffix(".json").read_text())
    assert set(meta["classes"]) == {"relevance", "stance", "holder"}
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files)[0] == "holder_coef"


def test_unreadable_decider_raises_config_error(tmp_path: Path) -> None:
    path = tmp_path / "decider.npz"
    path.write_bytes(b"not numpy")
    path.with_suffix(".json").write_text("{}")
    with pytest.raises(ConfigError, match=r"train_stance\.py"):
        StanceDecider.load(path)


def test_platt_scaling_is_increasing_and_calibrates() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8, 0.9, 0.95])
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    a, b = platt(scores, labels)
    assert a > 0
    decider = _fitted()
    decider.calibration_ = (a, b)
    calibrated = decider.calibrated(scores)
    assert np.all(np.diff(calibrated) > 0)
    assert calibrated[0] < 0.2 and calibrated[-1] > 0.8


def _row(idx: int, stance: str, confidence: float) -> dict[str, object]:
    return {
        "stance_id": f"s{idx}", "doc_id": DOC["doc_id"], "sentence_id": f"d-{idx:05d}",
        "page": 1, "holder": "Northshire Council", "holder_id": None, "holder_is_author": True,
        "target": f"target_{idx}", "stance": stance, "confidence": confidence,
        "evidence": f"sentence {idx}", "method": "learned",
    }


def test_positions_below_the_review_threshold_are_kept_and_flagged() -> None:
    rows = [_row(1, "support", 0.55), _row(2, "oppose", 0.9), _row(3, "neutral", 0.2)]
    positions = aggregate_positions(to_table("stances", rows), DOC, review_threshold=0.7)
    flags = {p["target"]: (p["stance"], p["needs_review"]) for p in positions.to_pylist()}
    assert flags == {
        "target_1": ("support", True),
        "target_2": ("oppose", False),
        "target_3": ("neutral", False),
    }


def test_positions_are_not_flagged_without_a_threshold() -> None:
    positions = aggregate_positions(to_table("stances", [_row(1, "support", 0.2)]), DOC)
    assert positions.column("needs_review").to_pylist() == [False]


SENTENCES = [
    "The Borough Council met on Tuesday.",
    "Members said they “strongly back” the move to place-based budgets.",
    "They added that the county should keep its public health duties.",
    "A further report will follow in the spring.",
]


def test_evidence_is_found_despite_quotes_case_and_spacing() -> None:
    assert evidence_sentences(SENTENCES, 'members said they "strongly  back" the move') == [1]


def test_evidence_spanning_two_sentences_marks_both() -> None:
    evidence = SENTENCES[1] + " " + SENTENCES[2]
    assert evidence_sentences(SENTENCES, evidence) == [1, 2]


def test_evidence_paraphrased_slightly_is_matched_by_word_overlap() -> None:
    evidence = "They added the county should keep public health duties"
    assert evidence_sentences(SENTENCES, evidence) == [2]
    assert evidence_sentences(SENTENCES, "Nothing like any sentence here at all") == []


def test_pairs_are_labelled_from_non_neutral_core_gold_rows() -> None:
    pairs = [(i, t) for i in range(len(SENTENCES)) for t in ("place_subsidiarity", "option_1")]
    gold = [
        GoldRow("x", "Members", False, "place_subsidiarity", "support", "strongly back"),
        GoldRow("x", "Council", True, "option_1", "neutral", "met on Tuesday"),
        GoldRow("x", "Council", True, "other:public_health", "support", "keep its public"),
        GoldRow("x", "Council", True, "option_1", "oppose", "text that is not there at all"),
    ]
    labels = label_pairs(pairs, SENTENCES, gold)
    assert labels.relevance == ["no", "no", "yes", "no", "no", "no", "no", "no"]
    assert labels.stance == {2: "support"}
    assert labels.holder == {2: "cited"}
    assert [g.target for g in labels.unmatched] == ["option_1"]
