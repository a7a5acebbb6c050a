"""Sentence segmentation: chunking, offsets, and property-based checks on any text."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import Settings, load_settings
from pipeline.errors import DocumentError
from pipeline.ingest import discover, ingest_document
from pipeline.ingest.segment import (
    MAX_SENTENCE_CHARS,
    Span,
    chunks,
    sentence_spans,
    spacy_splitter,
)


def split_on_periods(texts: Sequence[str]) -> list[list[tuple[int, int]]]:
    """A stand-in splitter: a sentence ends after each full stop."""
    out = []
    for text in texts:
        spans, start = [], 0
        for i, ch in enumerate(text):
            if ch == ".":
                spans.append((start, i + 1))
                start = i + 1
        if start < len(text):
            spans.append((start, len(text)))
        out.append(spans)
    return out


def test_chunks_cut_at_spaces() -> None:
    text = "aaaa bbbb cccc dddd"
    assert list(chunks(text, limit=10)) == [(0, 10), (10, 19)]
    assert list(chunks("x" * 25, limit=10)) == [(0, 10), (10, 20), (20, 25)]
    assert list(chunks("", limit=10)) == []


def test_sentence_spans_trim_and_skip_empty() -> None:
    texts = ["One. Two.  ...  Three", "", "  . "]
    assert sentence_spans(texts, split_on_periods) == [
        [Span(0, 4), Span(5, 9), Span(16, 21)],
        [],
        [],
    ]


def test_a_sentence_longer_than_the_limit_is_cut_at_spaces() -> None:
    text = "Short one. " + "word " * 700 + "end."
    spans = sentence_spans([text], split_on_periods)[0]
    assert spans[0] == Span(0, 10)
    pieces = [text[s.start:s.end] for s in spans[1:]]
    assert len(pieces) == 3 and all(len(p) <= MAX_SENTENCE_CHARS for p in pieces)
    assert " ".join(pieces) == text[11:]  # cut at spaces: no word is split


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=1, max_value=50))
def test_chunks_cover_the_text(text: str, limit: int) -> None:
    pieces = list(chunks(text, limit))
    assert "".join(text[s:e] for s, e in pieces) == text
    assert all(0 < e - s <= limit for s, e in pieces)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=5))
def test_spans_are_valid_offsets(texts: list[str]) -> None:
    for text, spans in zip(texts, sentence_spans(texts, split_on_periods), strict=True):
        for span in spans:
            assert 0 <= span.start < span.end <= len(text)
            piece = text[span.start : span.end]
            assert piece == piece.strip() and any(ch.isalnum() for ch in piece)


@pytest.mark.slow
def test_spacy_splitter_splits_sentences() -> None:
    split = spacy_splitter(load_settings().nlp.spacy_model, batch_size=8)
    text = "The board met today. It agreed the plan. Dr. Smith chaired it."
    spans = split([text])[0]
    assert [text[s:e].strip() for s, e in spans][:2] == [
        "The board met today.",
        "It agreed the plan.",
    ]


_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("abc ABC.\n\t\f-•–1.)#*|:;é\u00ad\u200b")),
        st.characters(codec="utf-8"),
    ),
    max_size=400,
)


@pytest.mark.slow
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=_TEXT, suffix=st.sampled_from([".txt", ".md", ".html"]))
def test_any_text_ingests_with_valid_offsets_or_a_document_error(
    tmp_path: Path, text: str, suffix: str
) -> None:
    cfg: Settings = load_settings()
    path = tmp_path / f"doc{suffix}"
    path.write_text(text, encoding="utf-8")
    source = next(s for s in discover(tmp_path, cfg) if s.path == path)
    try:
        result = ingest_document(source, cfg)
    except DocumentError:
        return
    pages = {row["page"]: row["text"] for row in result.pages.to_pylist()}
    for row in result.sentences.to_pylist():
        assert 0 <= row["start"] < row["end"] <= len(pages[row["page"]])
        assert pages[row["page"]][row["start"] : row["end"]] == row["text"]
