"""Training data of the learned stance decision (``pipeline/stance/dataset.py``)."""

from __future__ import annotations

from typing import Any

from pipeline.schema import to_table
from pipeline.stance.dataset import GoldRow, reviewed_gold


def _position(path: str, target: str, stance: str, review: str,
              evidence: str = "We back it.") -> dict[str, Any]:
    return {"doc_id": path[:1] * 16, "source_path": path, "holder": "Northshire Council",
            "holder_id": "northshire", "holder_is_author": True, "target": target,
            "stance": stance, "confidence": 0.6, "n_evidence": 1, "n_support": 1,
            "n_oppose": 0, "n_conditional": 0, "n_neutral": 0, "mixed": False,
            "evidence": evidence, "page": 1, "review": review, "needs_review": False}


def test_only_documents_whose_every_sided_position_was_reviewed_become_gold() -> None:
    positions = to_table("positions", [
        _position("a.txt", "option_2", "support", "confirmed"),
        _position("a.txt", "option_1", "oppose", "rejected", "Option 1 is described."),
        _position("a.txt", "place_subsidiarity", "neutral", "machine"),
        _position("a.txt", "q1_statutory_footing", "conditional", "added", "Only if funded."),
        _position("b.txt", "option_2", "support", "corrected"),
        _position("b.txt", "option_1", "support", "machine"),  # not reviewed: b is left out
        _position("c.txt", "option_2", "support", "machine"),  # nothing reviewed
    ])
    assert reviewed_gold(positions) == {"a.txt": [
        GoldRow("a", "Northshire Council", True, "option_2", "support", "We back it."),
        GoldRow("a", "Northshire Council", True, "option_1", "neutral", "Option 1 is described."),
        GoldRow("a", "Northshire Council", True, "q1_statutory_footing", "conditional",
                "Only if funded."),
    ]}
