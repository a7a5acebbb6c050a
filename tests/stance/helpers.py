"""Helpers for the stance tests: a rules-only model, a fake register, table builders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from pipeline.schema import to_table
from pipeline.stance.model import SoftmaxClassifier, StanceModel


class FixedEmbedModel(StanceModel):
    """A model that never loads the embedder (question wording falls back to aliases)."""

    def embed(self, texts: Any) -> np.ndarray:
        return np.zeros((len(texts), 4), dtype=np.float32)


def rules_model() -> StanceModel:
    """Rules only: deterministic and fast, no embedder."""
    head = SoftmaxClassifier.from_arrays(np.zeros((1, 4)), np.zeros(1), ["neutral", "support"])
    return FixedEmbedModel(head, head, "all-MiniLM-L6-v2", min_confidence=0.5, method="rules")


@dataclass(frozen=True)
class FakeOrganisation:
    canonical_id: str
    name: str
    type: str = "other"


class FakeRegister:
    """A two-entry register in place of the entities stage's."""

    names: ClassVar[dict[str, FakeOrganisation]] = {
        "the agency": FakeOrganisation("agency", "National Health Agency"),
        "nha": FakeOrganisation("agency", "National Health Agency"),
        "the federation": FakeOrganisation("fed", "Care Federation"),
        "care federation": FakeOrganisation("fed", "Care Federation"),
    }

    def lookup(self, text: str, doc_aliases: Any = None) -> FakeOrganisation | None:
        return self.names.get(text.strip().lower())

    def is_generic(self, text: str) -> bool:
        return text.strip().lower() in {"nhs", "the nhs", "ccg", "ccgs", "pdf"}


def sentences_table(doc_id: str, texts: list[str]) -> pa.Table:
    """A sentences table for ``texts`` (one page, offsets into the joined text)."""
    rows, start = [], 0
    for idx, text in enumerate(texts):
        rows.append(
            {
                "sentence_id": f"{doc_id}-{idx:05d}",
                "doc_id": doc_id,
                "idx": idx,
                "page": 1,
                "section": None,
                "start": start,
                "end": start + len(text),
                "text": text,
            }
        )
        start += len(text) + 1
    return to_table("sentences", rows)


def document_row(
    doc_id: str = "d0c0000000000001", author: str | None = "Northshire Council"
) -> dict[str, Any]:
    """A documents row with the fields the stance stage reads."""
    return {
        "doc_id": doc_id,
        "source_path": "response.txt",
        "author_org": author,
        "author_org_id": "northshire" if author else None,
    }


def taken(rows: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(holder, target, stance) of the non-neutral rows."""
    return {(r["holder"], r["target"], r["stance"]) for r in rows if r["stance"] != "neutral"}


def org_entities(doc_id: str, named: list[tuple[int, str, str | None, str]]) -> pa.Table:
    """An entities table of organisations: (sentence idx, name, canonical id, source)."""
    rows = [
        {
            "doc_id": doc_id, "sentence_id": f"{doc_id}-{idx:05d}", "page": 1, "start": 0,
            "end": len(name), "text": name, "label": "ORG", "canonical_id": org_id,
            "canonical_name": name if org_id else None, "org_type": "other", "source": source,
        }
        for idx, name, org_id, source in named
    ]
    return to_table("entities", rows)
