"""Incremental updates of the arguments: new documents join the themes of the last full build."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipeline.arguments import build_argument_tables, build_arguments, update_argument_tables
from pipeline.arguments.duplicates import band_hashes, minhash_signatures
from pipeline.arguments.themes import ThemeIndex, load_index, needs_rebuild, save_index
from pipeline.arguments.units import ArgumentClassifier
from pipeline.config import ArgumentsConfig, load_settings
from pipeline.io import OutputStore
from pipeline.schema import empty_table, to_table
from tests.arguments.fakes import FakeEmbedder
from tests.arguments.test_build import RULES, _corpus, _themed

NEW_DOC = [
    "We believe the council funding formula is unfair to rural areas.",  # joins funding
    "Patients data should be shared between teams safely.",  # a campaign sentence, copied
    "We think the weather forecast mentions rain for the whole week.",  # far from all themes
]


def _new_doc(doc_id: str = "d4") -> tuple[pa.Table, pa.Table]:
    document: dict[str, object] = {
        "doc_id": doc_id, "source_path": f"responses/{doc_id}.txt", "format": "txt",
        "title": None, "author_org": "Eastbrook Council", "author_org_id": None,
        "author_confidence": None, "doc_kind": "response", "date": None, "n_pages": 1,
        "n_sentences": len(NEW_DOC), "n_chars": 0, "size_bytes": 0, "sha256": doc_id,
        "metadata_source": "test", "ingested_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            "copy_of": None,
    }
    sentences: list[dict[str, object]] = [
        {"sentence_id": f"{doc_id}-{i:05d}", "doc_id": doc_id, "idx": i, "page": 1,
         "section": None, "start": 0, "end": len(t), "text": t}
        for i, t in enumerate(NEW_DOC)]
    return to_table("documents", [document]), to_table("sentences", sentences)


def _full(classifier: ArgumentClassifier, config: ArgumentsConfig) -> Any:
    documents, sentences, stances = _corpus()
    return build_argument_tables(sentences, stances, documents, FakeEmbedder(), classifier,
                                 _themed(config), RULES)


def _update(full: Any, classifier: ArgumentClassifier, config: ArgumentsConfig,
            removed: set[str], add: bool) -> Any:
    documents, sentences = _new_doc() if add else (empty_table("documents"),
                                                   empty_table("sentences"))
    return update_argument_tables(full.arguments, full.themes, sentences,
                                  empty_table("stances"), documents, removed, FakeEmbedder(),
                                  classifier, _themed(config), RULES)


def _rows(result: Any) -> dict[str, dict[str, Any]]:
    return {r["sentence_id"]: r for r in result.arguments.to_pylist()}


def test_an_update_that_changes_nothing_reproduces_the_full_build(
        classifier: ArgumentClassifier, config: ArgumentsConfig) -> None:
    full = _full(classifier, config)
    same = _update(full, classifier, config, removed=set(), add=False)
    for name in ("arguments", "clusters", "comparison"):
        assert getattr(same, name).equals(getattr(full, name)), name
    assert same.themes.argument_ids == full.themes.argument_ids
    assert same.themes.changed_documents == 0


def test_new_arguments_join_the_nearest_theme_keeping_ids_and_labels(
        classifier: ArgumentClassifier, config: ArgumentsConfig) -> None:
    full = _full(classifier, config)
    updated = _update(full, classifier, config, removed=set(), add=True)
    before, after = _rows(full), _rows(updated)
    funding = before["d1-00001"]["cluster_id"]
    assert after["d4-00000"]["cluster_id"] == funding
    assert after["d4-00001"]["cluster_id"] == before["d2-00002"]["cluster_id"]
    assert after["d4-00002"]["cluster_id"] is None  # an outlier, not forced into a theme
    assert {sid: r["cluster_id"] for sid, r in after.items() if not sid.startswith("d4")} == {
        sid: r["cluster_id"] for sid, r in before.items()}
    old = {c["cluster_id"]: c for c in full.clusters.to_pylist()}
    new = {c["cluster_id"]: c for c in updated.clusters.to_pylist()}
    assert set(new) == set(old)
    assert (new[funding]["label"], new[funding]["keywords"]) == (old[funding]["label"],
                                                                 old[funding]["keywords"])
    assert (new[funding]["size"], new[funding]["n_documents"]) == (2, 2)
    assert updated.themes.changed_documents == 1
    assert updated.vectors is None


def test_a_copied_sentence_joins_the_campaign_duplicate_group(
        classifier: ArgumentClassifier, config: ArgumentsConfig) -> None:
    full = _full(classifier, config)
    after = _rows(_update(full, classifier, config, removed=set(), add=True))
    assert after["d4-00001"]["duplicate_group"] is not None
    assert after["d4-00001"]["duplicate_group"] != after["d3-00002"]["duplicate_group"]
    assert after["d4-00000"]["duplicate_group"] is None
    # d2 and d3 are still whole-document copies of each other
    assert after["d2-00002"]["duplicate_group"] == after["d3-00002"]["duplicate_group"]


def test_removed_documents_leave_their_themes_and_duplicate_groups(
        classifier: ArgumentClassifier, config: ArgumentsConfig) -> None:
    full = _full(classifier, config)
    updated = _update(full, classifier, config, removed={"d3"}, add=False)
    after = _rows(updated)
    assert not any(sid.startswith("d3") for sid in after)
    assert all(after[f"d2-0000{i}"]["duplicate_group"] is None for i in range(3))
    against = after["d1-00002"]["cluster_id"]
    sizes = {c["cluster_id"]: c["size"] for c in updated.clusters.to_pylist()}
    assert sizes[against] == 2
    assert updated.themes.doc_ids == ["d1", "d2"]
    assert updated.themes.changed_documents == 1


def _index(**changes: Any) -> ThemeIndex:
    base: dict[str, Any] = {
        "mean": np.zeros(2, dtype=np.float32), "centroids": np.eye(2, dtype=np.float32),
        "cluster_ids": ["c-a", "c-b"], "labels": ["a", "b"], "keywords": [["a"], ["b", "bb"]],
        "argument_ids": ["a-1", "a-2"], "similarity": np.asarray([0.9, np.nan], np.float32),
        "band_keys": np.asarray([[1, 2], [3, 4]], dtype=np.uint32),
        "argument_groups": ["dup-x", ""], "doc_ids": ["d1"],
        "doc_signatures": np.ones((1, 4), dtype=np.uint64), "doc_usable": np.asarray([True]),
        "doc_tokens": ["10:20|30:40|"], "fingerprint": "fp", "built_documents": 400,
        "changed_documents": 15,
    }
    return ThemeIndex(**{**base, **changes})


@pytest.mark.parametrize(("index", "fingerprint", "changed", "reason"), [
    (None, "fp", 1, "no theme index"),
    (_index(), None, 1, "no theme index"),
    (_index(), "other", 1, "settings or code changed"),
    (_index(built_documents=199), "fp", 1, "fewer than 200 documents"),
    (_index(), "fp", 6, "more than 5% of the documents changed"),
    (_index(), "fp", 5, None),
])
def test_when_the_themes_are_relearnt(index: ThemeIndex | None, fingerprint: str | None,
                                      changed: int, reason: str | None,
                                      config: ArgumentsConfig) -> None:
    assert needs_rebuild(index, fingerprint, changed, config) == reason


def test_the_index_round_trips_and_a_broken_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "themes.npz"
    index = _index()
    save_index(path, index)
    loaded = load_index(path)
    assert loaded is not None
    for name, value in vars(index).items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(loaded, name), value)
            assert getattr(loaded, name).dtype == value.dtype, name
        else:
            assert getattr(loaded, name) == value, name
    path.write_bytes(b"not an npz file")
    assert load_index(path) is None
    assert load_index(tmp_path / "absent.npz") is None


def test_band_hashes_are_equal_exactly_where_bands_are() -> None:
    texts = ["the council should fund social care properly this year",
             "the council should fund social care properly this year",
             "an entirely different sentence about hospital waiting lists"]
    keys = band_hashes(minhash_signatures(texts))
    assert keys.shape == (3, 16) and keys.dtype == np.uint32
    assert (keys[0] == keys[1]).all()
    assert not (keys[0] == keys[2]).any()


def _write_store(store: OutputStore, documents: pa.Table, sentences: pa.Table,
                 stances: pa.Table) -> None:
    for doc_id in documents.column("doc_id").to_pylist():
        store.write_part("documents", doc_id,
                         documents.filter(pc.equal(documents["doc_id"], doc_id)))
        store.write_part("sentences", doc_id,
                         sentences.filter(pc.equal(sentences["doc_id"], doc_id)))
    if stances.num_rows:
        store.write_part("stances", "d1", stances)


def test_entry_point_updates_then_relearns_when_settings_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, classifier: ArgumentClassifier,
        caplog: pytest.LogCaptureFixture) -> None:
    store = OutputStore(tmp_path)
    _write_store(store, *_corpus())
    monkeypatch.setattr("pipeline.embeddings.sentence_transformer_fn",
                        lambda model_name, batch_size: FakeEmbedder())
    monkeypatch.setattr("pipeline.arguments.build.load_classifier", lambda s: classifier)
    settings = load_settings()
    settings.nlp.embedding_backend = "torch"
    settings.arguments.update_from_documents = 0
    settings.arguments.rebuild_share = 0.5
    settings.arguments.arguments_per_theme = 2

    def run(fingerprint: str) -> Any:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="pipeline.arguments.build"):
            result = build_arguments(store, settings, fingerprint)
        for name in ("arguments", "clusters", "comparison"):
            store.write_table(name, getattr(result, name))
        return result, " ".join(r.getMessage() for r in caplog.records)

    first, log_first = run("fp1")
    assert "from scratch (no theme index)" in log_first
    _write_store(store, *_new_doc(), empty_table("stances"))
    second, log_second = run("fp1")
    assert "1 documents join the existing themes, 0 leave" in log_second
    assert _rows(second)["d4-00000"]["cluster_id"] == _rows(first)["d1-00001"]["cluster_id"]
    store.write_table("arguments", first.arguments)  # out of step with the saved index
    _third, log_third = run("fp1")
    assert "not the one the theme index was built with" in log_third
    _fourth, log_fourth = run("fp2")
    assert "from scratch (settings or code changed)" in log_fourth
