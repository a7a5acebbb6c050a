"""Manifest-based incrementality: what changed since the last run, and the per-document commit.

``OUT/_state/manifest.json`` maps each source file (path relative to the corpus) to what it was
when last processed (sha256, size, mtime_ns, doc_id), the fingerprint of every per-document
stage that has completed for it, and the keys of its ``errors`` parts. It is rewritten after
each document's parts are written (the commit point), so a run killed at any moment redoes at
most the documents in flight. Plain Python: no Prefect here, the flows call it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from flows.catalog import CATALOG, document_tables, stages
from pipeline.config import Settings
from pipeline.io import OutputStore, part_key
from pipeline.schema import SCHEMA_VERSION

log = logging.getLogger(__name__)

MANIFEST = "manifest"
MANIFEST_VERSION = 1
DOC_TABLES = document_tables()
# Ingest failures caused by the file changing or vanishing while it was read: retried next run.
RETRY_KINDS = frozenset({"changed", "missing"})


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _hash(*parts: object) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _file_hash(path: Path) -> str:
    """Hash of a model/pattern file or folder (missing -> a marker, so creating it changes it)."""
    if path.is_file():
        return file_sha256(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        return _hash([(str(p.relative_to(path)), file_sha256(p)) for p in files])
    return "missing"


def _source_hash(*names: str) -> str:
    """Hash of the files of pipeline modules/packages ``names``: the code version of a stage,
    so editing a stage's code redoes that stage (and what follows it)."""
    import pipeline

    package = Path(pipeline.__file__).parent
    files: list[Path] = []
    for name in names:
        path = package / name
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file()
                            and "__pycache__" not in p.parts)
        else:
            files.append(path.with_suffix(".py"))
    return _hash([(str(p.relative_to(package)), _file_hash(p)) for p in files])


def _code_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("stancemap")
    except PackageNotFoundError:
        return "unknown"


def _setting(settings: Settings, dotted: str) -> Any:
    """The settings value at ``dotted`` (a section as JSON data; ``None`` when absent)."""
    value: Any = settings
    for part in dotted.split("."):
        value = getattr(value, part, None)
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


def stage_fingerprints(settings: Settings) -> dict[str, str]:
    """Per-stage fingerprints (:data:`flows.catalog.CATALOG`): the stage's settings, the hashes
    of its data files, its code (package version and the stage's source) and the schema version.

    Each stage's fingerprint includes the one of the stage it reads from, so changing the
    ingestion settings redoes everything while changing the targets redoes only stance and what
    follows it.
    """
    base = _hash(_code_version(), SCHEMA_VERSION, _source_hash("schema", "nlp"))
    fingerprints: dict[str, str] = {}
    for stage in CATALOG:
        paths = [_setting(settings, name) for name in stage.files]
        fingerprints[stage.name] = _hash(
            fingerprints[stage.after] if stage.after else base, _source_hash(*stage.sources),
            [_setting(settings, name) for name in stage.settings],
            [_file_hash(settings.resolve(path)) if path else None for path in paths],
            [_file_hash(path) for path in stage.data])
    return fingerprints


@dataclass
class Manifest:
    """The run state of an output folder; :meth:`commit` writes it atomically."""

    store: OutputStore
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    corpus: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, store: OutputStore) -> Manifest:
        """Read the manifest of ``store`` (empty when absent, of another version or not of
        the expected shape: a damaged manifest is a lost one, and the run redoes every file)."""
        data = store.read_state(MANIFEST)
        if data.get("version") != MANIFEST_VERSION:
            return cls(store)
        files, corpus = data.get("files", {}), data.get("corpus", {})
        problem = _shape_problem(files, corpus)
        if problem:
            log.warning("ignoring the damaged manifest of %s (%s): every file is redone",
                        store.root, problem)
            return cls(store)
        return cls(store, dict(files), dict(corpus))

    def commit(self) -> None:
        """Atomically write the manifest: the commit point of every change made so far."""
        self.store.write_state(MANIFEST, {"version": MANIFEST_VERSION, "files": self.files,
                                          "corpus": self.corpus})

    def doc_ids(self) -> set[str]:
        """doc_ids referenced by some source file."""
        return {e["doc_id"] for e in self.files.values() if e.get("doc_id")}

    def error_keys(self) -> set[str]:
        """Keys of every ``errors`` part the manifest accounts for."""
        return {key for e in self.files.values() for key in e.get("errors", {}).values()}

    def signature(self) -> str:
        """A hash of every document and the stages done on it: corpus-level stages' input."""
        return _hash(sorted((rel, e.get("doc_id") or "", e.get("stages", {}))
                            for rel, e in self.files.items()))


