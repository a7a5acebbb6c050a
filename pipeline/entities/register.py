"""The canonical register of organisations, built from the pattern file in ``models/entities``.

The register knows the named organisations (with aliases and acronyms), the integrated care
systems (area names combined with suffixes such as "ICS" or "STP", brands, former names), the
name shapes of generic organisations ("X Borough Council", "X CCG"), legislation and policy
documents, role titles and the noise vocabularies. :meth:`OrganisationRegister.lookup` turns a
piece of text into a canonical :class:`Organisation`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import read_yaml_mapping
from pipeline.entities.matching import RuleMatcher
from pipeline.entities.names import (
    GenericShape,
    NamedThing,
    Organisation,
    Phrase,
    normalise_name,
    slugify,
)
from pipeline.errors import ConfigError

if TYPE_CHECKING:
    from spacy.language import Language

    from pipeline.config import Settings

log = logging.getLogger(__name__)

ORG_TYPES = frozenset({"nhs_national", "ics", "ccg", "trust", "council", "membership_body",
                       "professional_body", "government", "other"})
MODEL_PREFIX = "model:"


def _key(text: str) -> str:
    """The case-insensitive lookup key of a name."""
    return " ".join(normalise_name(text).replace("&", " and ").replace("’", "'").lower().split())


@dataclass
class OrganisationRegister:
    """Canonical organisations and the rule patterns that find them in text.

    Build it with :func:`load_register` (or :meth:`from_data`). Organisations recognised by the
    shape of their name are added to the register the first time they are seen, so
    :meth:`get` also resolves their ids later in the same process.
    """

    organisations: dict[str, Organisation]
    things: dict[str, NamedThing]
    phrases: tuple[Phrase, ...]
    generic: tuple[GenericShape, ...]
    generic_words: frozenset[str]
    org_heads: frozenset[str]
    domains: dict[str, str]
    system_areas: dict[str, str]
    footprint_words: frozenset[str]
    system_context: tuple[str, ...]
    legislation_heads: tuple[str, ...]
    role_heads: tuple[str, ...]
    role_modifiers: tuple[str, ...]
    role_words: frozenset[str]
    heading_words: frozenset[str]
    author_cues: dict[str, Any]
    _dynamic: dict[str, Organisation] = field(default_factory=dict, repr=False)
    _matchers: dict[int, RuleMatcher] = field(default_factory=dict, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the spaCy matchers and tokenizer (rebuilt lazily where unpickled)."""
        state = dict(self.__dict__)
        state["_matchers"] = {}
        state.pop("_tokenizer", None)
        return state

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> OrganisationRegister:
        """Build the register from the parsed pattern file (see ``organisations.yaml``)."""
        try:
            return _build(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"invalid entity pattern data: {exc!r}") from exc

    @cached_property
    def exact_aliases(self) -> dict[str, str]:
        """Case-sensitive aliases (acronyms) -> canonical id."""
        return {p.text: p.key for p in self.phrases if p.exact and p.kind == "ORG"}

    @cached_property
    def name_aliases(self) -> dict[str, str]:
        """Case-insensitive alias keys -> canonical id."""
        return {_key(p.text): p.key for p in self.phrases if not p.exact and p.kind == "ORG"}

    def get(self, canonical_id: str) -> Organisation | None:
        """The organisation with ``canonical_id``, including generic and model-only ones."""
        known = self.organisations.get(canonical_id) or self._dynamic.get(canonical_id)
        if known is not None:
            return known
        if canonical_id.startswith(MODEL_PREFIX):
            name = canonical_id[len(MODEL_PREFIX):].replace("-", " ").title()
            return Organisation(canonical_id, name, "other")
        shaped = self._lookup_shape(self._deslug(canonical_id)) if canonical_id else None
        return shaped if shaped is not None and shaped.canonical_id == canonical_id else None

    def _deslug(self, slug: str) -> str:
        """A readable name for a shape id seen in another process ("nhs-x-ccg" -> "NHS X CCG")."""
        cased = {w.lower(): w for w in self.generic_words if w.isupper()}
        links = {"and", "of", "upon", "on", "the", "le"}
        words = [w if w in links else cased.get(w, w.title()) for w in slug.split("-")]
        return " ".join(words)

    def is_generic(self, text: str) -> bool:
        """Whether ``text`` names a kind of body, not one: made only of :attr:`generic_words`
        ("the NHS", "CCGs", "PDF") and not a registered name ("NHS Providers")."""
        words = re.findall(r"[\w’']+", re.sub(r"^\s*(?:the|a|an)\s+", "", text, flags=re.I))
        return all(w in self.generic_words or w.rstrip("s") in self.generic_words
                   for w in words) and self.lookup(text) is None

    def remember(self, org: Organisation) -> Organisation:
        """Record an organisation found by shape or by the model so :meth:`get` knows it."""
        if org.canonical_id not in self.organisations:
            self._dynamic.setdefault(org.canonical_id, org)
        return self.organisations.get(org.canonical_id) or self._dynamic[org.canonical_id]

    def lookup(self, text: str, doc_aliases: Mapping[str, str] | None = None
               ) -> Organisation | None:
        """The canonical organisation ``text`` names, or ``None``.

        ``doc_aliases`` (alias -> canonical id, from :func:`extract_entities`) is tried first;
        then the register's acronyms (case-sensitive), names (case-insensitive) and finally the
        generic name shapes ("Colchester Borough Council"). A leading "the" and a possessive
        are ignored.
        """
        name = normalise_name(text)
        if not name:
            return None
        for alias_text in (text.strip(), name):
            hit = _doc_alias(alias_text, doc_aliases)
            if hit is not None:
                return self.get(hit) or Organisation(hit, name, "other")
        if name in self.exact_aliases:
            return self.organisations[self.exact_aliases[name]]
        key = _key(name)
        if key in self.name_aliases:
            return self.organisations[self.name_aliases[key]]
        return self._lookup_shape(name)

    def _lookup_shape(self, name: str) -> Organisation | None:
        matcher = self.matcher_for(self._tokenizer.vocab)
        doc = self._tokenizer.make_doc(name)
        for cand in matcher.match(doc):
            if cand.start == 0 and cand.end == len(doc) and cand.kind == "ORG":
                return self.get(cand.key)
        return None

    @cached_property
    def _tokenizer(self) -> Language:
        import spacy

        return spacy.blank("en")

    def matcher_for(self, vocab: Any) -> RuleMatcher:
        """The rule matcher for docs of ``vocab``, built once per vocabulary."""
        matcher = self._matchers.get(id(vocab))
        if matcher is None or matcher.vocab is not vocab:
            matcher = RuleMatcher(self, vocab)
            self._matchers[id(vocab)] = matcher
        return matcher

    def shape_organisation(self, name: str, org_type: str) -> Organisation:
        """The canonical organisation of a name recognised by shape (registered on first use)."""
        clean = normalise_name(name)
        if clean.isupper():
            clean = " ".join(w if len(w) <= 3 else w.title() for w in clean.split())
        return self.remember(Organisation(slugify(clean), clean, org_type))

    def model_organisation(self, name: str) -> Organisation:
        """The canonical entry of an organisation only the statistical model found."""
        clean = normalise_name(name)
        return self.remember(Organisation(MODEL_PREFIX + slugify(clean), clean, "other"))


