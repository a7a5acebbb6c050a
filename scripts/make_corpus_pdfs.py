"""Lay out PDF versions of two corpus documents the way real reports look.

Running header and footer with page numbers on every page, headings, bullet lists; the
NHS Confederation briefing in two columns. The PDFs are written next to their text versions
in ``corpus/`` and are byte-for-byte reproducible (reportlab's invariant mode).

Usage: python scripts/make_corpus_pdfs.py [CORPUS_DIR]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, PageTemplate, Paragraph
from reportlab.platypus.flowables import Spacer

from pipeline.config import load_settings
from pipeline.ingest.document import text_blocks
from pipeline.ingest.structure import Block

rl_config.invariant = 1  # no timestamps or random ids: the same input gives the same bytes

MARGIN = 2 * cm
GUTTER = 1 * cm


@dataclass(frozen=True)
class Layout:
    """How one document is laid out."""

    source: str
    header: str
    footer: str
    columns: int


LAYOUTS = (
    Layout(
        source="colchester-borough-council-consultation-response-2020-12.txt",
        header="NHS Consultation on Integrating Care",
        footer="Colchester Borough Council | Cabinet report",
        columns=1,
    ),
    Layout(
        source="nhs-confederation-integrating-care-briefing-2020-11.txt",
        header="Integrating care: Next steps to building strong and effective integrated care "
        "systems across England",
        footer="NHS Confederation briefing",
        columns=2,
    ),
)


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontSize=10, leading=13, spaceAfter=6)
    return {
        "para": body,
        "heading": ParagraphStyle(
            "heading", parent=base["Heading2"], fontSize=13, leading=16, spaceBefore=8
        ),
        "item": ParagraphStyle("item", parent=body, leftIndent=14, bulletIndent=2, spaceAfter=3),
    }


def _flowables(blocks: list[Block]) -> list[Flowable]:
    styles = _styles()
    out: list[Flowable] = []
    for block in blocks:
        text = escape(block.text)
        if block.kind == "item":
            out.append(Paragraph(text, styles["item"], bulletText="•"))
        else:
            out.append(Paragraph(text, styles[block.kind]))
    out.append(Spacer(1, 6))
    return out


def _frames(columns: int) -> list[Frame]:
    width, height = A4
    usable = width - 2 * MARGIN
    col = (usable - (columns - 1) * GUTTER) / columns
    top, bottom = height - MARGIN - 0.8 * cm, MARGIN + 0.8 * cm
    return [
        Frame(MARGIN + i * (col + GUTTER), bottom, col, top - bottom, id=f"col{i}")
        for i in range(columns)
    ]


def build_pdf(layout: Layout, corpus: Path) -> Path:
    """Write ``corpus/<source stem>.pdf`` for ``layout``; return its path."""
    source = corpus / layout.source
    blocks = text_blocks(source.read_text(encoding="utf-8"), "txt", load_settings())
    target = source.with_suffix(".pdf")

    def furniture(canvas: Canvas, doc: BaseDocTemplate) -> None:
        width, height = A4
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(MARGIN, height - MARGIN + 0.2 * cm, layout.header)
        canvas.drawString(MARGIN, MARGIN - 0.4 * cm, layout.footer)
        canvas.drawRightString(width - MARGIN, MARGIN - 0.4 * cm, f"Page {doc.page}")
        canvas.restoreState()

    doc = BaseDocTemplate(
        str(target),
        pagesize=A4,
        title=layout.header,
        author="stancemap demo corpus",
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
    )
    doc.addPageTemplates([PageTemplate(frames=_frames(layout.columns), onPage=furniture)])
    doc.build(_flowables(blocks))
    return target


def main(argv: list[str]) -> int:
    """Build every PDF of ``LAYOUTS`` in the corpus folder (default ``corpus/``)."""
    corpus = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "corpus"
    for layout in LAYOUTS:
        path = build_pdf(layout, corpus)
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
