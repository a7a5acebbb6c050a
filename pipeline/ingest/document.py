"""``ingest_document``: one source file in, its documents/pages/sentences rows out (no writes)."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import logging
import os
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from pipeline import schema
from pipeline.config import Settings
from pipeline.errors import (
    CorruptDocumentError,
    DocumentError,
    EmptyDocumentError,
    LimitExceededError,
    NoTextLayerError,
    UnsupportedFormatError,
)
from pipeline.ingest.clean import (
    normalize,
    rejoin_split_words,
    remove_isolated_page_breaks,
    remove_running_lines,
    replace_unmapped_glyphs,
)
from pipeline.ingest.discover import SourceFile
from pipeline.ingest.formats import decode_text, docx_lines, html_lines, strip_markdown_html
from pipeline.ingest.metadata import Sidecar, infer_date, infer_kind, infer_title, read_sidecar
from pipeline.ingest.pdf import extract_pdf
from pipeline.ingest.segment import Splitter, sentence_spans, spacy_splitter
from pipeline.ingest.structure import Block, Line, markdown_lines, structure_lines
from pipeline.ingest.vocab import Vocabulary, spacy_lexicon

log = logging.getLogger(__name__)

FORMATS = {
    ".pdf": "pdf",
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".docx": "docx",
}
_BLOCK_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class IngestedDocument:
    """One document's rows: ``document`` (a documents row), its pages and its sentences."""

    doc_id: str
    document: dict[str, object]
    pages: pa.Table
    sentences: pa.Table


@dataclass(frozen=True)
class _Extracted:
    """Cleaned, structured lines per page (page number None for unpaged formats)."""

    pages: list[tuple[int | None, list[Line]]]
    vocab: Vocabulary
    format_title: str | None = None
    running: tuple[str, ...] = ()


class _Deadline:
    """Raises :class:`LimitExceededError` once the document has used up its time."""

    def __init__(self, name: str, seconds: float) -> None:
        self.name = name
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def check(self, where: str = "") -> None:
        if time.monotonic() > self.end:
            at = f" (at {where})" if where else ""
            raise LimitExceededError(
                self.name,
                f"took longer than {self.seconds:g} s{at}: over corpus.max_seconds_per_document",
            )


def ingest_document(source: SourceFile, settings: Settings) -> IngestedDocument:
    """Read, extract, clean, structure and segment one file; infer its metadata.

    Pure apart from reading the file and its sidecar. Raises a ``DocumentError`` subclass whose
    message names the file and says what is wrong.
    """
    name = source.rel_path
    if source.problem is not None:
        raise DocumentError(name, source.problem[1], kind=source.problem[0])
    if source.link_target is not None:
        raise DocumentError(
            name, f"symbolic link (to {source.link_target}) not followed", kind="link"
        )
    fmt = _format(source, settings)
    sidecar = read_sidecar(source.sidecar, name, settings.ingest.years)
    started = time.monotonic()
    data = _read(source, settings)
    # Loading the model is a once-per-process cost, not this document's: do it before the clock.
    spacy_lexicon(settings.nlp.spacy_model)
    deadline = _Deadline(name, settings.corpus.max_seconds_per_document)
    sha = hashlib.sha256(data).hexdigest()
    doc_id = sha[:16]
    extracted = _extract_safely(fmt, data, name, settings, sidecar, deadline)
    page_blocks = [
        (page, structure_lines(lines, extracted.vocab)) for page, lines in extracted.pages
    ]
    if fmt == "pdf":
        _check_text_layer(name, page_blocks, settings.ingest.min_chars_per_page)
    page_rows, sentence_rows = _rows(doc_id, page_blocks, settings, deadline)
    if not sentence_rows:
        raise EmptyDocumentError(name, "no text found in the document")
    document = _document_row(
        source, fmt, data, sha, extracted, page_blocks, page_rows, len(sentence_rows), sidecar,
        settings.ingest.years,
    )
    elapsed = time.monotonic() - started
    n_words = sum(len(str(r["text"]).split()) for r in page_rows)
    log.info(
        "%s: %s, %s pages, %d sentences, %.2f s (%.0f words/s)",
        name, fmt, document["n_pages"] or "-", len(sentence_rows), elapsed,
        n_words / max(elapsed, 1e-6),
    )  # fmt: skip
    return IngestedDocument(
        doc_id=doc_id,
        document=document,
        pages=schema.to_table("pages", page_rows),
        sentences=schema.to_table("sentences", sentence_rows),
    )


def _format(source: SourceFile, settings: Settings) -> str:
    ext = source.extension
    allowed = {e.lower() for e in settings.corpus.extensions}
    if ext not in allowed or ext not in FORMATS:
        shown = ext or "(no extension)"
        supported = ", ".join(sorted(allowed & set(FORMATS)))
        raise UnsupportedFormatError(
            source.rel_path, f"unsupported file type {shown}; supported: {supported}"
        )
    return FORMATS[ext]


