"""PDF text extraction, page by page: ``auto`` (default), pdfplumber or pypdfium2.

Each returns one list of lines per page. pdfplumber pages are de-duplicated (overprinted
"bold" characters), read column by column when a gutter splits the page, and read along the
text direction when the text is rotated. ``auto`` reads the characters of a page with pdfium
(about ten times faster than pdfminer, which pdfplumber builds on) and lays them out by the
same rules, handing pdfplumber the pages those characters cannot serve (rotated, overprinted
or unmapped glyphs, no text, a rotated or cropped page): the text is pdfplumber's, faster.
``pdfium`` alone reads pdfium's own text order, with no columns or paragraph gaps.
"""

from __future__ import annotations

import itertools
import logging
import re
import statistics
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pipeline.errors import (
    CorruptDocumentError,
    DocumentError,
    EncryptedDocumentError,
    LimitExceededError,
)

if TYPE_CHECKING:
    from pdfplumber.page import Page

log = logging.getLogger(__name__)

# PDFium may not be entered by two threads of a process at once, even for two documents
# (pypdfium2's documentation): every call into it holds this lock.
_PDFIUM_LOCK = threading.RLock()

PageLines = list[str]
Tick = Callable[[int], None]

_MIN_COLUMN_WORDS = 20
_GUTTER_MIN_WIDTH = 6.0
_LINE_TOLERANCE = 3.0
_EOF_WINDOW = 2048
_STREAM = re.compile(rb"stream\r?\n")
_INFLATE_STEP = 1 << 16
# Running headers and footers live above/below these fractions of the page height.
_BODY_TOP, _BODY_BOTTOM = 0.08, 0.92
_DUPLICATE_SHARE = 0.01
_MIN_WORDS_PER_COLUMN_LINE = 3
# A gap between lines this many times the usual line pitch separates paragraphs.
_PARAGRAPH_GAP = 1.3
_PARAGRAPH_END = (".", ",", ";", ":", "!", "?", ")", "”", '"', "’")


def extract_pdf(
    data: bytes,
    name: str,
    extractor: str,
    password: str | None,
    limits: tuple[int, int],
    tick: Tick,
) -> list[PageLines]:
    """Lines of every page of the PDF ``data``; ``tick(page_no)`` runs before each page (it
    raises when the document's time is up). ``limits`` is (max pages, max inflated bytes)."""
    max_pages, max_inflated = limits
    if not data.lstrip(b"\x00\t\n\r\x0c ").startswith(b"%PDF-"):
        raise CorruptDocumentError(name, "not a valid PDF: the file does not start with %PDF-")
    _check_inflated_size(data, name, max_inflated)
    pages = {"pdfium": _pdfium_pages, "auto": _auto_pages}.get(extractor, _pdfplumber_pages)
    try:
        return list(pages(data, name, password, max_pages, tick))
    except CorruptDocumentError as exc:
        if b"%%EOF" in data[-_EOF_WINDOW:]:
            raise
        # A cut-short file is the likeliest cause: say so rather than the parser's complaint.
        raise CorruptDocumentError(
            name, f"truncated PDF: the end-of-file marker is missing ({exc.reason})"
        ) from exc


def _check_inflated_size(data: bytes, name: str, limit: int) -> None:
    """Refuse a PDF whose compressed streams decode to more than ``limit`` bytes in all (a
    compression bomb) before any parser decodes them in memory. Each stream is decoded
    through its chain of filters (Flate, also nested, ASCIIHex, ASCII85) in bounded steps,
    and only the final output is counted."""
    total = 0
    view = memoryview(data)
    for match in _STREAM.finditer(data):
        start = match.end()
        filters = _filters(data[max(0, match.start() - _DICT_WINDOW) : match.start()])
        if filters is None:  # no /Filter found: a bare zlib stream is still checked
            filters = ["FlateDecode"] if _zlib_header(data[start : start + 2]) else []
        if "FlateDecode" not in filters:
            continue
        end = data.find(b"endstream", start)
        chunks: Iterator[bytes] = _chunks(view[start : end if end >= 0 else len(data)])
        for name_ in filters:
            decoder = _DECODERS.get(name_)
            if decoder is None:
                break  # a filter we cannot decode here: the parser will
            chunks = decoder(chunks)
        try:
            for chunk in chunks:
                total += len(chunk)
                if total > limit:
                    raise LimitExceededError(
                        name,
                        f"compressed streams inflate to over {limit / 1048576:g} MB "
                        "(a compression bomb?); the limit is corpus.max_file_mb",
                    )
        except (zlib.error, ValueError):
            continue  # a damaged stream: the parser will say


