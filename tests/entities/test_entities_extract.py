"""extract_entities on sentences written for these tests (loads the spaCy model)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyarrow as pa
import pytest

from pipeline.config import load_settings
from pipeline.entities import EntityResult, OrganisationRegister, extract_entities
from pipeline.schema import ENTITIES

pytestmark = pytest.mark.slow

DOC_ID = "00000000feedbeef"
Run = Callable[[Sequence[str]], EntityResult]
Sentences = Callable[[Sequence[str]], pa.Table]


def _rows(result: EntityResult, label: str | None = "ORG") -> list[tuple[str, str | None, str]]:
    return [(r["text"], r["canonical_id"], r["source"]) for r in result.entities.to_pylist()
            if label is None or r["label"] == label]


def test_each_organisation_type(run: Run) -> None:
    result = run([
        "Mereshire County Council, NHS Mereshire CCG and Northfield Hospitals NHS Foundation "
        "Trust met the Department of Health and Social Care.",
        "The Kent and Medway ICS and One Gloucestershire spoke to the Royal College of Nursing "
        "and the King's Fund.",
        "NHSE/I should listen to the LGA and the BMA.",
    ])
    rows = [(r["text"], r["canonical_id"], r["org_type"]) for r in result.entities.to_pylist()
            if r["label"] == "ORG"]
    assert rows == [
        ("Mereshire County Council", "mereshire-county-council", "council"),
        ("NHS Mereshire CCG", "nhs-mereshire-ccg", "ccg"),
        ("Northfield Hospitals NHS Foundation Trust", "northfield-hospitals-nhs-foundation-trust",
         "trust"),
        ("Department of Health and Social Care", "department-of-health-and-social-care",
         "government"),
        ("Kent and Medway ICS", "kent-and-medway-ics", "ics"),
        ("One Gloucestershire", "one-gloucestershire-ics", "ics"),
        ("Royal College of Nursing", "royal-college-of-nursing", "professional_body"),
        ("King's Fund", "kings-fund", "other"),
        ("NHSE/I", "nhs-england-and-nhs-improvement", "nhs_national"),
        ("LGA", "local-government-association", "membership_body"),
        ("BMA", "british-medical-association", "professional_body"),
    ]


def test_offsets_index_the_sentence_text(run: Run) -> None:
    texts = ["In March the NHS Confederation and NHS Providers wrote to Parliament."]
    result = run(texts)
    table = result.entities
    assert table.schema.equals(ENTITIES, check_metadata=False)
    for row in table.to_pylist():
        assert texts[0][row["start"]:row["end"]] == row["text"]
        assert row["sentence_id"] == f"{DOC_ID}-00000"
        assert row["doc_id"] == DOC_ID
    assert _rows(result) == [("NHS Confederation", "nhs-confederation", "rule"),
                             ("NHS Providers", "nhs-providers", "rule"),
                             ("Parliament", "uk-parliament", "rule")]


def test_nhs_england_variants_share_one_id(run: Run) -> None:
    result = run(["NHSEI, NHSE/I, NHS England and NHS Improvement and NHS England NHS "
                  "Improvement are one body."])
    assert {cid for _, cid, _ in _rows(result)} == {"nhs-england-and-nhs-improvement"}
    assert [t for t, _, _ in _rows(result)] == [
        "NHSEI", "NHSE/I", "NHS England and NHS Improvement", "NHS England NHS Improvement"]


def test_acronym_defined_in_brackets_is_learned(run: Run) -> None:
    result = run(["Rivermouth Borough Council (RBC) welcomes the proposals.",
                  "RBC believes option 1 is better."])
    assert result.doc_aliases["RBC"] == "rivermouth-borough-council"
    assert _rows(result) == [
        ("Rivermouth Borough Council", "rivermouth-borough-council", "rule"),
        ("RBC", "rivermouth-borough-council", "rule"),
        ("RBC", "rivermouth-borough-council", "rule"),
    ]


def test_acronym_from_initials_is_learned(run: Run) -> None:
    result = run(["It is proposed that RBC answers the four questions.",
                  "Rivermouth Borough Council supports option 1."])
    assert result.doc_aliases["RBC"] == "rivermouth-borough-council"
    assert [cid for _, cid, _ in _rows(result)] == ["rivermouth-borough-council"] * 2


def test_acronym_of_a_common_noun_is_not_an_organisation(run: Run) -> None:
    result = run(["Each system will appoint an accountable officer (AO).",
                  "The AO will answer to the board."])
    assert _rows(result) == []
    assert "AO" not in result.doc_aliases


def test_legislation_policy_people_roles_and_dates(run: Run) -> None:
    result = run([
        "The Health and Social Care Act 2012 and the NHS Long Term Plan (LTP) shaped the ICS "
        "Design Framework; the LTP is central.",
        "Jane Ashworth, Chief Executive of the Harbour Carers Network, wrote on 12 March 2021.",
    ])
    rows = [(r["text"], r["label"], r["canonical_id"], r["canonical_name"], r["source"])
            for r in result.entities.to_pylist()]
    assert rows == [
        ("Health and Social Care Act 2012", "LAW", "health-and-social-care-act-2012",
         "Health and Social Care Act 2012", "rule"),
        ("NHS Long Term Plan", "POLICY", "nhs-long-term-plan", "NHS Long Term Plan", "rule"),
        ("LTP", "POLICY", "nhs-long-term-plan", "NHS Long Term Plan", "rule"),
        ("ICS Design Framework", "POLICY", "ics-design-framework", "ICS Design Framework",
         "rule"),
        ("LTP", "POLICY", "nhs-long-term-plan", "NHS Long Term Plan", "rule"),
        ("Jane Ashworth", "PERSON", "person:jane-ashworth", "Jane Ashworth (Chief Executive)",
         "model"),
        ("Chief Executive", "ROLE", None, "Chief Executive", "rule"),
        ("Harbour Carers Network", "ORG", "model:harbour-carers-network",
         "Harbour Carers Network", "model"),
        ("12 March 2021", "DATE", None, "12 March 2021", "model"),
    ]


def test_unlisted_act_is_law(run: Run) -> None:
    result = run(["The Mereshire Harbour Act 1998 still applies."])
    rows = [(r["text"], r["label"], r["canonical_id"], r["canonical_name"], r["source"])
            for r in result.entities.to_pylist() if r["label"] == "LAW"]
    assert rows == [("Mereshire Harbour Act 1998", "LAW", "mereshire-harbour-act-1998",
                     "Mereshire Harbour Act 1998", "rule")]


def test_systems_listed_without_suffix_count_only_in_a_list(run: Run) -> None:
    listed = run(["The first ICSs were: Dorset; Surrey Heartlands; Greater Nottingham."])
    assert [cid for _, cid, _ in _rows(listed)] == [
        "dorset-ics", "surrey-heartlands-ics", "nottingham-and-nottinghamshire-ics"]
    place = run(["Working as an ICS has been good for Dorset."])
    assert _rows(place) == []


def _with_ents(texts: Sequence[str], spans: Sequence[tuple[int, int, int, str]],
               register: OrganisationRegister, make_sentences: Sentences) -> EntityResult:
    """Run the stage on docs whose statistical entities are set by hand."""
    from spacy.tokens import Span

    from pipeline.nlp import parse

    settings = load_settings()
    docs = parse(list(texts), settings.nlp.spacy_model, settings.nlp.batch_size)
    for i, doc in enumerate(docs):
        doc.ents = [Span(doc, s, e, label=lab) for d, s, e, lab in spans if d == i]
    return extract_entities({"doc_id": DOC_ID}, make_sentences(texts), docs, register)


@pytest.mark.parametrize(("text", "start", "end", "label"), [
    ("Northshire Context", 0, 2, "PERSON"),  # a heading taken for a name
    ("Neighbourhoods of c.30 people", 2, 3, "ORG"),  # a number fragment
    ("Chair", 0, 1, "ORG"),  # a role word alone
    ("Board", 0, 1, "ORG"),
    ("KEY POINTS SUMMARY", 0, 3, "ORG"),  # an all-caps heading
    ("Integrated Care Systems", 0, 3, "ORG"),  # generic domain words only
    ("Strong and Effective Places", 0, 4, "ORG"),  # no organisation head word
    ("Communicating with partners", 0, 1, "ORG"),
    ("Email enquiries", 0, 1, "PERSON"),
    ("Annual review (PDF 310KB)", 3, 4, "ORG"),  # a download link's file format
    ("Z" * 40, 0, 1, "ORG"),  # a run of capitals is no acronym
    ("Annual review (PDF 310 KB)", 5, 6, "ORG"),  # and its size
    ("the recent years", 1, 3, "DATE"),
])
def test_noise_is_filtered(register: OrganisationRegister, make_sentences: Sentences, text: str,
                           start: int, end: int, label: str) -> None:
    result = _with_ents([text], [(0, start, end, label)], register, make_sentences)
    assert _rows(result, None) == []


def test_span_over_a_line_break_is_filtered(register: OrganisationRegister,
                                            make_sentences: Sentences) -> None:
    result = _with_ents(["Next steps\nHarbour Carers Network"], [(0, 0, 6, "ORG")], register,
                        make_sentences)
    assert _rows(result, None) == []


def test_model_only_organisation_gets_its_own_entry(register: OrganisationRegister,
                                                   make_sentences: Sentences) -> None:
    result = _with_ents(["The Eastbrook Patients Association wrote to us."], [(0, 0, 4, "ORG")],
                        register, make_sentences)
    assert _rows(result) == [("Eastbrook Patients Association",
                              "model:eastbrook-patients-association", "model")]
    org = register.get("model:eastbrook-patients-association")
    assert org is not None and org.type == "other"


def test_acronym_defined_after_a_model_only_organisation_is_learned(
        register: OrganisationRegister, make_sentences: Sentences) -> None:
    result = _with_ents(["The Eastbrook Patients Association (EPA) wrote to us.",
                         "The EPA said boards must include patients."], [(0, 1, 4, "ORG")],
                        register, make_sentences)
    assert result.doc_aliases["EPA"] == "model:eastbrook-patients-association"


def test_model_org_known_to_the_register_is_canonical(register: OrganisationRegister,
                                                     make_sentences: Sentences) -> None:
    result = _with_ents(["Our partners at Rivermouth Borough Council agreed."],
                        [(0, 3, 6, "ORG")], register, make_sentences)
    assert _rows(result) == [("Rivermouth Borough Council", "rivermouth-borough-council",
                              "rule")]


def _author(result: EntityResult) -> tuple[str, tuple[str, ...]] | None:
    if result.author is None:
        return None
    return result.author.canonical_id, result.author.cues


def test_author_from_letterhead(run: Run) -> None:
    result = run(["NHS Providers", "Briefing on the consultation",
                  "The proposals were published last month."])
    assert _author(result) == ("nhs-providers", ("edge_mention", "heading", "letterhead",
                                                 "mention"))
    assert result.author is not None and 0 < result.author.confidence <= 1


def test_author_from_report_of(run: Run) -> None:
    result = run(["Agenda item 4", "Report of Mereshire County Council",
                  "The proposals were published in November."])
    author = _author(result)
    assert author is not None and author[0] == "mereshire-county-council"
    assert "report_of" in author[1]
    assert result.doc_aliases["Council"] == "mereshire-county-council"
    assert result.doc_aliases["County Council"] == "mereshire-county-council"


def test_author_from_contact_domain(run: Run) -> None:
    result = run(["The consultation closes in January.",
                  "For more information visit www.local.gov.uk"])
    assert _author(result) == ("local-government-association", ("contact_domain",))


def test_link_to_a_publication_is_a_weak_cue(run: Run) -> None:
    result = run(["The framework is summarised at https://www.local.gov.uk/publications/x"])
    assert result.author is None


def test_author_from_about_the(run: Run) -> None:
    result = run(["The consultation closes in January.", "About the King's Fund",
                  "It is an independent charity."])
    author = _author(result)
    assert author is not None and author[0] == "kings-fund" and "about" in author[1]


def test_about_in_running_text_is_no_cue(run: Run) -> None:
    result = run(["About the King's Fund report, many commentators were divided on the merits."])
    assert result.author is None


def test_author_from_first_person_subject(run: Run) -> None:
    result = run(["Rivermouth Borough Council submits our response to the four questions.",
                  "We support option 1.", "We are a large borough."])
    author = _author(result)
    assert author is not None and author[0] == "rivermouth-borough-council"
    assert {"first_person_subject", "our_type"} <= set(author[1])


def test_author_from_subject_then_first_person(run: Run) -> None:
    result = run(["The Local Government Association broadly supports the Bill.",
                  "We are strongly in favour of the new duty.",
                  "The LGA welcomes the focus on prevention.", "We hope for guidance."])
    author = _author(result)
    assert author is not None and author[0] == "local-government-association"
    assert "next_first_person" in author[1]


def test_author_from_system_footprint(run: Run) -> None:
    result = run(["Partners will keep working together.",
                  "We will take decisions together on a Kent and Medway footprint."])
    assert _author(result) == ("kent-and-medway-ics", ("footprint",))
    assert result.doc_aliases == {"ICS": "kent-and-medway-ics"}


def test_no_author_without_cues(run: Run) -> None:
    assert run(["The weather was mild in March.", "Nobody said anything."]).author is None
    assert run(["A report says NHSEI published a paper on systems."]).author is None


def test_docs_must_match_sentences(register: OrganisationRegister,
                                   make_sentences: Sentences) -> None:
    from pipeline.nlp import parse

    settings = load_settings()
    docs = parse(["One.", "Two."], settings.nlp.spacy_model, 8)
    with pytest.raises(ValueError, match="2 parsed docs for 1 sentences"):
        extract_entities({"doc_id": DOC_ID}, make_sentences(["One."]), docs, register)


def test_empty_document(register: OrganisationRegister, make_sentences: Sentences) -> None:
    empty = make_sentences([])
    result = extract_entities({"doc_id": DOC_ID}, empty, [], register)
    assert result.entities.num_rows == 0
    assert isinstance(result.entities, pa.Table)
    assert result.author is None and result.doc_aliases == {}
