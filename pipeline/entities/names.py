"""Names in the entities stage: slugs, normalised names and the register's value types.

A leaf module: the register (:mod:`pipeline.entities.register`) builds its rule matcher
(:mod:`pipeline.entities.matching`), and both build on this, so the matcher never needs
the register module.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_ARTICLE = re.compile(r"^(?:the|The|THE)\s+")
_POSSESSIVE = re.compile(r"(?:['’]s|['’])$")
_SLUG_DROP = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Organisation:
    """A canonical organisation: stable id, display name and type."""

    canonical_id: str
    name: str
    type: str


@dataclass(frozen=True)
class NamedThing:
    """A known non-organisation entity (an Act, a Bill, a policy document)."""

    canonical_id: str
    name: str
    label: str


@dataclass(frozen=True)
class Phrase:
    """One phrase pattern: its text, what it means, and whether case must match."""

    text: str
    kind: str  # ORG, LAW, POLICY, AREA (a bare system area), BLOCK
    key: str  # canonical id (empty for BLOCK)
    exact: bool


@dataclass(frozen=True)
class GenericShape:
    """An organisation type recognised by name shape: ``<Name> <suffix>``, ``<prefix> <Name>``."""

    type: str
    suffixes: tuple[str, ...]
    prefixes: tuple[str, ...] = ()
    prefix_suffixes: tuple[str, ...] = ()


def slugify(text: str) -> str:
    """A lower-case ASCII slug: ``"King's Fund"`` -> ``"kings-fund"``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    ascii_text = ascii_text.replace("&", " and ").replace("'", "").lower()
    return _SLUG_DROP.sub("-", ascii_text).strip("-")


def normalise_name(text: str) -> str:
    """Collapse whitespace, drop a leading article, a possessive and edge punctuation."""
    text = " ".join(text.split()).strip(" \t-–—•*#:;,.()[]\"'“”‘’")
    text = _ARTICLE.sub("", text)
    return _POSSESSIVE.sub("", text).strip()
