"""Fixtures for the ingestion tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.config import Settings, load_settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The default settings."""
    return load_settings()


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, bytes | str], Path]:
    """Write a file into a fresh corpus folder and return its path."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()

    def write(name: str, content: bytes | str) -> Path:
        path = corpus / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return path

    return write
