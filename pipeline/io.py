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
import io
import json
import logging
import os
import threading
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import OutputLockedError, OutputTargetError, SchemaMismatchError
from pipeline.schema import PARTITIONED, TABLES, empty_table, validate

log = logging.getLogger(__name__)

STATE_DIR = "_state"
CACHE_DIR = "_cache"


def _temporary(path: Path) -> Path:
    """A hidden temporary name next to ``path``, unique per process and thread (two threads
    may write the same part: two files with identical bytes share a doc_id)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename. When that fails, the
    temporary file is removed and the error names ``path`` (e.g. a folder of that name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if exc.errno is None:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


def write_arrays(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Save named arrays to ``path`` as ``.npz``, atomically (no pickled objects)."""
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def read_arrays(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays saved at ``path`` by :func:`write_arrays`; None when absent or unreadable
    (a cache or index that cannot be read is rebuilt, not fatal)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return None


def _write_parquet(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    pq.write_table(table, tmp, compression="zstd")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _read_parquet(path: Path, name: str) -> pa.Table:
    """The parquet file ``path`` of table ``name`` read with the table's schema; raise
    :class:`SchemaMismatchError` naming the file when it is damaged (cut short, overwritten)
    or holds columns of other types (written by something else, or an older stancemap)."""
    try:
        return pq.read_table(path, schema=TABLES[name])
    except pa.ArrowException as exc:
        reason = str(exc).removeprefix(f"Could not open Parquet input source '{path}': ")
        reason = " ".join(reason.split()).rstrip(".")
        raise SchemaMismatchError(
            f"cannot read {path} (table {name}): {reason}; delete it and run `stancemap run` "
            "again to rebuild it") from exc


def part_key(text: str) -> str:
    """A file-name-safe key for a value that is not already one (e.g. a source path)."""
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:24]


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

    def part_token(self, name: str, key: str) -> str:
        """Size and modification time of part ``key`` of ``name`` ("" if absent): it changes
        whenever the part is rewritten, since every write replaces the file."""
        try:
            stat = (self.table_path(name) / f"{key}.parquet").stat()
        except FileNotFoundError:
            return ""
        return f"{stat.st_size}:{stat.st_mtime_ns}"

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
            return validate(name, _read_parquet(path, name))
        # asked for a few parts, look for those files rather than list the whole folder
        wanted = sorted(self.part_keys(name) if keys is None else
                        {k for k in keys if not k.startswith((".", "_"))
                         and (path / f"{k}.parquet").is_file()})
        if not wanted:
            return empty_table(name)
        parts = [_read_parquet(path / f"{key}.parquet", name) for key in wanted]
        return validate(name, pa.concat_tables(parts))

    def exists(self, name: str) -> bool:
        """Whether table ``name`` has been written."""
        path = self.table_path(name)
        return bool(self.part_keys(name)) if name in PARTITIONED else path.exists()

    # --- originals: a table's own output kept beside a rewritten version --------------

    def _original_path(self, name: str, key: str) -> Path:
        return self.root / STATE_DIR / "originals" / name / f"{key}.parquet"

    def save_original(self, name: str, key: str, table: pa.Table) -> None:
        """Keep ``table`` (checked against the schema of ``name``) as the original of part
        ``key``, e.g. a stage's own positions before the analyst's corrections rewrote them."""
        _write_parquet(self._original_path(name, key), validate(name, table))

    def read_original(self, name: str, key: str) -> pa.Table | None:
        """The original kept by :meth:`save_original`; None if there is none."""
        path = self._original_path(name, key)
        if not path.exists():
            return None
        return validate(name, pq.read_table(path, schema=TABLES[name]))

    def delete_original(self, name: str, key: str) -> None:
        """Forget the original of part ``key`` of ``name``."""
        with contextlib.suppress(FileNotFoundError):
            self._original_path(name, key).unlink()

    def original_keys(self, name: str) -> set[str]:
        """The keys of the originals kept for ``name``."""
        folder = self._original_path(name, "x").parent
        if not folder.is_dir():
            return set()
        return {p.stem for p in folder.glob("*.parquet") if not p.name.startswith(".")}

    def table_token(self, name: str, key: str | None = None) -> str:
        """:meth:`part_token` of a part, or the same for a corpus-level table."""
        if key is not None:
            return self.part_token(name, key)
        try:
            stat = self.table_path(name).stat()
        except FileNotFoundError:
            return ""
        return f"{stat.st_size}:{stat.st_mtime_ns}"

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
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(path, "a+")  # noqa: SIM115 - closed by the with below
        except OSError as exc:
            raise OutputTargetError(
                f"cannot write to the output folder {self.root}: {exc.strerror or exc} "
                f"({path}); choose a folder you can write to"
            ) from None
        with fh:
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


# --- outputs on another filesystem (fsspec URLs) -----------------------------------------
#
# Object stores have neither rename nor flock, so a run on a URL works on a local staging copy
# (an ordinary OutputStore, with its lock) and then publishes it: changed files are uploaded
# under a temporary name and moved into place, files gone locally are deleted, then the
# listing and, last, the manifest (the commit point) are uploaded. ``pull`` brings a staging
# copy up to date with what another machine published.

MANIFEST = f"{STATE_DIR}/manifest.json"
# The remote listing (relative path -> size and sha256 of every published file but the
# manifest), uploaded just before the manifest so a puller knows what to fetch without reading it.
LISTING = f"{STATE_DIR}/listing.json"
# Staging-only: what was last published to (or pulled from) each URL.
PUBLISHED_STATE = "published"
_LOCAL_ONLY = frozenset({f"{STATE_DIR}/lock", f"{STATE_DIR}/{PUBLISHED_STATE}.json", LISTING})
_LOCAL_PROTOCOLS = ("file", "local")
_CHUNK = 1 << 20
# A staged file as last seen: size, mtime_ns, sha256.
_Entry = tuple[int, int, str]


def is_remote(out: str) -> bool:
    """Whether ``out`` is an fsspec URL on a filesystem other than the local one."""
    from fsspec.utils import get_protocol

    return get_protocol(str(out)) not in _LOCAL_PROTOCOLS


def local_path(out: str) -> Path:
    """The folder of a local ``out`` (a plain path or a ``file://`` URL)."""
    if is_remote(out):
        raise OutputTargetError(f"{out} is not a local path")
    text = str(out)
    for protocol in _LOCAL_PROTOCOLS:
        if text.startswith(f"{protocol}://"):
            text = text[len(protocol) + 3:]
            break
    return Path(text).expanduser()


def _normalise(url: str) -> str:
    return url.rstrip("/")


def staging_dir(url: str, base: Path) -> Path:
    """The local staging folder of ``url``: stable per URL, under ``base``."""
    return Path(base) / hashlib.sha256(_normalise(url).encode("utf-8")).hexdigest()[:16]


def materialise(out: str, base: Path) -> Path:
    """The local folder to read the outputs ``out`` from, pulling a remote ``out`` first.

    If a run on this machine holds the staging copy's lock, the copy is read as it is (it is
    at least as new as what was published). Raises :class:`OutputTargetError` when nothing
    has been published at a remote ``out``.
    """
    if not is_remote(out):
        return local_path(out)
    store = OutputStore(staging_dir(out, base))
    try:
        with store.lock():
            pull(out, store)
    except OutputLockedError:
        log.info("a run holds %s: reading it without pulling %s", store.root, out)
    if not (store.root / MANIFEST).exists():
        raise OutputTargetError(f"no outputs published at {out}")
    return store.root


def _excluded(rel: str) -> bool:
    """Whether the relative path ``rel`` stays local: caches, the lock, hidden/temporary names."""
    parts = rel.split("/")
    return (
        parts[0] == CACHE_DIR
        or rel in _LOCAL_ONLY
        # Empty and dot parts also keep a listing's absolute or ``..`` paths out of the copy.
        or any(not p or p.startswith(".") or ".tmp-" in p for p in parts)
    )


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class _Sync:
    """What a staging copy last exchanged with one URL: file -> (size, mtime_ns, sha256)."""

    manifest: str | None
    files: dict[str, _Entry]

    @classmethod
    def load(cls, store: OutputStore, url: str) -> _Sync:
        entry = store.read_state(PUBLISHED_STATE).get(_normalise(url), {})
        files = entry.get("files", {})
        return cls(entry.get("manifest"),
                   {rel: (int(v[0]), int(v[1]), str(v[2])) for rel, v in files.items()})

    def save(self, store: OutputStore, url: str) -> None:
        state = store.read_state(PUBLISHED_STATE)
        state[_normalise(url)] = {"manifest": self.manifest,
                                  "files": {rel: list(v) for rel, v in self.files.items()}}
        store.write_state(PUBLISHED_STATE, state)


def _snapshot(root: Path, known: dict[str, _Entry]) -> dict[str, _Entry]:
    """Every publishable file under ``root`` with its size, mtime and sha256.

    A file whose size and mtime match ``known`` keeps its known hash instead of being re-read.
    """
    files: dict[str, _Entry] = {}
    if not root.is_dir():
        return files
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if _excluded(rel) or not path.is_file():
            continue
        stat = path.stat()
        old = known.get(rel)
        if old is not None and old[:2] == (stat.st_size, stat.st_mtime_ns):
            files[rel] = old
        else:
            files[rel] = (stat.st_size, stat.st_mtime_ns, _sha256_file(path))
    return files


class _Remote:
    """The fsspec filesystem behind ``url``; every failure becomes an :class:`OutputTargetError`."""

    def __init__(self, url: str) -> None:
        import fsspec

        self.url = _normalise(url)
        self._folders: set[str] = set()
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url)
        except Exception as exc:  # fsspec backends raise anything (ValueError, ImportError...)
            raise OutputTargetError(f"cannot open output URL {self.url}: {exc}") from exc

    def path(self, rel: str) -> str:
        return f"{self.root.rstrip('/')}/{rel}"

    @contextlib.contextmanager
    def _errors(self, action: str, rel: str) -> Iterator[None]:
        try:
            yield
        except FileNotFoundError:
            raise
        except Exception as exc:  # credentials, network, permissions: backend-specific types
            raise OutputTargetError(f"{self.url}: cannot {action} {rel}: {exc}") from exc

    def read(self, rel: str) -> bytes | None:
        """The bytes of ``rel``, or None if it does not exist."""
        try:
            with self._errors("read", rel):
                return bytes(self.fs.cat_file(self.path(rel)))
        except FileNotFoundError:
            return None

    def listing(self) -> set[str]:
        """The relative paths of every file under the URL (excluded names left out)."""
        with self._errors("list", "files"):
            if not self.fs.exists(self.root):
                return set()
            found = self.fs.find(self.root)
        prefix = self.root.rstrip("/") + "/"
        rels = {str(p)[len(prefix):] for p in found if str(p).startswith(prefix)}
        return {rel for rel in rels if not _excluded(rel)}

    def upload(self, local: Path, rel: str) -> None:
        """Upload ``local`` to a temporary name next to ``rel``, then move it into place."""
        target = self.path(rel)
        folder, _, name = target.rpartition("/")
        tmp = f"{folder}/.{name}.tmp-{os.getpid()}"
        with self._errors("upload", rel):
            if folder not in self._folders:  # real folders (file://, sftp) must exist first
                self.fs.makedirs(folder, exist_ok=True)
                self._folders.add(folder)
            self.fs.put_file(str(local), tmp)
            self.fs.mv(tmp, target)

    def upload_bytes(self, data: bytes, rel: str, scratch: Path) -> None:
        """Upload ``data`` as ``rel`` (through the local file ``scratch``)."""
        atomic_write_bytes(scratch, data)
        try:
            self.upload(scratch, rel)
        finally:
            scratch.unlink(missing_ok=True)

    def download(self, rel: str, local: Path) -> None:
        """Download ``rel`` to ``local`` through a temporary name and a rename."""
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f".{local.name}.tmp-{os.getpid()}")
        try:
            with self._errors("download", rel):
                self.fs.get_file(self.path(rel), str(tmp))
            os.replace(tmp, local)
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, rel: str) -> None:
        """Delete ``rel`` if it exists."""
        with contextlib.suppress(FileNotFoundError), self._errors("delete", rel):
            self.fs.rm_file(self.path(rel))


