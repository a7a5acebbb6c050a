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


def test_errors_are_one_line_naming_the_file_or_the_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "user.yaml"
    user.write_text("nlp:\n  batch_size: lots\n", encoding="utf-8")
    with pytest.raises(ConfigError) as wrong_type:
        load_settings(user)
    assert str(wrong_type.value) == (
        f"invalid configuration ({user}): nlp.batch_size: Input should be a valid integer, "
        "unable to parse string as an integer")
    user.write_text("corpus: [\n", encoding="utf-8")
    with pytest.raises(ConfigError) as syntax:
        load_settings(user)
    assert str(syntax.value) == (f"cannot read config file {user}: YAML syntax error at line 2, "
                                 "column 1: expected the node content, but found '<stream end>'")
    monkeypatch.setenv("STANCEMAP_RUNTIME__WORKERS", "-1")
    with pytest.raises(ConfigError) as negative:
        load_settings()
    assert str(negative.value) == (
        "invalid configuration: runtime.workers: Input should be greater than or equal to 0 "
        "(environment variable STANCEMAP_RUNTIME__WORKERS)")


def test_a_config_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    user = tmp_path / "latin1.yaml"
    user.write_bytes("report:\n  title: Café\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1\.yaml: not UTF-8 text \(byte 20\); save it"):
        load_settings(user)


def test_environment_variables_of_no_section_or_not_json_are_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANCEMAP_QUERRY__MAX_ROWS", "10")
    with pytest.raises(ConfigError, match="unknown section in the environment variable "
                                          "STANCEMAP_QUERRY__MAX_ROWS; the sections are "):
        load_settings()
    monkeypatch.delenv("STANCEMAP_QUERRY__MAX_ROWS")
    monkeypatch.setenv("STANCEMAP_CORPUS__EXTENSIONS", ".pdf")
    with pytest.raises(ConfigError, match="cannot read the environment variable "
                                          "STANCEMAP_CORPUS__EXTENSIONS: lists and mappings "
                                          "are written as JSON"):
        load_settings()
    monkeypatch.setenv("STANCEMAP_CORPUS__EXTENSIONS", '[".pdf"]')
    monkeypatch.setenv("STANCEMAP_HOME", "/somewhere")  # not a setting: no section, no "__"
    assert load_settings().corpus.extensions == [".pdf"]


@pytest.mark.parametrize(("variable", "value", "problem"), [
    ("CORPUS__MAX_FILE_MB", "1e999", "corpus.max_file_mb: Input should be a finite number"),
    ("CORPUS__MAX_FILE_MB", "nan", "corpus.max_file_mb: Input should be a finite number"),
    ("CORPUS__MAX_SECONDS_PER_DOCUMENT", "-inf",
     "corpus.max_seconds_per_document: Input should be a finite number"),
    ("CORPUS__MAX_MEMORY_MB_PER_DOCUMENT", "-5",
     "corpus.max_memory_mb_per_document: Input should be greater than 0"),
    ("STANCE__REVIEW_THRESHOLD", "NaN", "stance.review_threshold: Input should be a finite number"),
    ("QUERY__MAX_SECONDS", "1e300", "query.max_seconds: Input should be less than or equal to "
                                     "86400"),
])
def test_numbers_that_are_no_limit_are_refused_naming_the_variable(
        monkeypatch: pytest.MonkeyPatch, variable: str, value: str, problem: str) -> None:
    monkeypatch.setenv(f"STANCEMAP_{variable}", value)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert str(refused.value) == (f"invalid configuration: {problem} (environment variable "
                                  f"STANCEMAP_{variable})")


def test_years_out_of_order_are_refused(tmp_path: Path) -> None:
    user = tmp_path / "years.yaml"
    user.write_text("ingest:\n  earliest_year: 2050\n  latest_year: 1990\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_settings(user)
    assert str(refused.value) == (f"invalid configuration ({user}): ingest: earliest_year 2050 "
                                  "is after latest_year 1990: no date would be plausible")
