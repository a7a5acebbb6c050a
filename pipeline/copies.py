"""One voice per text: documents whose text is the same or nearly the same are copies.

The same response saved as PDF and as text, or a re-saved file, has different bytes (so a
different ``doc_id``) but one author and one text. :func:`find_copies` recognises such
documents corpus-wide: MinHash over word 3-shingles of the document's sentences (lower-cased
words only, so PDF line breaks, hyphenation, bullets and punctuation do not matter), LSH
banding for the candidates, and the estimated Jaccard similarity for the decision. A group
of copies keeps one canonical document (a born-digital format before a PDF, then the first
by path); the others get ``documents.copy_of`` = the canonical ``doc_id``. Documents whose
authors are known and differ are never copies of each other: a campaign or template
response sent by several organisations stays one voice per organisation.

:func:`mark_copies` applies this to an output folder after ingestion (and again after the
entities stage has inferred the authors), rewriting only the ``documents`` parts whose
``copy_of`` changed, so it is incremental: when a canonical document is deleted, its copy
becomes canonical on the next run. Signatures are cached by ``doc_id`` (content-derived).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.arguments.duplicates import UnionFind, minhash_signatures, similarity, usable
from pipeline.io import OutputStore, read_arrays, write_arrays

log = logging.getLogger(__name__)

N_PERM = 128
BANDS = 32
SHINGLE = 3
_LETTERS = re.compile(r"[^\W\d_]+")
# Formats a text was born in come before a PDF rendering of it (cleaner text, no layout).
_FORMAT_RANK = {"txt": 0, "md": 0, "docx": 1, "html": 2, "pdf": 3}


@dataclass(frozen=True)
class DocumentInfo:
    """What copy detection needs to know of a document besides its text."""

    doc_id: str
    source_path: str
    format: str
    author: str | None


def _canonical_order(doc: DocumentInfo) -> tuple[int, str, str]:
    return _FORMAT_RANK.get(doc.format, len(_FORMAT_RANK)), doc.source_path, doc.doc_id


def find_copies(docs: Sequence[DocumentInfo], signatures: np.ndarray, has_words: np.ndarray,
                threshold: float) -> dict[str, str]:
    """Map each copy's ``doc_id`` to its canonical ``doc_id`` (canonical documents absent).

    ``signatures`` holds one MinHash row per document (as :func:`text_signatures`). Pairs
    reaching ``threshold`` join, most similar first, unless that would put two different known
    authors in one group. Deterministic: the result depends only on the inputs.
    """
    order = sorted(range(len(docs)), key=lambda i: _canonical_order(docs[i]))
    docs = [docs[i] for i in order]
    signatures, has_words = signatures[order], has_words[order]
    rows = signatures.shape[1] // BANDS if len(docs) else 0
    pairs: set[tuple[int, int]] = set()
    for band in range(BANDS):
        buckets: dict[bytes, list[int]] = defaultdict(list)
        for i in np.flatnonzero(has_words):
            buckets[signatures[i, band * rows:(band + 1) * rows].tobytes()].append(int(i))
        pairs.update((a, b) for bucket in buckets.values() for a in bucket for b in bucket if a < b)
    scored = sorted(((similarity(signatures[a], signatures[b]), a, b) for a, b in pairs),
                    key=lambda t: (-t[0], t[1], t[2]))
    links = UnionFind(len(docs))
    authors: dict[int, set[str]] = {i: {d.author} if d.author else set()
                                    for i, d in enumerate(docs)}
    for score, a, b in scored:
        if score < threshold:
            break
        ra, rb = links.find(a), links.find(b)
        if ra == rb or len(authors[ra] | authors[rb]) > 1:
            continue
        links.union(ra, rb)
        root = links.find(ra)
        authors[root] = authors[ra] | authors[rb]
    # the smallest index of a set is its root: the first document in canonical order
    return {doc.doc_id: docs[links.find(i)].doc_id for i, doc in enumerate(docs)
            if links.find(i) != i}


def text_signatures(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures of whole document texts, and which texts have any word.

    Only words of letters count: page numbers, list numbering and punctuation, which differ
    between a PDF and its source text, do not."""
    words = [" ".join(_LETTERS.findall(text.lower())) for text in texts]
    return minhash_signatures(words, N_PERM, SHINGLE), usable(words)


