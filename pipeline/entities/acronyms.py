"""Acronyms a document defines for itself, learned per document.

"Colchester Borough Council (CBC)" teaches CBC; an undefined all-caps token whose letters are
the initials of exactly one organisation named in the document is learned the same way.
Acronyms defined for common nouns ("accountable officer (AO)") are remembered as not names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline.entities.types import Mention

if TYPE_CHECKING:
    from spacy.tokens import Doc

    from pipeline.entities.register import OrganisationRegister

_ACRONYM = re.compile(r"^[A-Z][A-Za-z&/]{1,9}$")
_SKIP = frozenset({"and", "of", "the", "for", "&", "in", "on", "upon"})


@dataclass
class LearnedAcronyms:
    """Per-document acronyms: organisations, named things, and acronyms of common nouns."""

    orgs: dict[str, str] = field(default_factory=dict)
    things: dict[str, str] = field(default_factory=dict)
    non_org: set[str] = field(default_factory=set)


def is_acronym(text: str) -> bool:
    """Two or more capitals, short, no spaces ("CBC", "NHSE/I", "PCNs")."""
    return bool(_ACRONYM.match(text)) and sum(ch.isupper() for ch in text) >= 2


def initials(name: str) -> str:
    """Initials of a name without linking words: "Colchester Borough Council" -> "CBC"."""
    words = [w for w in re.split(r"[\s\-]+", name) if w and w.lower() not in _SKIP]
    return "".join(w[0].upper() for w in words if w[0].isalpha())


def learn(docs: Sequence[Doc], mentions: Sequence[Mention], register: OrganisationRegister
          ) -> LearnedAcronyms:
    """Acronyms defined in brackets after a mention or a phrase, then by initials."""
    learned = LearnedAcronyms()
    by_end = {(m.sent, m.end): m for m in mentions}
    for sent, i in _bracketed(docs):
        _define(docs[sent], sent, i, by_end.get((sent, i - 1)), learned)
    _learn_initials(docs, mentions, register, learned)
    return learned


def learn_model_names(docs: Sequence[Doc], mentions: Sequence[Mention],
                      learned: LearnedAcronyms) -> None:
    """Acronyms defined after organisations only the statistical model found ("X Chemists'
    Association (XCA)"), which :func:`learn` ran too early to see, join ``learned.orgs``."""
    by_end = {(m.sent, m.end): m for m in mentions if m.label == "ORG" and m.canonical_id}
    for sent, i in _bracketed(docs):
        mention = by_end.get((sent, i - 1))
        acronym = docs[sent][i].text
        if mention is not None and acronym not in learned.things:
            learned.orgs.setdefault(acronym, str(mention.canonical_id))
            learned.non_org.discard(acronym)
            learned.non_org.discard(acronym.rstrip("s"))


def _bracketed(docs: Sequence[Doc]) -> Iterator[tuple[int, int]]:
    """(sentence, token) of each acronym in brackets: "... (CBC)"."""
    for sent, doc in enumerate(docs):
        for i in range(1, len(doc) - 1):
            if doc[i - 1].text == "(" and doc[i + 1].text == ")" and is_acronym(doc[i].text):
                yield sent, i


def _define(doc: Doc, sent: int, i: int, mention: Mention | None, learned: LearnedAcronyms
            ) -> None:
    acronym = doc[i].text
    if mention is not None and mention.canonical_id:
        target = learned.orgs if mention.label == "ORG" else learned.things
        target.setdefault(acronym, mention.canonical_id)
        return
    letters = acronym.rstrip("s").replace("/", "").replace("&", "")
    words = [t for t in doc[max(0, i - 1 - 2 * len(letters)):i - 1]
             if t.is_alpha and t.lower_ not in _SKIP]
    tail = words[-len(letters):] if letters else []
    if tail and "".join(t.text[0].upper() for t in tail) == letters.upper():
        learned.non_org.add(acronym)
        learned.non_org.add(acronym.rstrip("s"))


def _learn_initials(docs: Sequence[Doc], mentions: Sequence[Mention],
                    register: OrganisationRegister, learned: LearnedAcronyms) -> None:
    by_initials: dict[str, set[str]] = {}
    for m in mentions:
        if m.label == "ORG" and m.canonical_id and m.canonical_name:
            by_initials.setdefault(initials(m.canonical_name), set()).add(m.canonical_id)
    known = register.exact_aliases.keys() | learned.orgs.keys() | learned.things.keys()
    for doc in docs:
        for token in doc:
            text = token.text
            if (not text.isupper() or not is_acronym(text) or text in known
                    or text in learned.non_org or text in register.generic_words):
                continue
            ids = by_initials.get(text, set())
            if len(ids) == 1:
                learned.orgs[text] = next(iter(ids))
