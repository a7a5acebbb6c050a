"""Argument mining rules: which sentences can never be arguments, and which can be quoted.

An argument evaluates something or gives a reason (a claim, concern, recommendation or
condition). Questions, headings, procedural text (what a board is asked to do, what a paper
sets out), boilerplate (contact lines, "no implications" statements) and bare descriptions of
what a proposal contains are not, whatever the classifier says. A key point must moreover be
quotable: a complete, concise argument an analyst can put in a briefing. Who or what describes
a proposal depends on the consultation: :func:`argument_rules` builds the rules from its target
file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.entities import OrganisationRegister
    from pipeline.stance import TargetSet

QUOTE_MIN_WORDS = 6
QUOTE_MAX_WORDS = 35
LABEL_MAX_WORDS = 8

_QUESTION = re.compile(
    r"\?\s*[\"'’”)]*\s*$|^\s*(q\d+|question\s*\d+)\b|^\s*(do|does|did|is|are|was|were|should|"
    r"would|could|can|will|what|how|why|which|who|where|when|to what extent)\s+(you|we|it|the|"
    r"there|this|these|icss?|option|nhs)\b[^.!]*$", re.I)
_PROCEDURAL = re.compile(
    r"\b(is|are) (asked|invited|requested|recommended) to (note|approve|agree|consider|endorse|"
    r"receive|support|discuss|comment)\b|\bthere (are|is) no (direct |specific |significant )?"
    r"(financial|legal|risk|equality|equalities|resource|environmental|staffing|privacy|"
    r"procurement|health and safety|other)\b[^.]*\bimplications?\b|\b(this|the) (paper|report|"
    r"briefing|document|note|update|section|appendix|annex|letter|submission|response) "
    r"(sets out|provides|summarises|summarizes|describes|outlines|gives|presents|contains|"
    r"includes|is intended|aims to|seeks to)\b|\b(for (information|noting|decision|assurance|"
    r"discussion))\s*[.:]?\s*$|^\s*(agenda item|item \d|report (of|to|by)|author|date|"
    r"contact|email|tel|telephone|purpose|recommendations?|summary|background|introduction|"
    r"appendix|annex|sponsor|presented by|prepared by)\s*[:\-–]|\b(is|are) (set out|described|"
    r"outlined|summarised|detailed) (in|below|above)\b|^\s*(in|as set out in) this (section|"
    r"chapter|paper|report)\b|^\s*as we (outline|set out|describe)|\btakes? forward the\b|"
    r"\b(see|set out in) (section|paragraph|appendix|annex|table|figure)\b|^\s*(describes|"
    r"outlines|sets out|summarises|summarizes|explains|provides|presents)\b", re.I)
_BOILERPLATE = re.compile(
    r"https?://|www\.|@\w+\.\w|\b(copyright|all rights reserved|registered charity|company "
    r"number|registered in england|privacy notice|cookies? (policy|settings|notice)|"
    r"subscribe|unsubscribe|click here|"
    r"follow us|page \d+ of \d+)\b|©", re.I)
# Subjects that may merely describe a proposal in any consultation; the consultation's own
# (its owner, its document, its options) come from the target file (:func:`argument_rules`).
_POLICY_NOUNS = ("the government", "the white paper", "the bill", "the legislation",
                 "the proposal", "the proposals")
_DESCRIBING_VERB = (
    r"\b(sets out|set out|proposes|proposed|describes|outlines|suggests|asks|seeks views|would "
    r"(create|establish|give|mean|make|require|place|see|transfer|include)|includes|contains|"
    r"envisages|states)\b")
_FUTURE = re.compile(
    r"^[^;:]{0,120}\b(will|is to|are to|is expected to|are expected to|could include|may "
    r"include|would include|includes?|comprises?)\b", re.I)
_EVALUATES = re.compile(
    r"\b(we|our|us|i)\b|\b(support\w*|welcome\w*|agree\w*|disagree\w*|oppos\w+|concern\w*|"
    r"risk\w*|should|must|ought|needs? to|believe\w*|important|essential|vital|crucial|"
    r"critical|recommend\w*|urge\w*|worr\w*|danger\w*|benefit\w*|fail\w*|unclear|better|"
    r"worse|strongly|cannot|can't|unless|only if|provided that|wrong|positive|negative|"
    r"helpful|unhelpful|undermin\w+|weaken\w*|strengthen\w*|threat\w*|opportunit\w+|"
    r"prefer\w*|favou?r\w*|reject\w*|resist\w*|caution\w*|doubt\w*|lack\w*|too|"
    r"insufficient|inadequate|sensible|makes sense|right to)\b", re.I)
_LEAD_IN = re.compile(
    r"^\s*((however|therefore|furthermore|moreover|additionally|in addition|overall|finally|"
    r"firstly|secondly|thirdly|also|so|but|and|in summary|in particular|in short|as such|"
    r"for example|equally|similarly|crucially|importantly|that said)\s*,?\s+)+", re.I)
_ATTRIBUTION = re.compile(
    r"^\s*((we|the (council|board|trust|committee|ics|ccg|partnership|association|"
    r"federation|college|union|authority|organisation|lga|confederation))\s+(would\s+)?"
    r"(also\s+)?(strongly\s+|firmly\s+)?(believe|think|feel|consider|agree|argue|suggest|"
    r"recognise|recognize|accept|note|maintain|propose|are of the view)s?\s+(that\s+)?|"
    r"(we are|we're|we remain|the \w+ is|the \w+ remains) (also )?(deeply |very |strongly )?"
    r"(concerned|worried|clear|convinced|disappointed|pleased)\s+(that\s+)?)", re.I)


_ANAPHORA = re.compile(  # starts by pointing back: not self-contained, so not quotable alone
    r"^(it|this|these|they|that|those|such|he|she|and|or|but|so|also|then|here|there)\b", re.I)
_CLAUSE = re.compile(r"[,;:()–—]|\s-\s|\b(?:because|which|although|while|whereas|so that)\b")


def _words(text: str) -> list[str]:
    return text.split()


def is_heading(text: str) -> bool:
    """A title or section heading: short with no closing punctuation, mostly capitalised
    words, or numbered with no sentence after it."""
    words = _words(text)
    stripped = text.strip()
    if not words:
        return True
    if stripped.isupper() and len(words) <= 15:
        return True
    alpha = [w for w in words if w[:1].isalpha()]
    capitalised = sum(w[:1].isupper() for w in alpha)
    if len(words) <= 12 and not re.search(r"[.!;:)\"'’”]$", stripped):
        return True
    return len(alpha) >= 4 and capitalised / len(alpha) >= 0.75 and not stripped.endswith(".")


@dataclass(frozen=True)
class ArgumentRules:
    """The rules of one consultation that rule sentences out as arguments (build them with
    :func:`argument_rules`).

    ``describes`` finds a describing subject (the consultation's owner, its document, one of
    its options, or a general one such as "the government") followed closely by a describing
    verb ("proposes", "sets out", "would create").
    """

    describes: re.Pattern[str]

    def not_argument_reason(self, text: str) -> str | None:
        """Why ``text`` cannot be an argument (``question``, ``heading``, ``procedural``,
        ``boilerplate``, ``description``), or None when it may be one."""
        if _QUESTION.search(text):
            return "question"
        if is_heading(text):
            return "heading"
        if _PROCEDURAL.search(text):
            return "procedural"
        if _BOILERPLATE.search(text):
            return "boilerplate"
        if (self.describes.search(text) or _FUTURE.search(text)) and not _EVALUATES.search(text):
            return "description"
        return None

    def is_quotable(self, text: str, argument: bool = False) -> bool:
        """Whether ``text`` can be a key point: an argument of readable length that starts as
        a sentence does (not mid-sentence, not a list fragment). With ``argument``, ``text``
        is known to be an argument (it passed :meth:`not_argument_reason`, as every row of
        the arguments table did), and that is not checked again."""
        stripped = text.strip()
        n = len(_words(stripped))
        checked = argument and stripped == text
        return (QUOTE_MIN_WORDS <= n <= QUOTE_MAX_WORDS and stripped[:1].isupper()
                and stripped[-1:] in ".!\"'’”)" and not _ANAPHORA.match(stripped)
                and (checked or self.not_argument_reason(stripped) is None))


def argument_rules(targets: TargetSet,
                   register: OrganisationRegister | None = None) -> ArgumentRules:
    """The rules for the consultation of ``targets``.

    Its describing subjects are the consultation's owner (with the names and, matched
    case-sensitively, the acronyms ``register`` knows for it), its ``document_references``,
    the aliases of its options (the targets with ordinals) and the general policy nouns.
    """
    owner = targets.consultation.owner
    org = register.lookup(owner) if register is not None else None
    known = ([p for p in register.phrases if p.kind == "ORG" and p.key == org.canonical_id]
             if register is not None and org is not None else [])
    names = {owner, *targets.consultation.document_references, *_POLICY_NOUNS,
             *(alias for t in targets.targets if t.ordinals for alias in t.aliases),
             *(p.text for p in known if not p.exact)}
    acronyms = {p.text for p in known if p.exact and p.text.strip()}
    # a blank phrase would match everywhere
    return ArgumentRules(_describes_pattern(tuple(sorted({n.lower() for n in names if n.strip()})),
                                            tuple(sorted(acronyms))))


@lru_cache(maxsize=8)
def _describes_pattern(names: tuple[str, ...], acronyms: tuple[str, ...]) -> re.Pattern[str]:
    """A subject then, within 60 characters of the same sentence, a describing verb. Literal
    alternatives and one bounded gap: linear in the text."""
    alternatives = [re.escape(n) for n in sorted(names, key=len, reverse=True)]
    alternatives += ["(?-i:" + re.escape(a) + ")" for a in sorted(acronyms, key=len, reverse=True)]
    return re.compile(r"(?<!\w)(" + "|".join(alternatives) + r")(?!\w)[^.]{0,60}"
                      + _DESCRIBING_VERB, re.I)


def label_from_key_point(text: str, max_words: int = LABEL_MAX_WORDS) -> str:
    """A short phrase for a theme, from its key point: lead-ins ("However, we believe that")
    dropped, cut at the first clause break, at most ``max_words`` words."""
    core = _ATTRIBUTION.sub("", _LEAD_IN.sub("", text.strip())).strip()
    # The first clause of at least five words: short openers ("Of the two options,") are skipped.
    clauses = [c.strip() for c in _CLAUSE.split(core) if c and c.strip()]
    core = next((c for c in clauses if len(_words(c)) >= 5), core)
    core = _ATTRIBUTION.sub("", _LEAD_IN.sub("", core)).strip() or core
    words = _words(core)
    label = " ".join(words[:max_words]).rstrip(".,;:!\"'’” ")
    if len(words) > max_words:
        label += "…"
    return (label[:1].upper() + label[1:]) if label else text.strip()[:60]
