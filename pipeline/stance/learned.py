"""The learned stance decision: three linear heads over per-(sentence, target) features.

The rule cascade (:mod:`pipeline.stance.detect`) and the sentence classifier no longer have the
final say; what they found becomes features, with the sentence embedding, the target's
mentions and question context, and cues of who speaks. For each sentence and target:

- ``relevance``: does the sentence take a (non-neutral) stance on the target? Its probability,
  calibrated (Platt scaling fitted on out-of-fold scores), is the row's confidence;
- ``stance``: support, conditional or oppose, given that it does;
- ``holder``: does the author hold it, or someone the sentence (or the one before) cites?

A fourth head, ``position``, works on the positions aggregated from those rows: the probability
that a position (holder, target, side) is right, fitted on out-of-fold positions of the
annotated texts. It is the position's confidence.

Weights are stored as ``.npz`` with a JSON sidecar (classes, feature names, calibration,
provenance, cross-validated figures); nothing is pickled.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ConfigError
from pipeline.learn import SoftmaxClassifier

HEADS = ("relevance", "stance", "holder")
SIDES = ("support", "conditional", "oppose")
CASCADE = ("support", "conditional", "oppose", "neutral")
CUE_KINDS = ("attitude", "attitude_adj", "attitude_noun", "evaluative", "effect", "deontic",
             "commitment", "answer")
SPEECH = re.compile(
    r"\b(?:said|says|told|tells|argued|argues|added|warned|warns|claimed|claims|stated|states|"
    r"insisted|explained|noted|suggested|called for|calls for|according to|believes|believed|"
    r"wants|wanted|urged|urges|welcomed|welcomes)\b",
    re.IGNORECASE,
)
TITLES = re.compile(
    r"\b(?:cllr|councillor|minister|lord|baroness|mp|secretary of state|chair|chief executive|"
    r"director|president|spokesperson|spokesman|spokeswoman|leader|dr|professor)\b",
    re.IGNORECASE,
)
FIRST_PERSON = re.compile(r"\b(?:we|our|us|ours|i)\b", re.IGNORECASE)
NEGATION = re.compile(r"\b(?:not|no|never|nor|without|n't)\b|n't\b", re.IGNORECASE)
PROPOSAL = re.compile(
    r"\b(?:propos\w*|would|will|plans?|sets out|set out|intends?|bill|white paper|consultation)\b",
    re.IGNORECASE,
)
QUOTE = re.compile(r"[\"“”]")


@dataclass
class SentenceInfo:
    """What the cascade and the parse say about one sentence (inputs of the features)."""

    text: str
    mentions: dict[str, int]
    headings: set[str]
    context: str | None
    asks: bool
    cascade: list[tuple[str, str, float, bool, str]]  # target, stance, confidence, author, kind
    classifier: tuple[dict[str, float], dict[str, float]] | None
    cue_polarities: list[tuple[str, int]]
    n_org: int
    n_person: int
    conditional: bool
    balanced: bool
    hedged: bool
    reference: bool  # names the consultation document ("the paper")


def _target_block(
    info: SentenceInfo, previous: SentenceInfo | None, target: str, cosine: np.ndarray,
    index: int,
) -> list[float]:
    mentioned = target in info.mentions
    cascade = [r for r in info.cascade if r[0] == target]
    by_stance = [max((r[2] for r in cascade if r[1] == s), default=0.0) for s in CASCADE]
    cited = float(any(not r[3] and r[1] != "neutral" for r in cascade))
    others = np.delete(cosine, index)
    tprob = info.classifier[1].get(target, 0.0) if info.classifier else 0.0
    return [
        float(mentioned),
        float(target in info.headings),
        float(info.context == target),
        float(previous is not None and target in previous.mentions),
        float(mentioned and len(info.mentions) == 1),
        float(cosine[index]),
        float(cosine[index] - (others.max() if len(others) else 0.0)),
        *by_stance,
        cited,
        tprob,
    ]


HOLDER_EXTRA = ("cited_candidate", "cited_in_previous", "cited_is_owner", "cited_is_speaker")
TARGET_FEATURES = (
    "mention", "heading", "question_context", "previous_mention", "only_mention", "cosine",
    "cosine_margin", "cascade_support", "cascade_conditional", "cascade_oppose",
    "cascade_neutral", "cascade_cited", "classifier_target",
)


def _sentence_block(info: SentenceInfo, previous: SentenceInfo | None, position: float
                    ) -> list[float]:
    words = len(info.text.split())
    stance = info.classifier[0] if info.classifier else {}
    kinds = [float(any(k == kind for k, _ in info.cue_polarities)) for kind in CUE_KINDS]
    return [
        *(stance.get(s, 0.0) for s in CASCADE),
        *kinds,
        float(any(p > 0 for _, p in info.cue_polarities)),
        float(any(p < 0 for _, p in info.cue_polarities)),
        float(info.conditional),
        float(info.balanced),
        float(info.hedged),
        float(bool(NEGATION.search(info.text))),
        float(info.asks),
        float(words < 7),
        float(np.log1p(words)),
        float(bool(FIRST_PERSON.search(info.text))),
        float(bool(SPEECH.search(info.text))),
        float(bool(TITLES.search(info.text))),
        float(bool(QUOTE.search(info.text))),
        float(min(info.n_org, 3)),
        float(min(info.n_person, 3)),
        float(previous is not None and (previous.n_org + previous.n_person) > 0),
        float(previous is not None and bool(SPEECH.search(previous.text))),
        float(bool(PROPOSAL.search(info.text))),
        float(info.reference),
        float(len(info.mentions)),
        position,
    ]


SENTENCE_FEATURES = (
    *(f"classifier_{s}" for s in CASCADE), *(f"cue_{k}" for k in CUE_KINDS), "cue_positive",
    "cue_negative", "conditional_marker", "balanced", "hedge", "negation", "question",
    "short", "log_words", "first_person", "speech_verb", "title", "quote", "n_org",
    "n_person", "previous_named", "previous_speech", "proposal_wording", "document_reference",
    "n_targets", "position",
)


@dataclass
class DocumentFeatures:
    """Feature rows of one document: one per (sentence, target), in sentence-major order."""

    pairs: list[tuple[int, str]]
    relevance: np.ndarray
    stance: np.ndarray
    holder: np.ndarray


def document_features(
    infos: Sequence[SentenceInfo],
    embeddings: np.ndarray,
    descriptions: np.ndarray,
    target_ids: Sequence[str],
    holder_extra: Sequence[Sequence[float]] | None = None,
) -> DocumentFeatures:
    """Features of every (sentence, target) pair of one document.

    ``embeddings`` holds one unit vector per sentence, ``descriptions`` one per target;
    ``holder_extra`` adds :data:`HOLDER_EXTRA` columns per pair (same order as the pairs).
    """
    n = len(infos)
    cosines = embeddings @ descriptions.T if n else np.zeros((0, len(target_ids)))
    doc_first_person = sum(bool(FIRST_PERSON.search(i.text)) for i in infos) / n if n else 0.0
    doc_speech = sum(bool(SPEECH.search(i.text)) for i in infos) / n if n else 0.0
    context = _document_context(infos, cosines, target_ids)
    pairs: list[tuple[int, str]] = []
    rel: list[np.ndarray] = []
    sta: list[np.ndarray] = []
    hol: list[np.ndarray] = []
    for i, info in enumerate(infos):
        previous = infos[i - 1] if i else None
        sentence = _sentence_block(info, previous, i / max(n - 1, 1))
        document = [doc_first_person, doc_speech]
        for k, target in enumerate(target_ids):
            block = _target_block(info, previous, target, cosines[i], k)
            onehot = [float(k == j) for j in range(len(target_ids))]
            emb = embeddings[i]
            extra = (holder_extra[len(pairs)] if holder_extra is not None
                     else [0.0] * len(HOLDER_EXTRA))
            pairs.append((i, target))
            rel.append(np.concatenate([block, context[i, k], onehot, sentence, document, emb,
                                       emb * descriptions[k]]))
            sta.append(np.concatenate([block[7:11], sentence, emb]))
            hol.append(np.concatenate([block[7:12], extra, sentence, document, emb]))
    if not pairs:
        empty = np.zeros((0, 0), dtype=np.float32)
        return DocumentFeatures([], empty, empty, empty)
    return DocumentFeatures(
        pairs,
        np.asarray(rel, dtype=np.float32),
        np.asarray(sta, dtype=np.float32),
        np.asarray(hol, dtype=np.float32),
    )


CONTEXT_FEATURES = ("recent_mention", "doc_mention_share", "cosine_below_doc_best")
RECENT = 3  # sentences back in which a mention still frames this one ("this will ...")


def _document_context(infos: Sequence[SentenceInfo], cosines: np.ndarray,
                      target_ids: Sequence[str]) -> np.ndarray:
    """Per (sentence, target): :data:`CONTEXT_FEATURES`, how the document around the sentence
    frames the target (a stance is often taken sentences after the target was named, and in
    documents that dwell on it)."""
    n, t = len(infos), len(target_ids)
    mentioned = np.array([[target in info.mentions for target in target_ids] for info in infos],
                         dtype=np.float32).reshape(n, t)
    out = np.zeros((n, t, len(CONTEXT_FEATURES)), dtype=np.float32)
    if not n:
        return out
    cumulative = np.vstack([np.zeros((1, t), dtype=np.float32), np.cumsum(mentioned, axis=0)])
    rows = np.arange(n)
    out[:, :, 0] = (cumulative[rows] - cumulative[np.maximum(rows - RECENT, 0)]) > 0
    out[:, :, 1] = mentioned.mean(axis=0)
    out[:, :, 2] = cosines - cosines.max(axis=0)
    return out


def feature_names(target_ids: Sequence[str], dim: int) -> dict[str, list[str]]:
    """Column names of each head's feature matrix."""
    sentence = list(SENTENCE_FEATURES)
    document = ["doc_first_person", "doc_speech"]
    emb = [f"emb_{j}" for j in range(dim)]
    return {
        "relevance": [*TARGET_FEATURES, *CONTEXT_FEATURES, *(f"target_{t}" for t in target_ids),
                      *sentence,
                      *document, *emb, *(f"emb_x_description_{j}" for j in range(dim))],
        "stance": [*TARGET_FEATURES[7:11], *sentence, *emb],
        "holder": [*TARGET_FEATURES[7:12], *HOLDER_EXTRA, *sentence, *document, *emb],
    }


