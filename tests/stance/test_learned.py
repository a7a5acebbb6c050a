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
from pipeline.stance.learned import (
    POSITION_FEATURES,
    StanceDecider,
    cross_validation_summary,
    platt,
    position_features,
)

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


def _position(confidence: float, author: bool, registered: bool, stance: str = "support",
              neutral: int = 0) -> dict[str, object]:
    return {"confidence": confidence, "n_support": int(stance == "support"),
            "n_oppose": int(stance == "oppose"), "n_conditional": int(stance == "conditional"),
            "n_neutral": neutral, "holder_is_author": author,
            "holder_id": "northshire-council" if registered else None, "mixed": False,
            "stance": stance}


def _position_data() -> tuple[np.ndarray, list[str]]:
    # positions held by the author or a registered body are right, the others wrong
    rows = [_position(c, author, registered)
            for c in (0.2, 0.5, 0.8) for author in (True, False) for registered in (True, False)]
    labels = ["right" if p["holder_is_author"] or p["holder_id"] else "wrong" for p in rows]
    return position_features(rows), labels


def test_position_features_follow_their_names() -> None:
    x = position_features([_position(0.5, True, False, "oppose", neutral=2)])
    assert x.shape == (1, len(POSITION_FEATURES))
    assert dict(zip(POSITION_FEATURES, x[0].tolist(), strict=True)) == pytest.approx({
        "logit_confidence": 0.0, "log_sided_sentences": np.log(2), "log_neutral_sentences":
        np.log(3), "author": 1.0, "registered_holder": 0.0, "mixed": 0.0, "oppose": 1.0,
        "conditional": 0.0,
    })
    assert position_features([]).shape == (0, len(POSITION_FEATURES))


def test_position_head_is_optional_and_survives_a_round_trip(tmp_path: Path) -> None:
    relevance, stance, holder = _heads()
    assert StanceDecider(c=1.0).fit(relevance, stance, holder).position_probability([]) is None
    decider = StanceDecider(c=1.0).fit(relevance, stance, holder, position=_position_data())
    positions = [_position(0.5, False, True), _position(0.5, False, False)]
    right, wrong = decider.position_probability(positions)
    assert right > wrong
    decider.save(tmp_path / "decider.npz")
    loaded = StanceDecider.load(tmp_path / "decider.npz")
    np.testing.assert_allclose(loaded.position_probability(positions), [right, wrong], rtol=1e-6)
    assert "position" in json.loads((tmp_path / "decider.json").read_text())["classes"]


class _Scorer:
    """Scores positions by their holder: registered bodies 0.9, the others 0.2."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def position_probability(self, positions: list[dict[str, object]]) -> np.ndarray:
        self.seen += [str(p["target"]) for p in positions]
        return np.array([0.9 if p["holder_id"] else 0.2 for p in positions])


def test_a_position_scorer_sets_confidence_and_withholds_unlikely_positions() -> None:
    rows = [_row(1, "support", 0.55), _row(2, "oppose", 0.9), _row(3, "neutral", 0.2),
            {**_row(2, "support", 0.8), "stance_id": "s2b", "sentence_id": "d-00009"}]
    rows[0]["holder_id"] = "northshire-council"
    rows[1]["holder_id"] = None
    scorer = _Scorer()
    positions = aggregate_positions(to_table("stances", rows), DOC, review_threshold=0.5,
                                    scorer=scorer, min_probability=0.3)
    got = {p["target"]: (p["stance"], round(p["confidence"], 4), p["needs_review"],
                         p["n_support"], p["n_oppose"], p["mixed"])
           for p in positions.to_pylist()}
    assert scorer.seen == ["target_1", "target_2"]  # neutral positions are not scored
    assert got == {
        "target_1": ("support", 0.9, False, 1, 0, False),
        # withheld: neither a side nor a conflict, its votes still counted
        "target_2": ("neutral", 0.2, True, 1, 1, False),
        "target_3": ("neutral", 0.2, False, 0, 0, False),
    }


def test_a_scorer_without_a_position_head_leaves_positions_as_aggregated() -> None:
    relevance, stance, holder = _heads()
    decider = StanceDecider(c=1.0).fit(relevance, stance, holder)
    rows = [_row(1, "support", 0.55)]
    plain = aggregate_positions(to_table("stances", rows), DOC, review_threshold=0.5)
    scored = aggregate_positions(to_table("stances", rows), DOC, review_threshold=0.5,
                                 scorer=decider, min_probability=0.9)
    assert scored.to_pylist() == plain.to_pylist()


def test_cross_validation_summary_reads_the_sidecar(tmp_path: Path) -> None:
    path = tmp_path / "decider.npz"
    assert cross_validation_summary(path) is None
    cv = {"method": "document-grouped 5-fold CV", "precision_not_needing_review": 0.625,
          "lenient": {"all_p": 0.6, "all_r": 0.29, "all_f1": 0.39, "cited_f1": 0.2}}
    path.with_suffix(".json").write_text(json.dumps({"cross_validation": cv}))
    assert cross_validation_summary(path) == (
        "P 0.60, R 0.29, F1 0.39 (cited F1 0.20), document-grouped 5-fold CV; positions not "
        "flagged for review are right 62% of the time")
    path.with_suffix(".json").write_text(json.dumps({"cross_validation": {"method": "x"}}))
    assert cross_validation_summary(path) is None


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