def _doc_alias(text: str, doc_aliases: Mapping[str, str] | None) -> str | None:
    if not doc_aliases:
        return None
    if text in doc_aliases:
        return doc_aliases[text]
    folded = {k.casefold(): v for k, v in doc_aliases.items() if not k.isupper()}
    return folded.get(text.casefold())


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _build(data: Mapping[str, Any]) -> OrganisationRegister:
    organisations: dict[str, Organisation] = {}
    phrases: list[Phrase] = []
    domains: dict[str, str] = {}
    for entry in data["organisations"]:
        org = Organisation(str(entry["id"]), str(entry["name"]), str(entry["type"]))
        if org.type not in ORG_TYPES:
            raise ValueError(f"organisation {org.canonical_id}: unknown type {org.type!r}")
        if org.canonical_id in organisations:
            raise ValueError(f"duplicate organisation id {org.canonical_id!r}")
        organisations[org.canonical_id] = org
        phrases += [Phrase(a, "ORG", org.canonical_id, False)
                    for a in _as_tuple(entry.get("aliases"))]
        phrases += [Phrase(a, "ORG", org.canonical_id, True)
                    for a in _as_tuple(entry.get("exact"))]
        domains.update({d.lower(): org.canonical_id for d in _as_tuple(entry.get("domains"))})
    systems = data["systems"]
    system_areas: dict[str, str] = {}
    for entry in systems["list"]:
        org, system_phrases, areas = _system(entry, systems)
        organisations[org.canonical_id] = org
        phrases += system_phrases
        system_areas.update(areas)
        domains.update({d.lower(): org.canonical_id for d in _as_tuple(entry.get("domains"))})
    things: dict[str, NamedThing] = {}
    for entry in data["documents"]:
        thing = NamedThing(str(entry["id"]), str(entry["name"]), str(entry["label"]))
        things[thing.canonical_id] = thing
        phrases += [Phrase(" ".join(a.split()), thing.label, thing.canonical_id, False)
                    for a in _as_tuple(entry.get("aliases"))]
        phrases += [Phrase(a, thing.label, thing.canonical_id, True)
                    for a in _as_tuple(entry.get("exact"))]
    phrases += [Phrase(b, "BLOCK", "", False) for b in _as_tuple(data.get("blockers"))]
    generic = tuple(
        GenericShape(str(g["type"]), _as_tuple(g.get("suffixes")), _as_tuple(g.get("prefixes")),
                     _as_tuple(g.get("prefix_suffixes")))
        for g in data["generic"]
    )
    roles, noise = data["roles"], data["noise"]
    return OrganisationRegister(
        organisations=organisations,
        things=things,
        phrases=tuple(phrases),
        generic=generic,
        generic_words=frozenset(_as_tuple(data["generic_words"])),
        org_heads=frozenset(_as_tuple(data["org_heads"])),
        domains=domains,
        system_areas=system_areas,
        footprint_words=frozenset(w.lower() for w in _as_tuple(systems.get("footprint_words"))),
        system_context=tuple(w.lower() for w in _as_tuple(systems.get("context_words"))),
        legislation_heads=_as_tuple(data.get("legislation_heads")),
        role_heads=_as_tuple(roles["heads"]),
        role_modifiers=_as_tuple(roles["modifiers"]),
        role_words=frozenset(w.lower() for w in _as_tuple(noise["role_words"])),
        heading_words=frozenset(_as_tuple(noise["heading_words"])),
        author_cues=dict(data["author"]),
    )


