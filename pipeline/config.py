"""Typed configuration: defaults in ``defaults.yaml``, an optional user file, env overrides.

Precedence, highest first: environment (``STANCEMAP_SECTION__KEY``), the user file, the defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from pipeline.errors import ConfigError

ENV_PREFIX = "STANCEMAP_"
DEFAULTS_FILE = Path(__file__).with_name("defaults.yaml")
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class _Section(BaseModel):
    # No infinity or NaN: a limit of 1e999 MB or seconds is no limit, and fails in arithmetic.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class CorpusConfig(_Section):
    extensions: list[str]
    sidecar_suffix: str
    password: str | None = None
    max_file_mb: float = Field(gt=0)
    max_pages: int = Field(gt=0)
    max_seconds_per_document: float = Field(gt=0)
    max_memory_mb_per_document: float = Field(gt=0)


class IngestConfig(_Section):
    pdf_extractor: Literal["auto", "pdfplumber", "pdfium"]
    min_chars_per_page: int = Field(ge=0)
    header_footer_min_share: float = Field(gt=0, le=1)
    copy_similarity: float = Field(default=0.85, gt=0, le=1)
    earliest_year: int = Field(default=1900, ge=1, le=9999)
    latest_year: int = Field(default=2100, ge=1, le=9999)

    @model_validator(mode="after")
    def _years_in_order(self) -> IngestConfig:
        if self.earliest_year > self.latest_year:
            raise ValueError(f"earliest_year {self.earliest_year} is after latest_year "
                             f"{self.latest_year}: no date would be plausible")
        return self

    @property
    def years(self) -> tuple[int, int]:
        """The plausible years of a document's date (first, last)."""
        return self.earliest_year, self.latest_year


class NlpConfig(_Section):
    spacy_model: str
    batch_size: int = Field(gt=0)
    embedding_model: str
    embedding_backend: Literal["torch", "onnx", "onnx-int8"]
    embedding_batch_size: int = Field(gt=0)


class EntitiesConfig(_Section):
    patterns: Path


class StanceConfig(_Section):
    targets: Path
    classifier: Path
    method: Literal["learned", "hybrid", "rules", "classifier"]
    min_confidence: float = Field(ge=0, le=1)
    decider: Path
    review_threshold: float = Field(ge=0, le=1)
    min_position_confidence: float = Field(ge=0, le=1)


class ArgumentsConfig(_Section):
    classifier: Path
    clusterer: Literal["agglomerative", "hdbscan"]
    distance_threshold: float = Field(gt=0, le=2)
    max_clusters: int = Field(gt=0)
    min_cluster_size: int = Field(ge=1)
    merge_similarity: float = Field(gt=0, le=1)
    outlier_distance: float = Field(gt=0, le=2)
    micro_above: int = Field(gt=1)
    n_micro: int = Field(gt=1)
    split_by_stance: bool
    centre_embeddings: bool
    min_words: int = Field(ge=1)
    near_duplicate_threshold: float = Field(gt=0, le=1)
    update_from_documents: int = Field(ge=0)
    rebuild_share: float = Field(ge=0, le=1)
    match_threshold: float = Field(default=0.05, ge=-2, le=2)
    arguments_per_theme: int = Field(default=16, ge=1)
    themes: Path | None = None


class ReportConfig(_Section):
    title: str
    max_evidence_per_cell: int = Field(default=5, gt=0)
    time_bucket: Literal["auto", "month", "quarter", "year"] = "auto"


class QueryConfig(_Section):
    max_seconds: float = Field(default=60, gt=0, le=86_400)  # at most a day
    max_rows: int = Field(default=1_000_000, gt=0)
    memory_mb: int = Field(default=2048, ge=256)


class ReviewConfig(_Section):
    corrections: Path | None = None


class RuntimeConfig(_Section):
    runner: Literal["local", "dask"]
    workers: int = Field(ge=0)
    isolation: Literal["process", "none"]
    dask_address: str | None = None
    log_level: str

    @property
    def worker_count(self) -> int:
        """Documents processed at once: ``workers``, or one per CPU core when it is 0."""
        return self.workers or os.cpu_count() or 1


