"""Finding the corpus's files without following links or reading anything."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Settings
from pipeline.safety import printable_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceFile:
    """One file of the corpus as found by :func:`discover`.

    ``link_target`` is set for a symbolic link: links are never followed, and ingesting one
    raises a ``DocumentError`` of kind ``link`` so it shows up in the errors table.
    ``problem`` (kind, reason) is set for something found that is not a document to read (a
    FIFO, a socket, a folder that cannot be searched, a sidecar without its document):
    ingesting it raises a ``DocumentError`` of that kind. ``rel_path`` is always printable
    (bytes of a name that are not UTF-8 are written ``\\xNN``); ``path`` is the real name.
    """

    path: Path
    rel_path: str
    size: int
    mtime_ns: int
    sidecar: Path | None = None
    link_target: str | None = None
    problem: tuple[str, str] | None = None

    @property
    def extension(self) -> str:
        """The lower-case suffix, e.g. ``.pdf``."""
        return self.path.suffix.lower()


_NOT_REGULAR = {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket",
                stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}


def discover(corpus: Path, settings: Settings, exclude: Sequence[Path] = ()) -> list[SourceFile]:
    """Every file under ``corpus`` to ingest, sorted by relative path.

    Hidden files and folders (names starting with ``.``) are skipped and logged: they are the
    system's and tools' own files (``.DS_Store``, ``.git``, editor locks). Folders in
    ``exclude`` (the run's own output folder) are skipped. Symbolic links (to files or
    folders) are listed as link sources and never followed. FIFOs, sockets, devices, folders
    that cannot be searched (no permission, a path longer than the system allows) and
    sidecars without their document are listed as problem sources, so each gets an errors
    row; files of unsupported types are listed so that ingesting them reports the reason.
    """
    root = Path(os.path.abspath(corpus))
    excluded = {os.path.abspath(p) for p in exclude}
    suffix = settings.corpus.sidecar_suffix
    found: list[SourceFile] = []
    hidden = 0
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            found.append(_problem(folder, root, "unreadable",
                                  f"folder cannot be searched: {exc.strerror or exc}"))
            continue
        names = {e.name for e in entries}
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith("."):
                hidden += 1
                continue
            if os.path.abspath(entry.path) in excluded:
                log.warning("not searching %s: it is the output folder", printable_path(entry.path))
                continue
            source = _entry(entry, path, root, suffix, names)
            if source is None:
                folders.append(path)
            elif source.rel_path:
                found.append(source)
    found.sort(key=lambda s: s.rel_path)
    if hidden:
        log.info("skipped %d hidden files and folders under %s", hidden, printable_path(str(root)))
    log.info("found %d files under %s", len(found), printable_path(str(root)))
    return found


def _entry(entry: os.DirEntry[str], path: Path, root: Path, suffix: str,
           names: set[str]) -> SourceFile | None:
    """The source for one folder entry; None for a folder to search; a source with an empty
    ``rel_path`` for a sidecar that has its document."""
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError as exc:
        return _problem(path, root, "unreadable", f"cannot be examined: {exc.strerror or exc}")
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        return _link(path, root, info)
    if stat.S_ISDIR(mode):
        return None
    if not stat.S_ISREG(mode):
        what = _NOT_REGULAR.get(stat.S_IFMT(mode), "not a regular file")
        return _problem(path, root, "not_regular", f"{what}, not a document: never opened",
                        info)
    if entry.name.endswith(suffix):
        document = entry.name[: -len(suffix)]
        if document in names:
            return SourceFile(path, "", 0, 0)
        return _problem(path, root, "sidecar",
                        f"sidecar without its document: no file named {printable_path(document)}"
                        " next to it", info)
    sidecar = path.with_name(entry.name + suffix)
    try:
        has_sidecar = stat.S_ISREG(sidecar.lstat().st_mode)
    except OSError:
        has_sidecar = False
    return SourceFile(path=path, rel_path=_rel(path, root), size=info.st_size,
                      mtime_ns=info.st_mtime_ns, sidecar=sidecar if has_sidecar else None)


def _rel(path: Path, root: Path) -> str:
    return printable_path(path.relative_to(root).as_posix())


def _problem(path: Path, root: Path, kind: str, reason: str,
             info: os.stat_result | None = None) -> SourceFile:
    log.warning("%s: %s", _rel(path, root), reason)
    return SourceFile(path=path, rel_path=_rel(path, root) if path != root else ".",
                      size=info.st_size if info else 0, mtime_ns=info.st_mtime_ns if info else 0,
                      problem=(kind, reason))


def _link(path: Path, root: Path, info: os.stat_result) -> SourceFile:
    try:
        target = printable_path(os.readlink(path))
    except OSError:
        target = "?"
    return SourceFile(path=path, rel_path=_rel(path, root), size=info.st_size,
                      mtime_ns=info.st_mtime_ns, link_target=target)
