"""Positions from sentence stances: the documented resolution rule and the mixed flag."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.schema import empty_table, to_table
from pipeline.stance import aggregate_positions

DOC = {"doc_id": "d0c0000000000001", "source_path": "response.txt"}


def _stance(
    idx: int,
    stance: str,
    confidence: float,
    target: str = "option_1",
    holder: str = "Northshire Council",
    is_author: bool = True,
) -> dict[str, Any]:
    return {
        "stance_id": f"s{idx}",
        "doc_id": DOC["doc_id"],
        "sentence_id": f"d-{idx:05d}",
        "page": idx,
        "holder": holder,
        "holder_id": None,
        "holder_is_author": is_author,
        "target": target,
        "stance": stance,
        "confidence": confidence,
        "evidence": f"sentence {idx}",
        "method": "rules",
    }


def _positions(*rows: dict[str, Any]) -> list[dict[str, Any]]:
    return aggregate_positions(to_table("stances", list(rows)), DOC).to_pylist()


def test_majority_of_confidence_wins_and_conflict_is_flagged_mixed() -> None:
    [position] = _positions(
        _stance(1, "support", 0.9),
        _stance(2, "support", 0.7),
        _stance(3, "oppose", 0.8),
        _stance(4, "neutral", 0.5),
    )
    assert position["stance"] == "support"
    assert position["mixed"] is True
    assert (
        position["n_evidence"],
        position["n_support"],
        position["n_oppose"],
        position["n_conditional"],
        position["n_neutral"],
    ) == (4, 2, 1, 0, 1)
    assert position["confidence"] == pytest.approx(1.6 / 2.4 * 0.9, abs=1e-4)
    assert (position["evidence"], position["page"]) == ("sentence 1", 1)


def test_tie_goes_to_the_more_cautious_stance() -> None:
    [position] = _positions(_stance(1, "support", 0.8), _stance(2, "conditional", 0.8))
    assert position["stance"] == "conditional"
    assert position["mixed"] is False
    [position] = _positions(_stance(1, "support", 0.7), _stance(2, "oppose", 0.7))
    assert position["stance"] == "oppose"
    assert position["mixed"] is True


def test_only_neutral_evidence_gives_a_neutral_position() -> None:
    [position] = _positions(_stance(1, "neutral", 0.6), _stance(2, "neutral", 0.8))
    assert (position["stance"], position["confidence"], position["page"]) == (
        "neutral",
        pytest.approx(0.8),
        2,
    )


def test_one_position_per_holder_and_target() -> None:
    positions = _positions(
        _stance(1, "support", 0.9),
        _stance(2, "oppose", 0.9, target="option_2"),
        _stance(3, "support", 0.8, holder="Care Federation", is_author=False),
    )
    assert [(p["holder"], p["holder_is_author"], p["target"], p["stance"]) for p in positions] == [
        ("Care Federation", False, "option_1", "support"),
        ("Northshire Council", True, "option_1", "support"),
        ("Northshire Council", True, "option_2", "oppose"),
    ]


def test_no_stances_no_positions() -> None:
    assert aggregate_positions(empty_table("stances"), DOC).num_rows == 0


def test_one_unsure_dissent_against_confident_evidence_is_not_mixed() -> None:
    [position] = _positions(
        _stance(1, "oppose", 0.45), _stance(2, "oppose", 0.4), _stance(3, "support", 0.25)
    )
    assert (position["stance"], position["mixed"], position["n_support"]) == ("oppose", False, 1)
