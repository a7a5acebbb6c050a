"""Who wrote a document: weighted cues for each candidate organisation.

Cues (weights in :data:`WEIGHTS`): a letterhead line naming only the organisation, "About the X",
"Report of X", contact lines with the organisation's web or e-mail domain, a sign-off followed
by the organisation, the organisation as the subject of a clause with "we"/"our", "X response"
next to "we", "our <type noun>" ("our ICS", "we are a borough") pointing at the one organisation
of that type, "on a <system area> footprint" in a first-person text, headings naming the
organisation, and mentions near the top and bottom. The best-scoring organisation is the author
when its score reaches ``author.min_score``; confidence grows with the score and the margin.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.entities.acronyms import LearnedAcronyms
from pipeline.entities.matching import Candidate
from pipeline.entities.types import Author, Mention

if TYPE_CHECKING:
    from spacy.tokens import Doc

    from pipeline.entities.register import OrganisationRegister

WEIGHTS = {
    "letterhead": 4.0, "about": 4.0, "report_of": 3.0, "contact_domain": 3.0, "sign_off": 3.0,
    "footprint": 3.0, "own_line": 1.5, "first_person_subject": 2.0, "own_voice": 2.0,
    "our_type": 2.0, "heading": 1.0, "title_own_voice": 3.0, "self_description": 3.0,
    "link_domain": 0.5, "next_first_person": 1.5, "edge_mention": 0.25, "mention": 0.05,
}
CAPS = {"first_person_subject": 4.0, "next_first_person": 3.0, "own_voice": 2.0,
        "our_type": 4.0, "heading": 3.0, "edge_mention": 1.0, "mention": 0.5}
_EMAIL = re.compile(r"[\w.+-]{1,64}@([A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,10})")
_WEB = re.compile(r"(?:https?://)?(?:www\.)?((?:[A-Za-z0-9-]{1,63}\.){1,10}[A-Za-z]{2,63})(/[^\s>)\]]*)?")
_ALNUM = re.compile(r"[^\W_]")
_BE = frozenset({"is", "are", "was", "were", "'s", "’s"})


@dataclass(frozen=True)
class _Line:
    sent: int
    start: int  # character offsets in the sentence Doc's text
    end: int
    text: str


def _lines(docs: Sequence[Doc]) -> list[_Line]:
    lines = []
    for sent, doc in enumerate(docs):
        offset = 0
        for part in doc.text.split("\n"):
            if _ALNUM.search(part):
                lines.append(_Line(sent, offset, offset + len(part), part))
            offset += len(part) + 1
    return lines


class _Scores:
    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.by_cue: dict[tuple[str, str], float] = defaultdict(float)

    def add(self, org_id: str, cue: str, times: float = 1.0) -> None:
        cap = CAPS.get(cue, WEIGHTS[cue])
        gain = min(WEIGHTS[cue] * times, cap - self.by_cue.get((org_id, cue), 0.0))
        if gain > 0:
            self.by_cue[org_id, cue] += gain
            self.total[org_id] += gain


def detect_author(docs: Sequence[Doc], mentions: Sequence[Mention],
                  candidates: Sequence[Sequence[Candidate]], register: OrganisationRegister,
                  learned: LearnedAcronyms) -> Author | None:
    """The document's author organisation from the cues above, or ``None`` if too unsure."""
    orgs = [m for m in mentions if m.label == "ORG" and m.canonical_id]
    if not docs:
        return None
    lines = _lines(docs)
    scores = _Scores()
    _line_cues(docs, lines, orgs, register, scores)
    _domain_cues(lines, register, scores)
    _clause_cues(docs, orgs, register, scores)
    _footprint_cue(docs, candidates, register, scores)
    _position_cues(len(docs), orgs, scores)
    if not scores.total:
        return None
    ranked = sorted(scores.total.items(), key=lambda kv: (-kv[1], kv[0]))
    best_id, best = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    org = register.get(best_id)
    if org is None or best < float(register.author_cues.get("min_score", 2.0)):
        return None
    confidence = best / (best + second) * (1.0 - math.exp(-best / 3.0))
    cues = tuple(sorted(cue for (oid, cue) in scores.by_cue if oid == best_id))
    return Author(org.canonical_id, org.name, org.type, round(confidence, 3), cues)


def _in_line(line: _Line, by_sent: dict[int, list[Mention]], docs: Sequence[Doc]
             ) -> Iterator[tuple[Mention, int, int]]:
    for m in by_sent.get(line.sent, []):
        span = docs[m.sent][m.start:m.end]
        if line.start <= span.start_char and span.end_char <= line.end:
            yield m, span.start_char - line.start, span.end_char - line.start