POSITION_FEATURES = (
    "logit_confidence", "log_sided_sentences", "log_neutral_sentences", "author",
    "registered_holder", "mixed", "oppose", "conditional",
)
POSITION_C = 0.3  # few positions to learn from: strong regularisation


def position_features(positions: Sequence[dict[str, Any]]) -> np.ndarray:
    """:data:`POSITION_FEATURES` of positions rows (as aggregated, before calibration)."""
    rows = [
        [
            float(_logit(np.array(p["confidence"]))),
            float(np.log1p(p["n_support"] + p["n_oppose"] + p["n_conditional"])),
            float(np.log1p(p["n_neutral"])),
            float(p["holder_is_author"]),
            float(p["holder_id"] is not None),
            float(p["mixed"]),
            float(p["stance"] == "oppose"),
            float(p["stance"] == "conditional"),
        ]
        for p in positions
    ]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(POSITION_FEATURES))


def fit_position_head(x: np.ndarray, labels: Sequence[str]) -> SoftmaxClassifier:
    """A position head fitted on :func:`position_features` rows labelled "right"/"wrong"."""
    return SoftmaxClassifier(c=POSITION_C, class_weight=None).fit(x, labels)


def right_probability(head: SoftmaxClassifier, positions: Sequence[dict[str, Any]]
                      ) -> np.ndarray:
    """The probability ``head`` gives each position of being right."""
    if not positions:
        return np.zeros(0)
    proba = head.predict_proba(position_features(positions))
    return np.asarray(proba[:, head.classes_.index("right")])


