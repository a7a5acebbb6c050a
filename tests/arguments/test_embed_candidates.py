"""Per-document embedding of possible arguments, ahead of the corpus-level stage."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipeline.arguments import ArgumentMatching, embed_candidates
from pipeline.arguments.build import load_argument_rules
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


class _NoKindClassifier:
    """An argument classifier that finds no argument kind in any sentence."""

    classes_ = np.asarray(["claim", "none"])

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.tile([0.1, 0.9], (len(x), 1))


def test_the_arguments_of_a_document_are_embedded_with_the_matcher_too() -> None:
    """The matcher embeds what the corpus-level stage will choose: here only the sentence that
    takes a side (the question is ruled out even though a stance row names it)."""
    settings = load_settings()
    config = settings.arguments.model_copy(update={"min_words": 5})
    texts = ["Do you agree that the board should hold the budget for the whole area?",
             "We strongly support the board holding the budget for the whole area.",
             "Patients need data shared between every service in the area.",
             "Contents"]
    sentences = pa.table({"sentence_id": [f"d-{i}" for i in range(4)], "text": texts})
    stances = pa.table({"sentence_id": ["d-0", "d-1"], "stance": ["support", "support"],
                        "confidence": [0.9, 0.8], "target": ["option_1", "option_1"]})
    matched: list[list[str]] = []

    def match(batch: list[str]) -> np.ndarray:
        matched.append(list(batch))
        return FakeEmbedder()(batch)

    matching = ArgumentMatching(match, _NoKindClassifier(),  # type: ignore[arg-type]
                                load_argument_rules(settings))
    assert embed_candidates(sentences, config, FakeEmbedder(), stances, matching) == 3
    assert matched == [["We strongly support the board holding the budget for the whole area."]]
