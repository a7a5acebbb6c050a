"""Finding the corpus's files without following links or reading anything."""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceFile:
    """One file of the corpus as found by :func:`discover`.

    ``link_target`` is set for a symbolic link: links are never followed, and ingesting one
    raises a ``DocumentError`` of kind ``link`` so it shows up in the errors table.
    """

    path: Path
    rel_path: str
    size: int
    mtime_ns: int
    sidecar: Path | None = None
    link_target: str | None = None

    @property
    def extension(self) -> str:
        """The lower-case suffix, e.g. ``.pdf``."""
        return self.path.suffix.lower()


def discover(corpus: Path, settings: Settings) -> list[SourceFile]:
    """Every file under ``corpus`` to ingest, sorted by relative path.

    Hidden files and folders and sidecar files are skipped, as are non-regular files
    (FIFOs, sockets, devices). Symbolic links (to files or folders) are listed as link
    sources and never followed. Files of unsupported types are listed so that ingesting them
    reports the reason.
    """
    root = Path(os.path.abspath(corpus))
    suffix = settings.corpus.sidecar_suffix
    found: list[SourceFile] = []
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(folder)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in list(dirnames):
            if (base / name).is_symlink():
                dirnames.remove(name)
                found.append(_link(base / name, root))
        for name in sorted(filenames):
            if name.startswith(".") or name.endswith(suffix):
                continue
            source = _source(base / name, root, suffix)
            if source is not None:
                found.append(source)
    found.sort(key=lambda s: s.rel_path)
    log.info("found %d files under %s", len(found), root)
    return found


def _source(path: Path, root: Path, suffix: str) -> SourceFile | None:
    try:
        info = path.lstat()
    except OSError as exc:
        log.warning("skipping %s: %s", path, exc)
        return None
    if stat.S_ISLNK(info.st_mode):
        return _link(path, root)
    if not stat.S_ISREG(info.st_mode):
        log.warning("skipping %s: not a regular file", path)
        return None
    sidecar = path.with_name(path.name + suffix)
    try:
        has_sidecar = stat.S_ISREG(sidecar.lstat().st_mode)
    except OSError:
        has_sidecar = False
    return SourceFile(
        path=path,
        rel_path=path.relative_to(root).as_posix(),
        size=info.st_size,
        mtime_ns=info.st_mtime_ns,
        sidecar=sidecar if has_sidecar else None,
    )


def _link(path: Path, root: Path) -> SourceFile:
    try:
        target = os.readlink(path)
        info = path.lstat()
        size, mtime = info.st_size, info.st_mtime_ns
    except OSError:
        target, size, mtime = "?", 0, 0
    return SourceFile(
        path=path,
        rel_path=path.relative_to(root).as_posix(),
        size=size,
        mtime_ns=mtime,
        link_target=target,
    )