_DICT_WINDOW = 2048
_FILTER = re.compile(rb"/Filter\s*(\[[^\]]*\]|/[A-Za-z0-9]+)")
_FILTER_NAMES = {"Fl": "FlateDecode", "AHx": "ASCIIHexDecode", "A85": "ASCII85Decode"}


def _filters(head: bytes) -> list[str] | None:
    """The filter chain of the stream whose dictionary ends ``head`` (None if none named)."""
    found = list(_FILTER.finditer(head[head.rfind(b"obj") + 1 :] if b"obj" in head else head))
    if not found:
        return None
    names = re.findall(rb"/([A-Za-z0-9]+)", found[-1].group(1))
    return [_FILTER_NAMES.get(n.decode("ascii"), n.decode("ascii")) for n in names]


def _chunks(raw: memoryview) -> Iterator[bytes]:
    for position in range(0, len(raw), _INFLATE_STEP):
        yield bytes(raw[position : position + _INFLATE_STEP])


def _inflate(chunks: Iterator[bytes]) -> Iterator[bytes]:
    inflater = zlib.decompressobj()
    for chunk in chunks:
        out = inflater.decompress(chunk, _INFLATE_STEP * 64)
        yield out
        while inflater.unconsumed_tail:
            yield inflater.decompress(inflater.unconsumed_tail, _INFLATE_STEP * 64)
        if inflater.eof:
            return


def _unhex(chunks: Iterator[bytes]) -> Iterator[bytes]:
    carry = b""
    for chunk in chunks:
        text = carry + bytes(b for b in chunk.split(b">")[0] if b in _HEX_DIGITS)
        even = len(text) - len(text) % 2
        yield bytes.fromhex(text[:even].decode("ascii"))
        carry = text[even:]
        if b">" in chunk:
            return


def _un85(chunks: Iterator[bytes]) -> Iterator[bytes]:
    import base64

    # Output is at most 5/4 of the input (4x for "z" runs): bounded by the file's size.
    raw = b"".join(chunks)
    end = raw.find(b"~>")
    yield base64.a85decode(raw[: end if end >= 0 else len(raw)].lstrip(b"<~"),
                           ignorechars=b" \t\n\r\x0b\x0c")


_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_DECODERS: dict[str, Callable[[Iterator[bytes]], Iterator[bytes]]] = {
    "FlateDecode": _inflate, "ASCIIHexDecode": _unhex, "ASCII85Decode": _un85}


def _zlib_header(head: bytes) -> bool:
    """Whether two bytes open a zlib stream (deflate method, valid header checksum)."""
    return len(head) == 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0


def _check_pages(name: str, n_pages: int, max_pages: int) -> None:
    if n_pages == 0:
        raise CorruptDocumentError(name, "not a valid PDF: it has no pages")
    if n_pages > max_pages:
        raise LimitExceededError(
            name, f"{n_pages} pages is over the limit of {max_pages} (corpus.max_pages)"
        )


def _pdfplumber_pages(
    data: bytes, name: str, password: str | None, max_pages: int, tick: Tick
) -> Iterator[PageLines]:
    import io

    import pdfplumber

    try:
        pdf = pdfplumber.open(io.BytesIO(data), password=password or "")
    except Exception as exc:
        raise _open_error(name, exc, password) from exc
    with pdf:
        try:
            n_pages = len(pdf.pages)
        except Exception as exc:
            raise _open_error(name, exc, password) from exc
        _check_pages(name, n_pages, max_pages)
        for number in range(1, n_pages + 1):
            tick(number)
            yield _plumber_page(pdf, name, number).split("\n")


def _plumber_page_text(page: Page) -> str:
    chars = page.chars
    if not chars:
        return ""
    if _has_duplicate_chars(chars):
        page = page.dedupe_chars()
        chars = page.chars
    upright = sum(1 for c in chars if c.get("upright", True))
    if upright < len(chars) / 2:
        return _rotated_text(page, chars)
    return _chars_text(chars, page.bbox)


def _chars_text(chars: list[dict[str, Any]], bbox: tuple[float, float, float, float]) -> str:
    """The text of a page's upright characters (pdfplumber's char dicts) inside ``bbox``:
    column by column when a gutter splits the page, else line by line with paragraph gaps."""
    from pdfplumber.utils.text import WordExtractor

    width, height = bbox[2] - bbox[0], bbox[3] - bbox[1]
    # One pass from characters to words serves both the column test and the text lines
    # (page.extract_words and page.extract_text_lines would each make it).
    wordmap = WordExtractor().extract_wordmap(chars)
    lines = _group_lines([word for word, _ in wordmap.tuples])
    gutters = _find_gutters(lines, float(height))
    if not gutters:
        textmap = wordmap.to_textmap(layout_bbox=bbox, layout_width=width,
                                     layout_height=height, presorted=True)
        return _paragraph_text(textmap.extract_text_lines(strip=True, return_chars=False))
    return _columns_text(lines, gutters, float(height))


