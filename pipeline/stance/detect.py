"""Sentence-level stance detection: parse rules and the classifier, combined.

For each sentence the parse rules (:mod:`pipeline.stance.rules`) find stance cues, their
polarity and the phrase naming the holder; targets come from the target file (aliases,
ordinals, anaphora, the consultation question being answered) or, failing those, from the
classifier's target head. The classifier's stance head confirms a rule (``hybrid``), or alone
decides sentences that name a target without any cue (``classifier``).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np
import pyarrow as pa

from pipeline.schema import empty_table, to_table
from pipeline.stance.holders import FIRST_PERSON, Holder, HolderResolver, Register, is_clause
from pipeline.stance.learned import (
    SIDES,
    DocumentFeatures,
    SentenceInfo,
    StanceDecider,
    document_features,
)
from pipeline.stance.model import StanceModel
from pipeline.stance.rules import (
    CONDITIONAL,
    OWNER,
    Cue,
    find_cues,
    hedge_factor,
    is_balanced,
    is_conditional,
    protected_span,
)
from pipeline.stance.targets import TargetSet

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token


ATTITUDE_KINDS = ("attitude", "attitude_adj", "attitude_noun")
BASE_CONFIDENCE = {
    "answer": 0.9,
    "attitude": 0.85,
    "attitude_adj": 0.8,
    "attitude_noun": 0.75,
    "evaluative": 0.7,
    "effect": 0.65,
    "deontic": 0.65,
    "commitment": 0.6,
}
QUESTION_WINDOW = 1  # sentences after a question (or its heading) that answer it
ANAPHORA_WINDOW = 3  # sentences back that "this option" may point to
CLASSIFIER_THRESHOLD = 0.8  # classifier alone decides a stance
TARGET_THRESHOLD = 0.9  # classifier alone names the target of a rule-found cue
QUESTION_SIMILARITY = 0.3
_SIDES = {"support": 1, "conditional": 1, "oppose": -1, "neutral": 0}
_INTERROGATIVE = re.compile(
    r"^\W*(?:do|does|did|should|would|could|can|is|are|will|how|what|which|why|whether|"
    r"to what extent)\b",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^\W*\w+(?:\s+\w+){0,3}\s*:\s*$")  # linear: no nested quantifiers
_DEMONSTRATIVE = re.compile(r"^\W*(?:this|that|these|such)\b", re.IGNORECASE)


@dataclass
class _State:
    """What earlier sentences of the document tell later ones."""

    recent: list[tuple[int, str]] = field(default_factory=list)
    question: str | None = None
    question_at: int = -(10**9)
    question_section: str | None = None
    number: int | None = None
    number_at: int = -(10**9)
    previous: list[dict[str, Any]] = field(default_factory=list)
    previous_at: int = -(10**9)


class AuthorLike(Protocol):
    """What stance reads of a document's author (the entities stage's ``Author``, or the
    cached reference training scripts keep)."""

    @property
    def name(self) -> str: ...

    @property
    def canonical_id(self) -> str | None: ...


UNKNOWN_AUTHOR = "author"  # the holder name of the author of a document nobody identified


def _author(document: dict[str, Any], author: AuthorLike | str | None) -> Holder:
    if author is not None and not isinstance(author, str):
        return Holder(author.name, author.canonical_id, True)
    name = author or document.get("author_org") or UNKNOWN_AUTHOR
    return Holder(str(name), document.get("author_org_id"), True)


SPEAKING_PLACES = frozenset({"legislature"})  # register types where people voice their own views


def document_voice(entities: pa.Table | None) -> Holder | None:
    """The organisation a document of unknown author speaks for: the registered organisation
    it names most, the first named on a tie (organisations only the NER model found do not
    count, nor a legislature, whose members speak for themselves), or ``None``. A page that
    carries an organisation's statement, or reports on it, names it throughout."""
    counts: Counter[str] = Counter()
    names: dict[str, str] = {}
    for row in entities.to_pylist() if entities is not None else []:
        if (row["label"] == "ORG" and row["canonical_id"] and row["source"] != "model"
                and row["org_type"] not in SPEAKING_PLACES):
            counts[row["canonical_id"]] += 1
            names.setdefault(row["canonical_id"], row["canonical_name"])
    if not counts:
        return None
    best = max(counts, key=lambda k: counts[k])
    return Holder(names[best], best, True)


def _entities_by_sentence(
    entities: pa.Table, sentence_ids: list[str]
) -> dict[int, list[dict[str, Any]]]:
    index = {sid: i for i, sid in enumerate(sentence_ids)}
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in entities.to_pylist() if entities is not None else []:
        if row["sentence_id"] in index:
            grouped[index[row["sentence_id"]]].append(row)
    return grouped


