"""Fixtures for the report tests: a hand-made output folder and its settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.io import OutputStore
from tests.fixtures.report.outputs import build_outputs, fixture_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings pointing at the fixture's target file."""
    return fixture_settings(tmp_path)


@pytest.fixture
def store(tmp_path: Path) -> OutputStore:
    """A complete fixture output folder."""
    return build_outputs(tmp_path / "out")
