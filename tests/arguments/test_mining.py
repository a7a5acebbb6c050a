"""Argument mining rules, quotable key points and labels, on sentences written for the tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.arguments.mining import (
    ArgumentRules,
    argument_rules,
    is_heading,
    label_from_key_point,
)
from pipeline.config import load_settings
from pipeline.entities import load_register
from pipeline.stance import load_targets

SETTINGS = load_settings()
REGISTER = load_register(SETTINGS)
RULES = argument_rules(load_targets(SETTINGS.resolve(SETTINGS.stance.targets)), REGISTER)
# A made-up second consultation: its owner, document and options are its own.
RIVERSIDE = {
    "name": "riverside_transport",
    "consultation": {"owner": "Riverside Transport Authority",
                     "document_references": ["the route booklet"]},
    "targets": [
        {"id": "scheme_a", "label": "Scheme A: a tram line", "description": "A tram line.",
         "aliases": ["scheme a", "tram scheme"], "ordinals": ["first"]},
        {"id": "scheme_b", "label": "Scheme B: a bus lane", "description": "A bus lane.",
         "aliases": ["scheme b"], "ordinals": ["second"]},
        {"id": "parking", "label": "Parking charges", "description": "Parking charges.",
         "aliases": ["parking charges"]},
    ],
}


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
    assert RULES.not_argument_reason(text) == reason


@pytest.mark.parametrize("text", [
    "We oppose the second model because it weakens the voice of local councils.",
    "The consultation document proposes two models, and we believe neither goes far enough.",
    "Funding for community services must be protected before any transfer takes place.",
    "A single budget would let the partners plan care around the needs of residents.",
])
def test_arguments_pass_the_rules(text: str) -> None:
    assert RULES.not_argument_reason(text) is None


def test_headings() -> None:
    assert is_heading("Local Leadership And Democratic Accountability In Care Systems")
    assert not is_heading("Local leaders must stay accountable to the people they serve.")


def test_quotable_key_points_are_complete_and_concise() -> None:
    assert RULES.is_quotable("Councils must keep an equal voice on the new board.")
    assert not RULES.is_quotable("and councils must keep an equal voice on the new board.")
    assert not RULES.is_quotable("Councils must keep a voice.")  # fewer than six words
    long = "Councils must keep an equal voice on the board " * 5
    assert not RULES.is_quotable(long.strip() + ".")  # more than 35 words
    assert not RULES.is_quotable("Should councils keep an equal voice on the new board?")


def test_a_known_argument_is_not_checked_again_for_being_one() -> None:
    procedural = "The board is asked to note the progress made by the partnership this year."
    assert RULES.not_argument_reason(procedural) == "procedural"
    assert not RULES.is_quotable(procedural)
    assert RULES.is_quotable(procedural, argument=True)  # the caller vouches for it
    # a text with surrounding spaces is not the one that was checked: it is checked again
    assert not RULES.is_quotable(f" {procedural} ", argument=True)


def _riverside(tmp_path: Path) -> ArgumentRules:
    path = tmp_path / "riverside.yaml"
    path.write_text(yaml.safe_dump(RIVERSIDE), encoding="utf-8")
    return argument_rules(load_targets(path), REGISTER)


OWN_DESCRIPTIONS = [  # (sentence, described in this consultation, in the Riverside one)
    ("Riverside Transport Authority proposes a new depot beside the old quay.", False, True),
    ("Scheme A would create a tram line from the station to the harbour.", False, True),
    ("The route booklet sets out three possible paths for the new line.", False, True),
    ("NHS England proposes a new partnership board in each area.", True, False),
    ("NHSEI sets out two models for the new partnership bodies.", True, False),
    ("Option 2 would transfer the budget of the groups to a new body.", True, False),
    ("The government proposes a new fund for rural bus routes next year.", True, True),
    # a target that is not an option (no ordinals) is no describing subject
    ("Parking charges would make the town centre quieter on market days.", False, False),
]


@pytest.mark.parametrize(("text", "here", "riverside"), OWN_DESCRIPTIONS)
def test_description_subjects_come_from_the_target_file(tmp_path: Path, text: str, here: bool,
                                                        riverside: bool) -> None:
    """Owner, document references and option aliases of each consultation, and the general
    policy nouns of any (the register knows no other name of the Riverside owner)."""
    other = _riverside(tmp_path)
    assert (other.not_argument_reason(text) == "description") is riverside
    assert (RULES.not_argument_reason(text) == "description") is here
    # a description that also evaluates is an argument
    assert other.not_argument_reason(text[:-1] + ", which we oppose.") is None


def test_the_register_names_the_owner_and_acronyms_keep_their_case() -> None:
    targets = load_targets(SETTINGS.resolve(SETTINGS.stance.targets))
    alone = argument_rules(targets)  # no register: the owner's full name only
    assert alone.not_argument_reason("NHS England proposes a new partnership board.") is None
    assert alone.not_argument_reason(
        "NHS England and NHS Improvement proposes a new partnership board.") == "description"
    assert RULES.not_argument_reason("Nhse sets out two models for the new bodies.") is None
    assert argument_rules(targets, REGISTER).describes is RULES.describes  # built once


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
