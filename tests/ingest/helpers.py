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


def image_only_pdf() -> bytes:
    """Two pages of drawings and no text at all (what a scan without OCR looks like)."""
    from reportlab import rl_config
    from reportlab.pdfgen.canvas import Canvas

    rl_config.invariant = 1
    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    for _ in range(2):
        for i in range(20):
            canvas.rect(60 + i * 10, 200 + i * 20, 150, 8, fill=1)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def raw_pdf(content: bytes, stream_filter: bytes = b"") -> bytes:
    """A minimal one-page PDF written by hand around the content stream ``content``."""
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d %s >>\nstream\n%s\nendstream" % (len(content), stream_filter, content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(bodies, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(bodies) + 1,
        xref,
    )
    return bytes(out)


def flate_bomb_pdf(inflated_mb: int) -> bytes:
    """A PDF of a few kB whose content stream inflates to ``inflated_mb`` MB of spaces."""
    import zlib

    packer = zlib.compressobj(9)
    text = b"BT /F1 11 Tf 60 780 Td (A short line before a great deal of padding.) Tj ET\n"
    parts = [packer.compress(text)]
    parts.extend(packer.compress(b" " * 1048576) for _ in range(inflated_mb))
    parts.append(packer.flush())
    return raw_pdf(b"".join(parts), b"/Filter /FlateDecode")
