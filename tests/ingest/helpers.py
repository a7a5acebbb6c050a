"""Helpers for the ingestion tests: settings variants, sources, small PDFs made on the fly."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from pipeline.config import Settings
from pipeline.ingest import SourceFile, discover


def with_corpus(settings: Settings, **changes: object) -> Settings:
    """``settings`` with some ``corpus:`` values changed."""
    return settings.model_copy(update={"corpus": settings.corpus.model_copy(update=changes)})


def with_ingest(settings: Settings, **changes: object) -> Settings:
    """``settings`` with some ``ingest:`` values changed."""
    return settings.model_copy(update={"ingest": settings.ingest.model_copy(update=changes)})


def source_for(path: Path, settings: Settings) -> SourceFile:
    """The SourceFile that discover() gives for ``path`` (in its own folder)."""
    found = [s for s in discover(path.parent, settings) if s.path == path.absolute()]
    assert len(found) == 1, found
    return found[0]


PdfPage = Sequence[str]


def pdf_bytes(
    pages: Sequence[PdfPage],
    *,
    password: str | None = None,
    header: str | None = None,
    footer: str | None = None,
) -> bytes:
    """A PDF with one text line per entry of each page; optional running header/footer (the
    footer gets ", page N" appended) and optional password."""
    from reportlab import rl_config
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen.canvas import Canvas

    rl_config.invariant = 1
    buffer = io.BytesIO()
    encrypt = pdfencrypt.StandardEncryption(password, canPrint=1) if password else None
    canvas = Canvas(buffer, encrypt=encrypt)
    for number, lines in enumerate(pages, start=1):
        canvas.setFont("Helvetica", 10)
        if header:
            canvas.drawString(72, 800, header)
        if footer:
            canvas.drawString(72, 40, f"{footer}, page {number}")
        y = 760.0
        for line in lines:
            canvas.drawString(72, y, line)
            y -= 14
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def two_column_pdf(left: Sequence[str], right: Sequence[str]) -> bytes:
    """One page with two columns of text lines side by side."""
    from reportlab import rl_config
    from reportlab.pdfgen.canvas import Canvas

    rl_config.invariant = 1
    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    canvas.setFont("Helvetica", 10)
    for x, lines in ((60.0, left), (320.0, right)):
        y = 760.0
        for line in lines:
            canvas.drawString(x, y, line)
            y -= 14
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
