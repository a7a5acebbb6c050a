"""Settings: defaults < user file < environment; unknown keys rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_settings
from pipeline.errors import ConfigError


def test_defaults_load() -> None:
    settings = load_settings()
    assert settings.runtime.runner == "local"
    assert settings.nlp.batch_size > 0


def test_precedence_env_over_file_over_defaults(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "user.yaml"
    user.write_text("nlp:\n  batch_size: 7\nruntime:\n  log_level: DEBUG\n", encoding="utf-8")
    from_file = load_settings(user)
    assert (from_file.nlp.batch_size, from_file.runtime.log_level) == (7, "DEBUG")
    assert from_file.nlp.spacy_model == load_settings().nlp.spacy_model
    monkeypatch.setenv("STANCEMAP_NLP__BATCH_SIZE", "11")
    both = load_settings(user)
    assert (both.nlp.batch_size, both.runtime.log_level) == (11, "DEBUG")


def test_extra_keys_are_rejected(tmp_path: Path) -> None:
    user = tmp_path / "user.yaml"
    user.write_text("runtime:\n  runnr: dask\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="runnr"):
        load_settings(user)
    user.write_text("no_such_section: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no_such_section"):
        load_settings(user)


def test_invalid_values_and_unreadable_files(tmp_path: Path) -> None:
    user = tmp_path / "user.yaml"
    user.write_text("runtime:\n  runner: kubernetes\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="runner"):
        load_settings(user)
    user.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(user)
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.yaml")
