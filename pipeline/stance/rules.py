"""Dependency-parse rules: stance cues, their polarity, holder phrase and scope.

The lexicon is general English stance vocabulary, not tied to any consultation:

- attitude words carry the view of their subject (or possessor): "we support", "its preference",
  "we are concerned";
- evaluative words judge their subject on the speaker's behalf: "X is sensible", "a mistake";
- effect verbs report harm done by their subject: "X risks ...", "X would undermine ...";
- deontic modals prescribe: "X should be given ..." supports X's clause.

Polarity flips once per negation on the cue, on its copula, on a governing verb of thought or
speech ("we do not think X is needed") and on the clause an evaluative word governs ("a mistake
not to ..."), so double negation comes out positive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token


def _lexicon(positive: str, negative: str = "", neutral: str = "") -> dict[str, int]:
    """Word -> polarity from space-separated word lists."""
    return {
        **{w: 1 for w in positive.split()},
        **{w: -1 for w in negative.split()},
        **{w: 0 for w in neutral.split()},
    }


ATTITUDE_VERBS = _lexicon(
    "support agree welcome favour favor prefer recommend endorse back advocate champion "
    "applaud commend embrace urge concur",
    "oppose disagree reject object resist dispute criticise criticize doubt fear worry regret",
)
ATTITUDE_NOUNS = _lexicon(
    "support preference agreement endorsement recommendation backing favour favor welcome",
    "opposition concern risk objection reservation doubt fear criticism worry scepticism "
    "skepticism",
)
ATTITUDE_ADJECTIVES = _lexicon(
    "supportive keen pleased delighted happy content enthusiastic preferred convinced persuaded",
    "concerned worried opposed sceptical skeptical unhappy unconvinced wary disappointed",
    "ambivalent",
)
EVALUATIVE = _lexicon(
    "sensible right welcome helpful good positive natural vital essential crucial beneficial "
    "appropriate exciting preferable best necessary needed valuable useful logical sense merit "
    "overdue important key desirable workable ideal",
    "wrong mistake unnecessary flawed damaging risky incompatible foolish unwise problematic "
    "distraction harmful bad disastrous misguided premature unworkable error threat danger",
)
EFFECT_VERBS = _lexicon(
    "",
    "risk undermine threaten weaken damage fragment sideline jeopardise jeopardize lose erode "
    "destabilise hamper hinder dilute marginalise",
)
# verbs of commitment to one's own programme: "developing our place-based partnerships"
COMMITMENT_VERBS = frozenset(
    _lexicon("develop strengthen build expand prioritise prioritize invest deepen grow embed")
)
DEONTIC = frozenset({"should", "must", "ought"})
THOUGHT_VERBS = frozenset(
    _lexicon(
        "think believe feel consider say tell state argue note suggest claim insist add continue "
        "stress emphasise emphasize explain warn make recognise recognize conclude acknowledge "
        "hope expect contend maintain clarify point see find accept confirm remain reiterate"
    )
)
_LIFT = {"acomp", "attr", "dobj", "pobj", "prep", "amod", "compound", "oprd", "npadvmod", "conj"}
_SUBJECTS = {"nsubj", "nsubjpass", "csubj"}
_EXPLETIVE = {"it", "there", "this", "that", "which", "what", "who"}

CONDITIONAL = re.compile(
    r"\b(subject to|provided (?:that|it|they)|providing (?:that|it)|as long as|so long as|"
    r"on condition|only if|only where|only when|with caveats|with reservations|"
    r"conditional on|dependent on|depends on|assuming that)\b",
    re.IGNORECASE,
)
# weighing both sides: conditional whatever the cue's polarity
BALANCED = re.compile(
    r"\b(risks as well as (?:opportunities|benefits)|(?:opportunities|benefits) as well as risks|"
    r"risks and (?:opportunities|benefits)|(?:opportunities|benefits) and risks|"
    r"pros and cons|mixed blessing)\b",
    re.IGNORECASE,
)
CONTRAST_MUST = re.compile(
    r"\b(however|but|although|though|while|whilst)\b.*\b(must|should|needs? to|will need|"
    r"has to|have to|remains? (?:critically |vitally )?(?:important|essential|crucial))\b",
    re.IGNORECASE,
)
HEDGES = re.compile(
    r"\b(broadly|generally|largely|potentially|possibly|perhaps|may|might|could|seems?|"
    r"appears?|tend to|on balance|to some extent|in part|in principle)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Cue:
    """One stance cue in a sentence, with what the parse says about it."""

    token: int
    head: int
    lemma: str
    kind: str
    polarity: int
    scope: tuple[int, int]
    holder: tuple[int, int] | None
    subject: tuple[int, int] | None = None


def _negations(token: Token) -> int:
    return sum(
        1
        for child in token.children
        if child.dep_ == "neg" or (child.dep_ == "det" and child.lower_ in ("no", "neither"))
    )


def _clause_head(token: Token) -> Token:
    head = token
    while head.dep_ in _LIFT and head.head.i != head.i and head.pos_ not in ("VERB", "AUX"):
        head = head.head
    return head


def _subject(verb: Token) -> Token | None:
    for child in verb.children:
        if child.dep_ in _SUBJECTS:
            return child
    for aux in verb.children:  # "We do, however, have ..." hangs the subject on the auxiliary
        if aux.dep_ == "aux":
            subject = next((c for c in aux.children if c.dep_ in _SUBJECTS), None)
            if subject is not None:
                return subject
    if verb.dep_ in ("conj", "xcomp") and verb.head.i != verb.i:
        return _subject(verb.head)
    return None


def _span(token: Token) -> tuple[int, int]:
    left, right = token.left_edge, token.right_edge
    return left.idx, right.idx + len(right.text)


def _speaker(head: Token) -> tuple[int, int] | None:
    """The subject of the nearest governing verb of thought or speech, if any."""
    node = head
    while node.head.i != node.i and node.dep_ not in ("conj", "parataxis"):
        node = node.head
        subject = _subject(node)
        if (
            node.lemma_.lower() in THOUGHT_VERBS | set(ATTITUDE_VERBS)
            and subject is not None
            and subject.lower_ not in _EXPLETIVE
        ):
            return _span(subject)
    return None


def _governing_negations(head: Token) -> int:
    """Negations on verbs of thought or speech that govern ``head`` ("we do not think ...")."""
    count, node = 0, head
    while node.head.i != node.i and node.dep_ in ("ccomp", "xcomp", "advcl", "conj"):
        node = node.head
        if node.lemma_.lower() in THOUGHT_VERBS:
            count += _negations(node)
    return count


def _complement_negated(cue: Token, head: Token) -> bool:
    """A negated infinitive after an evaluative word: "a mistake not to include ..."."""
    return any(
        token.i > cue.i
        and token.dep_ in ("xcomp", "acl", "ccomp", "advcl", "relcl")
        and _negations(token) > 0
        for token in head.subtree
    )


_PREDICATIVE = {"acomp", "attr", "ROOT", "oprd", "xcomp", "ccomp", "conj", "appos"}


def _predicative(token: Token) -> bool:
    """Used as a predicate ("X is sensible", "a key feature"), not as a mere modifier."""
    if token.dep_ in _PREDICATIVE:
        return True
    if token.dep_ == "dobj" and token.head.lemma_.lower() in ("make", "seem", "represent"):
        return True
    return token.dep_ in ("amod", "compound") and token.head.dep_ in _PREDICATIVE


_RAISE_VERBS = {
    "bring",
    "pose",
    "carry",
    "create",
    "raise",
    "have",
    "see",
    "identify",
    "express",
    "share",
    "voice",
    "state",
    "outline",
    "set",
}
_HELP_VERBS = {"offer", "provide", "give", "receive", "need", "require", "package"}
_NOUN_COMPLEMENTS = {"for", "about", "over", "to", "with", "regarding", "around", "that", "at"}


def _anchored(noun: Token) -> bool:
    """An attitude noun with a holder or an object ("our support", "concerns about X")."""
    if noun.lemma_ == "support" and noun.head.lemma_.lower() in _HELP_VERBS:
        return False  # "offer support to ICSs" is help, not agreement
    if noun.dep_ == "dobj" and noun.head.lemma_.lower() in _RAISE_VERBS:
        return True
    return any(
        c.dep_ == "poss"
        or (c.dep_ in ("prep", "acl", "mark") and c.lower_ in _NOUN_COMPLEMENTS)
        or (c.dep_ in ("acl", "relcl", "advcl") and c.lower_ != "to")
        or (c.dep_ == "amod" and c.lower_ in UNATTRIBUTED_VIEW)
        for c in noun.children
    )


def _own_object(verb: Token) -> bool:
    """The verb's object is the writer's own ("our partnerships")."""
    return any(
        c.dep_ == "dobj" and any(p.dep_ == "poss" and p.lower_ in ("our", "my") for p in c.children)
        for c in verb.children
    )


def _has_subject(token: Token) -> bool:
    if _subject(token) is not None or any(c.dep_ == "agent" for c in token.children):
        return True
    return token.dep_ == "xcomp" and any(c.dep_ == "dobj" for c in token.head.children)


def _classify(token: Token) -> tuple[str, int] | None:
    lemma = token.lemma_.lower()
    lower = token.lower_
    if lemma in ATTITUDE_VERBS and (
        token.pos_ in ("VERB", "AUX") or any(c.dep_ in ("dobj", "ccomp") for c in token.children)
    ):
        if not _has_subject(token) and not _compound_holder(token):
            return None
        return "attitude", ATTITUDE_VERBS[lemma]
    if token.pos_ == "VERB" and lemma in COMMITMENT_VERBS and _own_object(token):
        return "commitment", 1
    if token.pos_ == "VERB" and lemma in EFFECT_VERBS:
        return "effect", EFFECT_VERBS[lemma]
    if lower == "concerned" and any(c.lower_ in ("with", "in", "by") for c in token.children):
        return None  # "concerned with X" is about X, not worried by it
    if token.pos_ in ("ADJ", "VERB") and lower in ATTITUDE_ADJECTIVES and token.dep_ != "ROOT":
        if lower == "preferred" and token.dep_ not in ("amod", "acomp", "attr"):
            return "attitude", 1
        return "attitude_adj", ATTITUDE_ADJECTIVES[lower]
    if token.pos_ in ("NOUN", "PROPN") and lemma in ATTITUDE_NOUNS and _anchored(token):
        return "attitude_noun", ATTITUDE_NOUNS[lemma]
    if token.pos_ in ("ADJ", "NOUN", "VERB") and (lemma in EVALUATIVE or lower in EVALUATIVE):
        if (token.pos_ == "VERB" and lower != "needed") or not _predicative(token):
            return None
        return "evaluative", EVALUATIVE.get(lower, EVALUATIVE.get(lemma, 0))
    if (lower in DEONTIC and token.dep_ == "aux") or (
        lemma == "need"
        and token.pos_ == "VERB"
        and any(c.dep_ == "xcomp" for c in token.children)
        and not any(c.lower_ in ("will", "would", "'ll") for c in token.children)
    ):
        return "deontic", 1
    return None


def _compound_holder(token: Token) -> tuple[int, int] | None:
    """A holder the parser attached as a modifier of a mis-tagged verb ("the LGA recommend")."""
    parts = [c for c in token.children if c.dep_ in ("compound", "det") and c.i < token.i]
    if not any(p.pos_ == "PROPN" for p in parts):
        return None
    last = parts[-1]
    return parts[0].idx, last.idx + len(last.text)


def _holder(token: Token, kind: str, head: Token) -> tuple[int, int] | None:
    if kind == "attitude" and _compound_holder(token) is not None:
        return _compound_holder(token)
    if kind == "attitude":
        agent = next((c for c in token.children if c.dep_ == "agent"), None)
        if agent is not None and list(agent.children):
            return _span(next(iter(agent.children)))
        subject = _subject(token)
        if subject is not None and subject.lower_ not in _EXPLETIVE:
            return _span(subject)
        return _speaker(head)
    if kind == "attitude_adj":
        if token.dep_ == "amod":
            poss = next((c for c in token.head.children if c.dep_ == "poss"), None)
            if poss is not None:
                return _span(poss)
        subject = _subject(head)
        if subject is not None and subject.lower_ not in _EXPLETIVE:
            return _span(subject)
        return _speaker(head)
    if kind == "attitude_noun":
        for child in token.children:
            if child.dep_ == "poss":
                return _span(child)
            if child.dep_ == "amod" and child.lower_ in UNATTRIBUTED_VIEW:
                return OWNER
        for child in token.children:
            if child.dep_ == "prep" and child.lower_ in ("from", "by", "in", "of", "among"):
                pobj = next((c for c in child.children if c.dep_ == "pobj"), None)
                if pobj is not None and pobj.pos_ in ("PROPN", "NOUN", "PRON"):
                    return _span(pobj)
        subject = _subject(head)
        if subject is not None and subject.lower_ not in _EXPLETIVE:
            return _span(subject)
        return _speaker(head)
    return _speaker(head)


# "the stated preference": a view the consultation itself states
UNATTRIBUTED_VIEW = {"stated", "expressed", "declared", "published", "stated,"}
OWNER = (-1, -1)  # holder marker: the consultation's owner
_RELATIVE = {"which", "that", "who", "whom", "whose"}


def _unasserted(token: Token, head: Token, kind: str) -> bool:
    """Cues the writer does not assert: indirect questions, relative-clause descriptions,
    and passives with no one doing the supporting ("it was welcomed")."""
    node = head
    while True:
        if any(c.dep_ == "mark" and c.lower_ in ("whether", "if") for c in node.children):
            return kind != "attitude" or node.i != token.i
        if node.head.i == node.i or node.dep_ in ("conj", "parataxis"):
            break
        node = node.head
    if kind == "attitude":
        subject = _subject(token)
        if subject is not None and subject.lower_ in _RELATIVE and token.dep_ == "relcl":
            return True
        passive = any(c.dep_ in ("nsubjpass", "auxpass") for c in token.children)
        agent = any(c.dep_ == "agent" for c in token.children)
        if passive and not agent:
            subj = next((c for c in token.children if c.dep_ == "nsubjpass"), None)
            return subj is not None and subj.lower_ != "it"
    return False


def _judged(token: Token, kind: str, head: Token) -> tuple[int, int] | None:
    """The subject an evaluative word or effect verb judges ("Option 1 risks ...")."""
    if kind not in ("evaluative", "effect"):
        return None
    subject = _subject(token if kind == "effect" else head)
    if subject is None or subject.lower_ in _EXPLETIVE:
        return None
    return _span(subject)


def find_cues(doc: Doc) -> list[Cue]:
    """Stance cues of one parsed sentence, outermost first; nested cues are dropped."""
    found: list[Cue] = []
    for token in doc:
        classified = _classify(token)
        if classified is None or (classified[1] == 0 and classified[0] != "attitude_adj"):
            continue
        kind, polarity = classified
        head = token.head if kind == "deontic" else _clause_head(token)
        if _unasserted(token, head, kind):
            continue
        flips = _negations(token) + _governing_negations(head)
        if head.i != token.i and kind != "deontic":
            flips += _negations(head)
        if kind == "deontic":
            flips = _negations(head) + _governing_negations(head)
        if kind == "evaluative" and polarity < 0 and _complement_negated(token, head):
            flips += 1
        mistagged = kind == "attitude" and token.pos_ not in ("VERB", "AUX")
        scope_root = token if mistagged or kind == "commitment" else head
        found.append(
            Cue(
                token=token.i,
                head=head.i,
                lemma=token.lemma_.lower(),
                kind=kind,
                polarity=polarity * (-1) ** flips,
                scope=_span(scope_root),
                holder=_holder(token, kind, head),
                subject=_judged(token, kind, head),
            )
        )
    return _outermost(doc, found)


def _outermost(doc: Doc, cues: list[Cue]) -> list[Cue]:
    """Drop cues governed by another cue's clause (the governing cue decides)."""
    outer_at = {c.token: c for c in cues if c.kind != "deontic"}
    outer_at.update({c.head: c for c in cues if c.kind != "deontic"})
    kept = []
    for cue in cues:
        node = doc[cue.token]
        governed = False
        while node.head.i != node.i and node.dep_ not in ("conj", "parataxis"):
            node = node.head
            outer = outer_at.get(node.i)
            if outer is not None and outer.token != cue.token and node.i != cue.head:
                governed = cue.holder is None or cue.kind not in ("attitude", "attitude_noun")
                break
        if not governed:
            kept.append(cue)
    return kept


