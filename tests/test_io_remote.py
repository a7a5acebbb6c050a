"""Outputs on fsspec URLs: staging copy, publish, pull, errors."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from pipeline import io
from pipeline.errors import OutputTargetError, QueryError
from pipeline.io import (
    OutputStore,
    is_remote,
    local_path,
    materialise,
    publish,
    pull,
    staging_dir,
)
from pipeline.query import run_query
from pipeline.schema import to_table

PUBLISHED = {
    "pages/d1.parquet",
    "pages/d2.parquet",
    "pages/d3.parquet",
    "organisations.parquet",
    "report.md",
    "_state/listing.json",
    "_state/manifest.json",
}


def _pages(doc_id: str, n: int) -> pa.Table:
    return to_table("pages", [{"doc_id": doc_id, "page": i + 1, "text": f"{doc_id} page {i}",
                               "n_chars": 9} for i in range(n)])


def _orgs(*names: str) -> pa.Table:
    return to_table("organisations", [
        {"canonical_id": f"org-{n.lower()}", "name": n, "type": "council", "aliases": [n],
         "n_documents": 1, "n_mentions": 2} for n in names])


def _build(root: Path) -> OutputStore:
    """A small output folder with parts, a corpus table, a report, state, a cache and a lock."""
    store = OutputStore(root)
    for doc, n in (("d1", 2), ("d2", 1), ("d3", 3)):
        store.write_part("pages", doc, _pages(doc, n))
    store.write_table("organisations", _orgs("Exampleton", "Northvale"))
    (root / "report.md").write_text("# Report\n", encoding="utf-8")
    store.write_state("manifest", {"files": {"a.txt": "d1", "b.txt": "d2", "c.txt": "d3"}})
    (store.cache_dir("embeddings") / "vectors.npy").write_bytes(b"cached")
    (root / "pages" / ".d9.parquet.tmp-1").write_bytes(b"half-written")
    with store.lock():
        pass
    return store


@pytest.fixture
def url() -> Iterator[str]:
    """A fresh memory:// output URL, removed afterwards."""
    base = f"memory://stancemap-test/{uuid.uuid4().hex}"
    yield f"{base}/run"
    fs = fsspec.filesystem("memory")
    if fs.exists(base):
        fs.rm(base, recursive=True)


def _remote_files(url: str) -> dict[str, bytes]:
    fs, root = fsspec.core.url_to_fs(url)
    return {p[len(root) + 1:]: fs.cat_file(p) for p in fs.find(root)}


