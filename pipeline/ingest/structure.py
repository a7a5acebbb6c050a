"""From lines to blocks: headings, list items and paragraphs (line-wrapped text rejoined).

Plain text and PDF pages arrive as raw lines; Markdown, HTML and Word arrive with hints
(this line is a heading / a list item) that the format itself gives.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Container, Sequence
from dataclasses import dataclass
from typing import Literal

from pipeline.ingest.clean import (
    collapse_spaces,
    ends_sentence,
    is_lone_bullet,
    join_wrapped,
    strip_markers,
)
from pipeline.ingest.dates import parse_date

BlockKind = Literal["heading", "item", "para"]
Hint = Literal["heading", "item", "para"] | None


@dataclass(frozen=True)
class Line:
    """One line of extracted text; ``hint`` is set when the format says what the line is."""

    text: str
    hint: Hint = None


@dataclass(frozen=True)
class Block:
    """A heading, a list item or a paragraph: sentences never cross a block boundary."""

    kind: BlockKind
    text: str


_MAX_HEADING_CHARS = 90
_MAX_HEADING_WORDS = 10
_CONNECTORS = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "by",
        "for",
        "from",
        "in",
        "into",
        "of",
        "on",
        "or",
        "that",
        "the",
        "to",
        "with",
        "which",
        "who",
        "our",
        "their",
        "its",
    ]
)
_DASHES = "-–—"
_FULL_LINE = 0.85
_CELL_GAP = re.compile(r"\S[ ]*\t[ \t]*\S")


def structure_lines(lines: Sequence[Line], vocab: Container[str]) -> list[Block]:
    """Group ``lines`` into blocks: blank lines, bullets, numbers and headings start new ones."""
    builder = _Builder(vocab, _typical_length(lines))
    texts = [collapse_spaces(line.text) for line in lines]
    for i, line in enumerate(lines):
        prev = texts[i - 1] if i > 0 else ""
        nxt = texts[i + 1] if i + 1 < len(lines) else ""
        builder.feed(line, texts[i], prev, nxt)
    builder.flush()
    return builder.blocks


def _typical_length(lines: Sequence[Line]) -> float:
    lengths = [len(collapse_spaces(line.text)) for line in lines]
    long_lines = [n for n in lengths if n >= 40]
    return statistics.median(long_lines) if long_lines else 80.0


class _Builder:
    """Accumulates lines into the block being built."""

    def __init__(self, vocab: Container[str], typical: float) -> None:
        self.vocab = vocab
        self.typical = typical
        self.blocks: list[Block] = []
        self.kind: BlockKind = "para"
        self.text = ""
        self.pending_bullet = False

    def flush(self) -> None:
        text = collapse_spaces(self.text)
        if any(ch.isalnum() for ch in text):
            self.blocks.append(Block(self.kind, text))
        self.text = ""

    def start(self, kind: BlockKind, text: str) -> None:
        self.flush()
        self.kind, self.text = kind, text

    def feed(self, line: Line, text: str, prev: str, nxt: str) -> None:
        if not text:
            self.flush()
            return
        if line.hint is not None:
            body = strip_markers(text)[0] if line.hint != "para" else text
            self.start(line.hint, body)
            self.pending_bullet = False
            if line.hint == "heading":
                self.flush()
            return
        if is_lone_bullet(text):
            self.flush()
            self.pending_bullet = True
            return
        body, marked = strip_markers(text)
        if marked and self._dash_continues(text, prev):
            body, marked = text, False
        raw_body = strip_markers(line.text)[0] if marked else line.text
        if _CELL_GAP.search(raw_body) or parse_date(body) is not None:
            # a table row laid out with tabs, or a date line, stands alone
            self.start("para", body)
            self.flush()
        elif is_heading(body, prev, nxt, self.typical):
            self.start("heading", body)
            self.flush()
        elif marked or self.pending_bullet:
            self.start("item", body)
        elif self.text and self.kind == "item" and ends_sentence(self.text) and body[0].isupper():
            self.start("para", body)
        elif self.text:
            self.text = join_wrapped(self.text, body, self.vocab)
        else:
            self.start("para", body)
        self.pending_bullet = False

    def _dash_continues(self, text: str, prev: str) -> bool:
        """A dash opening a line that follows a full, unfinished line is a wrapped dash in
        running text ("... NHS oversight – our members ..."), not a list bullet."""
        return (
            bool(self.text)
            and text[0] in _DASHES
            and not ends_sentence(prev)
            and len(prev) >= _FULL_LINE * self.typical
        )


def is_heading(text: str, prev: str, nxt: str, typical: float) -> bool:
    """Whether a line (markers already stripped) reads as a heading in its context.

    A heading is short, starts with a capital or digit, does not end like a sentence or on a
    connecting word, follows a finished sentence (or nothing), and, when text follows it
    directly, is clearly shorter than the text's wrapped lines.
    """
    words = text.split()
    if (
        not words
        or len(text) > _MAX_HEADING_CHARS
        or len(words) > _MAX_HEADING_WORDS
        or not (text[0].isupper() or text[0].isdigit())
        or not any(ch.isalpha() for ch in text)
        or text[-1] in ".,;:!?"
        or words[-1].lower() in _CONNECTORS
    ):
        return False
    if prev and not ends_sentence(prev) and not _is_short(prev, typical):
        return False
    if not nxt or is_lone_bullet(nxt):
        return True
    next_body = strip_markers(nxt)[0] or nxt
    return (next_body[0].isupper() or next_body[0].isdigit()) and _is_short(text, typical)


def _is_short(text: str, typical: float) -> bool:
    return len(text) < 0.7 * typical


# --- Markdown -----------------------------------------------------------------------------

_MD_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")
_MD_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
_MD_RULE = re.compile(r"^ {0,3}(?:[-*_]\s*){3,}$")
_MD_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_MD_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_MD_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # image -> alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # link -> its text
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # reference link -> its text
    (re.compile(r"<((?:https?|mailto):[^>\s]+)>"), r"\1"),  # autolink -> the address
    (re.compile(r"</?[A-Za-z][^>]*>"), ""),  # inline HTML tags
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # strong
    (re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])"), r"\2"),  # emphasis
    (re.compile(r"`+([^`]*)`+"), r"\1"),  # code span
]


def strip_inline_markdown(text: str) -> str:
    """Markdown inline syntax (links, emphasis, code, tags) reduced to its text."""
    for pattern, repl in _MD_INLINE:
        text = pattern.sub(repl, text)
    return text


def markdown_lines(text: str) -> list[Line]:
    """Markdown source as hinted lines: ATX/setext headings, list items, table rows as text."""
    raw = text.split("\n")
    out: list[Line] = []
    in_fence = False
    for i, line in enumerate(raw):
        if _MD_FENCE.match(line):
            in_fence = not in_fence
            out.append(Line(""))
            continue
        if in_fence:
            out.append(Line(line, "para"))
            continue
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        out.append(_markdown_line(line, nxt))
        if _MD_SETEXT.match(nxt) and line.strip() and not _MD_ITEM.match(line):
            raw[i + 1] = ""
    return out


def _markdown_line(line: str, nxt: str) -> Line:
    heading = _MD_HEADING.match(line)
    if heading:
        return Line(strip_inline_markdown(heading.group(2)), "heading")
    if _MD_RULE.match(line) or _MD_TABLE_SEP.match(line):
        return Line("")
    if line.strip() and _MD_SETEXT.match(nxt) and not _MD_ITEM.match(line):
        return Line(strip_inline_markdown(line), "heading")
    item = _MD_ITEM.match(line)
    if item:
        return Line(strip_inline_markdown(line[item.end() :]), "item")
    body = re.sub(r"^\s*(?:>\s?)+", "", line)
    if body.strip().startswith("|"):
        cells = [c.strip() for c in body.strip().strip("|").split("|")]
        return Line(strip_inline_markdown("; ".join(c for c in cells if c)), "para")
    return Line(strip_inline_markdown(body))