def _question(text: str, targets: TargetSet) -> tuple[int, str] | None:
    for pattern in targets.layout_patterns:
        match = pattern.match(text)
        if match:
            return int(match.group("n")), text[match.end() :].lstrip(" .:)–-")
    return None


def _question_target(
    number: int | None,
    text: str,
    targets: TargetSet,
    model: StanceModel | None,
    vectors: dict[str, np.ndarray],
) -> str | None:
    """The target a consultation question asks about: by its wording first, else its number.

    ``vectors`` maps texts (questions, target descriptions) to embeddings computed up front;
    a missing text is embedded here and added.
    """
    if _INTERROGATIVE.match(text) or text.rstrip().endswith("?"):
        hits = targets.mentions(text)
        by_number = targets.by_question(number) if number is not None else None
        if len(hits) == 1:
            return next(iter(hits))
        if by_number is not None and by_number.id in hits:
            return by_number.id
        if model is not None:
            descriptions = _vectors([t.description for t in targets.targets], model, vectors)
            similarity = descriptions @ _vectors([text], model, vectors)[0]
            candidates = [i for i, t in enumerate(targets.targets) if not hits or t.id in hits]
            best = max(candidates, key=lambda i: similarity[i])
            if similarity[best] >= QUESTION_SIMILARITY:
                return targets.targets[best].id
    target = targets.by_question(number) if number is not None else None
    return target.id if target is not None else None


def _vectors(texts: list[str], model: StanceModel, known: dict[str, np.ndarray]) -> np.ndarray:
    """The embeddings of ``texts`` from ``known``, embedding (and adding) the missing ones."""
    missing = [t for t in dict.fromkeys(texts) if t not in known]
    if missing:
        known.update(zip(missing, model.embed(missing), strict=True))
    return np.stack([known[t] for t in texts])


def _is_heading_of(text: str, offset: int) -> bool:
    """``text`` opens with the target mention followed by a colon: a description heading."""
    return offset <= 4 and re.match(r"[^:.]{0,25}:", text[offset:]) is not None


def _explicit(text: str, idx: int, targets: TargetSet, state: _State) -> dict[str, int]:
    found = {**targets.ordinal_mentions(text), **targets.mentions(text)}
    pattern = targets.anaphora_pattern
    if pattern is not None and (match := pattern.search(text)):
        options = {t.id for t in targets.targets if t.ordinals}
        for at, target in reversed(state.recent):
            if idx - at <= ANAPHORA_WINDOW and target in options:
                found.setdefault(target, match.start())
                break
    return found


def _parenthetical(text: str, offset: int) -> bool:
    """A mention inside brackets or an "including ..." aside."""
    before = text[:offset]
    return before.count("(") > before.count(")") or bool(
        re.search(r"\b(?:including|such as|e\.g\.)\s[^,;]*$", before, re.IGNORECASE)
    )


def _tightest(offset: int, cues: list[Cue]) -> Cue | None:
    """The cue with the smallest scope that contains ``offset``."""
    containing = [c for c in cues if c.scope[0] <= offset < c.scope[1]]
    return min(containing, key=lambda c: c.scope[1] - c.scope[0]) if containing else None


@dataclass
class _Row:
    target: str
    stance: str
    confidence: float
    holder: Holder
    method: str
    cue: int = -1


def _stance_of(polarity: int, text: str) -> str:
    if polarity and is_balanced(text):
        return "conditional"
    if polarity > 0:
        return "conditional" if is_conditional(text) else "support"
    if polarity < 0:
        return "oppose"
    return "neutral"