class Spy:
    """Records the memory filesystem's writes: ('put', tmp), ('mv', final), ('rm', path)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
        self.calls: list[tuple[str, str]] = []
        self.prefix = fsspec.core.url_to_fs(url)[1] + "/"
        for name in ("put_file", "mv", "rm_file"):
            original = getattr(MemoryFileSystem, name)
            monkeypatch.setattr(MemoryFileSystem, name, self._wrap(name, original))

    def _wrap(self, name: str, original: Any) -> Any:
        def call(fs: MemoryFileSystem, *args: Any, **kwargs: Any) -> Any:
            target = str(args[1] if name in ("put_file", "mv") else args[0])
            self.calls.append((name, target.removeprefix(self.prefix)))
            return original(fs, *args, **kwargs)
        return call

    def moved(self) -> list[str]:
        return [target for kind, target in self.calls if kind == "mv"]

    def removed(self) -> list[str]:
        """Deleted files, leaving out the temporary names ``mv`` removes after its copy."""
        return [target for kind, target in self.calls
                if kind == "rm_file" and not Path(target).name.startswith(".")]


def test_local_and_remote_outs_are_told_apart(tmp_path: Path) -> None:
    assert is_remote("memory://bucket/run") and is_remote("s3://bucket/run")
    assert not is_remote("outputs") and not is_remote(f"file://{tmp_path}")
    assert local_path(f"file://{tmp_path}/out") == tmp_path / "out"
    assert local_path("outputs") == Path("outputs")
    assert materialise(f"file://{tmp_path}/out", tmp_path / "staging") == tmp_path / "out"
    with pytest.raises(OutputTargetError, match="memory://b/run is not a local path"):
        local_path("memory://b/run")


def test_staging_folder_is_stable_per_url(tmp_path: Path) -> None:
    first = staging_dir("memory://bucket/run", tmp_path)
    assert first.parent == tmp_path and len(first.name) == 16
    assert staging_dir("memory://bucket/run/", tmp_path) == first
    assert staging_dir("memory://bucket/other", tmp_path) != first


def test_publish_uploads_everything_but_cache_lock_and_temporary_files(
        tmp_path: Path, url: str) -> None:
    store = _build(tmp_path / "staging")
    assert publish(store, url) == 6
    remote = _remote_files(url)
    assert set(remote) == PUBLISHED
    for rel in PUBLISHED - {"_state/listing.json"}:
        assert remote[rel] == (store.root / rel).read_bytes(), rel
    listing = json.loads(remote["_state/listing.json"])
    assert sorted(listing) == sorted(PUBLISHED - {"_state/listing.json", "_state/manifest.json"})
    assert listing["report.md"] == {"size": 9,
                                    "sha256": hashlib.sha256(b"# Report\n").hexdigest()}


def test_republish_sends_exactly_what_changed_and_manifest_last(
        tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _build(tmp_path / "staging")
    publish(store, url)
    store.write_part("pages", "d2", _pages("d2", 4))
    store.delete_part("pages", "d3")
    store.write_state("manifest", {"files": {"a.txt": "d1", "b.txt": "d2"}})
    (store.cache_dir("embeddings") / "more.npy").write_bytes(b"new cache")
    spy = Spy(monkeypatch, url)

    assert publish(store, url) == 3
    assert spy.moved() == ["pages/d2.parquet", "_state/listing.json", "_state/manifest.json"]
    assert spy.removed() == ["pages/d3.parquet"]
    commit = spy.calls.index(("mv", "_state/manifest.json"))
    assert ("put_file", "_state/.manifest.json.tmp-" + str(os.getpid())) in spy.calls[commit - 1:]
    assert spy.calls.index(("rm_file", "pages/d3.parquet")) < commit
    assert all(kind == "rm_file" for kind, _ in spy.calls[commit + 1:])  # mv's own clean-up
    remote = _remote_files(url)
    assert set(remote) == PUBLISHED - {"pages/d3.parquet"}
    assert remote["pages/d2.parquet"] == (store.root / "pages/d2.parquet").read_bytes()
    assert remote["_state/manifest.json"] == (store.root / "_state/manifest.json").read_bytes()

    spy.calls.clear()
    assert publish(store, url) == 0
    assert spy.calls == []


def test_first_publish_also_puts_the_manifest_last(
        tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _build(tmp_path / "staging")
    spy = Spy(monkeypatch, url)
    publish(store, url)
    assert spy.moved()[-2:] == ["_state/listing.json", "_state/manifest.json"]
    assert sorted(spy.moved()[:-2]) == sorted(
        PUBLISHED - {"_state/listing.json", "_state/manifest.json"})
    assert all(Path(tmp).name.startswith(".") for kind, tmp in spy.calls if kind == "put_file")


def test_pull_into_an_empty_staging_folder_reproduces_the_tables(
        tmp_path: Path, url: str) -> None:
    source = _build(tmp_path / "a")
    publish(source, url)
    copy = OutputStore(tmp_path / "b")
    assert pull(url, copy) == 6
    assert copy.read_table("pages").equals(source.read_table("pages"))
    assert copy.read_table("organisations").equals(source.read_table("organisations"))
    assert copy.read_state("manifest") == source.read_state("manifest")
    assert not (copy.root / "_cache").exists()
    assert not (copy.root / "_state" / "listing.json").exists()
    assert pull(url, copy) == 0
    assert publish(copy, url) == 0


def test_pull_brings_in_another_machines_publish(tmp_path: Path, url: str) -> None:
    first = _build(tmp_path / "a")
    publish(first, url)
    second = OutputStore(tmp_path / "b")
    pull(url, second)
    second.write_part("pages", "d1", _pages("d1", 5))
    second.delete_part("pages", "d2")
    second.write_state("manifest", {"files": {"a.txt": "d1", "c.txt": "d3"}})
    assert publish(second, url) == 3

    assert pull(url, first) == 3
    assert first.part_keys("pages") == {"d1", "d3"}
    assert first.read_table("pages").equals(second.read_table("pages"))
    assert first.read_state("manifest") == second.read_state("manifest")
    assert (first.root / "_cache" / "embeddings" / "vectors.npy").read_bytes() == b"cached"
    assert publish(first, url) == 0


def test_pull_of_an_empty_url_does_nothing(tmp_path: Path, url: str) -> None:
    store = OutputStore(tmp_path / "staging")
    assert pull(url, store) == 0
    assert not store.root.exists()


def test_a_wiped_remote_is_republished_in_full(tmp_path: Path, url: str) -> None:
    store = _build(tmp_path / "staging")
    publish(store, url)
    fs, root = fsspec.core.url_to_fs(url)
    fs.rm(root, recursive=True)
    assert publish(store, url) == 6
    assert set(_remote_files(url)) == PUBLISHED


def test_publish_to_a_file_url(tmp_path: Path) -> None:
    store = _build(tmp_path / "staging")
    target = tmp_path / "mounted" / "run"
    assert publish(store, f"file://{target}") == 6
    found = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert found == PUBLISHED
    assert (target / "pages" / "d1.parquet").read_bytes() == (
        store.root / "pages" / "d1.parquet").read_bytes()
    assert OutputStore(target).read_table("pages").equals(store.read_table("pages"))


def test_query_on_a_url_reads_a_pulled_local_copy(tmp_path: Path, url: str) -> None:
    publish(_build(tmp_path / "a"), url)
    folder = materialise(url, tmp_path / "staging")
    assert folder == staging_dir(url, tmp_path / "staging")
    result = run_query("SELECT doc_id, count(*) AS n FROM pages GROUP BY 1 ORDER BY 1", folder)
    assert result.to_pylist() == [{"doc_id": "d1", "n": 2}, {"doc_id": "d2", "n": 1},
                                  {"doc_id": "d3", "n": 3}]


def test_query_on_a_url_with_nothing_published(tmp_path: Path, url: str) -> None:
    with pytest.raises(OutputTargetError, match=f"no outputs published at {url}"):
        materialise(url, tmp_path / "staging")


def test_materialise_reads_the_copy_a_local_run_holds(tmp_path: Path, url: str) -> None:
    publish(_build(tmp_path / "a"), url)
    staging = OutputStore(staging_dir(url, tmp_path / "staging"))
    _build(staging.root)
    staging.write_part("pages", "d4", _pages("d4", 1))
    with staging.lock():
        assert materialise(url, tmp_path / "staging") == staging.root
    assert staging.part_keys("pages") == {"d1", "d2", "d3", "d4"}


def test_unknown_protocol_names_the_url(tmp_path: Path) -> None:
    store = _build(tmp_path / "staging")
    with pytest.raises(OutputTargetError, match=r"nosuchfs://bucket/run.*Protocol not known"):
        publish(store, "nosuchfs://bucket/run")
    with pytest.raises(OutputTargetError, match="nosuchfs://bucket/run"):
        pull("nosuchfs://bucket/run", store)
    with pytest.raises(OutputTargetError, match="nosuchfs://bucket/run"):
        materialise("nosuchfs://bucket/run", tmp_path / "base")


def test_failed_upload_is_reported_and_retried_next_time(
        tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _build(tmp_path / "staging")

    def denied(fs: MemoryFileSystem, lpath: str, rpath: str, **kwargs: Any) -> None:
        raise PermissionError("access denied")

    with monkeypatch.context() as patch:
        patch.setattr(MemoryFileSystem, "put_file", denied)
        with pytest.raises(OutputTargetError,
                           match=f"{url}: cannot upload .*access denied"):
            publish(store, url)
    assert "_state/manifest.json" not in _remote_files(url)
    assert publish(store, url) == 6
    assert set(_remote_files(url)) == PUBLISHED


def test_published_index_is_local_only(tmp_path: Path, url: str) -> None:
    store = _build(tmp_path / "staging")
    publish(store, url)
    index = store.read_state(io.PUBLISHED_STATE)
    assert list(index) == [url]
    assert "_state/published.json" not in _remote_files(url)


def test_pull_without_a_listing_downloads_every_published_file(
        tmp_path: Path, url: str) -> None:
    """An output folder copied to the URL by another tool (no listing) can still be pulled."""
    source = _build(tmp_path / "a")
    fs, root = fsspec.core.url_to_fs(url)
    for rel in PUBLISHED - {"_state/listing.json"}:
        fs.pipe_file(f"{root}/{rel}", (source.root / rel).read_bytes())
    fs.pipe_file(f"{root}/_cache/embeddings/vectors.npy", b"remote cache")
    copy = OutputStore(tmp_path / "b")
    assert pull(url, copy) == 6
    assert copy.read_table("pages").equals(source.read_table("pages"))
    assert not (copy.root / "_cache").exists()


def test_first_publish_removes_remote_files_the_copy_does_not_have(
        tmp_path: Path, url: str) -> None:
    fs, root = fsspec.core.url_to_fs(url)
    fs.pipe_file(f"{root}/pages/old.parquet", b"stale")
    store = _build(tmp_path / "staging")
    assert publish(store, url) == 7
    assert set(_remote_files(url)) == PUBLISHED


def test_query_refuses_a_url_it_would_otherwise_read_as_a_missing_folder() -> None:
    with pytest.raises(QueryError, match="memory://bucket/run is a URL"):
        run_query("SELECT 1", "memory://bucket/run")  # type: ignore[arg-type]
