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
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from pipeline.schema import empty_table, to_table
from pipeline.stance.holders import Holder, HolderResolver, Register
from pipeline.stance.model import StanceModel
from pipeline.stance.rules import (
    CONDITIONAL,
    OWNER,
    Cue,
    find_cues,
    hedge_factor,
    is_balanced,
    is_conditional,
)
from pipeline.stance.targets import TargetSet

if TYPE_CHECKING:
    from spacy.tokens import Doc

    from pipeline.entities.types import Author

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


def _author(document: dict[str, Any], author: object) -> Holder:
    if author is not None and not isinstance(author, str):
        return Holder(
            str(getattr(author, "name", "author")), getattr(author, "canonical_id", None), True
        )
    name = author or document.get("author_org") or "author"
    return Holder(str(name), document.get("author_org_id"), True)


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

    def _embedding_model(self) -> StanceModel | None:
        """The model, when embeddings may be used (not in rules-only mode)."""
        return None if self.model.method == "rules" else self.model

    def _outside_names(self, idx: int, text: str, mentions: dict[str, int]) -> dict[str, int]:
        """Drop target mentions inside an organisation's name ("Local Government Association")."""
        names = [(e.start_char, e.end_char) for e in self.docs[idx].ents if e.label_ == "ORG"]
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
            return []
        if _LABEL.match(text) and self.state.question is not None:
            self.state.question_at = idx  # "Response:" / "Model answer:" keeps the question open
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
        skip_rules = headings or answer or self.model.method == "classifier"
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
            and self.model.method == "hybrid"
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
        if heading or probs is None or self.model.method == "rules":
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
    author: Author | str | None = None,
    doc_aliases: dict[str, str] | None = None,
) -> pa.Table:
    """The ``stances`` table of one document (see the module docstring for the method).

    ``author`` is the entities stage's author (an object with ``name`` and ``canonical_id``, or
    a name); without it ``document['author_org']`` is used, else "author".
    """
    if sentences.num_rows == 0:
        return empty_table("stances")
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
    probs, vectors = _classify(texts, cues, targets, model)
    detector = _Detector(targets, model, resolver, docs, cues, vectors)
    rows: list[dict[str, Any]] = []
    for idx, text in enumerate(texts):
        found = detector.sentence(idx, text, columns["section"][idx], probs.get(idx))
        detector.remember(idx, text, found)
        rows.extend(_to_rows(document["doc_id"], columns, idx, found, model.min_confidence))
    return to_table("stances", rows) if rows else empty_table("stances")


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