def _paragraph_text(lines: list[dict[str, Any]]) -> str:
    """The page's lines, with a blank line where a wider vertical gap than the page's usual
    line pitch ends a paragraph after punctuation: a numbered question's label ("... ICS,")
    and the answer set below it stay apart, as in the text they were laid out from. A gap
    after a line without punctuation (a heading, a wrapped phrase) is left to the structure
    rules."""
    pitches = [b["top"] - a["top"] for a, b in itertools.pairwise(lines) if b["top"] > a["top"]]
    usual = statistics.median(pitches) if pitches else 0.0
    out: list[str] = []
    for i, line in enumerate(lines):
        if i and usual and line["top"] - lines[i - 1]["top"] > _PARAGRAPH_GAP * usual \
                and out[-1].rstrip().endswith(_PARAGRAPH_END):
            out.append("")
        out.append(str(line["text"]))
    return "\n".join(out)


def _has_duplicate_chars(chars: list[dict[str, Any]]) -> bool:
    """Whether glyphs are overprinted (fake bold): pdfplumber's dedupe is slow, so only then."""
    seen = Counter((c["text"], round(c["x0"]), round(c["top"])) for c in chars)
    duplicates = sum(n - 1 for n in seen.values())
    return duplicates > _DUPLICATE_SHARE * len(chars)


def _rotated_text(page: Page, chars: list[dict[str, Any]]) -> str:
    """Text set along the page's height: read each line along the glyphs' direction."""
    downward = sum(1 for c in chars if c.get("matrix", (0, 0))[1] < 0) > len(chars) / 2
    if downward:
        return str(page.extract_text(line_dir_rotated="rtl", char_dir_rotated="ttb") or "")
    return str(page.extract_text(line_dir_rotated="ltr", char_dir_rotated="btt") or "")


Word = dict[str, Any]


def _group_lines(words: list[Word]) -> list[list[Word]]:
    """Words grouped into lines by their top edge, top to bottom."""
    lines: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (w["top"], w["x0"])):
        if lines and abs(word["top"] - lines[-1][0]["top"]) <= _LINE_TOLERANCE:
            lines[-1].append(word)
        else:
            lines.append([word])
    return lines


