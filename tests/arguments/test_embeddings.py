"""The embedding cache: hits, misses, namespaces, unreadable shards."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import NlpConfig, load_settings
from pipeline.embeddings import (
    EmbeddingCache,
    embed_in_batches,
    embedder_for,
    normalise,
    onnx_fn,
    sentence_transformer_fn,
    text_key,
)


class Counting:
    """A fake embedding function recording what it was asked to embed."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.extend(texts)
        return np.asarray([[len(t), 1.0, 0.0] for t in texts])


def test_second_run_embeds_nothing(tmp_path: Path) -> None:
    first = Counting()
    a = EmbeddingCache(tmp_path, first, "m").embed(["one", "two", "one"])
    assert first.seen == sorted(["one", "two"], key=text_key)
    second = Counting()
    cache = EmbeddingCache(tmp_path, second, "m")
    b = cache.embed(["two", "one"])
    assert second.seen == [] and cache.n_embedded_ == 0
    assert np.array_equal(b, a[[1, 0]])


def test_only_new_text_is_embedded(tmp_path: Path) -> None:
    EmbeddingCache(tmp_path, Counting(), "m").embed(["old"])
    fn = Counting()
    EmbeddingCache(tmp_path, fn, "m").embed(["old", "new"])
    assert fn.seen == ["new"]
    assert len(list(tmp_path.glob("m-*.npz"))) == 2


def test_batches_respect_batch_size(tmp_path: Path) -> None:
    sizes: list[int] = []

    def fn(texts: Sequence[str]) -> np.ndarray:
        sizes.append(len(texts))
        return np.ones((len(texts), 2))

    EmbeddingCache(tmp_path, fn, "m", batch_size=2).embed(["a", "b", "c", "d", "e"])
    assert sizes == [2, 2, 1]


def test_texts_of_similar_length_share_a_batch_and_rows_keep_their_order() -> None:
    batches: list[list[str]] = []

    def fn(texts: Sequence[str]) -> np.ndarray:
        batches.append(list(texts))
        return np.asarray([[len(t), 0.0] for t in texts])

    texts = ["a short one", "the longest text of them all", "mid length", "the second longest"]
    vectors = embed_in_batches(fn, texts, 2)
    assert batches == [["the longest text of them all", "the second longest"],
                       ["a short one", "mid length"]]
    assert vectors.tolist() == [[1.0, 0.0]] * 4 and vectors.dtype == np.float32
    def by_length(batch: Sequence[str]) -> np.ndarray:
        return np.asarray([[1.0, len(t)] for t in batch])

    # each row is its own text's vector, in the order the texts were given
    assert np.array_equal(embed_in_batches(by_length, texts, 2), normalise(by_length(texts)))
    assert embed_in_batches(fn, [], 2).shape == (0, 0)


