"""The canonical register of organisations, built from the pattern file in ``models/entities``.

The register knows the named organisations (with aliases and acronyms), the integrated care
systems (area names combined with suffixes such as "ICS" or "STP", brands, former names), the
name shapes of generic organisations ("X Borough Council", "X CCG"), legislation and policy
documents, role titles and the noise vocabularies. :meth:`OrganisationRegister.lookup` turns a
piece of text into a canonical :class:`Organisation`.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
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
                       "professional_body", "government", "legislature", "other"})
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
            raise PatternDataError(_problem(exc)) from exc

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
        return self.only_generic(words) and self.lookup(text) is None

    def only_generic(self, words: Iterable[str]) -> bool:
        """Whether every word is one of :attr:`generic_words` or its plural ("CCGs")."""
        return all(w in self.generic_words or w.rstrip("s") in self.generic_words for w in words)

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


class PatternDataError(ConfigError):
    """The content of an entity pattern file is invalid; ``problem`` says where (the section,
    the entry) and what, in one line."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"invalid entity pattern data: {problem}")

    def __reduce__(self) -> tuple[type[PatternDataError], tuple[str]]:
        return type(self), (self.problem,)  # crosses process boundaries with its problem


def _problem(exc: Exception) -> str:
    """An error met while reading the pattern data, as a sentence (a missing key is named)."""
    return f"no {exc.args[0]!r} key" if isinstance(exc, KeyError) else str(exc)


def _kind(value: Any) -> str:
    """What a YAML value is, in words."""
    kinds = ((bool, "true or false"), (int | float, "a number"), (Mapping, "a mapping"),
             (list, "a list"), (type(None), "nothing"))
    return next((kind for cls, kind in kinds if isinstance(value, cls)), "text")


@contextlib.contextmanager
def _where(label: str) -> Iterator[None]:
    """Prefix an error raised inside with ``label`` (a section, an entry)."""
    try:
        yield
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{label}: {_problem(exc)}") from exc


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """The mapping under ``key``."""
    value = data[key]
    if not isinstance(value, Mapping):
        raise ValueError(f"{key!r} must be a mapping of keys, not {_kind(value)}")
    return value


def _entries(data: Mapping[str, Any], key: str,
             name: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The entries of the list under ``key``, each with the label that names it in errors
    ("organisations entry 3 (care-quality-commission)"; ``name`` is the list's name there)."""
    name = name or key
    entries = data[key]
    if not isinstance(entries, list):
        raise ValueError(f"{name!r} must be a list of entries, not {_kind(entries)}")
    for number, entry in enumerate(entries, start=1):
        label = f"{name} entry {number}"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{label} must be a mapping of keys, not {_kind(entry)}")
        known = entry.get("id") or entry.get("name") or entry.get("area") or entry.get("type")
        yield (f"{label} ({known})" if known else label), entry


def _names(data: Mapping[str, Any], key: str, required: bool = False) -> tuple[str, ...]:
    """The name or list of names under ``key`` (none when it is absent and not ``required``)."""
    value = data[key] if required else data.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return tuple(str(v) for v in value)
    raise ValueError(f"{key!r} must be a name or a list of names, not {_kind(value)}")


def _build(data: Mapping[str, Any]) -> OrganisationRegister:
    organisations: dict[str, Organisation] = {}
    phrases: list[Phrase] = []
    domains: dict[str, str] = {}
    for label, entry in _entries(data, "organisations"):
        with _where(label):
            org = Organisation(str(entry["id"]), str(entry["name"]), str(entry["type"]))
            if org.type not in ORG_TYPES:
                raise ValueError(f"unknown type {org.type!r}; the types are "
                                 f"{', '.join(sorted(ORG_TYPES))}")
            if org.canonical_id in organisations:
                raise ValueError(f"duplicate organisation id {org.canonical_id!r}")
            organisations[org.canonical_id] = org
            phrases += [Phrase(a, "ORG", org.canonical_id, False)
                        for a in _names(entry, "aliases")]
            phrases += [Phrase(a, "ORG", org.canonical_id, True) for a in _names(entry, "exact")]
            domains.update({d.lower(): org.canonical_id for d in _names(entry, "domains")})
    systems = _section(data, "systems")
    with _where("systems"):
        suffixes, prefixes = _names(systems, "suffixes", True), _names(systems, "prefixes")
        footprint_words = frozenset(w.lower() for w in _names(systems, "footprint_words"))
        system_context = tuple(w.lower() for w in _names(systems, "context_words"))
    system_areas: dict[str, str] = {}
    for label, entry in _entries(systems, "list", "systems.list"):
        with _where(label):
            org, system_phrases, areas = _system(entry, suffixes, prefixes)
            organisations[org.canonical_id] = org
            phrases += system_phrases
            system_areas.update(areas)
            domains.update({d.lower(): org.canonical_id for d in _names(entry, "domains")})
    things: dict[str, NamedThing] = {}
    for label, entry in _entries(data, "documents"):
        with _where(label):
            thing = NamedThing(str(entry["id"]), str(entry["name"]), str(entry["label"]))
            things[thing.canonical_id] = thing
            phrases += [Phrase(" ".join(a.split()), thing.label, thing.canonical_id, False)
                        for a in _names(entry, "aliases")]
            phrases += [Phrase(a, thing.label, thing.canonical_id, True)
                        for a in _names(entry, "exact")]
    phrases += [Phrase(b, "BLOCK", "", False) for b in _names(data, "blockers")]
    generic = []
    for label, g in _entries(data, "generic"):
        with _where(label):
            generic.append(GenericShape(str(g["type"]), _names(g, "suffixes"),
                                        _names(g, "prefixes"), _names(g, "prefix_suffixes")))
    roles, noise = _section(data, "roles"), _section(data, "noise")
    with _where("roles"):
        role_heads, role_modifiers = _names(roles, "heads", True), _names(roles, "modifiers", True)
    with _where("noise"):
        role_words = frozenset(w.lower() for w in _names(noise, "role_words", True))
        heading_words = frozenset(_names(noise, "heading_words", True))
    return OrganisationRegister(
        organisations=organisations,
        things=things,
        phrases=tuple(phrases),
        generic=tuple(generic),
        generic_words=frozenset(_names(data, "generic_words", True)),
        org_heads=frozenset(_names(data, "org_heads", True)),
        domains=domains,
        system_areas=system_areas,
        footprint_words=footprint_words,
        system_context=system_context,
        legislation_heads=_names(data, "legislation_heads"),
        role_heads=role_heads,
        role_modifiers=role_modifiers,
        role_words=role_words,
        heading_words=heading_words,
        author_cues=dict(_section(data, "author")),
    )


def _system(entry: Mapping[str, Any], suffixes: tuple[str, ...], prefixes: tuple[str, ...]
            ) -> tuple[Organisation, list[Phrase], dict[str, str]]:
    """One ICS: its organisation, its phrase patterns and its bare area names."""
    area = str(entry["area"])
    name = str(entry.get("name") or f"{area} ICS")
    org = Organisation(str(entry.get("id") or slugify(name)), name, "ics")
    brands = _names(entry, "brands")
    areas = (area, *_names(entry, "former"))
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