class Settings(BaseSettings):
    """All of stancemap's settings. Build with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid"
    )

    corpus: CorpusConfig
    ingest: IngestConfig
    nlp: NlpConfig
    entities: EntitiesConfig
    stance: StanceConfig
    arguments: ArgumentsConfig
    report: ReportConfig
    runtime: RuntimeConfig
    review: ReviewConfig = ReviewConfig()
    query: QueryConfig = QueryConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)

    def resolve(self, path: Path) -> Path:
        """Resolve a configured path against the project root."""
        return path if path.is_absolute() else PROJECT_ROOT / path


def read_yaml_mapping(path: Path, what: str, allow_empty: bool = False) -> dict[str, Any]:
    """The mapping in the YAML file ``path`` (``what`` names it in errors: "target file");
    raise :class:`ConfigError` when it cannot be read or holds something else (an empty file
    is an empty mapping when ``allow_empty``)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read {what} {path}: not UTF-8 text (byte {exc.start}); "
                          "save it as UTF-8") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot read {what} {path}: {yaml_problem(exc)}") from exc
    if data is None and allow_empty:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must hold a mapping")
    return data


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error in one line: where (line, column) and what."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return " ".join(str(exc).split())
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"YAML syntax error at {where}{exc.problem or exc.context or 'invalid YAML'}"


def validation_problems(exc: ValidationError, settings: bool = False) -> str:
    """A pydantic validation error in one line: ``key.path: problem`` per error (the values
    are left out: one may be a password); for ``settings``, the environment variable that set
    a value is named."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"]]
        variable = ENV_PREFIX + "__".join(loc).upper()
        source = (f" (environment variable {variable})"
                  if settings and variable in _environment() else "")
        message = error["msg"].removeprefix("Value error, ")  # a validator's own sentence
        problems.append(f"{'.'.join(loc) or 'file'}: {message}{source}")
    return "; ".join(problems)


def _environment() -> dict[str, str]:
    """The ``STANCEMAP_`` environment variables, their names upper-cased (pydantic-settings
    reads them case-insensitively)."""
    return {name.upper(): value for name, value in os.environ.items()
            if name.upper().startswith(ENV_PREFIX)}


def _unknown_sections() -> list[str]:
    """``STANCEMAP_<SECTION>__<KEY>`` variables whose section is not a settings section (a
    typo pydantic-settings would ignore)."""
    sections = {name.upper() for name in Settings.model_fields}
    return sorted(name for name in _environment() if "__" in name
                  and name.removeprefix(ENV_PREFIX).split("__")[0] not in sections)


def _read_yaml(path: Path) -> dict[str, Any]:
    return read_yaml_mapping(path, "config file", allow_empty=True)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(config_file: Path | None = None) -> Settings:
    """Load the defaults, merge ``config_file`` over them, then apply env overrides."""
    data = _read_yaml(DEFAULTS_FILE)
    if config_file is not None:
        data = _merge(data, _read_yaml(config_file))
    unknown = _unknown_sections()
    if unknown:
        raise ConfigError(f"invalid configuration: unknown section in the environment variable "
                          f"{', '.join(unknown)}; the sections are "
                          f"{', '.join(sorted(Settings.model_fields))}")
    where = f" ({config_file})" if config_file is not None else ""
    try:
        return Settings(**data)
    except ValidationError as exc:
        problems = validation_problems(exc, settings=True)
        raise ConfigError(f"invalid configuration{where}: {problems}") from exc
    except SettingsError as exc:
        raise ConfigError(f"invalid configuration: {_environment_problem(exc)}") from exc


def _environment_problem(exc: SettingsError) -> str:
    """Which environment variables pydantic-settings could not parse, and how to write them."""
    field = str(exc).split('"')[1] if str(exc).count('"') >= 2 else ""
    section = f"{ENV_PREFIX}{field.upper()}"
    names = sorted(n for n in _environment() if n == section or n.startswith(f"{section}__"))
    return (f"cannot read the environment variable {', '.join(names) or field}: lists and "
            "mappings are written as JSON, e.g. STANCEMAP_CORPUS__EXTENSIONS='[\".pdf\", "
            "\".txt\"]'")


def stancemap_home() -> Path:
    """``$STANCEMAP_HOME`` or ``~/.stancemap``: the folder of stancemap's own state (Prefect's
    home, staging copies of remote outputs)."""
    return Path(os.environ.get("STANCEMAP_HOME", Path.home() / ".stancemap")).expanduser()