class _Detector:
    """Walks one document's sentences in order, carrying context forward."""

    def __init__(
        self,
        targets: TargetSet,
        model: StanceModel,
        resolver: HolderResolver,
        docs: Sequence[Doc],
        cues: list[list[Cue]],
        vectors: dict[str, np.ndarray],
    ) -> None:
        self.targets = targets
        self.model = model
        self.resolver = resolver
        self.docs = docs
        self.cues = cues
        self.state = _State()
        self.vectors = vectors
        # the learned decision reads what the hybrid cascade found
        self.method = "hybrid" if model.method == "learned" else model.method
        self.trace: dict[int, tuple[dict[str, int], set[str], str | None, bool]] = {}

    def _embedding_model(self) -> StanceModel | None:
        """The model, when embeddings may be used (not in rules-only mode)."""
        return None if self.method == "rules" else self.model

    def _outside_names(self, idx: int, text: str, mentions: dict[str, int]) -> dict[str, int]:
        """Drop target mentions inside an organisation's name ("Local Government Association")."""
        names = [(e.start_char, e.end_char) for e in self.docs[idx].ents
                 if e.label_ == "ORG" and not is_clause(e)]
        names += [
            (r["start"], r["end"])
            for r in self.resolver.entities.get(idx, ())
            if r["label"] == "ORG"
        ]
        spans = self.targets.mention_spans(text)
        kept = {}
        for target, off in mentions.items():
            start, end = spans.get(target, (off, off + 1))
            if not any(a <= start and end <= b and b - a > end - start for a, b in names):
                kept[target] = off
        return kept

    def _question_context(self, idx: int, section: str | None) -> str | None:
        state = self.state
        if (
            state.question
            and idx - state.question_at <= QUESTION_WINDOW
            and (section == state.question_section or state.question_section is None)
        ):
            return state.question
        return None

    def _cue_targets(
        self, text: str, cue: Cue, cues: list[Cue], mentions: dict[str, int], context: str | None
    ) -> list[str]:
        if cue.kind == "deontic":
            mentions = {t: off for t, off in mentions.items() if not _parenthetical(text, off)}
        if cue.subject is not None:
            judged = [t for t, off in mentions.items() if cue.subject[0] <= off < cue.subject[1]]
            if judged:
                return judged
        inside = [t for t, off in mentions.items() if _tightest(off, cues) is cue]
        marker = CONDITIONAL.search(text)
        if marker is not None and any(mentions[t] < marker.start() for t in inside):
            inside = [t for t in inside if mentions[t] < marker.start()]
        if inside:
            return inside
        if len(mentions) == 1:
            return list(mentions)
        if not mentions and context is not None:
            return [context]
        return []

    def _endorsements(self, idx: int, polarity: int, holder: Holder) -> list[_Row]:
        """ "This makes sense": the author takes up the view reported in the sentence before."""
        if idx - self.state.previous_at != 1:
            return []
        rows = []
        for prev in self.state.previous:
            side = _SIDES[prev["stance"]] * polarity
            if side and not prev["holder"].is_author:
                stance = "support" if side > 0 else "oppose"
                rows.append(_Row(prev["target"], stance, 0.7, holder, "rules"))
        return rows

    def sentence(
        self,
        idx: int,
        text: str,
        section: str | None,
        probs: tuple[dict[str, float], dict[str, float]] | None,
    ) -> list[_Row]:
        """Stance rows of sentence ``idx``."""
        targets = self.targets
        state = self.state
        layout = _question(text, targets)
        body = layout[1] if layout else text
        asks = text.rstrip().endswith("?") or bool(_INTERROGATIVE.match(body))
        if layout is not None:
            state.number, state.number_at = layout[0], idx
        if layout is not None or asks:
            number = state.number if idx - state.number_at <= 1 else None
            state.question = _question_target(
                number, body, targets, self._embedding_model(), self.vectors
            )
            state.question_at, state.question_section = idx, section
        if asks:
            self.trace[idx] = ({}, set(), None, True)
            return []
        if _LABEL.match(text) and self.state.question is not None:
            self.state.question_at = idx  # "Response:" / "Model answer:" keeps the question open
            self.trace[idx] = ({}, set(), None, False)
            return []
        context = self._question_context(idx, section)
        mentions = self._outside_names(idx, text, _explicit(text, idx, targets, self.state))
        rows: list[_Row] = []
        answer = targets.answer_stance(body) if context else None
        if answer is not None and context is not None:
            rows.append(
                _Row(context, answer, BASE_CONFIDENCE["answer"], self.resolver.author, "rules")
            )
        headings = {t for t, off in mentions.items() if _is_heading_of(text, off)}
        self.trace[idx] = (mentions, headings, context, False)
        skip_rules = headings or answer or self.method == "classifier"
        cues = [] if skip_rules else self.cues[idx]
        for cue in cues:
            rows.extend(self._from_cue(idx, text, cue, cues, mentions, context, probs))
        if layout is not None and any(r.stance != "neutral" for r in rows):
            self.state.question = None
        covered = {r.target for r in rows}
        for target in mentions:
            if target not in covered:
                rows.append(self._uncued(target, target in headings, probs))
        return rows

    def _from_cue(
        self,
        idx: int,
        text: str,
        cue: Cue,
        cues: list[Cue],
        mentions: dict[str, int],
        context: str | None,
        probs: tuple[dict[str, float], dict[str, float]] | None,
    ) -> list[_Row]:
        doc = self.docs[idx]
        if cue.holder == OWNER:
            holder = self.resolver.owner_holder()
            span = None
        else:
            span = doc.char_span(*cue.holder, alignment_mode="expand") if cue.holder else None
            found = self.resolver.resolve(idx, span, self.docs)
            if found is None:
                return []  # the "holder" is a thing, not someone: "the changes support ..."
            holder = found
        if cue.kind not in ATTITUDE_KINDS and self.resolver.via_document_reference(idx, span):
            return []  # a summary of the consultation paper's content, not a view
        if cue.kind in ("evaluative", "attitude", "attitude_adj") and _DEMONSTRATIVE.search(text):
            endorsed = self._endorsements(idx, cue.polarity, holder)
            if endorsed:
                return endorsed
        chosen = self._cue_targets(text, cue, cues, mentions, context)
        method = "rules"
        if (
            not chosen
            and probs is not None
            and self.method == "hybrid"
            and cue.kind in ATTITUDE_KINDS
        ):
            target, p = max(probs[1].items(), key=lambda kv: kv[1])
            if target != "none" and p >= TARGET_THRESHOLD:
                chosen, method = [target], "hybrid"
        stance = _stance_of(cue.polarity, text)
        confidence = BASE_CONFIDENCE[cue.kind] * hedge_factor(text)
        if probs is not None and stance != "neutral":
            agree = sum(p for s, p in probs[0].items() if _SIDES[s] == _SIDES[stance])
            if agree >= 0.5:
                method, confidence = "hybrid", 0.5 * confidence + 0.5 * agree
            else:
                confidence *= 0.85
        return [_Row(t, stance, confidence, holder, method, cue.token) for t in chosen]

    def _uncued(
        self, target: str, heading: bool, probs: tuple[dict[str, float], dict[str, float]] | None
    ) -> _Row:
        """A sentence naming ``target`` without a stance cue: the classifier decides."""
        if heading or probs is None or self.method == "rules":
            return _Row(target, "neutral", 0.8 if heading else 0.5, self.resolver.author, "rules")
        stance, p = max(probs[0].items(), key=lambda kv: kv[1])
        if stance != "neutral" and p >= CLASSIFIER_THRESHOLD:
            return _Row(target, stance, p, self.resolver.author, "classifier")
        return _Row(
            target, "neutral", probs[0].get("neutral", 0.0), self.resolver.author, "classifier"
        )

    def remember(self, idx: int, text: str, rows: list[_Row]) -> None:
        """Carry this sentence's targets and views forward."""
        for target in _explicit(text, idx, self.targets, self.state):
            self.state.recent.append((idx, target))
        taken = [r for r in rows if r.stance != "neutral"]
        if taken:
            last = max(r.cue for r in taken)
            self.state.previous = [
                {"target": r.target, "stance": r.stance, "holder": r.holder}
                for r in taken
                if r.cue == last
            ]
            self.state.previous_at = idx


