"""Who holds a stance: the author speaking for itself, or an organisation or person it cites."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span

FIRST_PERSON = {"we", "us", "our", "ours", "i", "me", "my", "ourselves"}
THIRD_PERSON = {"he", "she", "his", "her", "him", "they", "their", "them", "it", "its"}
# heads of noun phrases that can hold a view (people and bodies), language-general
ANIMATE_HEADS = {
    "leader",
    "member",
    "respondent",
    "council",
    "government",
    "minister",
    "officer",
    "chair",
    "boss",
    "director",
    "executive",
    "clinician",
    "gp",
    "organisation",
    "organization",
    "body",
    "association",
    "group",
    "committee",
    "board",
    "trust",
    "authority",
    "union",
    "college",
    "partner",
    "stakeholder",
    "people",
    "participant",
    "those",
    "colleague",
    "commissioner",
    "provider",
    "representative",
    "team",
    "secretary",
    "spokesperson",
    "campaigner",
    "author",
    "panel",
    "network",
    "confederation",
    "federation",
    "alliance",
    "partnership",
    "system",
    "society",
    "forum",
    "department",
    "agency",
    "chief",
    "lead",
    "manager",
    "professional",
    "doctor",
    "nurse",
    "councillor",
    "mp",
    "peer",
    "baroness",
    "lord",
}
# heads of noun phrases that name a document, whose view is its author's
DOCUMENT_HEADS = {
    "report", "paper", "review", "analysis", "research", "survey", "study", "briefing",
    "letter", "submission", "response", "statement", "framework", "guidance", "plan",
    "strategy", "bill", "act", "document", "evidence", "inquiry",
}
# words of a role held in an organisation: "Jo Bloggs, chief executive of X", "X director Jo
# Bloggs" (language-general)
_ROLES = frozenset({
    "chief", "executive", "director", "chair", "chairman", "chairwoman", "chairperson", "leader",
    "head", "president", "spokesperson", "spokesman", "spokeswoman", "secretary", "officer",
    "manager", "lead", "deputy", "founder", "adviser", "advisor", "convenor", "treasurer",
})
# people who speak in their own name, not their organisation's: the guidelines hold views of
# councillors, peers and MPs as the person's ("Cllr A Name (Some Council)")
_OWN_NAME_TITLES = frozenset(
    {"cllr", "councillor", "lord", "baroness", "lady", "mp", "sir", "dame"})
_THINGS = ("POLICY", "LAW")  # entity labels of documents and Acts, which hold no view
_POSSESSIVE = re.compile(r"\s*[’']s?$")
_DETERMINERS = re.compile(r"^(?:the|this|that|these|those|a|an)\s+", re.IGNORECASE)
# "many local government leaders" holds the view of "local government leaders"
_QUANTIFIERS = re.compile(
    r"^(?i:many|some|most|several|all|other|both|few|various|numerous)\s+(?=[a-z])")


class Register(Protocol):
    """What the stance stage needs of the entities register."""

    def lookup(self, text: str, doc_aliases: Mapping[str, str] | None = None) -> Any:
        """The canonical organisation ``text`` names, or ``None``."""

    def is_generic(self, text: str) -> bool:
        """Whether ``text`` names a kind of body, not one ("NHS", "the CCGs", "PDF")."""


@dataclass(frozen=True)
class Holder:
    """A resolved stance holder."""

    name: str
    holder_id: str | None
    is_author: bool


def normalise(name: str) -> str:
    """Lower-case, punctuation-free, single-spaced form of a name for comparisons."""
    text = re.sub(r"[’'`]s\b", "", name.lower())
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return re.sub(r"^(the|a|an) ", "", text.strip())


FINITE_VERBS = frozenset({"VBZ", "VBD", "VBP", "MD"})  # Penn tags no name holds


def is_clause(span: Span) -> bool:
    """Whether a span the parser's model took for a name holds a finite verb: a clause
    ("The council prefers Option 1"), which names nobody."""
    return any(t.tag_ in FINITE_VERBS for t in span)


def _bare(name: str) -> str:
    """A name the parser's model found without the article and possessive it may take in
    ("the X's director" -> "X")."""
    return _POSSESSIVE.sub("", _DETERMINERS.sub("", name)).strip() or name


def acronym(name: str) -> str:
    """Initials of the capitalised words of ``name`` ("Local Government Association" -> LGA)."""
    return "".join(w[0] for w in re.findall(r"[A-Za-z][\w]*", name) if w[0].isupper())


def _governing_subject(span: Span) -> Span | None:
    """For "its"/"their": the subject of the verb that governs the pronoun's phrase."""
    node = span.root
    while node.head.i != node.i:
        node = node.head
        if node.lemma_ == "be":
            continue  # "X is their preferred option": X is what is preferred, not who
        subject = next((c for c in node.children if c.dep_ in ("nsubj", "nsubjpass")), None)
        if subject is not None and subject.i not in range(span.start, span.end):
            if subject.lower_ in THIRD_PERSON | FIRST_PERSON | {"which", "that", "who"}:
                return None
            doc = span.doc
            return doc[subject.left_edge.i : subject.i + 1]
    return None