def _find_gutters(lines: list[list[Word]], height: float) -> list[tuple[float, float]]:
    """The (left, right) x of empty vertical bands that split the page's body into text columns.

    Bands are found where (almost) no word of the body (running header and footer zones
    left out) lies; each column must hold enough words, and columns must hold running text
    (several words per line), which tells text columns from table columns.
    """
    body = [
        w for line in lines for w in line if _BODY_TOP * height < w["top"] < _BODY_BOTTOM * height
    ]
    if len(body) < 2 * _MIN_COLUMN_WORDS:
        return []
    left, right = int(min(w["x0"] for w in body)), int(max(w["x1"] for w in body))
    covered = [0] * (right - left + 2)
    for w in body:
        for x in range(int(w["x0"]) - left, int(w["x1"]) - left + 1):
            covered[x] += 1
    allowed = max(1, len(body) // 50)  # a few full-width lines may cross a gutter
    gutters: list[tuple[float, float]] = []
    run_start: int | None = None
    for x, n in enumerate(covered):
        if n <= allowed and run_start is None:
            run_start = x
        elif n > allowed and run_start is not None:
            if x - run_start >= _GUTTER_MIN_WIDTH and run_start > 0:
                gutters.append((float(left + run_start), float(left + x - 1)))
            run_start = None
    if not gutters:
        return []
    edges = [float(left), *(sum(g) / 2 for g in gutters), float(right + 1)]
    for lo, hi in itertools.pairwise(edges):
        cells = [[w for w in line if lo <= w["x0"] and w["x1"] <= hi] for line in lines]
        cells = [c for c in cells if c]
        n_words = sum(len(c) for c in cells)
        if n_words < _MIN_COLUMN_WORDS or n_words < _MIN_WORDS_PER_COLUMN_LINE * len(cells):
            return []
    return gutters


def _columns_text(
    lines: list[list[Word]], gutters: list[tuple[float, float]], height: float
) -> str:
    """Read a page split by gutters: lines crossing a gutter (a full-width title) and lines in
    the header and footer zones stay in place; each run of lines between them is read column
    by column."""
    out: list[str] = []
    columns: list[list[str]] = [[] for _ in range(len(gutters) + 1)]
    for line in lines:
        top = line[0]["top"]
        if _spans_gutter(line, gutters) or not _BODY_TOP * height < top < _BODY_BOTTOM * height:
            out.extend(text for column in columns for text in column)
            columns = [[] for _ in range(len(gutters) + 1)]
            out.append(_words_text(line))
            continue
        parts: list[list[Word]] = [[] for _ in columns]
        for w in line:
            middle = (w["x0"] + w["x1"]) / 2
            parts[sum(1 for lo, hi in gutters if middle >= (lo + hi) / 2)].append(w)
        for column, words in zip(columns, parts, strict=True):
            if words:
                column.append(_words_text(words))
    out.extend(text for column in columns for text in column)
    return "\n".join(out)


def _spans_gutter(line: list[Word], gutters: list[tuple[float, float]]) -> bool:
    """Whether a line runs across a gutter: nowhere over the gutter does it leave a gap wider
    than half the gutter (a column line does; a full-width line has only word spaces)."""
    spans = sorted((float(w["x0"]), float(w["x1"])) for w in line)
    return any(not _has_gap(spans, lo, hi, (hi - lo) / 2) for lo, hi in gutters)


def _has_gap(spans: list[tuple[float, float]], lo: float, hi: float, width: float) -> bool:
    free_from = float("-inf")
    for x0, x1 in spans:
        if x0 - free_from >= width and free_from < hi and x0 > lo:
            return True
        free_from = max(free_from, x1)
    return free_from < hi


def _words_text(words: list[Word]) -> str:
    return " ".join(str(w["text"]) for w in sorted(words, key=lambda w: w["x0"]))


def _auto_pages(
    data: bytes, name: str, password: str | None, max_pages: int, tick: Tick
) -> Iterator[PageLines]:
    """Characters read by pdfium, laid out by the same rules as pdfplumber's (words, lines,
    columns, paragraphs); a page with rotated, overprinted or unmapped characters, or a
    rotated or cropped page, is read by pdfplumber instead. pdfium parses a page about ten
    times faster than pdfminer, on which pdfplumber builds. A file pdfium cannot open goes to
    pdfplumber whole, so that its error is the one pdfplumber gives."""
    import pypdfium2 as pdfium

    try:
        pdf, n_pages = _open_pdfium(data, password)
    except pdfium.PdfiumError:
        yield from _pdfplumber_pages(data, name, password, max_pages, tick)
        return
    plumber: Any = None
    try:
        _check_pages(name, n_pages, max_pages)
        for number in range(1, n_pages + 1):
            tick(number)
            text = _pdfium_plain_text(pdf, number)
            if text is None:
                plumber = plumber or _open_plumber(data, name, password)
                text = _plumber_page(plumber, name, number)
            yield text.split("\n")
    finally:
        with _PDFIUM_LOCK:
            pdf.close()
        if plumber is not None:
            plumber.close()


def _open_pdfium(data: bytes, password: str | None) -> tuple[Any, int]:
    """The pdfium document of ``data`` and its number of pages (raises ``PdfiumError``)."""
    import pypdfium2 as pdfium

    with _PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(data, password=password or None)
        return pdf, len(pdf)


def _open_plumber(data: bytes, name: str, password: str | None) -> Any:
    import io

    import pdfplumber

    try:
        return pdfplumber.open(io.BytesIO(data), password=password or "")
    except Exception as exc:
        raise _open_error(name, exc, password) from exc


def _plumber_page(pdf: Any, name: str, number: int) -> str:
    """The text of page ``number`` of the open pdfplumber document ``pdf``."""
    try:
        page = pdf.pages[number - 1]
    except Exception as exc:
        raise CorruptDocumentError(
            name, f"not a valid PDF: page {number} cannot be read ({_reason(exc)})") from exc
    try:
        return _plumber_page_text(page)
    except DocumentError:
        raise
    except Exception as exc:
        raise CorruptDocumentError(
            name, f"not a valid PDF: page {number} cannot be read ({_reason(exc)})"
        ) from exc
    finally:
        page.close()


def _pdfium_plain_text(pdf: Any, number: int) -> str | None:
    """The text of page ``number`` from pdfium's characters, or None when pdfplumber must
    read it (see :func:`_auto_pages`) or pdfium fails on it."""
    import pypdfium2 as pdfium

    with _PDFIUM_LOCK:
        try:
            page = pdf[number - 1]
        except pdfium.PdfiumError:
            return None
        try:
            left, bottom, right, top = page.get_mediabox()
            if page.get_rotation() or page.get_cropbox() != (left, bottom, right, top):
                return None
            textpage = page.get_textpage()
            try:
                chars = _pdfium_chars(textpage, left, top)
            finally:
                textpage.close()
        except pdfium.PdfiumError:
            return None
        finally:
            page.close()
    if not chars or _has_duplicate_chars(chars):  # no text: pdfplumber says why, if it can
        return None
    return _chars_text(chars, (0.0, 0.0, right - left, top - bottom))


_RIGHT_ANGLE = 1e-3  # radians: pdfium's angle of an upright glyph is 0


def _pdfium_chars(textpage: Any, left: float, top: float) -> list[dict[str, Any]] | None:
    """pdfplumber-style char dicts (text, x0, x1, top, bottom, doctop, upright) of a page,
    in page coordinates from its top-left corner; None at the first glyph that is rotated or
    has no Unicode text (pdfplumber shows those its own way)."""
    import pypdfium2.raw as raw

    handle, box = textpage.raw, raw.FS_RECTF()
    chars: list[dict[str, Any]] = []
    for i in range(raw.FPDFText_CountChars(handle)):
        code = raw.FPDFText_GetUnicode(handle, i)
        if raw.FPDFText_IsGenerated(handle, i) == 1:
            # pdfium's own line breaks carry nothing; its spaces stand for the space glyphs
            # it reads as gaps, which pdfplumber reads as characters: a word ends there.
            if code == 0x20 and chars and chars[-1]["text"] != " ":
                chars.append({**chars[-1], "text": " ", "x0": chars[-1]["x1"]})
            continue
        if code < 0x20 or 0xD800 <= code < 0xE000 or code in (0xFFFD, 0xFFFE, 0xFFFF):
            return None
        if raw.FPDFText_GetCharAngle(handle, i) > _RIGHT_ANGLE:
            return None
        if not raw.FPDFText_GetLooseCharBox(handle, i, box):
            return None
        y0, y1 = top - box.top, top - box.bottom
        chars.append({"text": chr(code), "x0": box.left - left, "x1": box.right - left,
                      "top": y0, "bottom": y1, "doctop": y0, "upright": True})
    return chars


def _pdfium_pages(
    data: bytes, name: str, password: str | None, max_pages: int, tick: Tick
) -> Iterator[PageLines]:
    import pypdfium2 as pdfium

    try:
        pdf, n_pages = _open_pdfium(data, password)
    except pdfium.PdfiumError as exc:
        raise _open_error(name, exc, password) from exc
    try:
        _check_pages(name, n_pages, max_pages)
        for number in range(1, n_pages + 1):
            tick(number)
            with _PDFIUM_LOCK:
                page = pdf[number - 1]
                try:
                    textpage = page.get_textpage()
                    text = textpage.get_text_range()
                    textpage.close()
                except pdfium.PdfiumError as exc:
                    raise CorruptDocumentError(
                        name, f"not a valid PDF: page {number} cannot be read ({_reason(exc)})"
                    ) from exc
                finally:
                    page.close()
            yield text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    finally:
        with _PDFIUM_LOCK:
            pdf.close()


def _open_error(name: str, exc: BaseException, password: str | None) -> DocumentError:
    chain = _reason(exc) + " " + " ".join(_reason(e) for e in _causes(exc))
    if "password" in chain.lower():
        if password:
            return EncryptedDocumentError(
                name, "encrypted PDF: the password given does not open it"
            )
        return EncryptedDocumentError(
            name, "encrypted PDF: pass --password or set `password:` in the sidecar"
        )
    lowered = chain.lower()
    if any(k in lowered for k in ("eof", "startxref", "unexpected end", "truncat")):
        return CorruptDocumentError(name, f"truncated PDF ({_reason(exc)})")
    return CorruptDocumentError(name, f"not a valid PDF: {_reason(exc)}")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen = {id(exc)}
    stack = [a for a in exc.args if isinstance(a, BaseException)]
    if exc.__cause__ is not None:
        stack.append(exc.__cause__)
    if exc.__context__ is not None:
        stack.append(exc.__context__)
    while stack:
        nxt = stack.pop()
        if id(nxt) in seen:
            continue
        seen.add(id(nxt))
        yield nxt
        stack.extend(a for a in nxt.args if isinstance(a, BaseException))


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