def _needs_classifier(text: str, cues: list[Cue], targets: TargetSet) -> bool:
    """Only sentences with a stance cue or a target mention are worth embedding."""
    return bool(cues or targets.mentions(text) or targets.ordinal_mentions(text))


def detect_stances(
    document: dict[str, Any],
    sentences: pa.Table,
    docs: Sequence[Doc],
    entities: pa.Table,
    targets: TargetSet,
    model: StanceModel,
    register: Register | None = None,
    author: AuthorLike | str | None = None,
    doc_aliases: dict[str, str] | None = None,
) -> pa.Table:
    """The ``stances`` table of one document (see the module docstring for the method).

    ``author`` is the entities stage's author (an object with ``name`` and ``canonical_id``, or
    a name); without it ``document['author_org']`` is used. When neither names anyone, what
    the document says in its own voice is held by :func:`document_voice` (still flagged
    ``holder_is_author``), else by "author".
    """
    if sentences.num_rows == 0:
        return empty_table("stances")
    analysis = _analyse(
        document, sentences, docs, entities, targets, model, register, author, doc_aliases
    )
    found = analysis.found
    if model.method == "learned" and model.decider is not None:
        found = _decide(analysis, model.decider)
    if analysis.resolver.author.name == UNKNOWN_AUTHOR:
        voice = document_voice(entities)
        if voice is not None:
            found = [[replace(r, holder=voice) if r.holder.is_author else r for r in rows]
                     for rows in found]
    rows: list[dict[str, Any]] = []
    for idx, sentence_rows in enumerate(found):
        rows.extend(
            _to_rows(document["doc_id"], analysis.columns, idx, sentence_rows, model.min_confidence)
        )
    return to_table("stances", rows) if rows else empty_table("stances")