def _read(source: SourceFile, settings: Settings) -> bytes:
    """The file's bytes, read without following a link and checked against the size limit."""
    name = source.rel_path
    limit = int(settings.corpus.max_file_mb * 1024 * 1024)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(source.path, flags)
    except FileNotFoundError as exc:
        raise DocumentError(
            name, "the file vanished before it could be read", kind="missing"
        ) from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DocumentError(name, "symbolic link not followed", kind="link") from exc
        raise DocumentError(
            name, f"cannot open the file: {exc.strerror}", kind="unreadable"
        ) from exc
    with os.fdopen(fd, "rb") as fh:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise DocumentError(name, "not a regular file", kind="not_regular")
        if before.st_size > limit:
            raise LimitExceededError(
                name,
                f"file is {before.st_size / 1048576:.1f} MB, over the limit of "
                f"{settings.corpus.max_file_mb:g} MB (corpus.max_file_mb)",
            )
        data = fh.read(limit + 1)
        after = os.fstat(fd)
    if len(data) > limit:
        raise LimitExceededError(name, f"file grew over {settings.corpus.max_file_mb:g} MB")
    changed = (after.st_mtime_ns, after.st_size) != (before.st_mtime_ns, before.st_size)
    if changed or len(data) != after.st_size:
        raise DocumentError(name, "the file changed while it was being read", kind="changed")
    if not data:
        raise EmptyDocumentError(name, "empty file (0 bytes)")
    return data


def _extract_safely(
    fmt: str, data: bytes, name: str, settings: Settings, sidecar: Sidecar, deadline: _Deadline
) -> _Extracted:
    """:func:`_extract`, with any failure of a third-party parser on a hostile file turned
    into a :class:`CorruptDocumentError` so that the rest of the corpus goes on."""
    try:
        return _extract(fmt, data, name, settings, sidecar, deadline)
    except DocumentError:
        raise
    except Exception as exc:
        log.warning("%s: the %s parser failed", name, fmt, exc_info=True)
        raise CorruptDocumentError(
            name, f"cannot read this {fmt} file: the parser failed ({type(exc).__name__}: {exc})"
        ) from exc


def _extract(
    fmt: str, data: bytes, name: str, settings: Settings, sidecar: Sidecar, deadline: _Deadline
) -> _Extracted:
    lexicon = spacy_lexicon(settings.nlp.spacy_model)
    if fmt == "pdf":
        return _extract_pdf(data, name, settings, sidecar, deadline, lexicon)
    if fmt in {"txt", "md"}:
        text, _ = decode_text(data, name)
        if fmt == "md":
            text = strip_markdown_html(text)
        return _extract_plain(fmt, normalize(text), lexicon, settings)
    if fmt == "html":
        lines, title = html_lines(data, name)
    else:
        lines, title = docx_lines(data, name, int(settings.corpus.max_file_mb * 1024 * 1024))
    normalized = [Line(normalize(line.text).replace("\n", " "), line.hint) for line in lines]
    vocab = Vocabulary.from_texts((line.text for line in normalized), lexicon)
    cleaned = [Line(rejoin_split_words(line.text, vocab), line.hint) for line in normalized]
    return _Extracted(pages=[(None, cleaned)], vocab=vocab, format_title=title)


def _extract_pdf(
    data: bytes,
    name: str,
    settings: Settings,
    sidecar: Sidecar,
    deadline: _Deadline,
    lexicon: frozenset[str],
) -> _Extracted:
    raw_pages = extract_pdf(
        data,
        name,
        settings.ingest.pdf_extractor,
        sidecar.password or settings.corpus.password,
        (settings.corpus.max_pages, int(settings.corpus.max_file_mb * 1024 * 1024)),
        lambda number: deadline.check(f"page {number}"),
    )
    pages = [[replace_unmapped_glyphs(normalize(line)) for line in lines] for lines in raw_pages]
    vocab = Vocabulary.from_texts((line for lines in pages for line in lines), lexicon)
    pages = [[rejoin_split_words(line, vocab) for line in lines] for lines in pages]
    kept, running = remove_running_lines(pages, settings.ingest.header_footer_min_share)
    return _Extracted(
        pages=[(i, [Line(t) for t in lines]) for i, lines in enumerate(kept, start=1)],
        vocab=vocab,
        running=tuple(running),
    )


def text_blocks(text: str, fmt: str, settings: Settings) -> list[Block]:
    """The blocks (headings, items, paragraphs) of plain or Markdown ``text``, cleaned as
    ingestion cleans them (used to lay out the corpus's PDF versions)."""
    extracted = _extract_plain(
        fmt, normalize(text), spacy_lexicon(settings.nlp.spacy_model), settings
    )
    return [b for _, lines in extracted.pages for b in structure_lines(lines, extracted.vocab)]


