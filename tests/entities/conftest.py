"""Fixtures of the entities tests: the register and a helper that runs the stage on sentences."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyarrow as pa
import pytest

from pipeline.config import load_settings
from pipeline.entities import EntityResult, OrganisationRegister, extract_entities, load_register
from pipeline.schema import to_table

DOC_ID = "00000000feedbeef"


@pytest.fixture(scope="session")
def register() -> OrganisationRegister:
    """The register built from the project's pattern file."""
    return load_register(load_settings())


def sentences_table(texts: Sequence[str]) -> pa.Table:
    """A sentences table for ``texts`` (one page-less document, offsets laid end to end)."""
    rows, offset = [], 0
    for idx, text in enumerate(texts):
        rows.append({"sentence_id": f"{DOC_ID}-{idx:05d}", "doc_id": DOC_ID, "idx": idx,
                     "page": None, "section": None, "start": offset,
                     "end": offset + len(text), "text": text})
        offset += len(text) + 1
    return to_table("sentences", rows)


@pytest.fixture(scope="session")
def make_sentences() -> Callable[[Sequence[str]], pa.Table]:
    """:func:`sentences_table` as a fixture."""
    return sentences_table


@pytest.fixture(scope="session")
def run(register: OrganisationRegister) -> Callable[[Sequence[str]], EntityResult]:
    """Parse ``texts`` with the project's spaCy model and run the entities stage on them."""
    from pipeline.nlp import parse

    settings = load_settings()

    def _run(texts: Sequence[str]) -> EntityResult:
        docs = parse(list(texts), settings.nlp.spacy_model, settings.nlp.batch_size)
        return extract_entities({"doc_id": DOC_ID}, sentences_table(texts), docs, register)

    return _run
