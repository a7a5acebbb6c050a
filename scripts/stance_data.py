"""Prepared shared documents (ingest, parse, entities) cached on disk for stance training and CV.

Used by ``scripts/train_stance.py`` and ``scripts/eval_stance.py``. A document is cached under
``CACHE/<sha256 of its bytes>/`` as its sentences and entities (parquet), its parsed sentences
(a spaCy DocBin) and a JSON record (document row, author, document-defined aliases), so repeated
training and cross-validation runs skip the slow stages.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

from pipeline.errors import DocumentError
from pipeline.stance.dataset import AuthorRef, PreparedDocument, prepare_document

if TYPE_CHECKING:
    from pipeline.config import Settings

log = logging.getLogger("stance_data")
CACHE_VERSION = "2"


def _key(path: Path, settings: Settings) -> str:
    digest = hashlib.sha256(path.read_bytes())
    digest.update(f"|{CACHE_VERSION}|{settings.nlp.spacy_model}|".encode())
    # the entities and the author come from the organisation register: a new one re-prepares
    digest.update(settings.resolve(settings.entities.patterns).read_bytes())
    return digest.hexdigest()[:24]


def _load(folder: Path) -> PreparedDocument:
    from spacy.tokens import DocBin

    from pipeline.nlp import load_spacy

    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    nlp = load_spacy(meta["spacy_model"])
    docs = list(DocBin().from_bytes((folder / "docs.spacy").read_bytes()).get_docs(nlp.vocab))
    author = AuthorRef(**meta["author"]) if meta["author"] else None
    return PreparedDocument(
        meta["document"],
        pq.read_table(folder / "sentences.parquet"),
        docs,
        pq.read_table(folder / "entities.parquet"),
        author,
        meta["doc_aliases"],
    )


def _save(folder: Path, prepared: PreparedDocument, settings: Settings) -> None:
    from spacy.tokens import DocBin

    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    pq.write_table(prepared.sentences, tmp / "sentences.parquet")
    pq.write_table(prepared.entities, tmp / "entities.parquet")
    (tmp / "docs.spacy").write_bytes(DocBin(docs=prepared.docs, store_user_data=False).to_bytes())
    meta = {
        "spacy_model": settings.nlp.spacy_model,
        "document": {k: v for k, v in prepared.document.items() if _jsonable(v)},
        "author": prepared.author.__dict__ if prepared.author else None,
        "doc_aliases": prepared.doc_aliases,
    }
    (tmp / "meta.json").write_text(json.dumps(meta, default=str), encoding="utf-8")
    tmp.rename(folder)


def _jsonable(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def prepared_folder(
    docs_dir: Path, settings: Settings, cache: Path, only: Collection[str] | None = None
) -> dict[str, PreparedDocument]:
    """Every readable file of ``docs_dir`` (or those of ``only``, paths relative to it)
    prepared (from ``cache`` where possible), by path relative to ``docs_dir``."""
    from pipeline.entities import load_register
    from pipeline.ingest import discover

    register = None
    out: dict[str, PreparedDocument] = {}
    for source in discover(docs_dir, settings):
        if only is not None and source.rel_path not in only:
            continue
        path = Path(docs_dir) / source.rel_path
        folder = cache / _key(path, settings)
        if not folder.exists():
            register = register or load_register(settings)
            try:
                _save(folder, prepare_document(source, settings, register), settings)
            except DocumentError as exc:
                log.warning("skipped %s: %s", source.rel_path, exc)
                continue
        out[source.rel_path] = _load(folder)
    return out
