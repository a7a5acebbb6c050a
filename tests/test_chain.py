"""The one function that analyses one ingested document (pipeline.chain)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from pipeline.chain import (
    ENTITIES,
    STANCE,
    Analysers,
    analyse_document,
    analyse_sources,
    author_update,
)
from pipeline.config import Settings, load_settings
from pipeline.entities import Author, load_register
from pipeline.stance import load_targets
from tests.stance.helpers import document_row, rules_model, sentences_table

# Sentences written for these tests.
TEXTS = [
    "Response of Westmere Borough Council to the integrated care consultation.",
    "Westmere Borough Council supports the second option for statutory integrated care systems.",
    "The council is concerned that local voices could be lost in a larger body.",
]
DOC_ID = "c4a1000000000001"


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="module")
def analysers(settings: Settings) -> Analysers:
    targets = load_targets(settings.resolve(settings.stance.targets))
    return Analysers(settings, load_register(settings), targets, rules_model())


def test_a_document_gets_entities_author_stances_and_positions(analysers: Analysers) -> None:
    document = document_row(DOC_ID, author=None)
    analysis = analyse_document(document, sentences_table(DOC_ID, TEXTS), analysers)
    assert analysis.failures == {}
    assert analysis.entities is not None and analysis.entities.entities.num_rows > 0
    author = analysis.entities.author
    assert author is not None and "Westmere" in author.name
    assert analysis.document["author_org"] == author.name
    assert analysis.document["author_confidence"] == author.confidence
    assert document["author_org"] is None  # the input row is not changed
    assert analysis.stances is not None and analysis.positions is not None
    assert ("option_2", "support") in {(p["target"], p["stance"])
                                       for p in analysis.positions.to_pylist()}
    assert set(analysis.seconds) == {ENTITIES, STANCE}


def test_only_entities_when_stance_is_not_asked_for(analysers: Analysers) -> None:
    analysis = analyse_document(document_row(DOC_ID), sentences_table(DOC_ID, TEXTS), analysers,
                                (ENTITIES,))
    assert analysis.entities is not None
    assert analysis.stances is None and analysis.positions is None


def test_a_failing_stage_is_kept_and_skips_stance(analysers: Analysers) -> None:
    class Broken:
        def matcher_for(self, vocab: object) -> object:
            raise RuntimeError("register unusable")

    broken = Analysers(analysers.settings, Broken(), analysers.targets,  # type: ignore[arg-type]
                       analysers.stance_model)
    analysis = analyse_document(document_row(DOC_ID), sentences_table(DOC_ID, TEXTS), broken)
    assert list(analysis.failures) == [ENTITIES]
    assert analysis.entities is None and analysis.stances is None
    with pytest.raises(RuntimeError, match="register unusable"):
        analysis.raise_failure()


def test_argument_candidates_are_embedded_ahead(analysers: Analysers) -> None:
    seen: list[str] = []

    def embed(texts: Sequence[str]) -> np.ndarray:
        seen.extend(texts)
        return np.zeros((len(texts), 4), dtype=np.float32)

    with_embed = Analysers(analysers.settings, analysers.register, embed=embed)
    analyse_document(document_row(DOC_ID), sentences_table(DOC_ID, TEXTS), with_embed,
                     (ENTITIES,))
    assert seen and set(seen) <= set(TEXTS)


def test_author_update_keeps_the_row_without_an_author() -> None:
    row = document_row(DOC_ID)
    assert author_update(row, None) == row
    found = Author("westmere", "Westmere Borough Council", "council", 0.9)
    assert author_update(row, found)["author_org_id"] == "westmere"


def test_a_folder_is_ingested_and_analysed(tmp_path: Path, analysers: Analysers) -> None:
    (tmp_path / "westmere.txt").write_text("\n\n".join(TEXTS), encoding="utf-8")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")  # fails to ingest: skipped
    found = list(analyse_sources(tmp_path, analysers))
    assert [f.source.rel_path for f in found] == ["westmere.txt"]
    assert found[0].analysis.positions is not None