_ENTRY_TYPES: dict[str, type | tuple[type, ...]] = {
    "sha256": str, "doc_id": (str, type(None)), "size": int, "mtime_ns": int,
    "sidecar": (list, type(None)), "stages": dict, "errors": dict}


def _shape_problem(files: Any, corpus: Any) -> str | None:
    """What is wrong with a manifest's ``files`` and ``corpus`` (None if nothing)."""
    if not isinstance(files, dict) or not isinstance(corpus, dict):
        return "files and corpus must be mappings"
    if not all(isinstance(v, str) for v in corpus.values()):
        return "corpus values must be text"
    for rel, entry in files.items():
        if not isinstance(entry, dict):
            return f"the entry of {rel} is not a mapping"
        for key, types in _ENTRY_TYPES.items():
            if not isinstance(entry.get(key), types) or isinstance(entry.get(key), bool):
                return f"{rel}: {key} has the wrong type"
        for key in ("stages", "errors"):
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in entry[key].items()):
                return f"{rel}: {key} must map text to text"
    return None


# What each corpus-level stage writes: a run rebuilds a stage when any of it is missing.
CORPUS_TABLES = {stage.name: stage.writes for stage in stages("corpus", "analyse")}
REPORT_FILES = ("report.html", "report.md")


def output_inside_corpus(corpus: Path, out: Path) -> list[str]:
    """A note (and a warning) when the output folder is inside the corpus: discovery leaves
    it out, so a run never reads its own outputs."""
    corpus, out = Path(os.path.abspath(corpus)), Path(os.path.abspath(out))
    if out == corpus or corpus not in out.parents:
        return []
    note = (f"the output folder {out} is inside the corpus {corpus}: it is not ingested "
            "(better keep outputs outside the corpus)")
    log.warning("%s", note)
    return [note]


def count_copies(summary: dict[str, Any], copies: list[tuple[str, str]],
                 done: set[str]) -> None:
    """Count the files of this run that are identical copies of another as ``identical``, not
    ``ingested``, with a note naming each (up to five)."""
    new = [(copy, listed) for copy, listed in copies if copy in done]
    if not new:
        return
    summary["ingested"] -= sum(1 for copy, _ in new if copy in done)
    summary["identical"] = summary.get("identical", 0) + len(new)
    shown = "; ".join(f"{copy} = {listed}" for copy, listed in new[:5])
    more = f" and {len(new) - 5} more" if len(new) > 5 else ""
    summary["notes"].append(f"{len(new)} files are identical copies of another file, "
                            f"counted once: {shown}{more}")


# The tables each per-document stage writes for a document (ingest: its doc_id parts).
STAGE_TABLES = {stage.name: tuple(t for t in stage.writes if t != "errors")
                for stage in stages("document")}


def missing_outputs(store: OutputStore, entry: Mapping[str, Any]) -> set[str]:
    """The stages recorded as done on a file whose outputs are no longer all on disk (a part
    or an errors row was deleted): they are redone."""
    missing = set()
    errors = entry.get("errors", {})
    for stage in entry.get("stages", {}):
        if stage in errors:
            present = store.part_token("errors", errors[stage]) != ""
        elif entry.get("doc_id"):
            present = all(store.part_token(table, entry["doc_id"]) != ""
                          for table in STAGE_TABLES.get(stage, ()))
        else:
            present = True
        if not present:
            missing.add(stage)
    return missing


