"""Decoding of text files and extraction of HTML and Word documents into hinted lines."""

from __future__ import annotations

import codecs
import io
import logging
import zipfile
from collections.abc import Iterator
from typing import Any

from pipeline.errors import CorruptDocumentError, EmptyDocumentError, LimitExceededError
from pipeline.ingest.structure import Hint, Line

log = logging.getLogger(__name__)

_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
_MAX_CONTROL_SHARE = 0.01
_WESTERN = ("cp1252", "latin_1", "iso8859_15")


def decode_text(data: bytes, name: str) -> tuple[str, str]:
    """Decode a text file: BOM, then strict UTF-8, then charset-normalizer's best guess.

    Returns the text and the encoding used. Raises :class:`CorruptDocumentError` for binary
    data and :class:`EmptyDocumentError` when nothing but whitespace remains.
    """
    encoding = _detect_encoding(data, name)
    text = data.decode(encoding, errors="replace")
    if _control_share(text) > _MAX_CONTROL_SHARE or text.count("\ufffd") > len(text) / 100:
        raise CorruptDocumentError(name, "binary data, not text", kind="binary")
    if not text.strip():
        raise EmptyDocumentError(name, "no text: the file holds only white space")
    log.info("%s: decoded as %s", name, encoding)
    return text, encoding


def _detect_encoding(data: bytes, name: str) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    if b"\x00" not in data:
        try:
            data.decode("utf-8")
            return "utf-8"
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    best = matches.best()
    if best is None or best.encoding is None:
        raise CorruptDocumentError(name, "binary data, not text", kind="binary")
    # Short texts fit several single-byte code pages equally well; the corpus is written in
    # English, so a Western code page that fits as well as the best guess wins.
    for match in matches:
        if match.percent_chaos <= best.percent_chaos + 0.5:
            western = [e for e in _WESTERN if e in match.could_be_from_charset]
            if western:
                return western[0]
    return str(best.encoding)


def _control_share(text: str) -> float:
    if not text:
        return 0.0
    sample = text[:200_000]
    bad = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f")
    return bad / len(sample)


# --- HTML ---------------------------------------------------------------------------------

_DROP = frozenset(
    [
        "script",
        "style",
        "nav",
        "noscript",
        "template",
        "iframe",
        "object",
        "embed",
        "svg",
        "canvas",
        "head",
        "form",
        "button",
        "select",
        "textarea",
        "input",
        "audio",
        "video",
        "map",
    ]
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_PARA_LIKE = frozenset({"td", "th", "p", "dd", "dt", "caption", "figcaption"})
_SEPARATED = frozenset({"p", "table", "ul", "ol", "div", "section", "article"})
_BLOCKS = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "main",
        "aside",
        "header",
        "footer",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "td",
        "th",
        "caption",
        "blockquote",
        "pre",
        "figure",
        "figcaption",
        "address",
        "details",
        "summary",
        "body",
        "html",
        "hr",
        "br",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
    ]
)


def html_lines(data: bytes, name: str) -> tuple[list[Line], str | None]:
    """Visible text of an HTML page as hinted lines, plus its ``<title>``. Nothing in the page
    is run: scripts, styles, navigation and forms are dropped, attributes are never read."""
    from bs4 import BeautifulSoup

    try:
        soup = BeautifulSoup(data, "lxml")
    except Exception as exc:
        raise CorruptDocumentError(name, f"not valid HTML: {exc}") from exc
    log.info("%s: HTML decoded as %s", name, soup.original_encoding or "unicode")
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag is not None else None
    walker = _HtmlWalker()
    walker.walk(soup)
    walker.flush()
    if not any(line.text.strip() for line in walker.lines):
        raise EmptyDocumentError(name, "no visible text in the HTML page")
    return walker.lines, title or None


class _HtmlWalker:
    """Depth-first walk (iterative: hostile pages nest thousands deep) that emits one line per
    block element's inline text."""

    def __init__(self) -> None:
        self.lines: list[Line] = []
        self.buffer: list[str] = []
        self.hint: Hint = None

    def flush(self) -> None:
        text = " ".join("".join(self.buffer).split())
        if text:
            self.lines.append(Line(text, self.hint))
        self.buffer = []

    def walk(self, root: Any) -> None:
        from bs4 import Comment, Doctype, NavigableString, ProcessingInstruction

        # Each frame: the children still to visit, the block element being read (None for
        # inline ones) and the hint to restore when it closes.
        stack: list[tuple[Iterator[Any], str | None, Hint]] = [(iter(root.children), None, None)]
        while stack:
            children, block, outer = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                if block is not None:
                    self._close(block, outer)
                continue
            if isinstance(child, Comment | Doctype | ProcessingInstruction):
                continue
            if isinstance(child, NavigableString):
                self.buffer.append(str(child))
                continue
            name = (child.name or "").lower()
            if name in _DROP:
                continue
            if name not in _BLOCKS:
                stack.append((iter(child.children), None, self.hint))
                continue
            self.flush()
            stack.append((iter(child.children), name, self.hint))
            self._open(name)

    def _open(self, name: str) -> None:
        if name in _HEADINGS:
            self.hint = "heading"
        elif name == "li":
            self.hint = "item"
        elif name in _PARA_LIKE and self.hint is None:
            self.hint = "para"

    def _close(self, name: str, outer: Hint) -> None:
        self.flush()
        self.hint = outer
        if name in _SEPARATED:
            self.lines.append(Line(""))


# --- Word (.docx) ---------------------------------------------------------------------------

_DOCX_MAX_EXPANSION = 100  # uncompressed size may be at most this many times the file's


def docx_lines(data: bytes, name: str, max_bytes: int) -> tuple[list[Line], str | None]:
    """Paragraphs (headings by style, list items by style or numbering) and table cells of a
    Word document in body order, plus its core-properties title."""
    _check_zip(data, name, max_bytes)
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise CorruptDocumentError(name, f"not a valid .docx (Word) file: {exc}") from exc
    lines: list[Line] = []
    for element in document.element.body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.extend(_paragraph_lines(Paragraph(element, document)))
        elif tag == "tbl":
            lines.extend(_table_lines(Table(element, document)))
    title = (document.core_properties.title or "").strip() or None
    if not any(line.text.strip() for line in lines):
        raise EmptyDocumentError(name, "no text in the Word document")
    return lines, title


def _check_zip(data: bytes, name: str, max_bytes: int) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CorruptDocumentError(name, f"not a valid .docx (Word) file: {exc}") from exc
    if total > min(max_bytes, _DOCX_MAX_EXPANSION * max(len(data), 1)):
        raise LimitExceededError(
            name, f"the .docx expands to {total / 1e6:.1f} MB: too large (a zip bomb?)"
        )


def _paragraph_lines(paragraph: Any) -> list[Line]:
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    lowered = style.lower()
    hint: Hint = None
    if lowered.startswith(("heading", "title", "subtitle")):
        hint = "heading"
    elif "list" in lowered or (paragraph._p.pPr is not None and paragraph._p.pPr.numPr is not None):
        hint = "item"
    parts = [p for p in paragraph.text.split("\n") if p.strip()]
    if not parts:
        return [Line("")]
    lines = [Line(parts[0], hint)] + [Line(p, "para" if hint else None) for p in parts[1:]]
    return [*lines, Line("")]


def _table_lines(table: Any) -> list[Line]:
    lines: list[Line] = []
    for row in table.rows:
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # merged cells repeat
                continue
            seen.add(id(cell._tc))
            text = " ".join(cell.text.split())
            if text:
                lines.append(Line(text, "para"))
        lines.append(Line(""))
    return lines