def _coverage(line: _Line, hits: list[tuple[Mention, int, int]]) -> dict[str, float]:
    total = len(_ALNUM.findall(line.text)) or 1
    covered: dict[str, float] = defaultdict(float)
    for m, start, end in hits:
        covered[m.canonical_id or ""] += len(_ALNUM.findall(line.text[start:end])) / total
    return covered


def _line_cues(docs: Sequence[Doc], lines: list[_Line], orgs: Sequence[Mention],
               register: OrganisationRegister, scores: _Scores) -> None:
    cues = register.author_cues
    report_cues = [str(c).lower() for c in cues.get("report_cues", [])]
    sign_offs = [str(c).lower() for c in cues.get("sign_offs", [])]
    about = str(cues.get("about_cue", "about")).lower()
    title_nouns = [str(n).lower() for n in cues.get("title_nouns", [])]
    signed_at = -100
    by_sent: dict[int, list[Mention]] = defaultdict(list)
    for m in orgs:
        by_sent[m.sent].append(m)
    for index, line in enumerate(lines):
        hits = list(_in_line(line, by_sent, docs))
        lowered = line.text.strip(" \t#*-•").lower()
        if any(lowered.startswith(s) for s in sign_offs):
            signed_at = index
        for org_id, share in _coverage(line, hits).items():
            if share >= 0.8 and index < 3:
                scores.add(org_id, "letterhead")
            elif share >= 0.8 and index >= len(lines) - max(3, len(lines) // 10):
                scores.add(org_id, "own_line")
            if index - signed_at <= 6:
                scores.add(org_id, "sign_off")
        for m, start, _ in hits:
            before = line.text[:start].lower()
            if any(lowered.startswith(cue) for cue in report_cues):
                scores.add(m.canonical_id or "", "report_of")
            lead = before.strip(" \t#*-•")
            if re.fullmatch(rf"{re.escape(about)}(?: the)?", lead) and _is_heading(line.text):
                scores.add(m.canonical_id or "", "about")
            if _is_heading(line.text):
                scores.add(m.canonical_id or "", "heading")
            if index < 3 and _is_title(line.text) and _followed_by(docs[m.sent], m, title_nouns):
                scores.add(m.canonical_id or "", "title_own_voice")


def _followed_by(doc: Doc, mention: Mention, nouns: list[str]) -> bool:
    """Whether one of ``nouns`` (possibly several words) follows the mention."""
    after = " ".join(t.lower_ for t in doc[mention.end:mention.end + 3])
    return any(after == n or after.startswith(n + " ") for n in nouns)


def _is_title(text: str) -> bool:
    stripped = text.strip()
    return len(stripped.split()) <= 15 and not stripped.endswith((".", ";", ","))


def _is_heading(text: str) -> bool:
    stripped = text.strip()
    if stripped.startswith("#"):
        return True
    return len(stripped.split()) <= 6 and not stripped.endswith((".", ";", ",", ":"))


def _domain_cues(lines: list[_Line], register: OrganisationRegister, scores: _Scores) -> None:
    contact = [str(w).lower() for w in register.author_cues.get("contact_words", [])]
    for line in lines:
        lowered = line.text.lower()
        is_contact = any(re.search(rf"\b{re.escape(w)}\b", lowered) for w in contact)
        for domain in _EMAIL.findall(line.text):
            _score_domain(domain, "contact_domain", register, scores)
        for match in _WEB.finditer(line.text):
            if "@" in line.text[max(0, match.start() - 1):match.start()]:
                continue
            has_path = bool(match.group(2) and match.group(2).strip("/"))
            cue = "contact_domain" if is_contact and not has_path else "link_domain"
            _score_domain(match.group(1), cue, register, scores)


def _score_domain(domain: str, cue: str, register: OrganisationRegister, scores: _Scores) -> None:
    domain = domain.lower()
    for known, org_id in sorted(register.domains.items(), key=lambda kv: -len(kv[0])):
        if domain == known or domain.endswith("." + known):
            scores.add(org_id, cue)
            return


def _first_person(doc: Doc, register: OrganisationRegister) -> set[int]:
    words = {str(w).lower() for w in register.author_cues.get("first_person", [])}
    return {t.i for t in doc if t.lower_ in words}


def _clause_cues(docs: Sequence[Doc], orgs: Sequence[Mention], register: OrganisationRegister,
                 scores: _Scores) -> None:
    own_voice = {str(w).lower() for w in register.author_cues.get("own_voice_nouns", [])}
    for m in orgs:
        doc = docs[m.sent]
        first = _first_person(doc, register)
        if not first:
            continue
        root = doc[m.start:m.end].root
        if root.dep_ in ("nsubj", "nsubjpass") and first & {t.i for t in root.head.subtree}:
            scores.add(m.canonical_id or "", "first_person_subject")
        if m.end < len(doc) and doc[m.end].lower_ in own_voice:
            scores.add(m.canonical_id or "", "own_voice")
    _next_first_person_cue(docs, orgs, register, scores)
    _self_description_cue(docs, orgs, register, scores)
    _our_type_cue(docs, orgs, register, scores)


def _next_first_person_cue(docs: Sequence[Doc], orgs: Sequence[Mention],
                           register: OrganisationRegister, scores: _Scores) -> None:
    """"X supports the Bill. We are strongly in favour ...": the next sentence opens with "we"."""
    words = {str(w).lower() for w in register.author_cues.get("first_person", [])}
    for m in orgs:
        if m.sent + 1 >= len(docs) or docs[m.sent][m.start:m.end].root.dep_ != "nsubj":
            continue
        opening = next((t for t in docs[m.sent + 1] if not (t.is_space or t.is_punct)), None)
        if opening is not None and opening.lower_ in words:
            scores.add(m.canonical_id or "", "next_first_person")


def _self_description_cue(docs: Sequence[Doc], orgs: Sequence[Mention],
                          register: OrganisationRegister, scores: _Scores) -> None:
    """"The X is the membership body ..." / "X is an independent professional body" near an edge."""
    nouns = [str(n).lower() for n in register.author_cues.get("self_description_nouns", [])]
    edge = max(2, len(docs) // 10)
    for m in orgs:
        if edge <= m.sent < len(docs) - edge:
            continue
        doc = docs[m.sent]
        root = doc[m.start:m.end].root
        verb = root.head
        if root.dep_ != "nsubj" or verb.lower_ not in _BE or verb.i < m.end:
            continue
        attr = " ".join(t.lower_ for t in doc[verb.i + 1:min(len(doc), verb.i + 8)])
        if re.match(r"^(?:the|a|an)\b", attr) and any(re.search(rf"\b{re.escape(n)}\b", attr)
                                                      for n in nouns):
            scores.add(m.canonical_id or "", "self_description")


def _our_type_cue(docs: Sequence[Doc], orgs: Sequence[Mention], register: OrganisationRegister,
                  scores: _Scores) -> None:
    """"our ICS", "we are a large borough": the author is the one organisation of that type."""
    type_nouns = register.author_cues.get("type_nouns", {})
    by_type: dict[str, set[str]] = defaultdict(set)
    for m in orgs:
        by_type[m.org_type or "other"].add(m.canonical_id or "")
    # Lower-cased once for all types; only sentences that can match are kept.
    texts = [text for text in (" ".join(t.lower_ for t in doc if not t.is_space) for doc in docs)
             if "our " in text or "we are a" in text]
    for org_type, nouns in type_nouns.items():
        hits = sum(_count_our(text, [str(n).lower() for n in nouns]) for text in texts)
        members = by_type.get(org_type, set())
        for org_id in members:
            scores.add(org_id, "our_type", hits / len(members))


def _count_our(text: str, nouns: list[str]) -> int:
    count = 0
    for noun in nouns:
        pattern = rf"\b(?:our|we are an?(?: \w+){{0,2}}) {re.escape(noun)}\b"
        count += len(re.findall(pattern, text))
    return count


def _footprint_cue(docs: Sequence[Doc], candidates: Sequence[Sequence[Candidate]],
                   register: OrganisationRegister, scores: _Scores) -> None:
    if not any(_first_person(doc, register) for doc in docs):
        return
    for doc, found in zip(docs, candidates, strict=True):
        for cand in found:
            if (cand.kind == "AREA" and cand.end < len(doc)
                    and doc[cand.end].lower_ in register.footprint_words):
                scores.add(cand.key, "footprint")


def _position_cues(n_sents: int, orgs: Sequence[Mention], scores: _Scores) -> None:
    edge = max(1, n_sents // 10)
    for m in orgs:
        scores.add(m.canonical_id or "", "mention")
        if m.sent < edge or m.sent >= n_sents - edge:
            scores.add(m.canonical_id or "", "edge_mention")
