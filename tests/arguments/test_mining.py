"""Argument mining rules, quotable key points and labels, on sentences written for the tests."""

from __future__ import annotations

import pytest

from pipeline.arguments.mining import (
    is_heading,
    is_quotable,
    label_from_key_point,
    not_argument_reason,
)


@pytest.mark.parametrize(("text", "reason"), [
    ("Do you agree that the new board should hold the budget?", "question"),
    ("Question 3: permissive membership of the partnership board", "question"),
    ("Our response to the regional health proposals", "heading"),
    ("FUTURE COMMISSIONING ARRANGEMENTS FOR THE AREA", "heading"),
    ("The Committee is asked to note the contents of this report.", "procedural"),
    ("There are no direct financial implications arising from this paper.", "procedural"),
    ("This paper sets out the timetable for the next stage of the programme.", "procedural"),
    ("Contact: the policy team at the council offices, first floor.", "procedural"),
    ("Further details are available at www.example.org for all members.", "boilerplate"),
    ("The consultation document proposes two models for the new partnership bodies.",
     "description"),
])
def test_non_arguments_are_ruled_out_with_a_reason(text: str, reason: str) -> None:
    assert not_argument_reason(text) == reason


@pytest.mark.parametrize("text", [
    "We oppose the second model because it weakens the voice of local councils.",
    "The consultation document proposes two models, and we believe neither goes far enough.",
    "Funding for community services must be protected before any transfer takes place.",
    "A single budget would let the partners plan care around the needs of residents.",
])
def test_arguments_pass_the_rules(text: str) -> None:
    assert not_argument_reason(text) is None


def test_headings() -> None:
    assert is_heading("Local Leadership And Democratic Accountability In Care Systems")
    assert not is_heading("Local leaders must stay accountable to the people they serve.")


def test_quotable_key_points_are_complete_and_concise() -> None:
    assert is_quotable("Councils must keep an equal voice on the new board.")
    assert not is_quotable("and councils must keep an equal voice on the new board.")
    assert not is_quotable("Councils must keep a voice.")  # fewer than six words
    long = "Councils must keep an equal voice on the board " * 5
    assert not is_quotable(long.strip() + ".")  # more than 35 words
    assert not is_quotable("Should councils keep an equal voice on the new board?")


@pytest.mark.parametrize(("key_point", "label"), [
    ("However, we believe that councils must keep an equal voice on the board.",
     "Councils must keep an equal voice on the…"),
    ("We are concerned that rural practices will lose funding, which would hurt patients.",
     "Rural practices will lose funding"),
    ("A single statutory body would blur the lines of accountability for residents and staff.",
     "A single statutory body would blur the lines…"),
])
def test_labels_are_short_phrases_from_the_key_point(key_point: str, label: str) -> None:
    assert label_from_key_point(key_point) == label