def cross_validation_summary(path: Path) -> str | None:
    """The cross-validated figures recorded in the sidecar of the decider at ``path``, in one
    line (None when there is no sidecar or no figures)."""
    try:
        cv = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))["cross_validation"]
        f = cv["lenient"]
        line = (f"P {f['all_p']:.2f}, R {f['all_r']:.2f}, F1 {f['all_f1']:.2f} "
                f"(cited F1 {f['cited_f1']:.2f}), {cv['method']}")
    except (OSError, KeyError, TypeError, ValueError):
        return None
    above = cv.get("precision_not_needing_review")
    return line if above is None else (
        f"{line}; positions not flagged for review are right {above:.0%} of the time")


def platt(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Platt scaling ``p = 1 / (1 + exp(-(a * logit(s) + b)))`` fitted by logistic regression."""
    from sklearn.linear_model import LogisticRegression

    x = _logit(scores).reshape(-1, 1)
    if len(set(labels.tolist())) < 2:
        return 1.0, 0.0
    model = LogisticRegression(C=100.0, max_iter=1000).fit(x, labels.astype(int))
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.asarray(np.log(p / (1 - p)))


@dataclass
class StanceDecider:
    """The three heads, their calibration and provenance (scikit-learn conventions)."""

    c: float = 0.5
    info: dict[str, Any] = field(default_factory=dict)

    def fit(
        self,
        relevance: tuple[np.ndarray, Sequence[str]],
        stance: tuple[np.ndarray, Sequence[str]],
        holder: tuple[np.ndarray, Sequence[str]],
        calibration: tuple[np.ndarray, np.ndarray] | None = None,
        position: tuple[np.ndarray, Sequence[str]] | None = None,
    ) -> StanceDecider:
        """Fit each head on its (features, labels); ``calibration`` is (out-of-fold relevance
        scores, labels) for Platt scaling, identity when absent; ``position`` is
        (:func:`position_features` of out-of-fold positions, "right"/"wrong"), without which
        positions keep their aggregated confidence."""
        self.relevance_ = SoftmaxClassifier(c=self.c).fit(*relevance)
        self.stance_ = SoftmaxClassifier(c=self.c, class_weight=None).fit(*stance)
        self.holder_ = SoftmaxClassifier(c=self.c).fit(*holder)
        self.calibration_ = platt(*calibration) if calibration is not None else (1.0, 0.0)
        self.position_ = fit_position_head(*position) if position is not None else None
        return self

    def position_probability(self, positions: Sequence[dict[str, Any]]) -> np.ndarray | None:
        """Probability that each position is right, or None without a position head."""
        return None if self.position_ is None else right_probability(self.position_, positions)

    def relevance_scores(self, x: np.ndarray) -> np.ndarray:
        """Uncalibrated probability that each pair takes a stance on its target."""
        if not len(x):
            return np.zeros(0)
        proba = self.relevance_.predict_proba(x)
        return np.asarray(proba[:, self.relevance_.classes_.index("yes")])

    def calibrated(self, scores: np.ndarray) -> np.ndarray:
        """Platt-calibrated probabilities of relevance scores."""
        a, b = self.calibration_
        return np.asarray(1.0 / (1.0 + np.exp(-(a * _logit(scores) + b))))

    def stances(self, x: np.ndarray) -> list[dict[str, float]]:
        """Stance probabilities per row."""
        proba = self.stance_.predict_proba(x) if len(x) else np.zeros((0, 0))
        return [dict(zip(self.stance_.classes_, map(float, row), strict=True)) for row in proba]

    def author_probability(self, x: np.ndarray) -> np.ndarray:
        """Probability that the author (not a cited party) holds each row's stance."""
        if not len(x):
            return np.zeros(0)
        return np.asarray(self.holder_.predict_proba(x)[:, self.holder_.classes_.index("author")])

    def save(self, path: Path) -> None:
        """Write ``path`` (.npz) and its ``.json`` sidecar."""
        heads = {name: getattr(self, f"{name}_") for name in HEADS}
        if self.position_ is not None:
            heads["position"] = self.position_
        arrays = {
            f"{name}_{part}": getattr(head, f"{part}_")
            for name, head in heads.items()
            for part in ("coef", "intercept")
        }
        np.savez(path, **arrays)
        meta = {
            "classes": {name: head.classes_ for name, head in heads.items()},
            "calibration": {"a": self.calibration_[0], "b": self.calibration_[1]},
            "c": self.c,
            **self.info,
        }
        path.with_suffix(".json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> StanceDecider:
        """Read what :meth:`save` wrote; raise :class:`ConfigError` when unusable."""
        try:
            meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            with np.load(path, allow_pickle=False) as data:
                heads = {
                    name: SoftmaxClassifier.from_arrays(
                        data[f"{name}_coef"], data[f"{name}_intercept"],
                        list(meta["classes"][name]),
                    )
                    for name in (*HEADS, "position")
                    if name in meta["classes"]
                }
            calibration = (float(meta["calibration"]["a"]), float(meta["calibration"]["b"]))
        except (OSError, KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
            raise ConfigError(
                f"cannot load stance decider {path}: {exc}; run scripts/train_stance.py"
            ) from exc
        info = {k: v for k, v in meta.items() if k not in ("classes", "calibration", "c")}
        decider = cls(c=float(meta.get("c", 0.5)), info=info)
        decider.relevance_ = heads["relevance"]
        decider.stance_ = heads["stance"]
        decider.holder_ = heads["holder"]
        decider.calibration_ = calibration
        decider.position_ = heads.get("position")
        return decider
