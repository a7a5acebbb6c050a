"""Sentence segmentation with spaCy's ``senter``, inside blocks, in bounded chunks.

Blocks are the rule boundaries (a heading, a list item and a paragraph never share a
sentence); spaCy splits the blocks. Long blocks are cut into chunks of at most
``MAX_CHUNK_CHARS`` at white space so one line of several megabytes stays cheap, and a
"sentence" longer than ``MAX_SENTENCE_CHARS`` (a pasted blob, a table without punctuation) is
cut the same way so that parsing it later stays cheap too.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from pipeline.ingest.vocab import SENTER_ONLY_DISABLED

MAX_CHUNK_CHARS = 20_000
# Real sentences stay far below this (the longest in the shared texts is under 900 characters);
# the dependency parser's time and memory grow with a sentence's length.
MAX_SENTENCE_CHARS = 1_500
_PIPE_LOCK = threading.Lock()
Splitter = Callable[[Sequence[str]], list[list[tuple[int, int]]]]


@dataclass(frozen=True)
class Span:
    """A sentence as offsets into the text it was found in."""

    start: int
    end: int


def spacy_splitter(model: str, batch_size: int) -> Splitter:
    """A splitter running only spaCy's fast statistical sentence recogniser."""
    from pipeline.nlp import load_spacy

    nlp = load_spacy(model, disable=SENTER_ONLY_DISABLED)
    if "senter" in nlp.disabled:
        nlp.enable_pipe("senter")

    def split(texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        # One shared pipeline: flows may ingest documents in threads, and spaCy does not
        # promise that concurrent calls on one Language are safe.
        with _PIPE_LOCK:
            return [
                [(s.start_char, s.end_char) for s in doc.sents]
                for doc in nlp.pipe(texts, batch_size=batch_size)
            ]

    return split


def chunks(text: str, limit: int = MAX_CHUNK_CHARS) -> Iterator[tuple[int, int]]:
    """Cut ``text`` into pieces of at most ``limit`` characters, at white space when possible."""
    start = 0
    while len(text) - start > limit:
        cut = text.rfind(" ", start + limit // 2, start + limit)
        end = cut + 1 if cut != -1 else start + limit
        yield start, end
        start = end
    if start < len(text):
        yield start, len(text)


def sentence_spans(texts: Sequence[str], split: Splitter) -> list[list[Span]]:
    """Sentences of each text in ``texts``, trimmed of white space, each with a letter or digit.

    Offsets index into the corresponding text.
    """
    pieces: list[tuple[int, int, int]] = []  # (text index, start, end)
    for i, text in enumerate(texts):
        pieces.extend((i, s, e) for s, e in chunks(text))
    found = split([texts[i][s:e] for i, s, e in pieces])
    out: list[list[Span]] = [[] for _ in texts]
    for (i, base, _), spans in zip(pieces, found, strict=True):
        text = texts[i]
        for s, e in spans:
            for start, end in _answer_breaks(text, base + s, base + e):
                for cut_start, cut_end in chunks(text[start:end], MAX_SENTENCE_CHARS):
                    span = _trim(text, start + cut_start, start + cut_end)
                    if span is not None:
                        out[i].append(span)
    return out


# A question ends and its answer begins: "...next decade? The Council supports ...", or a
# question label opens after a finished sentence: "... areas. Question 2: We disagree ...".
_ANSWER_BREAK = re.compile(
    r"(?<=\?)[)\]\"”’']?\s+(?=[\"“‘(]?[A-Z0-9])"
    r"|(?<=[.!?:])[)\]\"”’']?\s+(?=(?:Question|Q)\s?\d{1,2}[a-z]?\s?[:.)]\s)"
)


def _answer_breaks(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """``text[start:end]`` cut where a question ends and an answer starts (the statistical
    splitter often runs a question and the answer after it together when a PDF gives no
    paragraph break between them)."""
    cuts = [m.end() for m in _ANSWER_BREAK.finditer(text, start, end)]
    bounds = [start, *cuts, end]
    return list(itertools.pairwise(bounds))


def _trim(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if not any(ch.isalnum() for ch in text[start:end]):
        return None
    return Span(start, end)