@dataclass
class HolderResolver:
    """Resolves holder phrases of one document to canonical holders."""

    author: Holder
    owner: str
    document_reference: re.Pattern[str] | None
    entities: Mapping[int, Sequence[dict[str, Any]]]
    register: Register | None = None
    doc_aliases: Mapping[str, str] | None = None

    def _names_one(self, text: str) -> bool:
        """Whether a name the parser found names one body or person, not a kind of body."""
        return self.register is None or not self.register.is_generic(text)

    def _parser_name(self, sent: int, ent: Span) -> bool:
        """Whether a name only the parser's model proposes may hold a view: not a kind of body,
        not a kind of document ("the Act"), and not what the entities stage found to be
        something else (a plan, an Act)."""
        words = [t for t in ent if t.pos_ != "DET"]
        if is_clause(ent) or (len(words) == 1 and words[0].lemma_.lower() in DOCUMENT_HEADS):
            return False
        return self._names_one(ent.text) and not self._names_a_thing(
            sent, ent.start_char, ent.end_char)

    def _names_a_thing(self, sent: int, start: int, end: int) -> bool:
        """Whether the entities stage found a plan or an Act at these characters."""
        return any(r["label"] in _THINGS for r in self._entities_over(sent, start, end))

    def _entities_over(self, sent: int, start: int, end: int) -> list[Mapping[str, Any]]:
        """The entities stage's rows of sentence ``sent`` overlapping characters start-end."""
        return [r for r in self.entities.get(sent, ()) if r["start"] < end and r["end"] > start]

    def _is_author(self, name: str, holder_id: str | None) -> bool:
        if holder_id is not None and holder_id == self.author.holder_id:
            return True
        norm, author_norm = normalise(name), normalise(self.author.name)
        return bool(norm) and (
            norm == author_norm or name.strip() == acronym(self.author.name) != ""
        )

    def _canonical(self, text: str) -> tuple[str, str | None]:
        if self.register is not None:
            org = self.register.lookup(text, self.doc_aliases)
            if org is not None:
                # an acronym the document defined for an organisation the register learned in
                # another run ("X Association (XA)") is named as the entities stage named it
                return self._entity_names.get(str(org.canonical_id), str(org.name)), str(
                    org.canonical_id)
        return text.strip(), None

    @cached_property
    def _entity_names(self) -> dict[str, str]:
        """Canonical names of the organisations the document's entities name, by id."""
        return {str(r["canonical_id"]): str(r["canonical_name"])
                for rows in self.entities.values() for r in rows
                if r.get("canonical_id") and r.get("canonical_name")}

    def _make(self, text: str, holder_id: str | None = None, name: str | None = None) -> Holder:
        if name is None:
            name, holder_id = self._canonical(text)
        if self._is_author(name, holder_id) or self._is_author(text, holder_id):
            return self.author
        return Holder(name, holder_id, False)

    def _entity_in(self, sent: int, start: int, end: int) -> dict[str, Any] | None:
        for row in self._entities_over(sent, start, end):
            if row["label"] in ("ORG", "PERSON") and self._names_one(row["text"]):
                return dict(row)
        return None

    def _owning_name(self, sent: int, span: Span, docs: Sequence[Doc]) -> Holder | None:
        """An organisation named just before a generic phrase ("NHSE/I report authors")."""
        text = docs[sent].text
        candidates: list[tuple[int, int, Mapping[str, Any] | None]] = [
            (r["start"], r["end"], r) for r in self.entities.get(sent, ()) if r["label"] == "ORG"
        ]
        candidates += [
            (e.start_char, e.end_char, None)
            for e in docs[sent].ents
            if e.label_ == "ORG" and self._parser_name(sent, e)
        ]
        for start, end, row in candidates:
            gap = text[end : span.start_char] if end <= span.start_char else None
            if gap is not None and re.fullmatch(r"[\s\w'’]{0,20}", gap) and len(gap.split()) <= 2:
                if row is not None:
                    return self._from_row(row)
                return self._make(text[start:end])
        return None

    def antecedent(self, sent: int, before: int, docs: Sequence[Doc], person: bool) -> Holder:
        """The nearest organisation (or person) named before ``before`` in sentence ``sent``."""
        labels = ("PERSON",) if person else ("ORG", "PERSON")
        for i in range(sent, max(sent - 4, -1), -1):
            limit = before if i == sent else 10**9
            rows = [
                r
                for r in self.entities.get(i, ())
                if r["label"] in labels and r["end"] <= limit and self._names_one(r["text"])
            ]
            if rows:
                return self._row_holder(i, max(rows, key=lambda r: r["end"]), docs)
            ents = [
                e
                for e in docs[i].ents
                if e.label_ in labels and e.end_char <= limit and self._parser_name(i, e)
            ]
            if ents:
                return self._ent_holder(i, ents[-1])
        return self.author

    def _row_holder(self, sent: int, row: Mapping[str, Any], docs: Sequence[Doc]) -> Holder:
        """The holder an entities-stage row names: a person's organisation when the sentence
        gives their role in it (:meth:`affiliation`), else the row's organisation or person."""
        if row["label"] == "PERSON":
            person = docs[sent].char_span(row["start"], row["end"], alignment_mode="expand")
            organisation = self.affiliation(sent, person) if person is not None else None
            if organisation is not None:
                return organisation
        return self._from_row(row)

    def _from_row(self, row: Mapping[str, Any]) -> Holder:
        """The holder an entities-stage row names, under the name that stage gave it."""
        return self._make(row["text"], row.get("canonical_id"), row.get("canonical_name"))

    def _ent_holder(self, sent: int, ent: Span) -> Holder:
        """The holder a name only the parser's model found names (as :meth:`_row_holder`)."""
        organisation = self.affiliation(sent, ent) if ent.label_ == "PERSON" else None
        return organisation if organisation is not None else self._make(_bare(ent.text))

    def affiliation(self, sent: int, person: Span) -> Holder | None:
        """The organisation a person speaks for, when the sentence names their role in it:
        "Jo Bloggs, chief executive of X", "X chief executive Jo Bloggs", "X's director, Jo
        Bloggs". The guidelines put the organisation first; councillors, peers and MPs keep
        their own name."""
        doc = person.doc
        around = doc[max(person.start - 1, 0) : min(person.end + 1, len(doc))]
        if any(t.lower_.rstrip(".") in _OWN_NAME_TITLES for t in around):
            return None
        root = person.root
        spans = [doc[root.left_edge.i : person.start]]
        spans += [doc[c.left_edge.i : c.right_edge.i + 1] for c in root.children
                  if c.dep_ == "appos"]
        if root.dep_ == "appos":
            spans.append(doc[root.head.left_edge.i : root.left_edge.i])
        for span in spans:
            if any(t.lemma_.lower() in _ROLES for t in span):
                organisation = self._organisation_in(sent, span)
                if organisation is not None:
                    return organisation
        return None

    def _organisation_in(self, sent: int, span: Span) -> Holder | None:
        """The first organisation named inside ``span`` of sentence ``sent``."""
        rows = [r for r in self._entities_over(sent, span.start_char, span.end_char)
                if r["label"] == "ORG" and self._names_one(r["text"])]
        if rows:
            return self._from_row(min(rows, key=lambda r: r["start"]))
        ents = [e for e in span.ents if e.label_ == "ORG" and self._parser_name(sent, e)]
        return self._make(_bare(ents[0].text)) if ents else None

    def via_document_reference(self, sent: int, span: Span | None) -> bool:
        """Whether the phrase names the consultation document rather than a body."""
        if span is None or self.document_reference is None:
            return False
        return (
            bool(self.document_reference.search(span.text))
            and not span.ents
            and (self._entity_in(sent, span.start_char, span.end_char) is None)
        )

    def owner_holder(self) -> Holder:
        """The consultation's owner as a holder."""
        return self._make(self.owner)

    def resolve(self, sent: int, span: Span | None, docs: Sequence[Doc]) -> Holder | None:
        """The holder a phrase names; no phrase means the author speaks.

        ``None`` when the phrase names a thing rather than someone ("the changes").
        """
        if span is None:
            return self.author
        text = span.text.strip()
        lower = text.lower()
        if len(span) > 1 and span[0].lower_ in ("its", "their") and span[0].dep_ == "poss":
            # "its members", "their leaders": organisation first, the body the pronoun names
            return self.antecedent(sent, span.start_char, docs, False)
        entity = self._entity_in(sent, span.start_char, span.end_char)
        if entity is not None:
            return self._row_holder(sent, entity, docs)
        ents = [
            e
            for e in docs[sent].ents
            if e.label_ in ("ORG", "PERSON", "NORP")
            and e.start_char < span.end_char
            and e.end_char > span.start_char
            and self._parser_name(sent, e)
        ]
        if ents:
            return self._ent_holder(sent, ents[0])
        if self._names_a_thing(sent, span.start_char, span.end_char):
            return None
        if lower in FIRST_PERSON or any(
            t.lower_ in FIRST_PERSON and t.pos_ == "PRON" and t.text != "I" for t in span
        ):
            return self.author
        if lower in ("this", "that", "these", "it", "which"):
            return self.author
        if lower in THIRD_PERSON:
            governing = _governing_subject(span)
            if governing is not None:
                return self.resolve(sent, governing, docs)
            return self.antecedent(
                sent, span.start_char, docs, lower in ("he", "she", "his", "her", "him")
            )
        if self.document_reference is not None and self.document_reference.search(text):
            return self._make(self.owner)
        head = span.root
        lemma = head.lemma_.lower()
        if lemma in normalise(self.author.name).split() and head.pos_ in ("NOUN", "PROPN"):
            return self.author
        if text == acronym(self.author.name):
            return self.author
        animate = lemma in ANIMATE_HEADS or head.pos_ == "PROPN"
        if not animate and lemma not in DOCUMENT_HEADS:
            return None
        core = docs[sent][span.start : head.i + 1].text
        name, holder_id = self._canonical(core)
        if lemma in DOCUMENT_HEADS and holder_id is None:
            # "the report recommends": its author, named just before ("the LGA report") or
            # earlier ("The Commission has concluded ... The report recommends")
            return self._owning_name(sent, span, docs) or self.antecedent(
                sent, span.start_char, docs, False)
        if not animate:
            return None
        owner = self._owning_name(sent, span, docs)
        if owner is not None:
            return owner
        if holder_id is not None:
            return self._make(core, holder_id, name)
        return self._make(_QUANTIFIERS.sub("", _DETERMINERS.sub("", core)).strip() or text)