def _author(row: Mapping[str, object]) -> str | None:
    author = row.get("author_org_id") or row.get("author_org")
    return str(author).casefold() if author else None


def _signatures(store: OutputStore, doc_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Signatures of ``doc_ids`` (in that order), from the cache where it has them."""
    path = store.cache_dir("copies") / "signatures.npz"
    cached = read_arrays(path) or {}
    known: dict[str, tuple[np.ndarray, bool]] = {}
    if {"doc_ids", "signatures", "has_words"} <= set(cached):
        known = {d: (s, bool(w)) for d, s, w in zip(cached["doc_ids"].tolist(),
                                                     cached["signatures"], cached["has_words"],
                                                     strict=True)}
    missing = [d for d in doc_ids if d not in known]
    if missing:
        sentences = store.read_table("sentences", set(missing)).select(["doc_id", "idx", "text"])
        texts: dict[str, list[str]] = defaultdict(list)
        for row in sentences.sort_by([("doc_id", "ascending"), ("idx", "ascending")]).to_pylist():
            texts[row["doc_id"]].append(row["text"])
        signatures, has_words = text_signatures([" ".join(texts[d]) for d in missing])
        known.update({d: (signatures[i], bool(has_words[i])) for i, d in enumerate(missing)})
        write_arrays(path, {"doc_ids": np.asarray(doc_ids, dtype="U64"),
                            "signatures": np.asarray([known[d][0] for d in doc_ids],
                                                     dtype=np.uint64).reshape(-1, N_PERM),
                            "has_words": np.asarray([known[d][1] for d in doc_ids])})
    return (np.asarray([known[d][0] for d in doc_ids], dtype=np.uint64).reshape(-1, N_PERM),
            np.asarray([known[d][1] for d in doc_ids], dtype=bool))


def mark_copies(store: OutputStore, threshold: float) -> dict[str, int]:
    """Set ``documents.copy_of`` across the output folder; rewrite only the parts that change.

    Returns how many documents are copies and how many parts were rewritten.
    """
    documents = store.read_table("documents")
    if documents.num_rows == 0:
        return {"copies": 0, "updated": 0}
    rows = documents.to_pylist()
    infos = [DocumentInfo(r["doc_id"], r["source_path"], r["format"], _author(r)) for r in rows]
    signatures, has_words = _signatures(store, [d.doc_id for d in infos])
    copies = find_copies(infos, signatures, has_words, threshold)
    updated = 0
    for i, row in enumerate(rows):
        wanted = copies.get(row["doc_id"])
        if row["copy_of"] != wanted:
            part = documents.slice(i, 1)
            column = part.schema.get_field_index("copy_of")
            part = part.set_column(column, part.schema.field(column),
                                   pa.array([wanted], type=pa.string()))
            store.write_part("documents", row["doc_id"], part)
            updated += 1
    if copies:
        log.info("copies: %d documents are copies of another (%s)", len(copies),
                 ", ".join(f"{c} -> {k}" for c, k in sorted(copies.items())))
    return {"copies": len(copies), "updated": updated}


def canonical_ids(documents: pa.Table) -> set[str]:
    """The ``doc_id`` of every document that is not a copy (all of them when the table
    predates ``copy_of``)."""
    if "copy_of" not in documents.column_names:
        return set(documents.column("doc_id").to_pylist())
    kept = documents.filter(pc.is_null(documents.column("copy_of")))
    return set(kept.column("doc_id").to_pylist())
