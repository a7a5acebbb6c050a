"""The manifest logic without Prefect: change detection, commits, deletions, garbage collection."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows import incremental as inc
from pipeline.config import load_settings
from pipeline.io import OutputStore
from pipeline.schema import to_table


@dataclass(frozen=True)
class Source:
    """The two attributes of ``pipeline.ingest.SourceFile`` the flows use."""

    path: Path
    rel_path: str


def _pages(doc_id: str) -> object:
    return to_table("pages", [{"doc_id": doc_id, "page": None, "text": "x", "n_chars": 1}])


def _error(rel: str) -> object:
    return to_table("errors", [{"source_path": rel, "doc_id": None, "stage": "ingest",
                                "kind": "empty", "message": "empty file",
                                "occurred_at": datetime.now(UTC)}])


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("first text", encoding="utf-8")
    (folder / "b.txt").write_text("second text", encoding="utf-8")
    return folder


def _sources(corpus: Path) -> list[Source]:
    return [Source(p, p.name) for p in sorted(corpus.iterdir())]


def _write_ingested(store: OutputStore, doc_id: str, rel: str) -> None:
    """The parts ingestion writes for a document (a run re-ingests a file missing one)."""
    store.write_part("pages", doc_id, _pages(doc_id))
    store.write_part("sentences", doc_id, to_table("sentences", [
        {"sentence_id": f"{doc_id}-00000", "doc_id": doc_id, "idx": 0, "page": None,
         "section": None, "start": 0, "end": 1, "text": "x"}]))
    store.write_part("documents", doc_id, to_table("documents", [
        {"doc_id": doc_id, "source_path": rel, "format": "txt", "title": None,
         "author_org": None, "author_org_id": None, "author_confidence": None,
         "doc_kind": "other", "date": None, "n_pages": None, "n_sentences": 1, "n_chars": 1,
         "size_bytes": 1, "sha256": doc_id, "metadata_source": "inferred",
         "ingested_at": datetime.now(UTC), "copy_of": None}]))


def _ingest_all(store: OutputStore, manifest: inc.Manifest, corpus: Path) -> inc.Plan:
    plan = inc.plan_ingest(_sources(corpus), manifest, "fp1")
    for source in plan.todo:
        sha = plan.shas[source.rel_path]
        _write_ingested(store, sha[:16], source.rel_path)
        inc.commit_ingest(store, manifest, source, inc.IngestOutcome("", sha[:16]), sha, "fp1")
    return plan


def test_unchanged_files_are_skipped_without_hashing(tmp_path: Path, corpus: Path) -> None:
    store = OutputStore(tmp_path / "out")
    manifest = inc.Manifest.load(store)
    assert len(_ingest_all(store, manifest, corpus).todo) == 2
    again = inc.plan_ingest(_sources(corpus), inc.Manifest.load(store), "fp1")
    assert (again.todo, sorted(again.unchanged), again.shas) == ([], ["a.txt", "b.txt"], {})


def test_touched_but_identical_file_is_unchanged(tmp_path: Path, corpus: Path) -> None:
    store = OutputStore(tmp_path / "out")
    _ingest_all(store, inc.Manifest.load(store), corpus)
    os.utime(corpus / "a.txt", ns=(1, 1))
    plan = inc.plan_ingest(_sources(corpus), inc.Manifest.load(store), "fp1")
    assert plan.todo == [] and list(plan.shas) == ["a.txt"]


def test_changed_file_and_new_fingerprint_are_redone(tmp_path: Path, corpus: Path) -> None:
    store = OutputStore(tmp_path / "out")
    _ingest_all(store, inc.Manifest.load(store), corpus)
    (corpus / "a.txt").write_text("first text, edited", encoding="utf-8")
    plan = inc.plan_ingest(_sources(corpus), inc.Manifest.load(store), "fp1")
    assert [s.rel_path for s in plan.todo] == ["a.txt"]
    assert len(inc.plan_ingest(_sources(corpus), inc.Manifest.load(store), "fp2").todo) == 2


def test_changed_file_replaces_its_old_parts(tmp_path: Path, corpus: Path) -> None:
    store = OutputStore(tmp_path / "out")
    manifest = inc.Manifest.load(store)
    _ingest_all(store, manifest, corpus)
    old_id = manifest.files["a.txt"]["doc_id"]
    (corpus / "a.txt").write_text("first text, edited", encoding="utf-8")
    _ingest_all(store, manifest, corpus)
    new_id = manifest.files["a.txt"]["doc_id"]
    assert new_id != old_id
    assert store.part_keys("pages") == {new_id, manifest.files["b.txt"]["doc_id"]}


def test_deleted_file_leaves_no_parts_or_errors(tmp_path: Path, corpus: Path) -> None:
    store = OutputStore(tmp_path / "out")
    manifest = inc.Manifest.load(store)
    _ingest_all(store, manifest, corpus)
    store.write_part("errors", inc.error_key("b.txt", "stance"), _error("b.txt"))
    manifest.files["b.txt"]["errors"] = {"stance": inc.error_key("b.txt", "stance")}
    (corpus / "b.txt").unlink()
    plan = inc.plan_ingest(_sources(corpus), manifest, "fp1")
    assert plan.deleted == ["b.txt"]
    inc.forget_file(store, manifest, "b.txt")
    assert store.part_keys("pages") == {manifest.files["a.txt"]["doc_id"]}
    assert store.part_keys("errors") == set()
    assert list(inc.Manifest.load(store).files) == ["a.txt"]


def test_fixed_file_drops_its_error_part(tmp_path: Path, corpus: Path) -> None:
    store = OutputStore(tmp_path / "out")
    manifest = inc.Manifest.load(store)
    source = Source(corpus / "a.txt", "a.txt")
    store.write_part("errors", inc.error_key("a.txt", "ingest"), _error("a.txt"))
    inc.commit_ingest(store, manifest, source, inc.IngestOutcome("", None, "empty"), None,
                      "fp1")
    assert store.part_keys("errors") == {inc.error_key("a.txt", "ingest")}
    inc.commit_ingest(store, manifest, source, inc.IngestOutcome("", "d1"), None, "fp1")
    assert store.part_keys("errors") == set()


def test_shared_content_keeps_parts_while_one_file_remains(tmp_path: Path, corpus: Path) -> None:
    (corpus / "b.txt").write_text("first text", encoding="utf-8")
    store = OutputStore(tmp_path / "out")
    manifest = inc.Manifest.load(store)
    _ingest_all(store, manifest, corpus)
    inc.forget_file(store, manifest, "b.txt")
    assert store.part_keys("pages") == {manifest.files["a.txt"]["doc_id"]}


def test_garbage_collection_removes_unaccounted_parts(tmp_path: Path, corpus: Path) -> None:
    store = OutputStore(tmp_path / "out")
    manifest = inc.Manifest.load(store)
    _ingest_all(store, manifest, corpus)
    store.write_part("pages", "orphan0000000000", _pages("orphan0000000000"))
    store.write_part("errors", "orphanerror", _error("gone.txt"))
    assert inc.collect_garbage(store, manifest) == 2
    assert inc.collect_garbage(store, manifest) == 0
    assert len(store.part_keys("pages")) == 2


def test_manifest_of_another_version_is_ignored(tmp_path: Path) -> None:
    store = OutputStore(tmp_path / "out")
    store.write_state(inc.MANIFEST, {"version": 999, "files": {"x": {}}})
    assert inc.Manifest.load(store).files == {}


def test_fingerprints_change_only_downstream(tmp_path: Path) -> None:
    settings = load_settings()
    targets = tmp_path / "targets.yaml"
    targets.write_text("targets: []\n", encoding="utf-8")
    changed = settings.model_copy(
        update={"stance": settings.stance.model_copy(update={"targets": targets})})
    before, after = inc.stage_fingerprints(settings), inc.stage_fingerprints(changed)
    same = {k for k in before if before[k] == after[k]}
    assert same == {"ingest", "copies", "entities", "organisations"}


def test_garbage_collection_removes_temporary_files_of_killed_writes(tmp_path: Path) -> None:
    store = OutputStore(tmp_path / "out")
    store.write_part("pages", "d1", _pages("d1"))
    leftovers = [tmp_path / "out" / "pages" / ".d2.parquet.tmp-123",
                 tmp_path / "out" / "_state" / ".manifest.json.tmp-9"]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
    manifest = inc.Manifest(store, {"a.txt": {"doc_id": "d1", "stages": {}, "errors": {}}})
    assert inc.collect_garbage(store, manifest) == 2
    assert not any(p.exists() for p in leftovers)
    assert store.part_keys("pages") == {"d1"}


def test_internal_failure_is_retried_but_document_error_is_not(tmp_path: Path,
                                                               corpus: Path) -> None:
    store = OutputStore(tmp_path / "out")
    manifest = inc.Manifest.load(store)
    a, b = _sources(corpus)
    inc.commit_ingest(store, manifest, a, inc.IngestOutcome("", None, "internal"), None, "fp1")
    inc.commit_ingest(store, manifest, b, inc.IngestOutcome("", None, "corrupt"), None, "fp1")
    store.write_part("errors", inc.error_key("b.txt", "ingest"), _error("b.txt"))
    plan = inc.plan_ingest(_sources(corpus), manifest, "fp1")
    assert ([s.rel_path for s in plan.todo], plan.unchanged) == (["a.txt"], ["b.txt"])
