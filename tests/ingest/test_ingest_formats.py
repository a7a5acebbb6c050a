"""Each format end to end through ``ingest_document`` (loads spaCy's sentence recogniser)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from pipeline import schema
from pipeline.config import Settings
from pipeline.ingest import IngestedDocument, discover, ingest_document
from tests.ingest.helpers import pdf_bytes, source_for, two_column_pdf, with_ingest

pytestmark = pytest.mark.slow

WriteFile = Callable[[str, bytes | str], Path]

TEXT = (
    "Winter pressures plan\n"
    "\n"
    "March 2024\n"
    "\n"
    "Summary\n"
    "\n"
    "The hospital trust has agreed a plan for the winter. It adds forty beds and a new\n"
    "discharge team.\n"
    "\n"
    "• The council will fund extra home care.\n"
    "• The trust will open a second ward.\n"
)


def check_invariants(result: IngestedDocument, data: bytes) -> None:
    """Schemas, ids and the offsets contract every ingested document keeps."""
    assert result.doc_id == hashlib.sha256(data).hexdigest()[:16]
    schema.validate("pages", result.pages)
    schema.validate("sentences", result.sentences)
    schema.to_table("documents", [result.document])
    pages = {row["page"]: row["text"] for row in result.pages.to_pylist()}
    for row in result.sentences.to_pylist():
        assert pages[row["page"]][row["start"] : row["end"]] == row["text"]
        assert row["sentence_id"] == f"{result.doc_id}-{row['idx']:05d}"
    assert result.sentences.column("idx").to_pylist() == list(range(result.sentences.num_rows))
    assert result.document["n_sentences"] == result.sentences.num_rows
    assert result.document["sha256"] == hashlib.sha256(data).hexdigest()
    assert result.document["size_bytes"] == len(data)


def ingest(path: Path, settings: Settings) -> IngestedDocument:
    result = ingest_document(source_for(path, settings), settings)
    check_invariants(result, path.read_bytes())
    return result


def texts(result: IngestedDocument) -> list[str]:
    return [str(t) for t in result.sentences.column("text").to_pylist()]


def test_plain_text(write_file: WriteFile, settings: Settings) -> None:
    result = ingest(write_file("plan.txt", TEXT), settings)
    assert texts(result) == [
        "Winter pressures plan",
        "March 2024",
        "Summary",
        "The hospital trust has agreed a plan for the winter.",
        "It adds forty beds and a new discharge team.",
        "The council will fund extra home care.",
        "The trust will open a second ward.",
    ]
    rows = result.sentences.to_pylist()
    assert [r["section"] for r in rows] == [
        "Winter pressures plan", "Winter pressures plan", "Summary", "Summary", "Summary",
        "Summary", "Summary",
    ]  # fmt: skip
    assert all(r["page"] is None for r in rows)
    doc = result.document
    assert doc["format"] == "txt" and doc["n_pages"] is None
    assert doc["title"] == "Winter pressures plan"
    assert doc["date"] == dt.date(2024, 3, 1)
    assert doc["metadata_source"] == "inferred"
    assert doc["author_org"] is None and doc["author_org_id"] is None
    assert result.pages.num_rows == 1 and result.pages.column("page").to_pylist() == [None]


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-8", b""),
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("cp1252", b""),
        ("latin-1", b""),
    ],
)
def test_text_encodings(
    write_file: WriteFile, settings: Settings, encoding: str, bom: bytes
) -> None:
    text = (
        "Café services at the Hôpital were reviewed in detail by the committee members.\n"
        "The committee noted the £2 million cost and the naïve estimate of savings made before.\n"
    )
    if encoding == "cp1252":
        text += "It called the report “thorough” – a rare compliment from the members.\n"
    result = ingest(write_file("enc.txt", bom + text.encode(encoding)), settings)
    joined = " ".join(texts(result))
    assert "Café services at the Hôpital" in joined and "£2 million" in joined
    assert "naïve" in joined
    if encoding == "cp1252":
        assert "“thorough” –" in joined


def test_awkward_file_name(write_file: WriteFile, settings: Settings) -> None:
    name = 'sub dir/-rapport d\'été "final".txt'
    path = write_file(name, "The summer report is final.")
    (source,) = discover(path.parent.parent, settings)
    result = ingest_document(source, settings)
    check_invariants(result, path.read_bytes())
    assert result.document["source_path"] == name
    assert texts(result) == ["The summer report is final."]


def test_encoding_is_logged(
    write_file: WriteFile, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    data = "Le comité a approuvé le budget de l’année prochaine.".encode("cp1252")
    with caplog.at_level("INFO", logger="pipeline.ingest"):
        ingest(write_file("fr.txt", data), settings)
    assert "fr.txt: decoded as cp1252" in caplog.text


def test_plain_text_with_form_feed_pages_drops_running_lines(
    write_file: WriteFile, settings: Settings
) -> None:
    pages = [
        f"Quarterly performance report\n\nThe waiting list fell in month {n}.\n\n- {n} -"
        for n in (1, 2, 3)
    ]
    result = ingest(write_file("report.txt", "\f".join(pages)), settings)
    assert texts(result) == [f"The waiting list fell in month {n}." for n in (1, 2, 3)]
    assert result.document["title"] == "Quarterly performance report"


def test_html_declared_charset(write_file: WriteFile, settings: Settings) -> None:
    page = (
        '<html><head><meta charset="windows-1252"><title>Café</title></head>'
        "<body><p>The café on the ward will reopen in the spring.</p></body></html>"
    ).encode("cp1252")
    assert texts(ingest(write_file("cafe.htm", page), settings)) == [
        "The café on the ward will reopen in the spring."
    ]


def test_markdown(write_file: WriteFile, settings: Settings) -> None:
    source = (
        "# Community care review\n\nJune 2022\n\n## Findings\n\n"
        "The review found **strong** support for [local teams](https://example.org).\n\n"
        "- Teams share one record.\n- Visits start earlier.\n"
    )
    result = ingest(write_file("review.md", source), settings)
    assert texts(result) == [
        "Community care review",
        "June 2022",
        "Findings",
        "The review found strong support for local teams.",
        "Teams share one record.",
        "Visits start earlier.",
    ]
    assert result.document["title"] == "Community care review"
    assert result.document["date"] == dt.date(2022, 6, 1)
    assert result.document["format"] == "md"


def test_html_drops_scripts_styles_and_navigation(
    write_file: WriteFile, settings: Settings
) -> None:
    page = (
        "<html><head><title>Health board minutes</title><style>p {color: red}</style>"
        "<script>alert('x')</script></head><body onload=\"steal()\">"
        "<nav><a href='/'>Home</a> <a href='/about'>About</a></nav>"
        "<h1>Minutes of the meeting</h1>"
        '<p onclick="evil()">The board <b>approved</b> the budget. It meets again in May.</p>'
        "<ul><li>Item one was agreed.</li><li>Item two was deferred.</li></ul>"
        "<table><tr><td>Cell text here.</td><td>Second cell.</td></tr></table>"
        "<script>document.write('injected text')</script><noscript>enable scripts</noscript>"
        "</body></html>"
    )
    result = ingest(write_file("minutes.html", page), settings)
    assert texts(result) == [
        "Minutes of the meeting",
        "The board approved the budget.",
        "It meets again in May.",
        "Item one was agreed.",
        "Item two was deferred.",
        "Cell text here.",
        "Second cell.",
    ]
    assert result.document["title"] == "Health board minutes"
    assert result.document["format"] == "html"


def make_docx() -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = "Primary care strategy"
    document.add_heading("Primary care strategy", level=0)
    document.add_heading("Our aims", level=1)
    document.add_paragraph("Practices will work in networks. Each network serves a town.")
    document.add_paragraph("Longer opening hours.", style="List Bullet")
    document.add_paragraph("More nurses in practices.", style="List Number")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Funding is agreed."
    table.rows[0].cells[1].text = "Staff are recruited."
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx(write_file: WriteFile, settings: Settings) -> None:
    result = ingest(write_file("strategy.docx", make_docx()), settings)
    assert texts(result) == [
        "Primary care strategy",
        "Our aims",
        "Practices will work in networks.",
        "Each network serves a town.",
        "Longer opening hours.",
        "More nurses in practices.",
        "Funding is agreed.",
        "Staff are recruited.",
    ]
    sections = result.sentences.column("section").to_pylist()
    assert sections[2:] == ["Our aims"] * 6
    assert result.document["title"] == "Primary care strategy"
    assert result.document["format"] == "docx"


PDF_PAGES = [
    [
        "Ambulance response review",
        "The service met its target for the most urgent calls in every",
        "month of the year. Handover delays at the hospitals remain",
        "the main problem for crews.",
    ],
    [
        "The board asked for a plan to reduce the delays by the spring.",
        "Managers will report progress at each meeting.",
    ],
    ["Crews will get new vehicles next year.", "The depot will also be rebuilt."],
]


@pytest.mark.parametrize("extractor", ["pdfplumber", "pdfium"])
def test_pdf_pages_with_running_header_footer(
    write_file: WriteFile, settings: Settings, extractor: str
) -> None:
    data = pdf_bytes(PDF_PAGES, header="Regional ambulance trust", footer="Board papers")
    result = ingest(write_file("review.pdf", data), with_ingest(settings, pdf_extractor=extractor))
    rows = result.sentences.to_pylist()
    assert [(r["page"], r["text"]) for r in rows] == [
        (1, "Ambulance response review"),
        (1, "The service met its target for the most urgent calls in every month of the year."),
        (1, "Handover delays at the hospitals remain the main problem for crews."),
        (2, "The board asked for a plan to reduce the delays by the spring."),
        (2, "Managers will report progress at each meeting."),
        (3, "Crews will get new vehicles next year."),
        (3, "The depot will also be rebuilt."),
    ]
    assert result.pages.column("page").to_pylist() == [1, 2, 3]
    assert result.document["n_pages"] == 3
    assert result.document["title"] == "Regional ambulance trust"
    assert result.document["format"] == "pdf"


def test_two_column_pdf_is_read_column_by_column(write_file: WriteFile, settings: Settings) -> None:
    left = [f"Left column sentence number {i} is about the left side." for i in range(1, 9)]
    right = [f"Right column sentence number {i} is about the right side." for i in range(1, 9)]
    result = ingest(write_file("columns.pdf", two_column_pdf(left, right)), settings)
    assert texts(result) == left + right


def test_ingest_is_pure_and_deterministic(write_file: WriteFile, settings: Settings) -> None:
    path = write_file("plan.txt", TEXT)
    before = sorted(p.name for p in path.parent.iterdir())
    first = ingest(path, settings)
    second = ingest(path, settings)
    assert sorted(p.name for p in path.parent.iterdir()) == before
    assert first.sentences.equals(second.sentences) and first.pages.equals(second.pages)
    assert isinstance(first.pages, pa.Table)


def test_sidecar_overrides_metadata(write_file: WriteFile, settings: Settings) -> None:
    path = write_file("plan.txt", TEXT)
    write_file("plan.txt.meta.yaml", "title: Winter plan 2024\nauthor_org: Example Trust\n")
    doc = ingest(path, settings).document
    assert doc["title"] == "Winter plan 2024" and doc["author_org"] == "Example Trust"
    assert doc["date"] == dt.date(2024, 3, 1)  # still inferred
    assert doc["metadata_source"] == "mixed"
    write_file(
        "plan.txt.meta.yaml",
        "title: T\ndate: 2024-01-31\ndoc_kind: ics_update\n",
    )
    doc = ingest(path, settings).document
    assert (doc["date"], doc["doc_kind"], doc["metadata_source"]) == (
        dt.date(2024, 1, 31), "ics_update", "sidecar"
    )  # fmt: skip


def test_threads_give_the_same_rows(write_file: WriteFile, settings: Settings) -> None:
    from concurrent.futures import ThreadPoolExecutor

    paths = [write_file(f"doc{i}.txt", TEXT + f"\nNote {i} was added last.\n") for i in range(6)]
    sources = [source_for(p, settings) for p in paths]
    alone = [ingest_document(s, settings).sentences for s in sources]
    with ThreadPoolExecutor(max_workers=3) as pool:
        together = list(pool.map(lambda s: ingest_document(s, settings).sentences, sources))
    assert all(a.equals(b) for a, b in zip(alone, together, strict=True))


# A consultation answer laid out as a PDF: the question label's line ends with a comma and
# the answer starts a new paragraph (a wider gap), then a question run into its answer.
ANSWER_PAGES = [
    [
        "Consultation answers",
        "Question 1: Drawing on our years of joint work with the health alliance and the wider",
        "integrated care system,",
        "",
        "Exampleton Council supports making integrated care systems statutory in every area.",
        "However, leaders need time to build trust.",
        "Do you agree that a statutory body gives more incentive to collaborate? The Council",
        "does not agree, because councils would lose their equal place at the table.",
        "Question 3 covers membership, which we leave to systems. Question 4: We support",
        "delegation once systems are ready.",
    ],
]


@pytest.mark.parametrize("extractor", ["pdfplumber", "pdfium"])
def test_pdf_question_and_answer_are_separate_sentences(
    write_file: WriteFile, settings: Settings, extractor: str
) -> None:
    data = pdf_bytes(ANSWER_PAGES)
    result = ingest(write_file("answers.pdf", data), with_ingest(settings, pdf_extractor=extractor))
    found = texts(result)
    assert "Exampleton Council supports making integrated care systems statutory in every area." \
        in found or extractor == "pdfium"  # pdfium gives no line positions: no paragraph gaps
    assert "Do you agree that a statutory body gives more incentive to collaborate?" in found
    assert ("The Council does not agree, because councils would lose their equal place at the "
            "table.") in found
    assert "Question 3 covers membership, which we leave to systems." in found
    assert "Question 4: We support delegation once systems are ready." in found