def _sha256(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def publish(store: OutputStore, url: str) -> int:
    """Publish the staging copy ``store`` to ``url``; return the files uploaded plus deleted.

    Only files changed since the last publish to ``url`` are uploaded (each to a temporary
    name, then moved into place); files no longer in ``store`` are deleted; the manifest is
    uploaded last. ``_cache/``, the lock and hidden/temporary names are never published. If the
    remote manifest is not the one this copy last published (first publish, or the URL was
    changed by someone else), the remote is listed and everything is uploaded again.
    """
    remote = _Remote(url)
    last = _Sync.load(store, url)
    local = _snapshot(store.root, last.files)
    manifest = local.pop(MANIFEST, None)
    remote_manifest = _sha256(remote.read(MANIFEST))
    known: dict[str, str | None] = {rel: v[2] for rel, v in last.files.items() if rel != MANIFEST}
    if not last.files or remote_manifest != last.manifest:
        if last.files:
            log.warning("%s changed since this copy last published it: republishing all", url)
        known = dict.fromkeys(remote.listing() - {MANIFEST})
    uploads = [rel for rel, v in local.items() if known.get(rel, "") != v[2]]
    deletes = sorted(set(known) - set(local))
    for rel in uploads:
        remote.upload(store.root / rel, rel)
    for rel in deletes:
        remote.delete(rel)
    changed = len(uploads) + len(deletes)
    if changed or remote.read(LISTING) is None:
        listing = {rel: {"size": v[0], "sha256": v[2]} for rel, v in local.items()}
        payload = json.dumps(listing, indent=1, sort_keys=True).encode("utf-8")
        scratch = store.root / STATE_DIR / f".listing.tmp-{os.getpid()}"
        remote.upload_bytes(payload, LISTING, scratch)
    new_manifest = manifest[2] if manifest else None
    if new_manifest != remote_manifest:
        if manifest is None:
            remote.delete(MANIFEST)
        else:
            remote.upload(store.root / MANIFEST, MANIFEST)
        changed += 1
    if manifest is not None:
        local[MANIFEST] = manifest
    _Sync(new_manifest, local).save(store, url)
    log.info("published %s to %s: %d files uploaded or deleted", store.root, url, changed)
    return changed


def pull(url: str, store: OutputStore) -> int:
    """Bring the staging copy ``store`` up to date with ``url``; return the files changed in it.

    Nothing happens when nothing is published at ``url`` or when its manifest is the one this
    copy last published or pulled (the copy is then as new or newer). Otherwise files whose
    sha256 differs are downloaded, files not published are removed from the copy (``_cache/``
    and the lock excepted) and the manifest is written last.
    """
    remote = _Remote(url)
    manifest = remote.read(MANIFEST)
    last = _Sync.load(store, url)
    if manifest is None or _sha256(manifest) == last.manifest:
        return 0
    listing_bytes = remote.read(LISTING)
    if listing_bytes is None:
        wanted: dict[str, str | None] = dict.fromkeys(remote.listing() - {MANIFEST})
    else:
        try:
            listing = json.loads(listing_bytes)
            wanted = {str(rel): str(meta["sha256"]) for rel, meta in listing.items()}
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise OutputTargetError(f"{url}: unreadable {LISTING}: {exc}") from exc
    local = _snapshot(store.root, last.files)
    changed = 0
    for rel, sha in sorted(wanted.items()):
        if _excluded(rel) or (rel in local and local[rel][2] == sha):
            continue
        remote.download(rel, store.root / rel)
        changed += 1
    for rel in sorted(set(local) - set(wanted) - {MANIFEST}):
        (store.root / rel).unlink(missing_ok=True)
        changed += 1
    if local.get(MANIFEST, (0, 0, None))[2] != _sha256(manifest):
        atomic_write_bytes(store.root / MANIFEST, manifest)
        changed += 1
    _Sync(_sha256(manifest), _snapshot(store.root, local)).save(store, url)
    log.info("pulled %s into %s: %d files changed", url, store.root, changed)
    return changed
