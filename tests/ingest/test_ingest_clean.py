"""Each cleaning rule, plus property-based checks (no exception, idempotent)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ingest.clean import (
    collapse_spaces,
    ends_sentence,
    is_lone_bullet,
    join_wrapped,
    normalize,
    rejoin_split_words,
    remove_isolated_page_breaks,
    remove_running_lines,
    replace_unmapped_glyphs,
    running_signatures,
    signature,
    strip_markers,
)
from pipeline.ingest.vocab import Vocabulary

VOCAB = frozenset(
    [
        "integrated",
        "care",
        "systems",
        "rated",
        "a",
        "part",
        "apart",
        "the",
        "plan",
        "implementation",
        "well",
        "known",
        "into",
        "in",
        "to",
        "organisation",
        "organisations",
        "partnership",
        "working",
    ]
)


def test_normalize_removes_invisible_and_control_characters() -> None:
    text = "co\u00adoperate\u200b now\r\nnext\x07line\u00a0here\u2003end\fpage\ttab"
    assert normalize(text) == "cooperate now\nnext line here end\fpage\ttab"


def test_normalize_removes_bidirectional_controls() -> None:
    # Under a right-to-left override the letters "esoppo" show as "oppose"; left unclosed,
    # it reverses the document and page after the quote too, in every report and export.
    # Marks (U+200F) and the letters of right-to-left scripts stay.
    text = "We \u202eesoppo\u202c Option 2; \u2067isolated\u2069 and \u202dforced\u202a."
    assert normalize(text) == "We esoppo Option 2; isolated and forced."
    assert normalize("\u05e9\u05dc\u05d5\u05dd \u200fmark") == "\u05e9\u05dc\u05d5\u05dd \u200fmark"


def test_normalize_unfolds_ligatures() -> None:
    assert normalize("ﬁnance ﬂow") == "finance flow"


def test_collapse_spaces_folds_tabs_and_runs() -> None:
    assert collapse_spaces("  a \t\t b    c \t") == "a b c"


def test_rejoin_split_word_with_tab_or_space() -> None:
    assert (
        rejoin_split_words("Establishing Integ\trated Care", VOCAB)
        == "Establishing Integrated Care"
    )
    assert rejoin_split_words("new integ rated plan", VOCAB) == "new integrated plan"


def test_rejoin_keeps_pairs_of_known_words() -> None:
    # "apart" is a word, but "a" and "part" are words too: never joined.
    assert rejoin_split_words("a part of the plan", VOCAB) == "a part of the plan"
    assert rejoin_split_words("in to the plan", VOCAB) == "in to the plan"


def test_rejoin_needs_the_joined_form_known() -> None:
    assert rejoin_split_words("Zorbl ated", VOCAB) == "Zorbl ated"
    assert rejoin_split_words("Integ Rated", VOCAB) == "Integ Rated"  # capital: a new word


def test_rejoin_uses_document_frequency() -> None:
    vocab = Vocabulary.from_texts(["collaboratives collaboratives and collabor atives"])
    assert "collaboratives" in vocab and "collabor" not in vocab
    assert rejoin_split_words("provider collabor atives", vocab) == "provider collaboratives"


def test_dehyphenation_at_line_end() -> None:
    assert join_wrapped("the imple-", "mentation plan", VOCAB) == "the implementation plan"
    # not a known word once joined: the hyphen is part of the compound
    assert join_wrapped("a well-", "known plan", VOCAB) == "a well-known plan"
    assert join_wrapped("see page", "two", VOCAB) == "see page two"
    assert join_wrapped("Option 2 -", "the body", VOCAB) == "Option 2 - the body"


def test_strip_bullets_and_paragraph_numbers() -> None:
    cases = {
        "• First point": "First point",
        "– Second point": "Second point",
        "- Third": "Third",
        "* Fourth": "Fourth",
        "▪ Fifth": "Fifth",
        "2.3 The board agreed": "The board agreed",
        "1. Introduction": "Introduction",
        "a) managing resources": "managing resources",
        "(b) building partnerships": "building partnerships",
        "iv. the fourth": "the fourth",
        "- 1.1 A new report": "A new report",
    }
    for raw, expected in cases.items():
        assert strip_markers(raw) == (expected, True), raw


def test_strip_markers_leaves_ordinary_text() -> None:
    for text in (
        "28 March 2019 was a Thursday",
        "2021/22 becomes a year",
        "NHS bodies",
        "-5 degrees",
    ):
        assert strip_markers(text) == (text, False), text


def test_lone_bullet_and_sentence_end() -> None:
    assert is_lone_bullet(" • ") and is_lone_bullet("–") and not is_lone_bullet("• a")
    assert (
        ends_sentence("It ended.")
        and ends_sentence('He said "yes."')
        and ends_sentence("as follows:")
    )
    assert not ends_sentence("and then the")


def test_unmapped_glyph_at_line_start_is_a_bullet() -> None:
    assert (
        replace_unmapped_glyphs("(cid:127) Place-based partnerships")
        == "• Place-based partnerships"
    )
    assert replace_unmapped_glyphs("care(cid:3) plan") == "care plan"


def test_running_header_footer_and_page_numbers_removed_by_repetition() -> None:
    pages = [
        ["Annual review of care", "Body text on page one.", "More text.", "Page 1 of 3"],
        ["Annual review of care", "Body text on page two.", "Page 2 of 3"],
        ["Annual review of care", "A final page of text.", "Page 3 of 3"],
    ]
    kept, dropped = remove_running_lines(pages, min_share=0.5)
    assert kept == [
        ["Body text on page one.", "More text."],
        ["Body text on page two."],
        ["A final page of text."],
    ]
    assert dropped == ["Annual review of care"] * 3
    assert signature("Page 12 of 30") == signature("page 3 of 4") == "page # of #"


def test_running_lines_need_the_minimum_share() -> None:
    pages = [["Once only heading", "text a"], ["text b"], ["text c"], ["text d"]]
    assert running_signatures(pages, min_share=0.5) == set()
    assert running_signatures([["single page"]], min_share=0.1) == set()


def test_isolated_page_break_in_plain_text() -> None:
    lines = [
        "The budget will bring together the current",
        "",
        "Example Org",
        "",
        "A long running title of the report",
        "",
        "2",
        "",
        "commissioning budgets of the area.",
        "",
        "Next paragraph.",
    ]
    kept, dropped = remove_isolated_page_breaks(lines)
    assert kept == [
        "The budget will bring together the current",
        "commissioning budgets of the area.",
        "",
        "Next paragraph.",
    ]
    assert dropped == ["Example Org", "A long running title of the report"]


def test_isolated_page_break_keeps_numbered_text() -> None:
    lines = ["Intro.", "", "1. First item.", "", "2021 was busy."]
    assert remove_isolated_page_breaks(lines) == (lines, [])


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab \tIntegrated ratedcaresplan-•1.)")), max_size=80))
def test_rejoin_is_idempotent(text: str) -> None:
    once = rejoin_split_words(text, VOCAB)
    assert rejoin_split_words(once, VOCAB) == once


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_cleaning_never_raises_and_is_idempotent(text: str) -> None:
    cleaned = collapse_spaces(normalize(text))
    assert collapse_spaces(normalize(cleaned)) == cleaned
    stripped, _ = strip_markers(cleaned)
    assert strip_markers(stripped)[0] == stripped
    lines = cleaned.split("\n")
    kept, _ = remove_isolated_page_breaks(lines)
    assert remove_isolated_page_breaks(kept)[0] == kept
    remove_running_lines([lines, lines], 0.5)
    replace_unmapped_glyphs(text)
