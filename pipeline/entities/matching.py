"""spaCy rule matching built from the register: phrase patterns and name-shape patterns.

A :class:`RuleMatcher` is built once per vocabulary and run over already-parsed Docs; it never
re-parses. It returns :class:`Candidate` token spans; overlaps are resolved by the caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pipeline.entities.names import GenericShape, Organisation, Phrase, slugify

if TYPE_CHECKING:
    from spacy.tokens import Doc

_CAP = r"^[A-Z][\w'’.&-]*$"
_CAP_OR_LINK = r"^(?:[A-Z][\w'’.&-]*|and|&|of|upon|on|-|the|le)$"
_LINKS = frozenset({"and", "&", "of", "upon", "on", "-", "the", "le"})
_NAME_FIRST: dict[str, Any] = {"TEXT": {"REGEX": _CAP}}
_NAME_REST: dict[str, Any] = {"TEXT": {"REGEX": _CAP_OR_LINK}, "OP": "*"}
_YEAR = re.compile(r"^(?:1[89]|20)\d\d$")


class Rules(Protocol):
    """What the matcher reads from the organisation register, which builds it."""

    phrases: tuple[Phrase, ...]
    generic: tuple[GenericShape, ...]
    generic_words: frozenset[str]
    legislation_heads: tuple[str, ...]
    role_heads: tuple[str, ...]
    role_modifiers: tuple[str, ...]
    heading_words: frozenset[str]

    def shape_organisation(self, name: str, org_type: str) -> Organisation:
        """The canonical organisation of a name recognised by shape."""
        ...


@dataclass(frozen=True)
class Candidate:
    """A rule match: token span, label and the canonical id it stands for."""

    start: int
    end: int
    kind: str  # ORG, LAW, POLICY, AREA, BLOCK, ROLE
    key: str  # canonical id ("" for ROLE and BLOCK)
    rule: str  # known, shape, legislation, role


class RuleMatcher:
    """Phrase and token-pattern matchers of one register for one spaCy vocabulary."""

    def __init__(self, register: Rules, vocab: Any) -> None:
        import spacy
        from spacy.matcher import Matcher, PhraseMatcher

        self.vocab = vocab
        self.register = register
        tokenizer = spacy.blank("en", vocab=vocab)
        self._phrases = {False: PhraseMatcher(vocab, attr="LOWER"), True: PhraseMatcher(vocab)}
        grouped: dict[tuple[bool, str], list[Doc]] = {}
        for phrase in register.phrases:
            label = f"{phrase.kind}|{phrase.key}"
            grouped.setdefault((phrase.exact, label), []).append(tokenizer.make_doc(phrase.text))
        for (exact, label), docs in grouped.items():
            self._phrases[exact].add(label, docs)
        self._shapes = Matcher(vocab)
        # Every shape, role and legislation pattern needs one of these words; the shape
        # matcher (regular expressions on every token) only runs on Docs holding one.
        self._anchors: set[str] = {h.lower() for h in register.legislation_heads}
        self._suffixes: dict[int, list[tuple[str, ...]]] = {}
        self._prefixes: dict[int, list[tuple[str, ...]]] = {}
        self._name_enders = frozenset(
            tokenizer.make_doc(s)[-1].lower_ for g in register.generic for s in g.suffixes)
        for index, shape in enumerate(register.generic):
            self._add_shape(index, shape, tokenizer)
        self._add_roles(tokenizer)
        heads = [{"TEXT": {"IN": list(register.legislation_heads)}}]
        self._shapes.add("LAW|", [[_NAME_FIRST, _NAME_REST, *heads, {"TEXT": {"REGEX": r"^\d{4}$"},
                                                                      "OP": "?"}]],
                         greedy="LONGEST")

    def _add_shape(self, index: int, shape: Any, tokenizer: Any) -> None:
        def lower(text: str) -> list[dict[str, Any]]:
            return [{"LOWER": t.lower_} for t in tokenizer.make_doc(text)]

        patterns = [[_NAME_FIRST, _NAME_REST, *lower(s)] for s in shape.suffixes]
        self._suffixes[index] = sorted(
            (tuple(t.lower_ for t in tokenizer.make_doc(s)) for s in shape.suffixes),
            key=len, reverse=True)
        self._prefixes[index] = sorted(
            (tuple(t.lower_ for t in tokenizer.make_doc(p)) for p in shape.prefixes),
            key=len, reverse=True)
        self._anchors.update(p[0]["LOWER"] for p in map(lower, shape.suffixes) if p)
        self._anchors.update(p[0]["LOWER"] for p in map(lower, shape.prefixes) if p)
        for prefix in shape.prefixes:
            patterns.append([*lower(prefix), _NAME_FIRST, _NAME_REST])
            patterns += [[*lower(prefix), _NAME_FIRST, _NAME_REST, *lower(s)]
                         for s in shape.prefix_suffixes]
        self._shapes.add(f"SHAPE|{index}", patterns, greedy="LONGEST")

    def _add_roles(self, tokenizer: Any) -> None:
        mods = {"LOWER": {"IN": [m.lower() for m in self.register.role_modifiers]}, "OP": "*"}
        patterns = []
        for head in self.register.role_heads:
            head_tokens = [{"LOWER": t.lower_} for t in tokenizer.make_doc(head)]
            self._anchors.update(t["LOWER"] for t in head_tokens[:1])
            patterns.append([mods, *head_tokens])
            patterns.append([mods, *head_tokens, {"LOWER": {"IN": ["of", "for"]}},
                             _NAME_FIRST, _NAME_REST])
        self._shapes.add("ROLE|", patterns, greedy="LONGEST")

    def match(self, doc: Doc) -> list[Candidate]:
        """All candidate spans in ``doc``, overlapping (the extractor resolves overlaps)."""
        strings = self.vocab.strings
        found: list[Candidate] = []
        for matcher in self._phrases.values():
            for match_id, start, end in matcher(doc):
                kind, _, key = strings[match_id].partition("|")
                found.append(Candidate(start, end, kind, key, "known"))
        if self._anchors.isdisjoint(t.lower_ for t in doc):
            return found
        for match_id, start, end in self._shapes(doc):
            kind, _, key = strings[match_id].partition("|")
            cand = self._check_shape(doc, kind, key, start, end)
            if cand is not None:
                found.append(cand)
        return found

    def _check_shape(self, doc: Doc, kind: str, key: str, start: int, end: int
                     ) -> Candidate | None:
        if kind == "ROLE":
            return self._check_role(doc, start, end)
        trimmed = self._trim_start(doc, start, end)
        if trimmed is None:
            return None
        if kind == "LAW":
            return self._check_law(doc, trimmed, end)
        index = int(key)
        trimmed = self._trim_start(doc, self._after_other_names(doc, index, trimmed, end), end)
        if trimmed is None or not self._valid_name_end(doc, index, trimmed, end):
            return None
        shape = self.register.generic[index]
        org = self.register.shape_organisation(doc[trimmed:end].text, shape.type)
        return Candidate(trimmed, end, "ORG", org.canonical_id, "shape")

    def _suffix_length(self, doc: Doc, index: int, start: int, end: int) -> int:
        words = tuple(t.lower_ for t in doc[start:end])
        for suffix in self._suffixes.get(index, []):
            if len(words) > len(suffix) and words[-len(suffix):] == suffix:
                return len(suffix)
        return 0

    def _after_other_names(self, doc: Doc, index: int, start: int, end: int) -> int:
        """Start after the last name that ends inside the name part ("X CCG and Y Trust")."""
        words = tuple(t.lower_ for t in doc[start:end])
        if any(words[:len(p)] == p for p in self._prefixes.get(index, [])):
            return start
        name_end = end - self._suffix_length(doc, index, start, end)
        for i in range(name_end - 1, start - 1, -1):
            if doc[i].lower_ in self._name_enders:
                return i + 1
        return start

    def _check_role(self, doc: Doc, start: int, end: int) -> Candidate | None:
        """A role title, cut before a form label or heading word that follows it ("Author")."""
        for i in range(start + 1, end):
            if doc[i].text in self.register.heading_words or doc[i].is_space:
                end = i
                break
        while end > start and doc[end - 1].lower_ in _LINKS | {"for"}:
            end -= 1
        return Candidate(start, end, "ROLE", "", "role") if end > start else None

    def _valid_name_end(self, doc: Doc, index: int, start: int, end: int) -> bool:
        """The name part ends in a word, and an acronym suffix is not used as a modifier.

        Rejects "Partnerships and Primary Care Network" and "Chairs and STP" in "STP Leads".
        """
        length = self._suffix_length(doc, index, start, end)
        if length == 1 and doc[end - 1].text.isupper() and end < len(doc) \
                and doc[end].text[:1].isupper():
            return False
        return doc[end - length - 1].lower_ not in _LINKS

    def _trim_start(self, doc: Doc, start: int, end: int) -> int | None:
        """Drop leading stop words, links and heading words; ``None`` if no name is left."""
        from spacy.lang.en.stop_words import STOP_WORDS

        generic = self.register.generic_words
        while start < end and (doc[start].lower_ in STOP_WORDS or doc[start].lower_ in _LINKS
                               or doc[start].text in self.register.heading_words):
            start += 1
        words = [t for t in doc[start:end] if t.text[:1].isupper()]
        distinctive = [t for t in words if t.text not in generic and t.lower_ not in STOP_WORDS]
        return start if distinctive else None

    def _check_law(self, doc: Doc, start: int, end: int) -> Candidate | None:
        last = end - 1
        if _YEAR.match(doc[last].text):
            last -= 1
        if last <= start or doc[last - 1].lower_ in _LINKS:
            return None
        return Candidate(start, end, "LAW", slugify(doc[start:end].text), "legislation")
