"""Training data for the learned stance decision: documents run through the real pipeline and
labelled from gold stance CSVs.

Each document is ingested, parsed and given its entities and author exactly as a run does
(:func:`prepare_document`). Gold rows are then attached to sentences by their evidence string
(:func:`evidence_sentences`): the evidence is normalised (quotes, dashes, whitespace, case) and
found in the sentence text, or, when it is a partial sentence or spans two, matched by word
overlap. File caching is the training script's business.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from spacy.tokens import Doc

    from pipeline.config import Settings
    from pipeline.entities.register import OrganisationRegister
    from pipeline.ingest import SourceFile

OTHER = "other:"  # the gold's prefix for targets outside the target file
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\u00a0": " "})
_MIN_OVERLAP = 0.6  # share of an evidence string's words a sentence must hold


@dataclass(frozen=True)
class AuthorRef:
    """The entities stage's author, as the stance stage needs it."""

    name: str
    canonical_id: str | None


@dataclass
class PreparedDocument:
    """One document after ingest, parse and entities: everything the stance stage reads."""

    document: dict[str, Any]
    sentences: pa.Table
    docs: list[Doc]
    entities: pa.Table
    author: AuthorRef | None
    doc_aliases: dict[str, str] = field(default_factory=dict)

    @property
    def texts(self) -> list[str]:
        """The sentence texts, in order."""
        return [str(t) for t in self.sentences.column("text").to_pylist()]


@dataclass(frozen=True)
class GoldRow:
    """One row of a gold stance CSV."""

    document: str  # file stem ("007")
    holder: str
    holder_is_author: bool
    target: str
    stance: str
    evidence: str


def prepare_document(
    source: SourceFile, settings: Settings, register: OrganisationRegister
) -> PreparedDocument:
    """Ingest, parse and extract the entities of one file (raises ``DocumentError``)."""
    from pipeline.entities import extract_entities
    from pipeline.ingest import ingest_document
    from pipeline.nlp import parse

    ingested = ingest_document(source, settings)
    texts = ingested.sentences.column("text").to_pylist()
    docs = parse(texts, settings.nlp.spacy_model, settings.nlp.batch_size)
    document = dict(ingested.document)
    found = extract_entities(document, ingested.sentences, docs, register)
    author = None
    if found.author is not None:
        document.update(author_org=found.author.name, author_org_id=found.author.canonical_id)
        author = AuthorRef(found.author.name, found.author.canonical_id)
    return PreparedDocument(
        document, ingested.sentences, docs, found.entities, author, dict(found.doc_aliases)
    )


def read_gold_rows(path: Path) -> list[GoldRow]:
    """All rows of a gold CSV (``id`` or ``file`` names the document)."""
    with Path(path).open(newline="", encoding="utf-8") as fh:
        return [
            GoldRow(
                Path(row.get("id") or row.get("file") or "").stem,
                row["holder"],
                row["holder_is_author"].strip().lower() == "true",
                row["target"].strip(),
                row["stance"].strip().lower(),
                row.get("evidence", ""),
            )
            for row in csv.DictReader(fh)
        ]


def reviewed_gold(positions: pa.Table) -> dict[str, list[GoldRow]]:
    """An analyst's review as gold rows, by ``source_path``, for the documents whose every
    sided position carries a decision (``positions.review``, see :mod:`pipeline.corrections`):
    confirmed, corrected and added positions as they now stand, rejected ones as neutral (no
    stance on that target). A document with a sided position nobody reviewed is left out:
    training would take that position's sentences for negatives."""
    by_path: dict[str, list[dict[str, Any]]] = {}
    for row in positions.to_pylist():
        by_path.setdefault(row["source_path"], []).append(row)
    out = {}
    for path, rows in sorted(by_path.items()):
        decided = [r for r in rows if r["review"] != "machine"]
        if not decided or any(r["review"] == "machine" and r["stance"] != "neutral"
                              for r in rows):
            continue
        out[path] = [
            GoldRow(Path(path).stem, r["holder"], r["holder_is_author"], r["target"],
                    "neutral" if r["review"] == "rejected" else r["stance"], r["evidence"])
            for r in decided
        ]
    return out


def normalise_text(text: str) -> str:
    """Quotes, dashes and spaces unified, lower case: the form evidence is matched in."""
    return re.sub(r"\s+", " ", text.translate(_QUOTES)).strip().lower()


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", normalise_text(text))


def evidence_sentences(texts: Sequence[str], evidence: str) -> list[int]:
    """Indices of the sentences that carry ``evidence`` (empty when none does).

    A sentence containing the evidence, or contained in it (evidence spanning sentences), is
    taken; failing that, the sentences holding most of its words (at least 60 %).
    """
    needle = normalise_text(evidence).strip(" .…")
    if not needle:
        return []
    norm = [normalise_text(t) for t in texts]
    exact = [i for i, t in enumerate(norm) if needle in t]
    if exact:
        return exact
    spanned = [i for i, t in enumerate(norm) if len(t) > 20 and t.strip(" .") in needle]
    if spanned:
        return spanned
    want = set(_words(evidence))
    if not want:
        return []
    shares = [len(want & set(_words(t))) / len(want) for t in texts]
    best = max(shares, default=0.0)
    return [i for i, s in enumerate(shares) if s >= max(best, _MIN_OVERLAP) - 1e-9]


@dataclass
class PairLabels:
    """Labels of one document's (sentence, target) pairs from its gold rows."""

    relevance: list[str]  # "yes" / "no" per pair
    stance: dict[int, str]  # pair index -> support / conditional / oppose
    holder: dict[int, str]  # pair index -> author / cited
    unmatched: list[GoldRow]  # gold rows whose evidence no sentence carries


def label_pairs(
    pairs: Sequence[tuple[int, str]], texts: Sequence[str], gold: Sequence[GoldRow]
) -> PairLabels:
    """Positive pairs: a sentence carrying the evidence of a non-neutral gold row on a target of
    the target file (gold writes any other target ``other:<label>``); every other pair of the
    document is negative."""
    index = {pair: k for k, pair in enumerate(pairs)}
    stance: dict[int, str] = {}
    holder: dict[int, str] = {}
    unmatched = []
    for row in gold:
        if row.target.startswith(OTHER) or row.stance == "neutral":
            continue
        found = evidence_sentences(texts, row.evidence)
        if not found:
            unmatched.append(row)
        for sent in found:
            k = index.get((sent, row.target))
            if k is not None and k not in stance:
                stance[k] = row.stance
                holder[k] = "author" if row.holder_is_author else "cited"
    relevance = ["yes" if k in stance else "no" for k in range(len(pairs))]
    return PairLabels(relevance, stance, holder, unmatched)
