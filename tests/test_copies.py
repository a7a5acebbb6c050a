"""One voice per text: near-identical documents are copies of one canonical document."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from pipeline.copies import DocumentInfo, canonical_ids, find_copies, mark_copies, text_signatures
from pipeline.io import OutputStore
from pipeline.schema import to_table

RESPONSE = (
    "The Borough Council welcomes the chance to answer the consultation. "
    "We support a statutory footing for integrated care systems from next year. "
    "We do not agree that a statutory body gives more incentive to collaborate, because "
    "councils would lose their equal place at the table. Membership should stay permissive "
    "so that each system can shape its governance around its residents. Commissioning now "
    "held nationally may move to systems once they are ready and the safeguards are agreed. "
    "Place must remain the engine of integration, with district councils fully involved."
)
# The same response as a PDF reads it: wrapped lines, a page number, bullets, and different
# punctuation.
AS_PDF = (
    "The Borough Council welcomes the chance to answer the\nconsultation.\n"
    "• We support a statutory footing for integrated care systems from next year.\n2\n"
    "We do not agree that a statutory body gives more incentive to collaborate – because "
    "councils would lose their equal place at the table; Membership should stay permissive "
    "so that each system can shape its governance around its residents. Commissioning now "
    "held nationally may move to systems once they are ready and the safeguards are agreed. "
    "Place must remain the engine of integration, with district councils fully involved."
)
OTHER = (
    "The trust board noted the winter plan and the staffing position in the emergency "
    "department. Elective waiting lists fell for the third month running, and the board "
    "approved the capital programme for the new diagnostic centre in the spring."
)


def _copies(texts: list[str], infos: list[DocumentInfo], threshold: float = 0.85
            ) -> dict[str, str]:
    signatures, has_words = text_signatures(texts)
    return find_copies(infos, signatures, has_words, threshold)


def _info(doc_id: str, fmt: str, author: str | None = None) -> DocumentInfo:
    return DocumentInfo(doc_id, f"corpus/response.{fmt}" if fmt != "md" else f"{doc_id}.md",
                        fmt, author)


def test_pdf_and_text_of_one_response_are_one_voice_with_the_text_canonical() -> None:
    infos = [_info("pdf1", "pdf"), _info("txt1", "txt"), _info("other", "txt")]
    assert _copies([AS_PDF, RESPONSE, OTHER], infos) == {"pdf1": "txt1"}


def test_canonical_choice_does_not_depend_on_input_order() -> None:
    infos = [_info("txt1", "txt"), _info("pdf1", "pdf")]
    assert _copies([RESPONSE, AS_PDF], infos) == {"pdf1": "txt1"}


def test_same_text_from_different_organisations_stays_separate_voices() -> None:
    infos = [_info("a", "md", "org-a"), _info("b", "md", "org-b"), _info("c", "md", "org-a")]
    assert _copies([RESPONSE, RESPONSE, RESPONSE], infos) == {"c": "a"}


def test_an_unknown_author_never_joins_two_different_authors() -> None:
    infos = [_info("a", "md", "org-a"), _info("b", "md"), _info("c", "md", "org-c")]
    copies = _copies([RESPONSE, RESPONSE, RESPONSE], infos)
    assert copies == {"b": "a"}


def test_unrelated_and_empty_texts_are_never_copies() -> None:
    infos = [_info("a", "txt"), _info("b", "txt"), _info("c", "txt"), _info("d", "txt")]
    assert _copies([RESPONSE, OTHER, "", "  "], infos) == {}


def test_a_partly_shared_text_is_not_a_copy() -> None:
    half = RESPONSE[: len(RESPONSE) // 2] + " " + OTHER
    assert _copies([RESPONSE, half], [_info("a", "txt"), _info("b", "md")]) == {}


def _write_doc(store: OutputStore, doc_id: str, path: str, fmt: str, text: str) -> None:
    store.write_part("documents", doc_id, to_table("documents", [{
        "doc_id": doc_id, "source_path": path, "format": fmt, "title": None,
        "author_org": None, "author_org_id": None, "author_confidence": None,
        "doc_kind": "other", "date": None, "n_pages": None, "n_sentences": 1,
        "n_chars": len(text), "size_bytes": len(text), "sha256": doc_id * 4,
        "metadata_source": "inferred", "ingested_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "copy_of": None}]))
    store.write_part("sentences", doc_id, to_table("sentences", [{
        "sentence_id": f"{doc_id}-00000", "doc_id": doc_id, "idx": 0, "page": None,
        "section": None, "start": 0, "end": len(text), "text": text}]))


def _copy_of(store: OutputStore) -> dict[str, str | None]:
    rows = store.read_table("documents").to_pylist()
    return {r["doc_id"]: r["copy_of"] for r in rows}


def test_mark_copies_is_incremental_and_a_copy_becomes_canonical_when_its_original_goes(
        tmp_path: Path) -> None:
    store = OutputStore(tmp_path)
    _write_doc(store, "t" * 16, "response.txt", "txt", RESPONSE)
    _write_doc(store, "p" * 16, "response.pdf", "pdf", AS_PDF)
    _write_doc(store, "o" * 16, "other.txt", "txt", OTHER)
    assert mark_copies(store, 0.85) == {"copies": 1, "updated": 1}
    assert _copy_of(store) == {"t" * 16: None, "p" * 16: "t" * 16, "o" * 16: None}
    assert canonical_ids(store.read_table("documents")) == {"t" * 16, "o" * 16}
    token = store.part_token("documents", "o" * 16)
    assert mark_copies(store, 0.85) == {"copies": 1, "updated": 0}  # nothing rewritten
    assert store.part_token("documents", "o" * 16) == token
    for table in ("documents", "sentences"):
        store.delete_part(table, "t" * 16)
    assert mark_copies(store, 0.85) == {"copies": 0, "updated": 1}
    assert _copy_of(store) == {"p" * 16: None, "o" * 16: None}


def test_signatures_are_cached_by_document(tmp_path: Path) -> None:
    store = OutputStore(tmp_path)
    _write_doc(store, "t" * 16, "response.txt", "txt", RESPONSE)
    mark_copies(store, 0.85)
    cached = np.load(store.cache_dir("copies") / "signatures.npz")
    assert cached["doc_ids"].tolist() == ["t" * 16]
    store.delete_part("sentences", "t" * 16)  # a cached signature needs no sentences
    assert mark_copies(store, 0.85) == {"copies": 0, "updated": 0}
