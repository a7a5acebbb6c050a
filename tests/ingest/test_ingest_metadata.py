"""Dates, titles and kinds inferred from text; the sidecar file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipeline.errors import DocumentError
from pipeline.ingest.dates import parse_date
from pipeline.ingest.metadata import Sidecar, infer_date, infer_kind, infer_title, read_sidecar
from pipeline.ingest.structure import Block


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("28 March 2019", dt.date(2019, 3, 28)),
        ("28th March, 2019", dt.date(2019, 3, 28)),
        ("Friday 8 January 2021", dt.date(2021, 1, 8)),
        ("March 28, 2019", dt.date(2019, 3, 28)),
        ("Thursday, August 6, 2020", dt.date(2020, 8, 6)),
        ("July 2021", dt.date(2021, 7, 1)),
        ("Sept 2020", dt.date(2020, 9, 1)),
        ("2019-03-28", dt.date(2019, 3, 28)),
        ("17/12/2020", dt.date(2020, 12, 17)),
        ("05.11.2020", dt.date(2020, 11, 5)),
        (" 1 April 2022. ", dt.date(2022, 4, 1)),
    ],
)
def test_parse_date(text: str, expected: dt.date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text", ["31/02/2020", "by April 2022 at the latest", "2022", "the 3rd", "", "13/13/2013"]
)
def test_parse_date_rejects_non_dates(text: str) -> None:
    assert parse_date(text) is None


def test_infer_date_prefers_labelled_field() -> None:
    lines = ["Board paper", "Agenda item:\t4", "Meeting Date:\t5 May 2020\t", "June 2019"]
    assert infer_date(lines) == dt.date(2020, 5, 5)


def test_infer_date_takes_a_standalone_date_near_the_top_only() -> None:
    assert infer_date(["A plan", "", "October 2020", "Text."]) == dt.date(2020, 10, 1)
    body = ["A plan", "We will respond by 8 January 2021 at the latest."]
    assert infer_date(body) is None
    late = ["Title", *[f"Paragraph {i}." for i in range(30)], "October 2020"]
    assert infer_date(late) is None


def test_infer_title_order() -> None:
    blocks = [Block("heading", "Key points"), Block("heading", "Better care together")]
    assert infer_title(["Subject: Winter plan\tref 4"], blocks, "Page title", []) == "Winter plan"
    assert infer_title(["x"], blocks, "Page title", []) == "Page title"
    assert infer_title(["x"], blocks, None, ["Our annual plan", "Page 2"]) == "Our annual plan"
    assert infer_title(["x"], blocks, None, []) == "Better care together"
    assert infer_title([], [Block("para", "Only text here.")], None, []) == "Only text here."
    assert infer_title([], [], None, []) is None


def test_infer_title_skips_dates_codes_and_generic_lines() -> None:
    blocks = [
        Block("para", "8 January 2021"),
        Block("heading", "REF0042"),
        Block("heading", "Agenda item"),
        Block("para", "Submission on the future of community services"),
    ]
    assert infer_title([], blocks, None, []) == "Submission on the future of community services"


def test_infer_title_skips_generic_format_title() -> None:
    blocks = [Block("heading", "Introduction"), Block("heading", "Working together")]
    assert infer_title([], blocks, "Introduction", []) == "Working together"


@pytest.mark.parametrize(
    ("title", "text", "kind"),
    [
        (
            "Budget",
            "Report of the Director\nWards affected: All\nRecommended Decision",
            "council_report",
        ),
        (
            "Paper",
            "Board Meetings held in Common\nDecision Making Responsibility: joint",
            "nhse_paper",
        ),
        (
            "Briefing",
            "We asked our members and our member networks for views.",
            "membership_briefing",
        ),
        ("Reply", "This is our formal response to the consultation.", "consultation_response"),
        ("ICS Development update", "Partners in the ICS agreed.", "ics_update"),
        ("Item 4", "Minutes:\nThe committee received a report from officers.", "council_report"),
        ("Written evidence submitted by a college", "Our views follow.", "consultation_response"),
        ("Notes", "The weather was fine.", "other"),
    ],
)
def test_infer_kind(title: str, text: str, kind: str) -> None:
    assert infer_kind(title, text) == kind


def test_sidecar_parsed(tmp_path: Path) -> None:
    path = tmp_path / "a.pdf.meta.yaml"
    path.write_text(
        "title: A title\nauthor_org: Example Council\ndate: 2020-12-17\n"
        "doc_kind: council_report\npassword: secret\n",
        encoding="utf-8",
    )
    sidecar = read_sidecar(path, "a.pdf")
    assert sidecar == Sidecar(
        "A title", "Example Council", dt.date(2020, 12, 17), "council_report", "secret"
    )
    assert sidecar.given() == {"title", "author_org", "date", "doc_kind"}
    assert read_sidecar(None, "a.pdf") == Sidecar()


def test_sidecar_text_is_cleaned_like_document_text(tmp_path: Path) -> None:
    path = tmp_path / "a.txt.meta.yaml"
    path.write_text(
        'title: "Minutes\\e]0;owned\\a of the\\nboard \\u202eeltit"\n'
        'author_org: "Bramblewick\\e[2J \\t Council\\u200b"\n'
        'doc_kind: " council_report\\x07"\npassword: "p\\tw\\e"\n',
        encoding="utf-8",
    )
    assert read_sidecar(path, "a.txt") == Sidecar(
        "Minutes ]0;owned of the board eltit", "Bramblewick [2J Council", None,
        "council_report", "p\tw\x1b")  # the password is used as written
    path.write_text('title: "\\e\\u202e"\n', encoding="utf-8")
    assert read_sidecar(path, "a.txt").title is None


def test_sidecar_date_as_text(tmp_path: Path) -> None:
    path = tmp_path / "a.txt.meta.yaml"
    path.write_text("date: '17 December 2020'\n", encoding="utf-8")
    assert read_sidecar(path, "a.txt").date == dt.date(2020, 12, 17)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- a list\n", "must be a mapping"),
        ("titel: typo\n", "unknown keys ['titel']"),
        ("doc_kind: memo\n", "doc_kind 'memo' is not one of"),
        ("date: soon\n", "date 'soon' is not a date"),
        ("title: [unclosed\n", "cannot read sidecar"),
        ("!!python/object:os.system ls\n", "cannot read sidecar"),
    ],
)
def test_bad_sidecar(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "a.txt.meta.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DocumentError, match=r"a\.txt") as info:
        read_sidecar(path, "a.txt")
    assert info.value.kind == "sidecar"
    assert message in str(info.value)
