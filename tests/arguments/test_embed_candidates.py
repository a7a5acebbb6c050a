"""Per-document embedding of possible arguments, ahead of the corpus-level stage."""

from __future__ import annotations

import pyarrow as pa

from pipeline.arguments import embed_candidates
from pipeline.config import load_settings
from tests.arguments.fakes import FakeEmbedder


def test_only_sentences_long_enough_to_be_arguments_are_embedded() -> None:
    config = load_settings().arguments.model_copy(update={"min_words": 5})
    sentences = pa.table({"text": [
        "Introduction",
        "The council wants more funding for staff.",
        "Four words only here.",
        "Patients need data shared between every service in the area.",
    ]})
    seen: list[list[str]] = []
    fake = FakeEmbedder()

    def embed(texts: list[str]) -> object:
        seen.append(list(texts))
        return fake(texts)

    assert embed_candidates(sentences, config, embed) == 2
    assert seen == [["The council wants more funding for staff.",
                     "Patients need data shared between every service in the area."]]


def test_a_document_without_candidates_embeds_nothing() -> None:
    fake = FakeEmbedder()
    config = load_settings().arguments
    assert embed_candidates(pa.table({"text": ["Contents", "Annex A"]}), config, fake) == 0
    assert fake.n_texts == 0
