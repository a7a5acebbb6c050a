"""Hostile and broken input: each becomes the right DocumentError with a readable reason."""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.errors import (
    CorruptDocumentError,
    DocumentError,
    EmptyDocumentError,
    EncryptedDocumentError,
    LimitExceededError,
    NoTextLayerError,
    UnsupportedFormatError,
)
from pipeline.ingest import ingest_document
from scripts.hostile_corpus import flate_bomb_pdf, image_only_pdf, raw_pdf
from tests.ingest.helpers import pdf_bytes, source_for, with_corpus

pytestmark = pytest.mark.slow

WriteFile = Callable[[str, bytes | str], Path]
PAGE = ["The trust board met on Tuesday and agreed the annual plan for the coming year."]


def random_bytes(n: int = 4096, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(n)


def expect(
    path: Path, settings: Settings, error: type[DocumentError], kind: str, words: str
) -> DocumentError:
    with pytest.raises(error) as info:
        ingest_document(source_for(path, settings), settings)
    assert info.value.kind == kind
    assert path.name in str(info.value)  # the message names the file
    assert words in str(info.value)
    return info.value


@pytest.mark.parametrize("name", ["empty.pdf", "empty.txt", "empty.docx", "empty.html"])
def test_zero_byte_files(write_file: WriteFile, settings: Settings, name: str) -> None:
    expect(write_file(name, b""), settings, EmptyDocumentError, "empty", "empty file (0 bytes)")


def test_whitespace_only_text(write_file: WriteFile, settings: Settings) -> None:
    expect(write_file("blank.txt", " \n\t\n"), settings, EmptyDocumentError, "empty", "no text")


def test_random_bytes_named_pdf(write_file: WriteFile, settings: Settings) -> None:
    expect(
        write_file("r.pdf", random_bytes()),
        settings,
        CorruptDocumentError,
        "corrupt",
        "not a valid PDF",
    )


def test_random_bytes_named_docx(write_file: WriteFile, settings: Settings) -> None:
    expect(
        write_file("r.docx", random_bytes()),
        settings,
        CorruptDocumentError,
        "corrupt",
        "not a valid .docx",
    )


def test_random_bytes_named_txt(write_file: WriteFile, settings: Settings) -> None:
    expect(
        write_file("r.txt", random_bytes()),
        settings,
        CorruptDocumentError,
        "binary",
        "binary data, not text",
    )


def test_zip_that_is_not_a_docx(write_file: WriteFile, settings: Settings) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a word document")
    expect(
        write_file("z.docx", buffer.getvalue()),
        settings,
        CorruptDocumentError,
        "corrupt",
        "not a valid .docx",
    )


def test_docx_zip_bomb(write_file: WriteFile, settings: Settings) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\0" * 20_000_000)
    expect(
        write_file("bomb.docx", buffer.getvalue()),
        settings,
        LimitExceededError,
        "limit",
        "zip bomb",
    )


def test_truncated_pdf(write_file: WriteFile, settings: Settings) -> None:
    data = pdf_bytes([PAGE, PAGE])
    expect(
        write_file("cut.pdf", data[: len(data) * 6 // 10]),
        settings,
        CorruptDocumentError,
        "corrupt",
        "truncated PDF",
    )


def test_malformed_pdf_header_only(write_file: WriteFile, settings: Settings) -> None:
    expect(
        write_file("bad.pdf", b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"),
        settings,
        CorruptDocumentError,
        "corrupt",
        "not a valid PDF",
    )


@pytest.mark.parametrize("extractor", ["pdfplumber", "pdfium"])
def test_encrypted_pdf_needs_password(
    write_file: WriteFile, settings: Settings, extractor: str
) -> None:
    path = write_file("locked.pdf", pdf_bytes([PAGE], password="s3cret"))
    cfg = settings.model_copy(
        update={"ingest": settings.ingest.model_copy(update={"pdf_extractor": extractor})}
    )
    expect(
        path,
        cfg,
        EncryptedDocumentError,
        "encrypted",
        "encrypted PDF: pass --password or set `password:` in the sidecar",
    )
    expect(
        path,
        with_corpus(cfg, password="wrong"),
        EncryptedDocumentError,
        "encrypted",
        "does not open it",
    )
    result = ingest_document(source_for(path, cfg), with_corpus(cfg, password="s3cret"))
    assert result.sentences.column("text").to_pylist() == PAGE


def test_encrypted_pdf_password_from_sidecar(write_file: WriteFile, settings: Settings) -> None:
    path = write_file("locked.pdf", pdf_bytes([PAGE], password="s3cret"))
    write_file("locked.pdf.meta.yaml", "password: s3cret\n")
    result = ingest_document(source_for(path, settings), settings)
    assert result.sentences.column("text").to_pylist() == PAGE
    assert result.document["metadata_source"] == "inferred"  # a password is not metadata


def test_image_only_pdf(write_file: WriteFile, settings: Settings) -> None:
    expect(
        write_file("scan.pdf", image_only_pdf()),
        settings,
        NoTextLayerError,
        "image_only",
        "no text layer (image-only/scanned PDF): OCR it first",
    )


def test_unsupported_type(write_file: WriteFile, settings: Settings) -> None:
    err = expect(
        write_file("sheet.xlsx", b"PK\x03\x04"),
        settings,
        UnsupportedFormatError,
        "unsupported",
        "unsupported file type .xlsx",
    )
    assert ".pdf" in str(err)
    expect(
        write_file("README", "text"),
        settings,
        UnsupportedFormatError,
        "unsupported",
        "(no extension)",
    )


def test_extension_switched_off_in_config(write_file: WriteFile, settings: Settings) -> None:
    path = write_file("notes.md", "# Notes\n\nSome text.\n")
    expect(
        path,
        with_corpus(settings, extensions=[".txt"]),
        UnsupportedFormatError,
        "unsupported",
        ".md",
    )


def test_file_size_limit(write_file: WriteFile, settings: Settings) -> None:
    path = write_file("big.txt", "word " * 50_000)
    expect(
        path,
        with_corpus(settings, max_file_mb=0.1),
        LimitExceededError,
        "limit",
        "corpus.max_file_mb",
    )


def test_page_limit(write_file: WriteFile, settings: Settings) -> None:
    path = write_file("long.pdf", pdf_bytes([PAGE] * 5))
    expect(
        path,
        with_corpus(settings, max_pages=4),
        LimitExceededError,
        "limit",
        "5 pages is over the limit of 4",
    )


def test_time_limit(write_file: WriteFile, settings: Settings) -> None:
    path = write_file("slow.pdf", pdf_bytes([PAGE] * 3))
    expect(
        path,
        with_corpus(settings, max_seconds_per_document=1e-9),
        LimitExceededError,
        "limit",
        "max_seconds_per_document",
    )


def test_file_vanished_before_reading(write_file: WriteFile, settings: Settings) -> None:
    path = write_file("gone.txt", "Some text that will vanish.")
    source = source_for(path, settings)
    path.unlink()
    with pytest.raises(DocumentError, match="vanished") as info:
        ingest_document(source, settings)
    assert info.value.kind == "missing"


def test_file_changing_while_read(
    write_file: WriteFile, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    path = write_file("moving.txt", "Text that is being rewritten while it is read.")
    source = source_for(path, settings)
    real_fstat = os.fstat
    calls = {"n": 0}

    def fstat_with_later_change(fd: int) -> os.stat_result:
        calls["n"] += 1
        if calls["n"] == 2:  # the second look, after reading: another writer touched it
            os.utime(path, ns=(0, 1))
        return real_fstat(fd)

    monkeypatch.setattr(os, "fstat", fstat_with_later_change)
    with pytest.raises(DocumentError, match="changed while it was being read") as info:
        ingest_document(source, settings)
    assert info.value.kind == "changed"


def test_link_swapped_in_after_discovery(
    write_file: WriteFile, settings: Settings, tmp_path: Path
) -> None:
    path = write_file("swap.txt", "Some text.")
    source = source_for(path, settings)
    path.unlink()
    path.symlink_to("/etc/hostname")
    with pytest.raises(DocumentError, match="symbolic link") as info:
        ingest_document(source, settings)
    assert info.value.kind == "link"


def test_one_line_of_several_megabytes(write_file: WriteFile, settings: Settings) -> None:
    sentence = "The partnership board agreed to pool the budgets of the two councils. "
    path = write_file("huge.txt", sentence * 30_000)  # about 2 MB on a single line
    result = ingest_document(source_for(path, settings), settings)
    assert result.sentences.num_rows >= 30_000 * 0.95
    page_text = result.pages.column("text")[0].as_py()
    for row in result.sentences.slice(0, 50).to_pylist():
        assert page_text[row["start"] : row["end"]] == row["text"]


def test_several_megabytes_without_any_space(write_file: WriteFile, settings: Settings) -> None:
    path = write_file("blob.txt", "a" * 3_000_000)
    result = ingest_document(source_for(path, settings), settings)
    assert "".join(result.sentences.column("text").to_pylist()) == "a" * 3_000_000


def test_deeply_nested_html(write_file: WriteFile, settings: Settings) -> None:
    page = "<div>" * 20_000 + "The nested text is still found." + "</div>" * 20_000
    result = ingest_document(source_for(write_file("deep.html", page), settings), settings)
    assert result.sentences.column("text").to_pylist() == ["The nested text is still found."]


def test_a_failing_parser_becomes_a_document_error(
    write_file: WriteFile, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.ingest import document

    def broken(data: bytes, name: str) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(document, "html_lines", broken)
    path = write_file("page.html", "<p>Text.</p>")
    expect(path, settings, CorruptDocumentError, "corrupt", "the parser failed (RecursionError")


def test_compression_bomb_pdf(write_file: WriteFile, settings: Settings) -> None:
    path = write_file("bomb.pdf", flate_bomb_pdf(inflated_mb=60))
    assert path.stat().st_size < 200_000
    expect(
        path, with_corpus(settings, max_file_mb=50), LimitExceededError, "limit", "compression bomb"
    )


def test_hand_written_pdf_under_the_inflation_limit(
    write_file: WriteFile, settings: Settings
) -> None:
    content = b"BT /F1 11 Tf 60 780 Td (The clinic opens on Saturdays from next month.) Tj ET"
    path = write_file("small.pdf", raw_pdf(content))
    result = ingest_document(source_for(path, settings), settings)
    assert result.sentences.column("text").to_pylist() == [
        "The clinic opens on Saturdays from next month."
    ]
