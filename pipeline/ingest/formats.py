"""Decoding of text files and extraction of HTML and Word documents into hinted lines."""

from __future__ import annotations

import codecs
import io
import logging
import re
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
    if encoding in ("utf-8", "utf-8-sig") and not _is_utf8(data):
        text, encoding = _decode_mixed(data), "utf-8 (lines in cp1252)"
    else:
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
    if b"\x00" not in data and (_is_utf8(data) or _mostly_utf8(data)):
        return "utf-8"
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


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _mostly_utf8(data: bytes) -> bool:
    """Whether ``data`` is UTF-8 apart from a few lines: some lines hold UTF-8 multi-byte
    characters and the lines that do not decode are fewer than a tenth (text pasted from a
    Windows program into a UTF-8 file)."""
    lines = data.splitlines()
    bad = sum(1 for line in lines if not _is_utf8(line))
    utf8 = sum(1 for line in lines if not line.isascii() and _is_utf8(line))
    return utf8 > 0 and bad * 10 < len(lines)


def _decode_mixed(data: bytes) -> str:
    """UTF-8 text of which some lines are in Windows-1252: each line in the encoding it is in."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    return "".join(line.decode("utf-8") if _is_utf8(line)
                   else line.decode("cp1252", errors="replace")
                   for line in data.splitlines(keepends=True))


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
    is run: scripts, styles, navigation, forms and hidden elements are dropped; of the
    attributes only ``hidden`` and ``style`` are read (to tell what is hidden)."""
    from bs4 import BeautifulSoup

    try:
        soup = BeautifulSoup(_html_markup(data), "lxml")
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


def _html_markup(data: bytes) -> bytes | str:
    """The page as text when its bytes are UTF-8 (with or without a BOM), whatever charset
    it declares (a page saved as UTF-8 often keeps the ``<meta charset>`` of its origin); the
    bytes otherwise, for the parser to decode by the declaration and its own detection."""
    body = data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
    if not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and _is_utf8(body):
        return body.decode("utf-8")
    return data


_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


def _hidden(element: Any) -> bool:
    """Whether an element is not shown to a reader: the ``hidden`` attribute or an inline
    style of ``display: none`` / ``visibility: hidden``."""
    attrs = getattr(element, "attrs", None) or {}
    return "hidden" in attrs or bool(_HIDDEN_STYLE.search(str(attrs.get("style", ""))))


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
            if name in _DROP or _hidden(child):
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
    title = _docx_title(document)
    if not any(line.text.strip() for line in lines):
        raise EmptyDocumentError(name, "no text in the Word document")
    return lines, title


def _docx_title(document: Any) -> str | None:
    """The core-properties title; None when the file has no core properties (python-docx
    would make up default ones, titled "Word Document")."""
    from docx.opc.constants import RELATIONSHIP_TYPE

    try:
        document.part.package.part_related_by(RELATIONSHIP_TYPE.CORE_PROPERTIES)
    except KeyError:
        return None
    return (document.core_properties.title or "").strip() or None


# --- Markdown -------------------------------------------------------------------------------

# Raw HTML in Markdown is not prose: the bodies of these elements are never shown (an
# unclosed one runs to the end, as in a browser), comments are not shown, other tags are
# markup around text that is.
_MD_HIDDEN = re.compile(
    r"<(script|style|template|noscript|iframe|textarea|object)\b[^>]*>.*?(?:</\1\s*>|\Z)"
    r"|<!--.*?(?:-->|\Z)",
    re.IGNORECASE | re.DOTALL,
)
_MD_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")


def strip_markdown_html(text: str) -> str:
    """Markdown ``text`` without its raw HTML: script, style and similar bodies and comments
    removed (their line breaks kept), other tags removed, their text kept."""
    text = _MD_HIDDEN.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    return _MD_TAG.sub("", text)


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
