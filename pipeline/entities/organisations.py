"""Corpus-level views of the entities: the ``organisations`` table and aliases per document."""

from __future__ import annotations

from collections import Counter, defaultdict

import pyarrow as pa

from pipeline.entities.acronyms import is_acronym
from pipeline.schema import to_table


def build_organisations(entities: pa.Table) -> pa.Table:
    """One row per canonical organisation in ``entities`` (all documents), most mentioned first.

    ``aliases`` are the distinct surface forms seen (whitespace collapsed), ``n_mentions`` the
    ORG mentions and ``n_documents`` the documents mentioning the organisation.
    """
    names: dict[str, Counter[str]] = defaultdict(Counter)
    types: dict[str, Counter[str]] = defaultdict(Counter)
    aliases: dict[str, set[str]] = defaultdict(set)
    docs: dict[str, set[str]] = defaultdict(set)
    mentions: Counter[str] = Counter()
    for row in entities.select(["doc_id", "text", "label", "canonical_id", "canonical_name",
                                "org_type"]).to_pylist():
        org_id = row["canonical_id"]
        if row["label"] != "ORG" or not org_id:
            continue
        names[org_id][row["canonical_name"] or " ".join(row["text"].split())] += 1
        types[org_id][row["org_type"] or "other"] += 1
        aliases[org_id].add(" ".join(row["text"].split()))
        docs[org_id].add(row["doc_id"])
        mentions[org_id] += 1
    rows = [
        {"canonical_id": org_id, "name": names[org_id].most_common(1)[0][0],
         "type": types[org_id].most_common(1)[0][0], "aliases": sorted(aliases[org_id]),
         "n_documents": len(docs[org_id]), "n_mentions": count}
        for org_id, count in sorted(mentions.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return to_table("organisations", rows)


def aliases_from_entities(entities: pa.Table) -> dict[str, str]:
    """Acronym -> canonical id for the ORG mentions of one document's ``entities`` table.

    Lets a later stage that only has the stored ``entities`` rebuild the document's
    ``doc_aliases`` (e.g. "CBC" -> the council it stands for).
    """
    found: dict[str, str] = {}
    for row in entities.select(["text", "label", "canonical_id"]).to_pylist():
        if row["label"] == "ORG" and row["canonical_id"] and is_acronym(row["text"]):
            found.setdefault(row["text"], row["canonical_id"])
    return found
