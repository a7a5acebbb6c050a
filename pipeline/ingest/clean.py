"""Text cleaning: pure string functions, each idempotent, none of them raising on any input.

The rules repair what extraction does to text: odd characters and spaces, words split by a
tab or space ("Integ rated"), hyphenation at line ends, bullets and paragraph numbers, and the
running headers, footers and page numbers that repeat across pages.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Container, Sequence

# Characters removed outright: soft hyphen, zero-width characters, byte-order mark, and the
# bidirectional embedding, override and isolate controls (invisible, but they show the rest
# of a line reversed wherever the text is shown: "Trojan Source" quotes).
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"
                                    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"),
                           None)
# Every other control character except tab, newline and form feed.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0d-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t]+")
_OTHER_SPACE = re.compile(r"[^\S \t\n\f]")
_ALPHA_RUN = re.compile(r"[A-Za-z]+")
_TERMINAL = ".!?:;"

BULLET_CHARS = "•●◦▪▫■□‣⁃∙·*+-–—\uf0b7\uf0a7\uf076\uf0d8"
_BULLET = re.compile(rf"^[{re.escape(BULLET_CHARS)}]\s+")
_LONE_BULLET = re.compile(rf"^[{re.escape(BULLET_CHARS)}]$")
# "1.", "2)", "(3)", "2.3", "1.2.4", "a)", "(b)", "iv.", "(ii)" followed by a space.
_NUMBER = re.compile(
    r"^(?:\(?\d{1,2}[.)]|\(\d{1,2}\)|\d{1,2}(?:\.\d{1,2})+\.?|\(?[a-z][.)]|\(?[ivx]{1,5}[.)])\s+"
)
PAGE_NUMBER = re.compile(
    r"(?:page\s*)?[-–]?\s*\d{1,4}\s*[-–]?(?:\s*(?:of|/)\s*\d{1,4})?", re.IGNORECASE
)


def normalize(text: str) -> str:
    """Unicode NFKC, ``\\n`` line ends, no invisible or control characters, plain spaces.

    Tabs, newlines and form feeds are kept: later steps read them as cell, line and page breaks.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_INVISIBLE)
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    # NFKC maps most exotic spaces to U+0020; this catches the rest (U+0085, U+2028, ...).
    return _OTHER_SPACE.sub(" ", text)


_CID = re.compile(r"\(cid:\d+\)")


def replace_unmapped_glyphs(line: str) -> str:
    """pdfminer writes glyphs it cannot map as "(cid:N)": at a line start that is nearly
    always a bullet symbol, elsewhere it is dropped."""
    stripped = line.lstrip()
    if stripped.startswith("(cid:"):
        match = _CID.match(stripped)
        if match and stripped[match.end() : match.end() + 1].isspace():
            line = "• " + stripped[match.end() :].lstrip()
    return _CID.sub("", line)


def collapse_spaces(text: str) -> str:
    """Runs of spaces and tabs become one space; no leading or trailing spaces."""
    return _SPACES.sub(" ", text).strip(" \t")


def rejoin_split_words(line: str, vocab: Container[str]) -> str:
    """Join two letter runs separated only by spaces/tabs when the joined form is a known word
    and at least one of the parts is not ("Integ\\trated" -> "Integrated", never "a part").

    ``vocab`` holds lower-case words."""
    if all(w.lower() in vocab for w in set(_ALPHA_RUN.findall(line))):
        return line  # a join needs an unknown part
    runs = list(_ALPHA_RUN.finditer(line))
    out: list[str] = []
    pos = 0
    i = 0
    while i < len(runs):
        start, end = runs[i].start(), runs[i].end()
        word = runs[i].group()
        j = i + 1
        while j < len(runs):
            gap = line[end : runs[j].start()]
            nxt = runs[j].group()
            if not _joinable(word, gap, nxt, vocab):
                break
            word += nxt
            end = runs[j].end()
            j += 1
        out.append(line[pos:start])
        out.append(word)
        pos = end
        i = j
    out.append(line[pos:])
    return "".join(out)


def _joinable(left: str, gap: str, right: str, vocab: Container[str]) -> bool:
    if not gap or gap.strip(" \t") or len(gap) > 3 or not right[0].islower():
        return False
    joined, left, right = (left + right).lower(), left.lower(), right.lower()
    return joined in vocab and (left not in vocab or right not in vocab)


def join_wrapped(left: str, right: str, vocab: Container[str]) -> str:
    """Join two wrapped lines; undo a line-end hyphen when the joined word is known."""
    left, right = left.rstrip(), right.lstrip()
    if not left:
        return right
    if not right:
        return left
    if left.endswith("-") and len(left) > 1 and left[-2].isalpha() and right[0].islower():
        head = _ALPHA_RUN.findall(left[:-1])
        tail = _ALPHA_RUN.match(right)
        if head and tail and (head[-1] + tail.group()).lower() in vocab:
            return left[:-1] + right
        return left + right
    return f"{left} {right}"


def strip_markers(text: str) -> tuple[str, bool]:
    """Remove a leading bullet and/or paragraph number; say whether there was one."""
    stripped = text.lstrip()
    found = False
    while True:
        match = _BULLET.match(stripped) or _NUMBER.match(stripped)
        if match is None:
            break
        stripped = stripped[match.end() :].lstrip()
        found = True
    return stripped, found


