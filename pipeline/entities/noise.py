"""General filters for spans the statistical NER proposes that are not names.

Each rule looks at the shape of the span, never at a particular name: headings taken for
people, number fragments, role words alone, all-caps headings, spans running over a line break,
phrases made only of generic domain words.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.tokens import Span, Token

    from pipeline.entities.register import OrganisationRegister

_CONNECTORS = frozenset({"of", "and", "for", "the", "on", "in", "&", "upon", "'s", "’s"})
_EDGE = re.compile(r"^[\W_]*$")
_DATE_WORDS = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b|\b(?:1[89]|20)\d\d\b"
    r"|\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b",
    re.IGNORECASE,
)
_NAME_TOKEN = re.compile(r"^[A-Z][a-z]+(?:[-'’][A-Z]?[a-z]+)*$")


def trim(span: Span) -> Span | None:
    """``span`` without edge whitespace, punctuation, bullets and a leading article."""
    start, end = span.start, span.end
    doc = span.doc
    while start < end and (doc[start].is_space or _EDGE.match(doc[start].text)
                           or doc[start].lower_ == "the"):
        start += 1
    while end > start and (doc[end - 1].is_space or _EDGE.match(doc[end - 1].text)):
        end -= 1
    return doc[start:end] if end > start else None


def crosses_line(span: Span) -> bool:
    """Whether the span runs over a line break (titles and headings glued together)."""
    breaks = ("\n", "\t")
    return (any(b in t.text_with_ws for t in span[:-1] for b in breaks)
            or any(t.is_space for t in span) or any(b in span.text for b in breaks))


def is_number_fragment(span: Span) -> bool:
    """Spans with digits and fewer than two real words ("c.30", "2.1 Question")."""
    has_digit = any(ch.isdigit() for ch in span.text)
    words = [t for t in span if t.is_alpha and len(t) > 1]
    return has_digit and len(words) < 2


def is_noise_org(span: Span, register: OrganisationRegister, non_org: set[str]) -> bool:
    """Whether a model ORG span is not an organisation name."""
    tokens = [t for t in span if not t.is_punct]
    if not tokens or crosses_line(span) or is_number_fragment(span):
        return True
    text = span.text
    if text in non_org or text.rstrip("s") in non_org or "/" in text:
        return True
    if len(tokens) == 1:
        return not _is_acronym_token(tokens[0].text) or tokens[0].text in register.generic_words
    if not tokens[0].text[:1].isupper() or tokens[0].tag_.startswith("VB"):
        return True
    if not _has_org_head(tokens, register):
        return True
    if any(t.text[:1].islower() and t.lower_ not in _CONNECTORS for t in tokens):
        return True
    words = [t for t in tokens if t.lower_ not in _CONNECTORS]
    if register.only_generic(t.text for t in words):
        return True
    if text in register.system_areas:
        return True
    long_caps = [t for t in words if t.is_alpha and len(t) >= 4 and t.is_upper]
    return len(long_caps) >= 2 and len(long_caps) == len(words)


MAX_ACRONYM = 10  # longer runs of capitals are shouted words or junk, not an acronym


def _is_acronym_token(text: str) -> bool:
    return (2 <= len(text) <= MAX_ACRONYM and sum(ch.isupper() for ch in text) >= 2
            and text[:1].isupper())


def _has_org_head(tokens: list[Token], register: OrganisationRegister) -> bool:
    """Organisation names end (or start, before "of"/"for") with a head word: "X Network"."""
    if tokens[-1].text in register.org_heads:
        return True
    return (len(tokens) > 2 and tokens[0].text in register.org_heads
            and tokens[1].lower_ in ("of", "for"))


def is_noise_person(span: Span, register: OrganisationRegister) -> bool:
    """Whether a model PERSON span is not a person's name (headings, labels, role words)."""
    tokens = list(span)
    if len(tokens) < 2 or crosses_line(span):
        return True
    for token in tokens:
        if not _NAME_TOKEN.match(token.text):
            return True
        if token.text in register.heading_words or token.text in register.generic_words:
            return True
        if token.lower_ in register.role_words:
            return True
    return False


def is_noise_law(span: Span, register: OrganisationRegister) -> bool:
    """Model LAW spans must name an Act or Bill with a capitalised title ("the Bill's" is not)."""
    tokens = [t for t in span if not t.is_punct and t.lower_ not in ("'s", "’s")]
    if not tokens or crosses_line(span) or not tokens[0].text[:1].isupper():
        return True
    heads = {t.i for t in tokens if t.text in register.legislation_heads}
    titled = [t for t in tokens if t.text[:1].isupper() and t.i not in heads]
    return not heads or not titled


def is_noise_date(span: Span) -> bool:
    """Dates must hold a month, a year, a weekday or a numeric date."""
    return crosses_line(span) or not _DATE_WORDS.search(span.text)
