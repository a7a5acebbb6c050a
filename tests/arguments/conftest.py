"""Fixtures for the arguments tests."""

from __future__ import annotations

import pytest

from pipeline.arguments.units import ArgumentClassifier
from pipeline.config import ArgumentsConfig, load_settings
from pipeline.embeddings import EmbeddingCache
from tests.arguments.fakes import FakeEmbedder, lexical_classifier


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    """A fresh fake embedding function."""
    return FakeEmbedder()


@pytest.fixture
def classifier() -> ArgumentClassifier:
    """The hand-set lexical classifier for :class:`FakeEmbedder` vectors."""
    return lexical_classifier()


@pytest.fixture
def config() -> ArgumentsConfig:
    """The default arguments settings."""
    return load_settings().arguments


@pytest.fixture(autouse=True)
def fake_matcher(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                 tmp_path_factory: pytest.TempPathFactory) -> None:
    """The entry point's ArgKP matcher replaced by a fake embedder (not in slow tests)."""
    if request.node.get_closest_marker("slow"):
        return
    folder = tmp_path_factory.mktemp("matcher")

    def fake(cache_folder: object, batch_size: int = 64) -> EmbeddingCache:
        return EmbeddingCache(folder, FakeEmbedder(), "fake-matcher")

    monkeypatch.setattr("pipeline.arguments.build.matcher_for", fake)