class Speaker(NamedTuple):
    """A holder a sentence names; ``explicit`` when it is the subject of a speech verb."""

    holder: Holder
    explicit: bool


@dataclass
class _Analysis:
    """One document run through the cascade, with what the learned decision needs."""

    columns: dict[str, list[Any]]
    targets: TargetSet
    resolver: HolderResolver
    docs: Sequence[Doc]
    cues: list[list[Cue]]
    detector: _Detector
    found: list[list[_Row]]
    probs: dict[int, tuple[dict[str, float], dict[str, float]]]
    embeddings: np.ndarray | None = None
    descriptions: np.ndarray | None = None
    speakers: dict[int, list[Speaker]] = field(default_factory=dict)

    def speakers_of(self, idx: int) -> list[Speaker]:
        """The cited holders sentence ``idx`` names (computed once per sentence)."""
        if idx not in self.speakers:
            self.speakers[idx] = _speakers(self.resolver, idx, self.docs)
        return self.speakers[idx]


def _analyse(
    document: dict[str, Any],
    sentences: pa.Table,
    docs: Sequence[Doc],
    entities: pa.Table,
    targets: TargetSet,
    model: StanceModel,
    register: Register | None,
    author: AuthorLike | str | None,
    doc_aliases: dict[str, str] | None,
) -> _Analysis:
    if len(docs) != sentences.num_rows:
        raise ValueError(f"{len(docs)} parsed docs for {sentences.num_rows} sentences")
    columns = sentences.select(["sentence_id", "page", "section", "text"]).to_pydict()
    resolver = HolderResolver(
        author=_author(document, author),
        owner=targets.consultation.owner,
        document_reference=targets.document_reference_pattern,
        entities=_entities_by_sentence(entities, columns["sentence_id"]),
        register=register,
        doc_aliases=doc_aliases,
    )
    texts: list[str] = columns["text"]
    cues = [find_cues(doc) for doc in docs]
    embeddings = descriptions = None
    if model.method == "learned":
        probs, vectors, embeddings, descriptions = _classify_all(texts, targets, model)
    else:
        probs, vectors = _classify(texts, cues, targets, model)
    detector = _Detector(targets, model, resolver, docs, cues, vectors)
    found = []
    for idx, text in enumerate(texts):
        rows = detector.sentence(idx, text, columns["section"][idx], probs.get(idx))
        detector.remember(idx, text, rows)
        found.append(rows)
    return _Analysis(
        columns, targets, resolver, docs, cues, detector, found, probs, embeddings, descriptions
    )


def _classify_all(texts: list[str], targets: TargetSet, model: StanceModel) -> tuple[
    dict[int, tuple[dict[str, float], dict[str, float]]],
    dict[str, np.ndarray],
    np.ndarray,
    np.ndarray,
]:
    """Every sentence embedded and classified (the learned decision reads them all), with the
    question wordings and target descriptions, in one call."""
    extra = [*_question_texts(texts, targets), *(t.description for t in targets.targets)]
    embedded = model.embed([*texts, *extra])
    stance, target = model.predict(embedded[: len(texts)])
    vectors = dict(zip(extra, embedded[len(texts) :], strict=True))
    probs = {i: (stance[i], target[i]) for i in range(len(texts))}
    descriptions = embedded[len(embedded) - len(targets.targets) :]
    return probs, vectors, embedded[: len(texts)], descriptions


def _infos(analysis: _Analysis) -> list[SentenceInfo]:
    reference = analysis.targets.document_reference_pattern
    infos = []
    for idx, text in enumerate(analysis.columns["text"]):
        mentions, headings, context, asks = analysis.detector.trace.get(
            idx, ({}, set(), None, False)
        )
        labels = [r["label"] for r in analysis.resolver.entities.get(idx, ())]
        labels += [e.label_ for e in analysis.docs[idx].ents]
        infos.append(
            SentenceInfo(
                text=text,
                mentions=mentions,
                headings=headings,
                context=context,
                asks=asks,
                cascade=[
                    (r.target, r.stance, r.confidence, r.holder.is_author, r.method)
                    for r in analysis.found[idx]
                ],
                classifier=analysis.probs.get(idx),
                cue_polarities=[(c.kind, c.polarity) for c in analysis.cues[idx]],
                n_org=labels.count("ORG"),
                n_person=labels.count("PERSON"),
                conditional=is_conditional(text),
                balanced=is_balanced(text),
                hedged=hedge_factor(text) < 1.0,
                reference=bool(reference is not None and reference.search(text)),
            )
        )
    return infos


