"""The per-process model cache of the per-document stages."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows import stages
from pipeline.config import load_settings
from pipeline.io import OutputStore


def test_a_cached_loader_may_use_another_cached_model() -> None:
    value = stages.cached("test-outer", "fp",
                          lambda: stages.cached("test-inner", "fp", lambda: 41) + 1)
    assert value == 42
    assert stages.cached("test-outer", "fp", lambda: 0) == 42  # loaded once


def test_the_stance_model_embeds_through_the_process_embedder(tmp_path: Path) -> None:
    settings = load_settings()
    store = OutputStore(tmp_path)
    found = stages.analysers(settings, store, ["stance"],
                             {"entities": "test-fingerprint", "stance": "test-fingerprint"})
    assert found.stance_model is not None
    embedder = stages._embedder(settings, store)
    assert found.stance_model.embed_fn.__self__ is embedder  # type: ignore[union-attr]
    assert found.embed.__self__ is embedder  # type: ignore[union-attr]


def test_a_corpus_stage_gives_its_memory_back_after_writing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(stages, "release_memory", lambda: calls.append("released"))
    store = OutputStore(tmp_path)
    assert stages.build_corpus_stage("organisations", store, load_settings(), "fp") == 0
    assert calls == ["released"]
    assert store.exists("organisations")
