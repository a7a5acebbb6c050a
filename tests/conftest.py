"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The bundled demo corpus."""
    return REPO_ROOT / "corpus"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` (seeds, gold, dev texts, PDFs); tests using it skip where it is absent."""
    if not SHARED_DIR.is_dir():
        pytest.skip("../shared is not available")
    return SHARED_DIR
