"""OutputStore: atomic writes, schema checks, parts, state and the lock."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pyarrow as pa
import pytest

from pipeline import io
from pipeline.errors import OutputLockedError, SchemaMismatchError
from pipeline.io import OutputStore, atomic_write_bytes, part_key
from pipeline.schema import to_table


def _pages(doc_id: str, n: int = 1) -> pa.Table:
    return to_table("pages", [{"doc_id": doc_id, "page": i + 1, "text": "t", "n_chars": 1}
                              for i in range(n)])


def test_atomic_write_leaves_no_partial_file_when_the_write_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "data.bin"
    atomic_write_bytes(target, b"old")

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"


def test_parquet_write_failure_keeps_the_previous_part(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = OutputStore(tmp_path)
    store.write_part("pages", "d1", _pages("d1", 2))

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("killed before rename")

    monkeypatch.setattr(io.os, "replace", broken_replace)
    with pytest.raises(OSError):
        store.write_part("pages", "d1", _pages("d1", 5))
    monkeypatch.undo()
    assert store.read_table("pages").num_rows == 2
    assert store.part_keys("pages") == {"d1"}


def test_writer_rejects_a_schema_mismatch(tmp_path: Path) -> None:
    store = OutputStore(tmp_path)
    wrong = pa.table({"doc_id": ["d1"], "page": [1]})
    with pytest.raises(SchemaMismatchError, match="pages"):
        store.write_part("pages", "d1", wrong)
    with pytest.raises(SchemaMismatchError, match="partitioned"):
        store.write_table("pages", _pages("d1"))
    with pytest.raises(SchemaMismatchError, match="not partitioned"):
        store.write_part("clusters", "k", _pages("d1"))
    assert not (tmp_path / "pages").exists()


def test_parts_round_trip_and_delete(tmp_path: Path) -> None:
    store = OutputStore(tmp_path)
    store.write_part("pages", "d1", _pages("d1", 2))
    store.write_part("pages", "d2", _pages("d2", 3))
    assert store.read_table("pages").num_rows == 5
    assert store.read_table("pages", {"d2", "missing"}).num_rows == 3
    store.delete_part("pages", "d1")
    store.delete_part("pages", "d1")
    assert store.part_keys("pages") == {"d2"}
    assert store.read_table("sentences").num_rows == 0


def test_state_round_trip_and_unreadable_state(tmp_path: Path) -> None:
    store = OutputStore(tmp_path)
    store.write_state("manifest", {"a": 1})
    assert store.read_state("manifest") == {"a": 1}
    (tmp_path / "_state" / "manifest.json").write_text("{not json", encoding="utf-8")
    assert store.read_state("manifest") == {}


def test_part_key_is_stable_and_file_name_safe() -> None:
    key = part_key("folder/a file with spaces & 'quotes'.pdf")
    assert key == part_key("folder/a file with spaces & 'quotes'.pdf")
    assert key.isalnum() and len(key) == 24


def _hold_lock(root: str, ready: multiprocessing.synchronize.Event,
               release: multiprocessing.synchronize.Event) -> None:
    with OutputStore(Path(root)).lock():
        ready.set()
        release.wait(30)


def test_lock_contention_raises_a_clear_error(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(tmp_path), ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        with pytest.raises(OutputLockedError, match="another stancemap run"), \
                OutputStore(tmp_path).lock(wait_seconds=0.3):
            pass
    finally:
        release.set()
        holder.join(30)
    with OutputStore(tmp_path).lock():
        pass


def test_a_damaged_or_mistyped_part_is_one_error_naming_the_file(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    store = OutputStore(tmp_path)
    store.write_part("pages", "d1", _pages("d1"))
    store.write_part("pages", "d2", _pages("d2"))
    part = tmp_path / "pages" / "d2.parquet"
    part.write_bytes(part.read_bytes()[:40])  # cut short, as by a full disk
    with pytest.raises(SchemaMismatchError) as damaged:
        store.read_table("pages")
    assert str(damaged.value) == (
        f"cannot read {part} (table pages): Parquet magic bytes not found in footer. Either "
        "the file is corrupted or this is not a parquet file; delete it and run `stancemap "
        "run` again to rebuild it")
    pq.write_table(pa.table({"doc_id": ["d2"], "page": ["first"], "text": ["t"],
                             "n_chars": [1]}), part)
    with pytest.raises(SchemaMismatchError, match=r"d2\.parquet \(table pages\): Failed to "
                                                  "parse string: 'first' as a scalar of type"):
        store.read_table("pages")
    assert store.read_table("pages", {"d1"}).num_rows == 1


def test_a_failed_atomic_write_names_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    target.mkdir()  # a folder of that name: the rename fails
    with pytest.raises(IsADirectoryError) as failed:
        atomic_write_bytes(target, b"{}")
    assert failed.value.filename == str(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]