def test_vectors_are_normalised(tmp_path: Path) -> None:
    vectors = EmbeddingCache(tmp_path, Counting(), "m").embed(["abc"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert normalise(np.zeros((1, 2))).tolist() == [[0.0, 0.0]]


def test_normalising_in_place_gives_the_same_values_without_a_copy() -> None:
    vectors = np.asarray([[3.0, 4.0], [0.0, 0.0], [1.0, 1e-3]], dtype=np.float32)
    copied = normalise(vectors)
    assert vectors[0].tolist() == [3.0, 4.0]  # untouched without in_place
    scaled = normalise(vectors, in_place=True)
    assert scaled is vectors and np.array_equal(scaled, copied)


def test_namespaces_do_not_share_vectors(tmp_path: Path) -> None:
    EmbeddingCache(tmp_path, Counting(), "model/a").embed(["x"])
    fn = Counting()
    EmbeddingCache(tmp_path, fn, "model-b").embed(["x"])
    assert fn.seen == ["x"]


def test_a_namespace_extending_another_is_neither_read_nor_merged_by_it(tmp_path: Path) -> None:
    """The ArgKP matcher's cache ("model-argkp-...") shares the folder with the base model's
    ("model"): the base must not serve the matcher's vectors or merge its shards away."""
    class Other(Counting):
        def __call__(self, texts: Sequence[str]) -> np.ndarray:
            return -super().__call__(texts)

    EmbeddingCache(tmp_path, Other(), "model-argkp-1").embed(["x", "y"])
    base_fn = Counting()
    base = EmbeddingCache(tmp_path, base_fn, "model")
    base.embed(["x"])
    base.embed(["z"])
    base.compact(max_shards=1)
    assert base_fn.seen == ["x", "z"]
    matcher_fn = Other()
    assert EmbeddingCache(tmp_path, matcher_fn, "model-argkp-1").embed(["x", "y"])[0, 0] < 0
    assert matcher_fn.seen == []


def test_unreadable_shard_is_ignored(tmp_path: Path) -> None:
    (tmp_path / f"m-{'0' * 16}-1.npz").write_bytes(b"not a zip")
    fn = Counting()
    assert EmbeddingCache(tmp_path, fn, "m").embed(["x"]).shape == (1, 3)
    assert fn.seen == ["x"]


def test_no_texts_no_work(tmp_path: Path) -> None:
    fn = Counting()
    assert EmbeddingCache(tmp_path, fn, "m").embed([]).shape == (0, 0)
    assert fn.seen == [] and not list(tmp_path.iterdir())


def _nlp(backend: str) -> NlpConfig:
    return load_settings().nlp.model_copy(update={"embedding_backend": backend})


def test_backend_choice_and_cache_namespaces(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[str, bool]] = []

    def fake_onnx(model: str, batch: int, folder: Path, quantise: bool = False) -> Counting:
        made.append(("onnx", quantise))
        return Counting()

    def fake_torch(model: str, batch: int) -> Counting:
        made.append(("torch", False))
        return Counting()

    monkeypatch.setattr("pipeline.embeddings.onnx_fn", fake_onnx)
    monkeypatch.setattr("pipeline.embeddings.sentence_transformer_fn", fake_torch)
    names = [embedder_for(_nlp(b), tmp_path).namespace for b in ("torch", "onnx", "onnx-int8")]
    assert names == ["all-MiniLM-L6-v2", "all-MiniLM-L6-v2", "all-MiniLM-L6-v2-int8"]
    assert made == [("torch", False), ("onnx", False), ("onnx", True)]


def test_onnx_falls_back_to_torch_without_the_onnx_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pipeline.embeddings.find_spec", lambda name: None)
    monkeypatch.setattr("pipeline.embeddings.sentence_transformer_fn", lambda m, b: Counting())
    cache = embedder_for(_nlp("onnx"), tmp_path)
    assert isinstance(cache.embed_fn, Counting)


@pytest.mark.slow
def test_onnx_export_gives_the_torch_vectors(tmp_path: Path) -> None:
    texts = ["Councils should be equal partners on the board.",
             "Short one.",
             "A much longer sentence about pooled budgets, shared records and the place level "
             "partnerships that many respondents described in their answers."]
    torch_vectors = sentence_transformer_fn("all-MiniLM-L6-v2", 2)(texts)
    onnx_vectors = onnx_fn("all-MiniLM-L6-v2", 2, tmp_path)(texts)
    assert (tmp_path / "all-MiniLM-L6-v2.onnx").exists()
    assert np.abs(onnx_vectors - torch_vectors).max() < 1e-4


def test_many_shards_are_merged_without_losing_vectors(tmp_path: Path) -> None:
    for i in range(5):
        EmbeddingCache(tmp_path, Counting(), "m").embed([f"text {i}"])
    assert len(list(tmp_path.glob("m-*.npz"))) == 5
    cache = EmbeddingCache(tmp_path, Counting(), "m")
    cache.compact(max_shards=3)
    assert len(list(tmp_path.glob("m-*.npz"))) == 1
    fn = Counting()
    vectors = EmbeddingCache(tmp_path, fn, "m").embed([f"text {i}" for i in range(5)])
    assert fn.seen == [] and vectors.shape == (5, 3)


def test_reads_only_the_vectors_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(4):
        EmbeddingCache(tmp_path, Counting(), "m").embed([f"text {i}", f"other {i}"])
    loaded: list[str] = []
    real_load = np.load

    def spying_load(path: Path, **kwargs: object) -> object:
        loaded.append(Path(path).name)
        return real_load(path, **kwargs)

    monkeypatch.setattr(np, "load", spying_load)
    fn = Counting()
    cache = EmbeddingCache(tmp_path, fn, "m")
    vectors = cache.embed(["text 2", "new"])
    assert fn.seen == ["new"]
    assert np.allclose(vectors[0], normalise(np.asarray([[6.0, 1.0, 0.0]]))[0])
    # the keys of the 4 shards, then the vectors of the one holding "text 2"
    assert len(loaded) == 5 and len(set(loaded)) == 4
    assert not hasattr(cache, "_known")


def test_vectors_merged_away_by_another_instance_are_found(tmp_path: Path) -> None:
    for i in range(3):
        EmbeddingCache(tmp_path, Counting(), "m").embed([f"text {i}"])
    reader = EmbeddingCache(tmp_path, Counting(), "m")
    reader.embed(["text 0"])  # indexes the three shards
    EmbeddingCache(tmp_path, Counting(), "m").compact(max_shards=1)
    fn = Counting()
    reader.embed_fn = fn
    assert reader.embed(["text 1", "text 2"]).shape == (2, 3)
    assert fn.seen == []