def settle_copies(store: OutputStore, manifest: Manifest) -> list[tuple[str, str]]:
    """Files with identical bytes share one document (one doc_id): list it under the first
    of their paths (sorted) in ``documents`` and ``positions``, also after that file was
    deleted. Returns (copy, listed file) for every other path."""
    paths: dict[str, list[str]] = {}
    for rel, entry in sorted(manifest.files.items()):
        if entry.get("doc_id"):
            paths.setdefault(entry["doc_id"], []).append(rel)
    copies = []
    for doc_id, rels in paths.items():
        copies += [(rel, rels[0]) for rel in rels[1:]]
        for table in ("documents", "positions"):
            _relist(store, table, doc_id, rels[0])
    return copies


def _relist(store: OutputStore, table: str, doc_id: str, rel: str) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    part = store.read_table(table, {doc_id})
    if part.num_rows == 0 or pc.all(pc.equal(part.column("source_path"), rel)).as_py():
        return
    column = part.schema.get_field_index("source_path")
    part = part.set_column(column, part.schema.field(column),
                           pa.array([rel] * part.num_rows, pa.string()))
    store.write_part(table, doc_id, part)


@dataclass(frozen=True)
class IngestOutcome:
    """What ingesting one source file gave: its ``doc_id``, or the kind of its error."""

    rel_path: str
    doc_id: str | None
    error: str | None = None
    message: str | None = None
    n_pages: int = 0
    n_sentences: int = 0


@dataclass(frozen=True)
class AnalysisOutcome:
    """What analysing one document gave: each failed stage with its ``errors`` part key."""

    rel_path: str
    doc_id: str
    failed: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """What the ingest stage has to do for a corpus."""

    todo: list[Any]
    unchanged: list[str]
    deleted: list[str]
    shas: dict[str, str]


def rel_path_of(source: Any) -> str:
    """The corpus-relative path of a discovered source file."""
    return str(getattr(source, "rel_path", None) or getattr(source, "source_path", ""))


def abs_path_of(source: Any) -> Path:
    """The absolute path of a discovered source file."""
    return Path(source.path)


def _identity(source: Any) -> tuple[int, int, Any]:
    """(size, mtime_ns, sidecar size+mtime) from ``lstat``: a link is never followed. A
    problem found by discovery (a path too long to examine) keeps what discovery saw."""
    if getattr(source, "problem", None) is not None:
        return int(source.size), int(source.mtime_ns), None
    stat = os.lstat(abs_path_of(source))
    sidecar = getattr(source, "sidecar", None)
    side = None
    if sidecar is not None:
        with contextlib.suppress(OSError):
            side_stat = os.lstat(sidecar)
            side = [side_stat.st_size, side_stat.st_mtime_ns]
    return stat.st_size, stat.st_mtime_ns, side


def content_sha(source: Any) -> str:
    """sha256 of a source's bytes and its sidecar's; of the link text for a symbolic link."""
    link = getattr(source, "link_target", None)
    if link is not None:
        return hashlib.sha256(f"link:{link}".encode()).hexdigest()
    problem = getattr(source, "problem", None)
    if problem is not None:  # never read (a FIFO would block): the problem is the content
        return hashlib.sha256(f"problem:{problem}".encode()).hexdigest()
    sha = file_sha256(abs_path_of(source))
    sidecar = getattr(source, "sidecar", None)
    if sidecar is not None and Path(sidecar).is_file():
        sha = hashlib.sha256(f"{sha}:{file_sha256(Path(sidecar))}".encode()).hexdigest()
    return sha


def plan_ingest(sources: Iterable[Any], manifest: Manifest, fingerprint: str) -> Plan:
    """Compare discovered files with the manifest: unchanged by size+mtime or by sha256."""
    todo: list[Any] = []
    unchanged: list[str] = []
    shas: dict[str, str] = {}
    seen: set[str] = set()
    for source in sources:
        rel = rel_path_of(source)
        seen.add(rel)
        entry = manifest.files.get(rel) or {}
        try:
            size, mtime, side = _identity(source)
            same_stage = entry.get("stages", {}).get("ingest") == fingerprint
            if same_stage and "ingest" in missing_outputs(manifest.store, entry):
                log.info("%s: outputs deleted since the last run: ingesting it again", rel)
                same_stage = False
            if same_stage and [entry["size"], entry["mtime_ns"], entry.get("sidecar")] == [
                    size, mtime, side]:
                unchanged.append(rel)
                continue
            shas[rel] = content_sha(source)
        except OSError:
            todo.append(source)  # vanished or unreadable since discovery: ingest reports it
            continue
        if same_stage and entry.get("sha256") == shas[rel]:
            entry.update(size=size, mtime_ns=mtime, sidecar=side)
            unchanged.append(rel)
            continue
        todo.append(source)
    deleted = sorted(set(manifest.files) - seen)
    return Plan(todo, unchanged, deleted, shas)


