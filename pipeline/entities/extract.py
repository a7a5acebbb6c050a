"""Entity extraction for one document: rule matches, filtered model entities, canonical ids."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from pipeline.entities import noise
from pipeline.entities.acronyms import LearnedAcronyms, learn, learn_model_names
from pipeline.entities.author import detect_author
from pipeline.entities.matching import Candidate
from pipeline.entities.register import OrganisationRegister, normalise_name, slugify
from pipeline.entities.types import Author, EntityResult, Mention
from pipeline.schema import to_table

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span

log = logging.getLogger(__name__)

_RULE_PRIORITY = {"known": 0, "shape": 1, "legislation": 2}
_LIST_MARKS = frozenset({";", ":"})
_MODEL_LABELS = frozenset({"ORG", "PERSON", "LAW", "DATE"})
_ROLE_GAP = frozenset({",", ":", "-", "–", "(", ")"})


def extract_entities(document: dict[str, Any], sentences: pa.Table, docs: Sequence[Doc],
                     register: OrganisationRegister) -> EntityResult:
    """Entities, author and document-defined acronyms of one document.

    ``sentences`` is the document's sentences table and ``docs`` the parsed spaCy Docs, one per
    row, in the same order. Offsets in the result are character offsets in the sentence text.
    """
    if len(docs) != sentences.num_rows:
        raise ValueError(f"{len(docs)} parsed docs for {sentences.num_rows} sentences")
    candidates = [register.matcher_for(doc.vocab).match(doc) for doc in docs]
    keyword_sents = {i for i, doc in enumerate(docs) if _mentions_systems(doc, register)}
    mentions: list[Mention] = []
    for sent, (doc, found) in enumerate(zip(docs, candidates, strict=True)):
        context = sent in keyword_sents or sent - 1 in keyword_sents
        mentions += _rule_mentions(sent, doc, found, register, context)
    learned = learn(docs, mentions, register)
    mentions += _alias_mentions(docs, mentions, learned, register)
    mentions += _remit_roles(docs, candidates, mentions)
    mentions += _model_mentions(docs, mentions, learned, register)
    learn_model_names(docs, mentions, learned)
    mentions = _link_roles(docs, candidates, mentions)
    mentions.sort(key=lambda m: (m.sent, m.start))
    author = detect_author(docs, mentions, candidates, register, learned)
    doc_aliases = dict(learned.orgs)
    if author is not None:
        doc_aliases.update(_author_aliases(author, register))
    table = _to_table(document, sentences, docs, mentions)
    log.debug("%s: %d entities, author %s", document.get("doc_id"), table.num_rows, author)
    return EntityResult(entities=table, author=author, doc_aliases=doc_aliases)


def _mentions_systems(doc: Doc, register: OrganisationRegister) -> bool:
    """Whether the sentence talks about systems (so a bare area in a list is a system)."""
    text = " ".join(t.lower_ for t in doc if not t.is_space)
    return any(re.search(rf"\b{re.escape(w)}\b", text) for w in register.system_context)


def _resolve(found: list[Candidate]) -> list[Candidate]:
    """Non-overlapping ORG/LAW/POLICY rule spans: known names first, then shapes; longest first.

    A name shape never overrides a known name inside it ("West, North and East Cumbria STP and
    West Yorkshire STP" is two known systems, not one shape).
    """
    blocks = [c for c in found if c.kind == "BLOCK"]
    spans = [c for c in found if c.kind in ("ORG", "LAW", "POLICY")
             and not any(b.start <= c.start and c.end <= b.end and c.end - c.start < b.end - b.start
                         for b in blocks)]
    spans.sort(key=lambda c: (_RULE_PRIORITY.get(c.rule, 3), -(c.end - c.start), c.start))
    chosen: list[Candidate] = []
    taken: set[int] = set()
    for cand in spans:
        if taken.isdisjoint(range(cand.start, cand.end)):
            chosen.append(cand)
            taken.update(range(cand.start, cand.end))
    return chosen


def _rule_mentions(sent: int, doc: Doc, found: list[Candidate], register: OrganisationRegister,
                   system_context: bool) -> list[Mention]:
    chosen = _resolve(found)
    taken = {i for c in chosen for i in range(c.start, c.end)}
    if system_context:
        areas = sorted((c for c in found if c.kind == "AREA"), key=lambda c: c.start - c.end)
        for area in areas:
            if taken.isdisjoint(range(area.start, area.end)) and _enumerated(doc, area, found):
                chosen.append(Candidate(area.start, area.end, "ORG", area.key, "known"))
                taken.update(range(area.start, area.end))
    return [_rule_mention(sent, doc, c, register) for c in chosen]


def _enumerated(doc: Doc, area: Candidate, found: list[Candidate]) -> bool:
    """A bare system area inside a list of systems ("...; Dorset; ...", "(now X)")."""
    before = doc[area.start - 1].text if area.start > 0 else ""
    after = doc[area.end].text if area.end < len(doc) else ""
    if before in _LIST_MARKS or after == ";":
        return True
    if before.lower() == "now" and area.start > 1 and doc[area.start - 2].text == "(":
        return True
    others = {(c.start, c.end) for c in found if c.kind == "AREA" and c != area}
    joined_after = after in (",", "and") and any(s == area.end + 1 for s, _ in others)
    joined_before = before in (",", "and") and any(e == area.start - 1 for _, e in others)
    return joined_after or joined_before


def _rule_mention(sent: int, doc: Doc, cand: Candidate, register: OrganisationRegister
                  ) -> Mention:
    if cand.kind == "ORG":
        org = register.get(cand.key)
        name, org_type = (org.name, org.type) if org else (None, None)
        return Mention(sent, cand.start, cand.end, "ORG", cand.key, name, org_type, "rule")
    thing = register.things.get(cand.key)
    name = thing.name if thing else normalise_name(doc[cand.start:cand.end].text)
    return Mention(sent, cand.start, cand.end, cand.kind, cand.key, name, None, "rule")


def _alias_mentions(docs: Sequence[Doc], mentions: list[Mention], learned: LearnedAcronyms,
                    register: OrganisationRegister) -> list[Mention]:
    """Mentions of acronyms the document defined, where no rule span covers them."""
    taken = {(m.sent, i) for m in mentions for i in range(m.start, m.end)}
    extra: list[Mention] = []
    for sent, doc in enumerate(docs):
        for token in doc:
            if (sent, token.i) in taken:
                continue
            if token.text in learned.orgs:
                org = register.get(learned.orgs[token.text])
                if org is not None:
                    extra.append(Mention(sent, token.i, token.i + 1, "ORG", org.canonical_id,
                                         org.name, org.type, "rule"))
            elif token.text in learned.things:
                thing = register.things.get(learned.things[token.text])
                label = thing.label if thing else "POLICY"
                name = thing.name if thing else None
                extra.append(Mention(sent, token.i, token.i + 1, label,
                                     learned.things[token.text], name, None, "rule"))
    return extra


def _model_mentions(docs: Sequence[Doc], mentions: list[Mention], learned: LearnedAcronyms,
                    register: OrganisationRegister) -> list[Mention]:
    """The statistical NER's entities that survive the noise filters and overlap no rule span."""
    taken = {(m.sent, i) for m in mentions for i in range(m.start, m.end)}
    extra: list[Mention] = []
    for sent, doc in enumerate(docs):
        for ent in doc.ents:
            if ent.label_ not in _MODEL_LABELS:
                continue
            span = noise.trim(ent)
            if span is None or any((sent, i) in taken for i in range(span.start, span.end)):
                continue
            mention = _model_mention(sent, span, ent.label_, learned, register)
            if mention is not None:
                extra.append(mention)
                taken.update((sent, i) for i in range(span.start, span.end))
    return extra


def _model_mention(sent: int, span: Span, label: str, learned: LearnedAcronyms,
                   register: OrganisationRegister) -> Mention | None:
    if label == "ORG":
        if noise.is_noise_org(span, register, learned.non_org):
            return None
        org = register.lookup(span.text, learned.orgs) or register.model_organisation(span.text)
        return Mention(sent, span.start, span.end, "ORG", org.canonical_id, org.name, org.type,
                       "model")
    if label == "PERSON":
        if noise.is_noise_person(span, register):
            return None
        name = normalise_name(span.text)
        return Mention(sent, span.start, span.end, "PERSON", "person:" + slugify(name), name,
                       None, "model")
    if label == "LAW":
        if noise.is_noise_law(span, register):
            return None
        name = normalise_name(span.text)
        return Mention(sent, span.start, span.end, "LAW", slugify(name), name, None, "model")
    if noise.is_noise_date(span):
        return None
    return Mention(sent, span.start, span.end, "DATE", None, " ".join(span.text.split()), None,
                   "model")


def _remit_roles(docs: Sequence[Doc], candidates: list[list[Candidate]],
                 mentions: list[Mention]) -> list[Mention]:
    """Capitalised role titles with a remit ("Director of Primary Care"), before the model runs."""
    taken = {(m.sent, i) for m in mentions for i in range(m.start, m.end)}
    roles = []
    for sent, found in enumerate(candidates):
        for role in sorted((c for c in found if c.kind == "ROLE"), key=lambda c: c.start):
            if _is_remit_title(docs[sent], role) and all(
                    (sent, i) not in taken for i in range(role.start, role.end)):
                roles.append(_role_mention(docs[sent], sent, role))
                taken.update((sent, i) for i in range(role.start, role.end))
    return roles


def _role_mention(doc: Doc, sent: int, role: Candidate) -> Mention:
    title = " ".join(doc[role.start:role.end].text.split())
    return Mention(sent, role.start, role.end, "ROLE", None, title, None, "rule")


def _link_roles(docs: Sequence[Doc], candidates: list[list[Candidate]],
                mentions: list[Mention]) -> list[Mention]:
    """Attach role titles next to a person ("Jane Smith, chief executive").

    The role becomes a ROLE mention and the person's canonical name "Name (Role)".
    """
    taken = {(m.sent, i) for m in mentions for i in range(m.start, m.end)}
    out = [m for m in mentions if m.label != "PERSON"]
    roles = {(m.sent, m.start): m for m in mentions if m.label == "ROLE"}
    for person in (m for m in mentions if m.label == "PERSON"):
        doc = docs[person.sent]
        role = next((r for r in roles.values() if r.sent == person.sent
                     and _adjacent(doc, r, person)), None)
        if role is None:
            free = [c for c in candidates[person.sent] if c.kind == "ROLE" and all(
                (person.sent, i) not in taken for i in range(c.start, c.end))]
            cand = next((c for c in free if _adjacent(doc, c, person)), None)
            if cand is not None:
                role = _role_mention(doc, person.sent, cand)
                out.append(role)
                taken.update((person.sent, i) for i in range(cand.start, cand.end))
        name = f"{person.canonical_name} ({role.canonical_name})" if role else person.canonical_name
        out.append(Mention(person.sent, person.start, person.end, "PERSON", person.canonical_id,
                           name, None, person.source))
    return out


def _adjacent(doc: Doc, role: Candidate | Mention, person: Mention) -> bool:
    """Role and person separated by at most two commas, colons, dashes or brackets."""
    gap = doc[role.end:person.start] if person.start >= role.end else doc[person.end:role.start]
    return len(gap) <= 2 and all(t.text in _ROLE_GAP or t.is_space for t in gap)


def _is_remit_title(doc: Doc, role: Candidate) -> bool:
    """A capitalised title with a remit ("Director of Primary Care")."""
    span = doc[role.start:role.end]
    return span[0].text[:1].isupper() and any(t.lower_ in ("of", "for") for t in span)


def _author_aliases(author: Author, register: OrganisationRegister) -> dict[str, str]:
    """Nouns in the author's name that stand for it ("the Council" in a council's report)."""
    nouns = register.author_cues.get("self_nouns", {}).get(author.type, [])
    name = f" {author.name} ".lower()
    return {str(n): author.canonical_id for n in nouns if f" {n} ".lower() in name}


def _to_table(document: dict[str, Any], sentences: pa.Table, docs: Sequence[Doc],
              mentions: list[Mention]) -> pa.Table:
    sentence_ids = sentences.column("sentence_id").to_pylist()
    pages = sentences.column("page").to_pylist()
    rows = []
    for m in mentions:
        span = docs[m.sent][m.start:m.end]
        rows.append({
            "doc_id": document["doc_id"], "sentence_id": sentence_ids[m.sent],
            "page": pages[m.sent], "start": span.start_char, "end": span.end_char,
            "text": span.text, "label": m.label, "canonical_id": m.canonical_id,
            "canonical_name": m.canonical_name, "org_type": m.org_type, "source": m.source,
        })
    return to_table("entities", rows)