# verbs whose subject voices a view: "X said", "the council argued", "she welcomed"
_SPEECH_LEMMAS = frozenset(
    {
        "say", "tell", "argue", "add", "warn", "claim", "state", "insist", "explain", "note",
        "suggest", "call", "believe", "want", "urge", "welcome", "support", "oppose", "think",
        "stress", "describe", "criticise", "criticize", "reject", "agree", "disagree",
        "recommend", "propose", "push", "expect", "prefer", "favour", "favor", "back",
        "announce", "confirm", "intend", "plan", "seek", "emphasise", "emphasize", "highlight",
        "conclude", "acknowledge", "accept", "endorse",
    }
)


def _speakers(resolver: HolderResolver, idx: int, docs: Sequence[Doc]) -> list[Speaker]:
    """Cited holders a sentence names: subjects of speech verbs and "according to" objects
    (explicit speakers), then the organisations and people it mentions."""
    doc = docs[idx]
    spans = []
    for token in doc:
        if token.lemma_.lower() in _SPEECH_LEMMAS and token.pos_ in ("VERB", "AUX"):
            spans += [c for c in token.children if c.dep_ in ("nsubj", "agent")]
        following = doc[token.i + 1] if token.i + 1 < len(doc) else None
        if token.lower_ == "according" and following is not None and following.lower_ == "to":
            spans += [c for c in following.children if c.dep_ == "pobj"]
    found = []
    for node in spans:
        if node.dep_ == "agent":
            node = next(iter(node.children), node)
        span = doc[node.left_edge.i : node.right_edge.i + 1]
        if span.text.lower() == "it":
            # "it said", "it has called for": a body named earlier speaks (a writer's own
            # view is "we", never "it")
            holder: Holder | None = resolver.antecedent(idx, span.start_char, docs, False)
        else:
            holder = resolver.resolve(idx, span, docs)
        if holder is not None and not holder.is_author:
            found.append(Speaker(holder, True))
    for row in resolver.entities.get(idx, ()):
        if row["label"] in ("ORG", "PERSON"):
            named = doc.char_span(row["start"], row["end"], alignment_mode="expand")
            found += _named(resolver.resolve(idx, named, docs), row["label"])
    for ent in doc.ents:
        if ent.label_ in ("ORG", "PERSON"):
            found += _named(resolver.resolve(idx, ent, docs), ent.label_)
    found += [Speaker(Holder(name, None, False), False) for name in _titled_names(doc)]
    return found


_TITLES = frozenset(
    {"lord", "baroness", "lady", "cllr", "councillor", "minister", "dr", "professor", "sir",
     "dame", "mr", "mrs", "ms"}
)


def _titled_names(doc: Doc) -> list[str]:
    """People named with a title ("Councillor Jo Bloggs", "Lord Smith of Town", "Jo Bloggs
    MP"), which the entity model often misses."""
    names = []
    for token in doc:
        if token.lower_.rstrip(".") in _TITLES and token.i + 1 < len(doc):
            end = token.i + 1
            while end < len(doc) and doc[end].pos_ == "PROPN" and end - token.i <= 3:
                end += 1
            if end < len(doc) - 1 and doc[end].lower_ == "of" and doc[end + 1].pos_ == "PROPN":
                end += 2
                while end < len(doc) and doc[end].pos_ == "PROPN" and doc[end].is_title:
                    end += 1
            if end > token.i + 1:
                names.append(doc[token.i : end].text)
        if token.text == "MP" and token.i >= 2 and doc[token.i - 1].pos_ == "PROPN":
            start = token.i - 1
            while start > 0 and doc[start - 1].pos_ == "PROPN" and token.i - start < 3:
                start -= 1
            names.append(doc[start : token.i + 1].text)
    return names


def _named(holder: Holder | None, label: str) -> list[Speaker]:
    """A mention that is not a speaker names a holder only when it is a person or an
    organisation the register knows (not a kind of body: "the ICS", "CCGs")."""
    if holder is None or holder.is_author:
        return []
    return [Speaker(holder, False)] if label == "PERSON" or holder.holder_id is not None else []


class Candidate(NamedTuple):
    """The cited party most likely to hold a (sentence, target) stance, and how it was found."""

    holder: Holder | None
    previous: bool = False  # named in the sentence before
    owner: bool = False  # the consultation's owner, through a reference to its document
    speaker: bool = False  # the subject of a speech verb ("X said", "according to X")