def remove_doc_parts(store: OutputStore, manifest: Manifest, doc_id: str | None) -> None:
    """Delete ``doc_id``'s parts from every per-document table unless another file still uses it."""
    if doc_id and doc_id not in manifest.doc_ids():
        for table in DOC_TABLES:
            store.delete_part(table, doc_id)


def forget_file(store: OutputStore, manifest: Manifest, rel_path: str) -> None:
    """A source file was deleted: drop its manifest entry, its parts and its error rows."""
    entry = manifest.files.pop(rel_path, {})
    manifest.commit()
    for key in entry.get("errors", {}).values():
        store.delete_part("errors", key)
    remove_doc_parts(store, manifest, entry.get("doc_id"))


def error_key(rel_path: str, stage: str) -> str:
    """The ``errors`` part key of a failure of ``stage`` on ``rel_path``."""
    return part_key(rel_path) if stage == "ingest" else part_key(f"{stage}:{rel_path}")


def commit_ingest(store: OutputStore, manifest: Manifest, source: Any, result: IngestOutcome,
                  sha: str | None, fingerprint: str) -> None:
    """Record one ingested (or failed) file; then drop what its previous version left behind."""
    rel = rel_path_of(source)
    old = manifest.files.get(rel, {})
    try:
        size, mtime, side = _identity(source)
        sha = sha or content_sha(source)
    except OSError:
        size, mtime, side, sha = -1, -1, None, sha or ""
    if result.error in RETRY_KINDS:  # the file was moving: look at it again next run
        size, mtime, sha = -1, -1, ""
    errors = {"ingest": error_key(rel, "ingest")} if result.error else {}
    # A crash of our own ("internal", e.g. I/O after retries) is retried by the next run.
    done = {} if result.error == "internal" else {"ingest": fingerprint}
    manifest.files[rel] = {"sha256": sha, "doc_id": result.doc_id, "size": size,
                           "mtime_ns": mtime, "sidecar": side, "stages": done, "errors": errors}
    manifest.commit()
    for stage, key in old.get("errors", {}).items():
        if errors.get(stage) != key:
            store.delete_part("errors", key)
    if old.get("doc_id") != result.doc_id:
        remove_doc_parts(store, manifest, old.get("doc_id"))


def commit_analysis(manifest: Manifest, store: OutputStore, rel_path: str,
                    done: Mapping[str, str], failed: Mapping[str, str]) -> None:
    """Record the analysis stages done on one file; drop error rows of stages that now passed."""
    entry = manifest.files[rel_path]
    entry["stages"].update(done)
    errors = entry.setdefault("errors", {})
    errors.update(failed)
    for stage in set(done) - set(failed):
        if stage in errors:
            store.delete_part("errors", errors.pop(stage))
    manifest.commit()


def collect_garbage(store: OutputStore, manifest: Manifest) -> int:
    """Remove parts the manifest does not account for and temporary files left by a killed
    run; return how many."""
    removed = 0
    doc_ids = manifest.doc_ids()
    for table in DOC_TABLES:
        for key in store.part_keys(table) - doc_ids:
            store.delete_part(table, key)
            removed += 1
    for key in store.part_keys("errors") - manifest.error_keys():
        store.delete_part("errors", key)
        removed += 1
    for leftover in _temporary_files(store.root):
        leftover.unlink(missing_ok=True)
        removed += 1
    if removed:
        log.info("removed %d orphan parts and temporary files", removed)
    return removed


def _temporary_files(root: Path) -> list[Path]:
    """Temporary files of writes a killed run never renamed (only while holding the lock)."""
    if not root.is_dir():
        return []
    folders = [root, *(p for p in root.iterdir() if p.is_dir())]
    return [p for folder in folders for p in folder.glob(".*.tmp-*") if p.is_file()]
