"""Sentence-level stance detection on sentences written for these tests (rules only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

from tests.stance.helpers import org_entities, taken

pytestmark = pytest.mark.slow
Run = Callable[..., list[dict[str, Any]]]
AUTHOR = "Northshire Council"


def test_plain_support_and_oppose(run: Run) -> None:
    rows = run(["We support the second option.", "The council opposes the committee model."])
    assert taken(rows) == {(AUTHOR, "option_2", "support"), (AUTHOR, "option_1", "oppose")}
    assert {r["method"] for r in rows} == {"rules"}
    assert all(r["holder_is_author"] for r in rows)


def test_negation_and_disagreement(run: Run) -> None:
    rows = run(
        [
            "We disagree that Option 2 would make partners work together more closely.",
            "We do not support a statutory footing for systems.",
            "We cannot agree that specialised commissioning should move to systems.",
        ]
    )
    assert taken(rows) == {
        (AUTHOR, "option_2", "oppose"),
        (AUTHOR, "q1_statutory_footing", "oppose"),
        (AUTHOR, "q4_delegated_commissioning", "oppose"),
    }


def test_negated_belief_flips_the_judgement(run: Run) -> None:
    rows = run(["Our members do not think legislation is needed to make ICS partnerships work."])
    assert taken(rows) == {(AUTHOR, "q1_statutory_footing", "oppose")}


def test_double_negation_is_support(run: Run) -> None:
    rows = run(["It would be a mistake not to give local government a full seat on the board."])
    assert taken(rows) == {(AUTHOR, "local_government_role", "support")}


@pytest.mark.parametrize(
    "text",
    [
        "We support the second option, provided that councils keep a vote on the board.",
        "We support Option 2 subject to safeguards for primary care.",
        "We would back Option 2 as long as the transition is funded.",
        "We welcome Option 2; however, the new body must answer to local people.",
    ],
)
def test_conditional_support(run: Run, text: str) -> None:
    assert taken(run([text])) == {(AUTHOR, "option_2", "conditional")}


def test_hedge_lowers_confidence(run: Run) -> None:
    plain, hedged = run(["We support Option 1.", "We broadly support Option 1."])
    assert plain["stance"] == hedged["stance"] == "support"
    assert hedged["confidence"] == pytest.approx(plain["confidence"] * 0.8, abs=1e-3)


def test_description_takes_no_side(run: Run) -> None:
    rows = run(
        [
            "Option 1: a statutory committee of existing bodies with an accountable officer.",
            "Option 2: a statutory ICS NHS body that absorbs CCG functions.",
            "The paper sets out the first option and the second option in detail.",
        ]
    )
    assert taken(rows) == set()
    assert {(r["target"], r["stance"]) for r in rows} == {
        ("option_1", "neutral"),
        ("option_2", "neutral"),
    }


def test_question_layout_answer_in_the_same_sentence(run: Run) -> None:
    rows = run(["Question 2: We disagree with the proposal."])
    assert taken(rows) == {(AUTHOR, "option_2", "oppose")}


def test_form_numbering_is_mapped_by_question_wording(run: Run) -> None:
    rows = run(
        [
            "Q7.",
            "Do you agree that giving ICSs a statutory footing is the right foundation?",
            "Response:",
            "Strongly disagree.",
        ]
    )
    assert taken(rows) == {(AUTHOR, "q1_statutory_footing", "oppose")}


def test_answer_word_without_a_question_is_ignored(run: Run) -> None:
    assert taken(run(["Agree.", "The meeting then closed."])) == set()


def test_ordinal_and_anaphora(run: Run) -> None:
    rows = run(
        [
            "The paper offers a statutory committee model and a statutory NHS body.",
            "We prefer the second.",
            "Option 1 was discussed at length.",
            "We do not support this option.",
        ]
    )
    assert taken(rows) == {(AUTHOR, "option_2", "support"), (AUTHOR, "option_1", "oppose")}


def test_cited_holder_through_the_register(run: Run) -> None:
    rows = run(["Of the two models, the agency states its preference for the second."])
    assert taken(rows) == {("National Health Agency", "option_2", "support")}
    assert rows[0]["holder_id"] == "agency" and rows[0]["holder_is_author"] is False


def test_cited_view_then_endorsed_by_the_author(run: Run) -> None:
    rows = run(["The federation recommends Option 1.", "This makes sense to us."])
    assert taken(rows) == {
        ("Care Federation", "option_1", "support"),
        (AUTHOR, "option_1", "support"),
    }


def test_stated_preference_belongs_to_the_consultation_owner(run: Run) -> None:
    rows = run(["We note the stated preference for ICS NHS bodies."])
    assert taken(rows) == {("NHS England and NHS Improvement", "option_2", "support")}


def test_things_do_not_hold_views(run: Run) -> None:
    rows = run(["The new funding rules support place-based working."])
    assert taken(rows) == set()


def test_author_falls_back_to_a_placeholder(run: Run) -> None:
    rows = run(["We support Option 1."], author=None)
    assert taken(rows) == {("author", "option_1", "support")}


def test_unknown_author_speaks_for_the_organisation_the_page_names_most(run: Run) -> None:
    texts = ["The Care Federation met the agency.", "We support Option 1.",
             "The Care Federation said so."]
    entities = org_entities("d0c0000000000001", [
        (0, "Care Federation", "fed", "rule"), (0, "National Health Agency", "agency", "rule"),
        (2, "Care Federation", "fed", "rule"),
        *[(2, "Option Holdings", "model:option-holdings", "model")] * 3,
    ])
    rows = run(texts, author=None, entities=entities)
    assert [(r["holder"], r["holder_id"], r["holder_is_author"], r["target"], r["stance"])
            for r in rows] == [("Care Federation", "fed", True, "option_1", "support")]


def test_a_known_author_is_kept_whatever_the_page_names(run: Run) -> None:
    entities = org_entities("d0c0000000000001", [(0, "Care Federation", "fed", "rule")])
    rows = run(["The Care Federation met us.", "We support Option 1."], entities=entities)
    assert taken(rows) == {(AUTHOR, "option_1", "support")}


def test_empty_document_gives_an_empty_table(run: Run) -> None:
    assert run([]) == []


def test_commitment_to_own_programme_is_support(run: Run) -> None:
    rows = run(["Strengthening our place-based partnerships with the voluntary sector."])
    assert taken(rows) == {(AUTHOR, "place_subsidiarity", "support")}
    assert taken(run(["Partners will develop place-based budgets."])) == set()


def test_document_voice_breaks_ties_by_first_named_and_ignores_model_only_names() -> None:
    from pipeline.stance.detect import document_voice
    from pipeline.stance.holders import Holder

    tie = org_entities("d1", [(0, "National Health Agency", "agency", "rule"),
                              (1, "Care Federation", "fed", "rule"),
                              (2, "Care Federation", "fed", "rule"),
                              (3, "National Health Agency", "agency", "rule")])
    assert document_voice(tie) == Holder("National Health Agency", "agency", True)
    model_only = org_entities("d1", [(0, "Option Holdings", "model:option-holdings", "model"),
                                     (1, "Some Group", None, "model")])
    assert document_voice(model_only) is None
    assert document_voice(None) is None


def test_a_legislature_is_never_the_voice_of_a_page() -> None:
    from pipeline.stance.detect import document_voice
    from pipeline.stance.holders import Holder

    table = org_entities("d1", [(0, "Parliament", "parliament", "rule"),
                                (1, "Parliament", "parliament", "rule"),
                                (2, "Care Federation", "fed", "rule")])
    types = ["legislature", "legislature", "other"]
    table = table.set_column(table.schema.get_field_index("org_type"), "org_type",
                             pa.array(types, pa.string()))
    assert document_voice(table) == Holder("Care Federation", "fed", True)
