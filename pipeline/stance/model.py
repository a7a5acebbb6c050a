"""The learned component: linear softmax heads over sentence embeddings.

Two heads share one embedding of the sentence: ``stance`` (support, oppose, conditional,
neutral) and ``target`` (a target id or ``none``). Weights live in ``.npz`` (arrays) and a
``.json`` sidecar (class names, provenance); nothing is pickled.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.errors import ConfigError
from pipeline.learn import SoftmaxClassifier

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.stance.learned import StanceDecider

log = logging.getLogger(__name__)

HEADS = ("stance", "target")


@dataclass
class StanceModel:
    """The trained heads plus the settings that govern how detection uses them.

    ``embed_fn`` (e.g. :meth:`pipeline.embeddings.EmbeddingCache.embed`) computes the sentence
    embeddings; without it the sentence-transformers model is run directly.
    """

    stance: SoftmaxClassifier
    target: SoftmaxClassifier
    embedding_model: str
    min_confidence: float = 0.5
    method: str = "hybrid"
    info: dict[str, Any] = field(default_factory=dict)
    decider: StanceDecider | None = None
    embed_fn: Callable[[Sequence[str]], np.ndarray] | None = field(
        default=None, repr=False, compare=False
    )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length sentence embeddings of ``texts``."""
        if not texts:
            return np.zeros((0, self.stance.coef_.shape[1]), dtype=np.float32)
        if self.embed_fn is not None:
            return np.asarray(self.embed_fn(list(texts)), dtype=np.float32)
        from pipeline.nlp import load_embedder

        embedder: Any = load_embedder(self.embedding_model)
        vectors = embedder.encode(list(texts), batch_size=64, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32)

    def predict(self, vectors: np.ndarray) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
        """Per-row stance and target probabilities as ``{class: probability}`` dicts."""
        heads = []
        for clf in (self.stance, self.target):
            proba = clf.predict_proba(vectors) if len(vectors) else np.zeros((0, 0))
            heads.append([dict(zip(clf.classes_, map(float, row), strict=True)) for row in proba])
        return heads[0], heads[1]


def save_stance_model(model: StanceModel, path: Path) -> None:
    """Write ``path`` (.npz weights) and its ``.json`` sidecar."""
    arrays = {
        f"{name}_{part}": getattr(getattr(model, name), f"{part}_")
        for name in HEADS
        for part in ("coef", "intercept")
    }
    np.savez(path, **arrays)
    meta = {
        "embedding_model": model.embedding_model,
        "classes": {name: getattr(model, name).classes_ for name in HEADS},
        **model.info,
    }
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def read_stance_model(path: Path) -> StanceModel:
    """Read weights written by :func:`save_stance_model`; raise ConfigError when unusable."""
    meta_path = path.with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        with np.load(path, allow_pickle=False) as data:
            heads = {
                name: SoftmaxClassifier.from_arrays(
                    data[f"{name}_coef"], data[f"{name}_intercept"], list(meta["classes"][name])
                )
                for name in HEADS
            }
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"cannot load stance classifier {path}: {exc}; run scripts/train_stance.py"
        ) from exc
    info = {k: v for k, v in meta.items() if k not in ("embedding_model", "classes")}
    return StanceModel(heads["stance"], heads["target"], meta["embedding_model"], info=info)


def load_stance_model(settings: Settings, cache_folder: Path | None = None) -> StanceModel:
    """Load the classifier named by ``settings.stance`` with its detection settings.

    With ``cache_folder`` (the output store's embedding cache) sentences are embedded through
    the shared cached embedder of ``settings.nlp`` (same vectors as the classifier was trained
    on; the arguments stage then finds them cached); without it, by sentence-transformers.
    """
    model = read_stance_model(settings.resolve(settings.stance.classifier))
    model.min_confidence = settings.stance.min_confidence
    model.method = settings.stance.method
    if model.method == "learned":
        from pipeline.stance.learned import StanceDecider

        model.decider = StanceDecider.load(settings.resolve(settings.stance.decider))
    if cache_folder is not None:
        from pipeline.embeddings import embedder_for

        model.embed_fn = embedder_for(settings.nlp, cache_folder).embed
    if model.embedding_model != settings.nlp.embedding_model:
        log.warning(
            "stance classifier was trained on %s embeddings but nlp.embedding_model is %s",
            model.embedding_model,
            settings.nlp.embedding_model,
        )
    return model
