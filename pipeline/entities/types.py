"""Value types of the entities stage."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa


@dataclass(frozen=True)
class Mention:
    """One entity mention in one sentence (token span of that sentence's Doc)."""

    sent: int  # position of the sentence row in the document's sentences table
    start: int  # token offsets in the sentence Doc
    end: int
    label: str  # ORG, LAW, POLICY, PERSON, ROLE, DATE
    canonical_id: str | None
    canonical_name: str | None
    org_type: str | None
    source: str  # "rule" or "model"


@dataclass(frozen=True)
class Author:
    """The organisation a document speaks for, with how sure the cues make us."""

    canonical_id: str
    name: str
    type: str
    confidence: float
    cues: tuple[str, ...] = ()


@dataclass(frozen=True)
class EntityResult:
    """What :func:`pipeline.entities.extract_entities` returns for one document."""

    entities: pa.Table
    author: Author | None
    doc_aliases: dict[str, str] = field(default_factory=dict)