def _cited_candidates(analysis: _Analysis, idx: int) -> list[Candidate]:
    """Per target (in ``targets.ids`` order): the cascade's cited holder (preferring one on
    that target), else a speaker named in the sentence, the consultation's owner when the
    sentence describes its document, or a speaker of the sentence before."""
    named = analysis.speakers_of(idx)
    # "the paper proposes X, which we oppose": with the writer in the sentence, a named
    # speaker is what the writer answers, not who holds the view
    own_voice = any(t.lower_ in FIRST_PERSON for t in analysis.docs[idx])
    explicit = {s.holder.name for s in named if s.explicit and not own_voice}
    owner_name = analysis.resolver.owner_holder().name
    cascade = [r for r in analysis.found[idx] if not r.holder.is_author and r.stance != "neutral"]
    if not cascade:
        return [_named_candidate(analysis, idx, named, explicit)] * len(analysis.targets.ids)
    out = []
    for target in analysis.targets.ids:
        row = next((r for r in cascade if r.target == target), cascade[0])
        out.append(Candidate(row.holder, False, row.holder.name == owner_name,
                             row.holder.name in explicit))
    return out


def _named_candidate(analysis: _Analysis, idx: int, named: list[Speaker], explicit: set[str]
                     ) -> Candidate:
    """The cited candidate of a sentence the cascade found no cited holder in."""
    if named:
        return Candidate(named[0].holder, speaker=named[0].holder.name in explicit)
    text = analysis.columns["text"][idx]
    reference = analysis.targets.document_reference_pattern
    if reference is not None and reference.search(text):
        owner_holder = analysis.resolver.owner_holder()
        return Candidate(None) if owner_holder.is_author else Candidate(owner_holder, owner=True)
    if idx > 0 and not _author_named_as_subject(analysis, idx):
        earlier = analysis.speakers_of(idx - 1)
        if earlier:
            return Candidate(earlier[0].holder, previous=True, speaker=earlier[0].explicit)
    return Candidate(None)


def _author_named_as_subject(analysis: _Analysis, idx: int) -> bool:
    """Whether the main clause's subject names the author ("The Council supports ..."): the
    sentence says who holds its view, so a speaker of the sentence before does not."""
    doc = analysis.docs[idx]
    subject = _main_subject(doc)
    if subject is None or subject.pos_ not in ("NOUN", "PROPN"):
        return False
    span = doc[subject.left_edge.i : subject.i + 1]
    holder = analysis.resolver.resolve(idx, span, analysis.docs)
    return holder is not None and holder.is_author and holder.name != UNKNOWN_AUTHOR


RELEVANCE_FLOOR = 0.1  # below this calibrated probability a pair makes no row


def pair_features(analysis: _Analysis) -> tuple[DocumentFeatures, list[Candidate]]:
    """Features of every (sentence, target) pair and each pair's cited-holder candidate."""
    infos = _infos(analysis)
    ids = analysis.targets.ids
    candidates: list[Candidate] = []
    extra: list[list[float]] = []
    for idx in range(len(infos)):
        for found in _cited_candidates(analysis, idx):
            candidates.append(found)
            extra.append([float(found.holder is not None), float(found.previous),
                          float(found.owner), float(found.speaker)])
    assert analysis.embeddings is not None and analysis.descriptions is not None
    features = document_features(
        infos, analysis.embeddings, analysis.descriptions, ids, holder_extra=extra
    )
    return features, candidates


def _decide(analysis: _Analysis, decider: StanceDecider) -> list[list[_Row]]:
    """The learned decision over every (sentence, target) pair (see :mod:`.learned`)."""
    features, candidates = pair_features(analysis)
    confidence = decider.calibrated(decider.relevance_scores(features.relevance))
    stances = decider.stances(features.stance)
    author_p = decider.author_probability(features.holder)
    author = analysis.resolver.author
    owner = analysis.resolver.owner_holder()
    found: list[list[_Row]] = [[] for _ in analysis.found]
    options = {t.id for t in analysis.targets.targets if t.ordinals}
    for k, (idx, target) in enumerate(features.pairs):
        mentions = analysis.detector.trace.get(idx, ({},))[0]
        mentioned = target in mentions
        if target in options and not mentioned and options & set(mentions):
            # a sentence that names only a rival option says nothing explicit about this one
            continue
        if confidence[k] < RELEVANCE_FLOOR:
            if mentioned:
                found[idx].append(_Row(target, "neutral", 1 - confidence[k], author, "learned"))
            continue
        stance = max(SIDES, key=lambda s: stances[k].get(s, 0.0))
        if stance == "oppose":
            guarded = _guarded(analysis, idx, target)
            if guarded == "kept":
                found[idx].append(_Row(target, "neutral", float(confidence[k]), author, "learned"))
                continue
            if guarded == "harmed":
                stance = "support"  # worry that the target is harmed: support for it
        candidate = candidates[k].holder
        # a view put to the consultation's owner is, far more often than not, the author's
        # reading of its proposals (measured on CV), unless the owner is the one speaking
        cited = candidate is not None and author_p[k] < 0.5 and (
            candidates[k].speaker or not _same(candidate, owner))
        holder = candidate if cited and candidate else author
        found[idx].append(_Row(target, stance, float(confidence[k]), holder, "learned"))
    return found


