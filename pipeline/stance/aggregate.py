"""Per-document positions: one row per holder and target, from the sentence-level stances.

Resolution rule (documented in docs/stance.md): each non-neutral sentence votes for its stance
with its confidence. The stance with the largest summed confidence wins; a tie goes to the more
cautious stance (conditional, then oppose, then support). ``mixed`` is true when the evidence
holds both a supporting side (support or conditional) and oppose, the weaker side carrying at
least :data:`MIXED_SHARE` of the stronger side's confidence (one unsure dissenting sentence
against confident ones is more often a misread sentence than a divided text). A holder and
target with only neutral sentences gets a neutral position. Confidence is the winner's share
of the votes times the confidence of its most confident sentence; the best evidence is that
sentence. With a ``scorer`` (the learned decision's position head) the confidence of a
non-neutral position is instead the probability that the position is right; one below
``min_probability`` is not asserted: it becomes neutral and not ``mixed``, keeping its counts
and evidence. A non-neutral position below ``review_threshold`` is kept but flagged
``needs_review``, and so is one made neutral that way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from pipeline.schema import empty_table, to_table

_TIE_ORDER = {"conditional": 0, "oppose": 1, "support": 2}
MIXED_SHARE = 0.5


def _votes(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Each non-neutral stance's summed confidence."""
    votes: dict[str, float] = defaultdict(float)
    for row in rows:
        if row["stance"] != "neutral":
            votes[row["stance"]] += row["confidence"]
    return votes


def _resolve(rows: list[dict[str, Any]], votes: dict[str, float]
             ) -> tuple[str, float, dict[str, Any]]:
    if not votes:
        best = max(rows, key=lambda r: r["confidence"])
        return "neutral", float(best["confidence"]), best
    winner = min(votes, key=lambda s: (-round(votes[s], 6), _TIE_ORDER[s]))
    backing = [r for r in rows if r["stance"] == winner]
    best = max(backing, key=lambda r: (r["confidence"], -_order(r)))
    confidence = votes[winner] / sum(votes.values()) * best["confidence"]
    return winner, confidence, best


def _mixed(votes: dict[str, float]) -> bool:
    against = votes.get("oppose", 0.0)
    weaker, stronger = sorted((sum(votes.values()) - against, against))
    return weaker > 0 and weaker >= MIXED_SHARE * stronger - 1e-9


def _order(row: dict[str, Any]) -> int:
    return int(str(row["sentence_id"]).rsplit("-", 1)[-1]) if "-" in str(row["sentence_id"]) else 0


DEFAULT_REVIEW_THRESHOLD = 0.0  # callers pass ``settings.stance.review_threshold``


class PositionScorer(Protocol):
    """What scores positions: :class:`~pipeline.stance.learned.StanceDecider`."""

    def position_probability(self, positions: Sequence[dict[str, Any]]) -> np.ndarray | None:
        """Probability that each position is right (None: keep the aggregated confidence)."""


def aggregate_positions(
    stances: pa.Table,
    document: dict[str, Any],
    review_threshold: float = DEFAULT_REVIEW_THRESHOLD,
    scorer: PositionScorer | None = None,
    min_probability: float = 0.0,
) -> pa.Table:
    """The ``positions`` table of one document from its ``stances`` table."""
    groups: dict[tuple[str, bool, str], list[dict[str, Any]]] = defaultdict(list)
    for row in stances.to_pylist():
        groups[(row["holder"], row["holder_is_author"], row["target"])].append(row)
    out = []
    for (holder, is_author, target), rows in sorted(groups.items()):
        votes = _votes(rows)
        stance, confidence, best = _resolve(rows, votes)
        counts = {s: sum(1 for r in rows if r["stance"] == s) for s in _TIE_ORDER | {"neutral": 3}}
        out.append(
            {
                "doc_id": document["doc_id"],
                "source_path": document["source_path"],
                "holder": holder,
                "holder_id": next((r["holder_id"] for r in rows if r["holder_id"]), None),
                "holder_is_author": is_author,
                "target": target,
                "stance": stance,
                "confidence": round(confidence, 4),
                "n_evidence": len(rows),
                "n_support": counts["support"],
                "n_oppose": counts["oppose"],
                "n_conditional": counts["conditional"],
                "n_neutral": counts["neutral"],
                "mixed": _mixed(votes),
                "evidence": best["evidence"],
                "page": best["page"],
                "review": "machine",
                "needs_review": stance != "neutral" and confidence < review_threshold,
            }
        )
    if scorer is not None:
        _rescore(out, scorer, review_threshold, min_probability)
    return to_table("positions", out) if out else empty_table("positions")


def _rescore(positions: list[dict[str, Any]], scorer: PositionScorer, review_threshold: float,
             min_probability: float) -> None:
    sided = [p for p in positions if p["stance"] != "neutral"]
    probability = scorer.position_probability(sided)
    if probability is None:
        return
    for position, p in zip(sided, probability, strict=True):
        position["confidence"] = round(float(p), 4)
        position["needs_review"] = bool(p < review_threshold)
        if p < min_probability:  # withheld: it asserts neither a side nor a conflict
            position["stance"] = "neutral"
            position["mixed"] = False
            position["needs_review"] = True