def is_lone_bullet(text: str) -> bool:
    """A line holding only a bullet character (the item text follows on the next line)."""
    return bool(_LONE_BULLET.match(text.strip()))


def ends_sentence(text: str) -> bool:
    """Whether ``text`` ends with sentence-final punctuation (quotes and brackets ignored)."""
    stripped = text.rstrip(" \"'”’)]")
    return bool(stripped) and stripped[-1] in _TERMINAL


def clean_line(line: str, vocab: Container[str]) -> str:
    """The cleaning applied to each extracted line before the document is structured."""
    return rejoin_split_words(normalize(line).replace("\n", " ").replace("\f", " "), vocab)


# --- running headers, footers and page numbers -------------------------------------------

_ZONE = 3  # lines at the top and at the bottom of a page that may be running furniture


def signature(line: str) -> str:
    """A line with digits masked and spacing folded, so "Page 3" and "Page 4" compare equal.

    A line ending like a sentence keeps its digits: body text that differs only in numbers
    ("... fell in month 3.") is not furniture."""
    folded = collapse_spaces(line).lower()
    return (
        folded
        if folded.rstrip(")]\"'”’").endswith((".", "!", "?"))
        else re.sub(r"\d+", "#", folded)
    )


def _zone_indices(lines: Sequence[str]) -> list[int]:
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return sorted(set(filled[:_ZONE] + filled[-_ZONE:]))


def running_signatures(pages: Sequence[Sequence[str]], min_share: float) -> set[str]:
    """Signatures of lines found at the top or bottom of at least ``min_share`` of the pages
    (and on two pages at least)."""
    if len(pages) < 2:
        return set()
    seen: Counter[str] = Counter()
    for lines in pages:
        seen.update({signature(lines[i]) for i in _zone_indices(lines)})
    needed = max(2, math.ceil(min_share * len(pages)))
    return {sig for sig, n in seen.items() if n >= needed and sig}


def remove_running_lines(
    pages: Sequence[Sequence[str]], min_share: float
) -> tuple[list[list[str]], list[str]]:
    """Drop the running headers/footers/page numbers of ``pages``; return the pages and the
    text of the dropped lines that are not page numbers (title candidates).

    When that would drop every line with text (pages that all repeat one short page), the
    repeated lines are the text, not furniture: the pages are returned as they are."""
    running = running_signatures(pages, min_share)
    out: list[list[str]] = []
    dropped: list[str] = []
    for lines in pages:
        zone = set(_zone_indices(lines))
        kept = []
        for i, line in enumerate(lines):
            if i in zone and signature(line) in running:
                if not PAGE_NUMBER.fullmatch(collapse_spaces(line)):
                    dropped.append(collapse_spaces(line))
                continue
            kept.append(line)
        out.append(kept)
    if not any(line.strip() for lines in out for line in lines):
        return [list(lines) for lines in pages], []
    return out, dropped


def remove_isolated_page_breaks(lines: Sequence[str]) -> tuple[list[str], list[str]]:
    """In unpaged text, drop page-break residue: a bare page number standing alone between
    blank lines, with the short stand-alone header/footer lines just before it; the paragraph
    it interrupted is joined up again. Returns the lines and the dropped furniture text."""
    out = list(lines)
    dropped: list[str] = []
    i = len(out) - 1
    while i >= 0:
        if not _is_bare_number(out, i):
            i -= 1
            continue
        first = i
        j = i - 1
        for _ in range(2):
            while j >= 0 and not out[j].strip():
                j -= 1
            if j < 0 or not _is_standalone_furniture(out, j):
                break
            dropped.append(collapse_spaces(out[j]))
            first = j
            j -= 1
        del out[first : i + 1]
        _rejoin_interrupted(out, first)
        i = min(first, len(out)) - 1
    return out, dropped[::-1]


def _is_bare_number(lines: Sequence[str], i: int) -> bool:
    text = lines[i].strip()
    if not text.isdigit() or len(text) > 4:
        return False
    before = i == 0 or not lines[i - 1].strip()
    after = i == len(lines) - 1 or not lines[i + 1].strip()
    return before and after


def _is_standalone_furniture(lines: Sequence[str], j: int) -> bool:
    text = collapse_spaces(lines[j])
    alone = (j == 0 or not lines[j - 1].strip()) and (
        j == len(lines) - 1 or not lines[j + 1].strip()
    )
    return alone and len(text) <= 120 and not ends_sentence(text) and not strip_markers(text)[1]


def _rejoin_interrupted(lines: list[str], at: int) -> None:
    """Remove the blank lines at ``at`` if the text before them stops mid-sentence."""
    before = at - 1
    while before >= 0 and not lines[before].strip():
        before -= 1
    after = at
    while after < len(lines) and not lines[after].strip():
        after += 1
    if before < 0 or after >= len(lines):
        return
    tail = collapse_spaces(lines[before])
    if tail and (tail[-1].islower() or tail[-1] == ","):
        del lines[before + 1 : after]