def _system(entry: Mapping[str, Any], systems: Mapping[str, Any]
            ) -> tuple[Organisation, list[Phrase], dict[str, str]]:
    """One ICS: its organisation, its phrase patterns and its bare area names."""
    area = str(entry["area"])
    name = str(entry.get("name") or f"{area} ICS")
    org = Organisation(str(entry.get("id") or slugify(name)), name, "ics")
    brands = _as_tuple(entry.get("brands"))
    areas = (area, *_as_tuple(entry.get("former")))
    suffixes, prefixes = _as_tuple(systems["suffixes"]), _as_tuple(systems.get("prefixes"))
    phrases = [Phrase(b, "ORG", org.canonical_id, True) for b in brands]
    phrases.append(Phrase(name, "ORG", org.canonical_id, False))
    for base in (*areas, *brands):
        for suffix in suffixes:
            phrases.append(Phrase(f"{base} {suffix}", "ORG", org.canonical_id, False))
            phrases += [Phrase(f"{p} {base} {suffix}", "ORG", org.canonical_id, False)
                        for p in prefixes]
    phrases += [Phrase(a, "AREA", org.canonical_id, True) for a in areas if not a.isupper()]
    phrases += [Phrase(a, "ORG", org.canonical_id, True) for a in areas if a.isupper()]
    return org, phrases, {a: org.canonical_id for a in areas}


def read_pattern_file(path: Path) -> dict[str, Any]:
    """Parse the YAML pattern file, raising :class:`ConfigError` when it is unusable."""
    return read_yaml_mapping(path, "entity pattern file")


def load_register(settings: Settings) -> OrganisationRegister:
    """Build the canonical register from ``settings.entities.patterns``."""
    path = settings.resolve(settings.entities.patterns)
    register = OrganisationRegister.from_data(read_pattern_file(path))
    log.info("entity register: %d organisations, %d phrase patterns from %s",
             len(register.organisations), len(register.phrases), path)
    return register
