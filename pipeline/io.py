"""All file I/O of the outputs: atomic parquet writes, per-document parts, run state, the lock.

Layout of an output folder ``OUT``::

    OUT/<table>/<key>.parquet   partitioned tables (one part per document or source file)
    OUT/<table>.parquet         corpus-level tables
    OUT/_state/manifest.json    what each source file was when last processed (the commit point)
    OUT/_state/lock             held by the run writing to OUT
    OUT/_cache/                 caches (e.g. embeddings) that can be deleted at any time

Every write goes to a hidden temporary name in the same folder and is then renamed, so a
reader (or a run killed at any moment) never sees a partial file. Names starting with ``.``
or ``_`` are ignored by pyarrow and DuckDB globs.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import OutputLockedError, SchemaMismatchError
from pipeline.schema import PARTITIONED, TABLES, empty_table, validate

log = logging.getLogger(__name__)

STATE_DIR = "_state"
CACHE_DIR = "_cache"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _write_parquet(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp, compression="zstd")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def part_key(text: str) -> str:
    """A file-name-safe key for a value that is not already one (e.g. a source path)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True)
class OutputStore:
    """The output folder of a run: typed tables in, typed tables out."""

    root: Path

    def table_path(self, name: str) -> Path:
        """Where table ``name`` lives: a folder of parts or one parquet file."""
        if name not in TABLES:
            raise SchemaMismatchError(f"unknown table {name!r}")
        return self.root / name if name in PARTITIONED else self.root / f"{name}.parquet"

    def write_part(self, name: str, key: str, table: pa.Table) -> None:
        """Replace the part ``key`` of the partitioned table ``name``."""
        if name not in PARTITIONED:
            raise SchemaMismatchError(f"table {name!r} is not partitioned")
        _write_parquet(self.table_path(name) / f"{key}.parquet", validate(name, table))

    def delete_part(self, name: str, key: str) -> None:
        """Remove the part ``key`` of ``name`` if it exists."""
        with contextlib.suppress(FileNotFoundError):
            (self.table_path(name) / f"{key}.parquet").unlink()

    def part_keys(self, name: str) -> set[str]:
        """The keys of the parts of ``name`` now on disk."""
        folder = self.table_path(name)
        if not folder.is_dir():
            return set()
        return {p.stem for p in folder.glob("*.parquet") if not p.name.startswith((".", "_"))}

    def write_table(self, name: str, table: pa.Table) -> None:
        """Replace the corpus-level table ``name``."""
        if name in PARTITIONED:
            raise SchemaMismatchError(f"table {name!r} is partitioned: write parts")
        _write_parquet(self.table_path(name), validate(name, table))

    def read_table(self, name: str, keys: set[str] | None = None) -> pa.Table:
        """Read table ``name`` (optionally only some parts); empty with its schema if absent."""
        path = self.table_path(name)
        if name not in PARTITIONED:
            if not path.exists():
                return empty_table(name)
            return validate(name, pq.read_table(path, schema=TABLES[name]))
        wanted = sorted(self.part_keys(name) if keys is None else keys & self.part_keys(name))
        if not wanted:
            return empty_table(name)
        parts = [pq.read_table(path / f"{key}.parquet", schema=TABLES[name]) for key in wanted]
        return validate(name, pa.concat_tables(parts))

    def exists(self, name: str) -> bool:
        """Whether table ``name`` has been written."""
        path = self.table_path(name)
        return bool(self.part_keys(name)) if name in PARTITIONED else path.exists()

    # --- run state -------------------------------------------------------------------

    def read_state(self, name: str) -> dict[str, Any]:
        """Read the JSON state document ``name`` (empty if absent or unreadable)."""
        path = self.root / STATE_DIR / f"{name}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable state file %s: %s", path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def write_state(self, name: str, data: dict[str, Any]) -> None:
        """Atomically replace the JSON state document ``name``."""
        payload = json.dumps(data, indent=1, sort_keys=True).encode("utf-8")
        atomic_write_bytes(self.root / STATE_DIR / f"{name}.json", payload)

    def cache_dir(self, name: str) -> Path:
        """A cache folder that may be deleted between runs."""
        path = self.root / CACHE_DIR / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @contextlib.contextmanager
    def lock(self, wait_seconds: float = 0.0) -> Iterator[None]:
        """Hold the output folder's lock; raise :class:`OutputLockedError` if another run has it."""
        path = self.root / STATE_DIR / "lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+") as fh:
            deadline = time.monotonic() + wait_seconds
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        fh.seek(0)
                        holder = fh.read().strip() or "unknown"
                        raise OutputLockedError(
                            f"another stancemap run ({holder}) is writing to {self.root}; "
                            "wait for it to finish or use another --out folder"
                        ) from exc
                    time.sleep(0.2)
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()}")
            fh.flush()
            try:
                yield
            finally:
                fh.seek(0)
                fh.truncate()
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