def _extract_plain(fmt: str, text: str, lexicon: frozenset[str], settings: Settings) -> _Extracted:
    vocab = Vocabulary.from_texts([text], lexicon)
    lines = [rejoin_split_words(line, vocab) for line in text.split("\n")]
    running: list[str] = []
    if any("\f" in line for line in lines):
        pages = [p.split("\n") for p in "\n".join(lines).split("\f")]
        kept, running = remove_running_lines(pages, settings.ingest.header_footer_min_share)
        lines = [line for page in kept for line in [*page, ""]]
    else:
        lines, running = remove_isolated_page_breaks(lines)
    format_title = None
    if fmt == "md":
        hinted = markdown_lines("\n".join(lines))
        first = next((ln for ln in hinted if ln.text.strip()), None)
        if first is not None and first.hint == "heading":
            format_title = first.text  # a Markdown document opening with a heading
    else:
        hinted = [Line(line) for line in lines]
    return _Extracted(
        pages=[(None, hinted)], vocab=vocab, format_title=format_title, running=tuple(running)
    )


def _check_text_layer(
    name: str, page_blocks: Sequence[tuple[int | None, list[Block]]], min_chars: int
) -> None:
    sizes = [sum(len(b.text) for b in blocks) for _, blocks in page_blocks]
    if not any(sizes):
        raise NoTextLayerError(name, "no text layer (image-only/scanned PDF): OCR it first")
    if not any(n >= min_chars for n in sizes):
        raise NoTextLayerError(
            name,
            f"almost no text ({sum(sizes)} characters on {len(sizes)} pages, fewer than "
            f"ingest.min_chars_per_page={min_chars} on every page): image-only or scanned "
            "PDF? OCR it first",
        )
    thin = [page for (page, _), n in zip(page_blocks, sizes, strict=True) if n < min_chars]
    if thin:
        log.warning("%s: little or no text on pages %s (images?)", name, thin)


def _rows(
    doc_id: str,
    page_blocks: Sequence[tuple[int | None, list[Block]]],
    settings: Settings,
    deadline: _Deadline,
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    split: Splitter = spacy_splitter(settings.nlp.spacy_model, settings.nlp.batch_size)
    page_rows: list[dict[str, object]] = []
    sentence_rows: list[dict[str, object]] = []
    section: str | None = None
    for page, blocks in page_blocks:
        deadline.check(f"page {page}" if page is not None else "")
        text = _BLOCK_SEPARATOR.join(b.text for b in blocks)
        page_rows.append({"doc_id": doc_id, "page": page, "text": text, "n_chars": len(text)})
        prose = [b.text for b in blocks if b.kind != "heading"]
        spans = iter(sentence_spans(prose, split))
        offset = 0
        for block in blocks:
            if block.kind == "heading":
                section = block.text
                found = [(0, len(block.text))]
            else:
                found = [(s.start, s.end) for s in next(spans)]
            for start, end in found:
                idx = len(sentence_rows)
                sentence_rows.append(
                    {
                        "sentence_id": f"{doc_id}-{idx:05d}",
                        "doc_id": doc_id,
                        "idx": idx,
                        "page": page,
                        "section": section,
                        "start": offset + start,
                        "end": offset + end,
                        "text": block.text[start:end],
                    }
                )
            offset += len(block.text) + len(_BLOCK_SEPARATOR)
    return page_rows, sentence_rows


def _document_row(
    source: SourceFile,
    fmt: str,
    data: bytes,
    sha: str,
    extracted: _Extracted,
    page_blocks: Sequence[tuple[int | None, list[Block]]],
    page_rows: Sequence[dict[str, object]],
    n_sentences: int,
    sidecar: Sidecar,
    years: tuple[int, int],
) -> dict[str, object]:
    lines = [line.text for _, page_lines in extracted.pages[:2] for line in page_lines]
    blocks = [b for _, page in page_blocks for b in page]
    full_text = "\n\n".join(str(r["text"]) for r in page_rows)
    title = sidecar.title or infer_title(lines, blocks, extracted.format_title, extracted.running)
    date = sidecar.date or infer_date(lines, years)
    kind = sidecar.doc_kind or infer_kind(title, full_text)
    given = sidecar.given()
    if not given:
        origin = "inferred"
    elif {"title", "date", "doc_kind"} <= given:
        origin = "sidecar"
    else:
        origin = "mixed"
    return {
        "doc_id": sha[:16],
        "source_path": source.rel_path,
        "format": fmt,
        "title": title,
        "author_org": sidecar.author_org,
        "author_org_id": None,
        "author_confidence": None,
        "doc_kind": kind,
        "date": date,
        "n_pages": len(page_rows) if fmt == "pdf" else None,
        "n_sentences": n_sentences,
        "n_chars": sum(int(str(r["n_chars"])) for r in page_rows),
        "size_bytes": len(data),
        "sha256": sha,
        "metadata_source": origin,
        "ingested_at": dt.datetime.now(dt.UTC),
        "copy_of": None,  # set corpus-wide after ingestion (pipeline.copies)
    }
