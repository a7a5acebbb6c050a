"""The stage catalogue: one row per stage, the single source of the stage list.

Each row says what the stage works on (``scope``: each document, or the whole corpus), which
flow runs it, the tables it writes, the stage whose output it reads, and what its fingerprint
covers: its code (modules of ``pipeline/``), its settings (sections or dotted values) and its
data files (dotted settings paths, or fixed paths such as the argument matcher's weights).
:mod:`flows.incremental` builds the fingerprints and the table lists from these rows and
:mod:`flows.run` the tasks; a corpus-level stage's ``build`` turns the store into its tables.
A new stage is one row here and one module in ``pipeline/``. Plain Python: no Prefect here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa

from pipeline.arguments import build_arguments
from pipeline.arguments.match import MATCHER_PATH
from pipeline.chain import ENTITIES, STANCE
from pipeline.config import Settings
from pipeline.entities import build_organisations
from pipeline.io import OutputStore

Build = Callable[[OutputStore, Settings, str], Mapping[str, pa.Table]]


@dataclass(frozen=True)
class Stage:
    """One row of the catalogue (see the module docstring)."""

    name: str
    scope: Literal["document", "corpus"]
    flow: Literal["ingest", "analyse", "review", "report"]
    writes: tuple[str, ...]
    after: str | None
    sources: tuple[str, ...]
    settings: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    data: tuple[Path, ...] = ()  # data files at fixed paths (not named by a setting)
    amends: tuple[str, ...] = ()  # tables of an earlier stage whose rows it completes
    build: Build | None = None


def _organisations(store: OutputStore, settings: Settings, fingerprint: str
                   ) -> dict[str, pa.Table]:
    return {"organisations": build_organisations(store.read_table("entities"))}


def _arguments(store: OutputStore, settings: Settings, fingerprint: str) -> dict[str, pa.Table]:
    result = build_arguments(store, settings, fingerprint)
    return {name: getattr(result, name) for name in ("arguments", "clusters", "comparison")}


CATALOG: tuple[Stage, ...] = (
    Stage("ingest", "document", "ingest", ("documents", "pages", "sentences", "errors"), None,
          ("ingest",), ("corpus", "ingest")),
    Stage(ENTITIES, "document", "analyse", ("entities",), "ingest", ("entities", "chain"),
          ("nlp.spacy_model", "entities"), ("entities.patterns",), amends=("documents",)),
    Stage(STANCE, "document", "analyse", ("stances", "positions"), ENTITIES, ("stance",),
          ("stance",), ("stance.targets", "stance.classifier", "stance.decider")),
    Stage("organisations", "corpus", "analyse", ("organisations",), ENTITIES, ("entities",),
          build=_organisations),
    Stage("arguments", "corpus", "analyse", ("arguments", "clusters", "comparison"), STANCE,
          ("arguments", "embeddings"), ("nlp.embedding_model", "arguments"),
          ("arguments.classifier", "arguments.themes", "stance.targets", "entities.patterns"),
          data=(MATCHER_PATH,), build=_arguments),
    Stage("copies", "corpus", "ingest", (), "ingest", ("copies",), ("ingest.copy_similarity",),
          amends=("documents",)),
    Stage("review", "corpus", "review", ("corrections",), "arguments", ("corrections",),
          amends=("positions", "comparison")),
    Stage("report", "corpus", "report", (), "review", ("report", "templates"), ("report",)),
)
STAGES: dict[str, Stage] = {stage.name: stage for stage in CATALOG}


def stages(scope: str | None = None, flow: str | None = None) -> list[Stage]:
    """The rows of ``scope`` and ``flow`` (any when ``None``), in catalogue order."""
    return [s for s in CATALOG if scope in (None, s.scope) and flow in (None, s.flow)]


def analysis_stages() -> list[str]:
    """The per-document stages the analyse flow runs (through :mod:`pipeline.chain`)."""
    return [s.name for s in stages("document", "analyse")]


def document_tables() -> tuple[str, ...]:
    """The per-document tables keyed by ``doc_id`` (``errors`` is keyed by source file)."""
    return tuple(sorted(t for s in stages("document") for t in s.writes if t != "errors"))
