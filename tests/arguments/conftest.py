"""Fixtures for the arguments tests."""

from __future__ import annotations

import pytest

from pipeline.arguments.units import ArgumentClassifier
from pipeline.config import ArgumentsConfig, load_settings
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