def _same(a: Holder, b: Holder) -> bool:
    return a.name == b.name or (a.holder_id is not None and a.holder_id == b.holder_id)


def _guarded(analysis: _Analysis, idx: int, target: str) -> str | None:
    """Whether sentence ``idx`` guards ``target`` (see :func:`rules.protected_span`): the
    target's mention, or, when the sentence names it in other words ("place partnerships
    must not be reduced to ..."), the main clause's subject."""
    doc = analysis.docs[idx]
    span = analysis.targets.mention_spans(analysis.columns["text"][idx]).get(target)
    if span is None:
        subject = _main_subject(doc)
        if subject is None:
            return None
        span = (doc[subject.left_edge.i].idx, subject.idx + len(subject.text))
    return protected_span(doc, *span)


def _main_subject(doc: Doc) -> Token | None:
    """The subject of the sentence's main verb."""
    return next((t for t in doc if t.dep_ in ("nsubj", "nsubjpass") and t.head.dep_ == "ROOT"),
                None)


def stance_features(
    document: dict[str, Any],
    sentences: pa.Table,
    docs: Sequence[Doc],
    entities: pa.Table,
    targets: TargetSet,
    model: StanceModel,
    register: Register | None = None,
    author: AuthorLike | str | None = None,
    doc_aliases: dict[str, str] | None = None,
) -> tuple[DocumentFeatures, list[Candidate]]:
    """The learned decision's inputs for one document (for training; ``model.method`` is
    taken as ``learned``)."""
    learned = replace(model, method="learned")
    analysis = _analyse(
        document, sentences, docs, entities, targets, learned, register, author, doc_aliases
    )
    return pair_features(analysis)


def _question_texts(texts: list[str], targets: TargetSet) -> list[str]:
    """The question wordings :func:`_question_target` may embed (a superset)."""
    found = []
    for text in texts:
        layout = _question(text, targets)
        body = layout[1] if layout else text
        if _INTERROGATIVE.match(body) or body.rstrip().endswith("?"):
            found.append(body)
    return found


def _classify(
    texts: list[str], cues: list[list[Cue]], targets: TargetSet, model: StanceModel
) -> tuple[dict[int, tuple[dict[str, float], dict[str, float]]], dict[str, np.ndarray]]:
    """Classifier probabilities of the sentences worth classifying, and the embeddings of the
    question wordings and target descriptions: all embedded in one call per document."""
    if model.method == "rules":
        return {}, {}
    chosen = [i for i, t in enumerate(texts) if _needs_classifier(t, cues[i], targets)]
    questions = _question_texts(texts, targets)
    extra = [*questions, *(t.description for t in targets.targets)] if questions else []
    embedded = model.embed([*(texts[i] for i in chosen), *extra])
    stance, target = model.predict(embedded[: len(chosen)])
    vectors = dict(zip(extra, embedded[len(chosen) :], strict=True))
    return {i: (stance[k], target[k]) for k, i in enumerate(chosen)}, vectors


def _to_rows(
    doc_id: str, columns: dict[str, list[Any]], idx: int, found: list[_Row], min_confidence: float
) -> list[dict[str, Any]]:
    best: dict[tuple[str, str, str], _Row] = {}
    for row in found:
        if row.stance != "neutral" and row.confidence < min_confidence:
            row = _Row(row.target, "neutral", row.confidence, row.holder, row.method)
        key = (row.holder.name, row.target, row.stance)
        if key not in best or row.confidence > best[key].confidence:
            best[key] = row
    sentence_id = columns["sentence_id"][idx]
    out = []
    for (holder, target, stance), row in sorted(best.items()):
        digest = hashlib.sha256(f"{sentence_id}|{holder}|{target}|{stance}".encode()).hexdigest()
        out.append(
            {
                "stance_id": digest[:16],
                "doc_id": doc_id,
                "sentence_id": sentence_id,
                "page": columns["page"][idx],
                "holder": row.holder.name,
                "holder_id": row.holder.holder_id,
                "holder_is_author": row.holder.is_author,
                "target": target,
                "stance": stance,
                "confidence": round(float(row.confidence), 4),
                "evidence": columns["text"][idx],
                "method": row.method,
            }
        )
    return out
