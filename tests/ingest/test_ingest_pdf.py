"""The ``auto`` PDF extractor: pdfium's characters laid out by pdfplumber's rules, and
pdfplumber itself for the pages that need it."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.errors import DocumentError
from pipeline.ingest import pdf
from pipeline.ingest.clean import replace_unmapped_glyphs
from tests.ingest.helpers import pdf_bytes, two_column_pdf
from tests.script_loader import load_script

LIMITS = (1000, 1 << 30)


def _pages(data: bytes, extractor: str, password: str | None = None) -> list[list[str]]:
    return pdf.extract_pdf(data, "test.pdf", extractor, password, LIMITS, lambda _: None)


Auto = Callable[..., tuple[list[list[str]], list[int]]]


@pytest.fixture
def auto(monkeypatch: pytest.MonkeyPatch) -> Auto:
    """Read a PDF with the auto extractor: its pages, and the numbers of the pages it handed
    to pdfplumber."""
    read = pdf._plumber_page

    def run(data: bytes, password: str | None = None) -> tuple[list[list[str]], list[int]]:
        seen: list[int] = []

        def counted(document: object, name: str, number: int) -> str:
            seen.append(number)
            return read(document, name, number)

        with monkeypatch.context() as patch:
            patch.setattr(pdf, "_plumber_page", counted)
            pages = _pages(data, "auto", password)
        return pages, seen

    return run


def _rotated_pdf() -> bytes:
    """One page: a line set upright, then a line turned a quarter turn (a margin note)."""
    from reportlab import rl_config
    from reportlab.pdfgen.canvas import Canvas

    rl_config.invariant = 1
    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    canvas.setFont("Helvetica", 10)
    canvas.drawString(72, 760, "The trust supports the plan for the new clinic.")
    canvas.saveState()
    canvas.translate(40, 300)
    canvas.rotate(90)
    canvas.drawString(0, 0, "Draft for the board only")
    canvas.restoreState()
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


PAGES = [
    ["Annual review of the community services", "",
     "The council welcomes the plan, provided that funding follows the new duties.",
     "We are concerned that smaller providers will struggle to take part."],
    ["Question 2: Do you agree with the proposal?",
     "Yes. The partnership should keep a seat for the voluntary sector."],
]


def test_auto_reads_plain_pages_as_pdfplumber_does(auto: Auto) -> None:
    data = pdf_bytes(PAGES, header="Borough council", footer="Cabinet papers")
    pages, fallbacks = auto(data)
    assert pages == _pages(data, "pdfplumber")
    assert pages[1] == [
        "Borough council", "Question 2: Do you agree with the proposal?",
        "Yes. The partnership should keep a seat for the voluntary sector.", "",
        "Cabinet papers, page 2"]
    assert fallbacks == []


def test_auto_reads_two_columns_one_after_the_other(auto: Auto) -> None:
    left = [f"Left point {i} is about waiting times." for i in range(8)]
    right = [f"Right point {i} is about the workforce." for i in range(8)]
    data = two_column_pdf(left, right)
    pages, fallbacks = auto(data)
    lines = pages[0]
    assert lines == _pages(data, "pdfplumber")[0]
    assert lines == left + right
    assert fallbacks == []


def test_auto_hands_a_page_with_rotated_text_to_pdfplumber(auto: Auto) -> None:
    data = _rotated_pdf()
    pages, fallbacks = auto(data)
    assert pages == _pages(data, "pdfplumber")
    assert fallbacks == [1]


def test_auto_hands_a_page_without_text_to_pdfplumber(auto: Auto) -> None:
    data = load_script("hostile_corpus").image_only_pdf()
    pages, fallbacks = auto(data)
    assert pages == _pages(data, "pdfplumber") == [[""], [""]]
    assert fallbacks == [1, 2]


def test_auto_opens_an_encrypted_pdf_with_its_password(auto: Auto) -> None:
    data = pdf_bytes(PAGES, password="s3cret")
    pages, fallbacks = auto(data, "s3cret")
    assert pages == _pages(data, "pdfplumber", "s3cret")
    assert fallbacks == []


def test_auto_gives_pdfplumbers_error_when_pdfium_cannot_open_the_file() -> None:
    data = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
    errors = []
    for extractor in ("auto", "pdfplumber"):
        with pytest.raises(DocumentError) as caught:
            _pages(data, extractor)
        errors.append((type(caught.value), caught.value.reason))
    assert errors[0] == errors[1]


@pytest.mark.shared
@pytest.mark.slow
def test_auto_matches_pdfplumber_on_real_pdfs(shared_dir: Path, corpus_dir: Path) -> None:
    """Every page of the real-world PDFs reads the same; pdfium maps the bullets that
    pdfminer leaves as "(cid:N)", which cleaning turns into the same bullet."""
    paths = sorted((shared_dir / "pdfs").glob("*.pdf")) + sorted(corpus_dir.glob("*.pdf"))
    compared = 0
    for path in paths:
        data = path.read_bytes()
        try:
            expected = _pages(data, "pdfplumber")
        except DocumentError:
            continue
        got = _pages(data, "auto")
        assert [[replace_unmapped_glyphs(line) for line in page] for page in got] == [
            [replace_unmapped_glyphs(line) for line in page] for page in expected], path.name
        compared += len(expected)
    assert compared >= 30


@pytest.mark.parametrize("extractor", ["auto", "pdfium"])
def test_threads_may_read_pdfs_at_once(extractor: str) -> None:
    """PDFium must not be entered by two threads at once: the calls take turns."""
    from concurrent.futures import ThreadPoolExecutor

    documents = [pdf_bytes([[f"Page {p} of document {d} says the plan is sound."] * 30
                            for p in range(3)]) for d in range(6)]
    alone = [_pages(data, extractor) for data in documents]
    with ThreadPoolExecutor(max_workers=3) as pool:
        together = list(pool.map(lambda data: _pages(data, extractor), documents * 3))
    assert together == alone * 3