def protected_span(doc: Doc, start: int, end: int) -> str | None:
    """How a sentence treats the phrase at characters [start, end) when it guards it rather
    than attacks it:

    - ``"harmed"``: the phrase is what a harm verb acts on ("councils will be sidelined",
      "would weaken place-based working"): concern about that harm supports the phrase's
      subject;
    - ``"kept"``: the phrase is the subject of a negated prescription ("X must not be
      treated as ..."), which says how X should be, not that X should go.
    """
    for token in doc:
        lemma = token.lemma_.lower()
        if lemma in EFFECT_VERBS and EFFECT_VERBS[lemma] < 0:
            for child in token.children:
                if child.dep_ in ("nsubjpass", "dobj") and _contains(child, start, end):
                    return "harmed"
        if token.lower_ in DEONTIC and token.dep_ == "aux" and _negations(token.head):
            subject = next(
                (c for c in token.head.children if c.dep_ in ("nsubj", "nsubjpass")), None
            )
            if subject is not None and _contains(subject, start, end):
                return "kept"
    return None


def _contains(token: Token, start: int, end: int) -> bool:
    left, right = _span(token)
    return left <= start and end <= right


def is_conditional(text: str) -> bool:
    """True when the sentence attaches a condition or caveat to its position."""
    return bool(CONDITIONAL.search(text) or CONTRAST_MUST.search(text) or BALANCED.search(text))


def is_balanced(text: str) -> bool:
    """True when the sentence weighs risks against opportunities."""
    return bool(BALANCED.search(text))


def hedge_factor(text: str) -> float:
    """Confidence multiplier: 0.8 when the sentence hedges, else 1."""
    return 0.8 if HEDGES.search(text) else 1.0
