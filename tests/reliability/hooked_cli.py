"""Run the ``stancemap`` CLI with files that vanish or change while stancemap reads them.

    python hooked_cli.py STANCEMAP-ARGS...

``HOOK_VANISH``, ``HOOK_REWRITE`` and ``HOOK_GROW`` (environment) name corpus files (absolute
paths): the first is deleted and the second rewritten after discovery, just before it is
ingested; the third grows between the read of its bytes and the check that follows it.
``HOOK_SLOW_PAGE_SECONDS`` makes reading each PDF page take that much longer. The hooks are
installed in the worker processes too (they re-run this script as ``__mp_main__``).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

REWRITTEN = "The rewritten text says the Quillfield board supports joint committees.\n"


def _install() -> None:
    import pipeline.ingest
    import pipeline.ingest.document as document

    vanish, rewrite = os.environ.get("HOOK_VANISH"), os.environ.get("HOOK_REWRITE")
    grow = os.environ.get("HOOK_GROW")
    real_ingest = pipeline.ingest.ingest_document

    def ingest_document(source: Any, settings: Any) -> Any:
        path = str(source.path)
        if path == vanish:
            Path(path).unlink()
        elif path == rewrite:
            Path(path).write_text(REWRITTEN, encoding="utf-8")
        return real_ingest(source, settings)

    pipeline.ingest.ingest_document = ingest_document
    _slow_pages(float(os.environ.get("HOOK_SLOW_PAGE_SECONDS", "0")))
    real_fstat = os.fstat
    calls: dict[str, int] = {}

    def fstat(fd: int) -> os.stat_result:
        with_path = os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else ""
        if grow and with_path == grow:
            calls[grow] = calls.get(grow, 0) + 1
            if calls[grow] == 2:  # after the bytes were read: another program appends
                with open(grow, "a", encoding="utf-8") as fh:
                    fh.write("A sentence appended by another program.\n")
        return real_fstat(fd)

    document.os = _OsWithFstat(fstat)  # type: ignore[assignment]


def _slow_pages(seconds: float) -> None:
    import pipeline.ingest.pdf as pdf

    real = pdf._chars_text  # every extractor but "pdfium" lays a page's characters out here

    def page_text(chars: Any, bbox: Any) -> str:
        time.sleep(seconds)
        return real(chars, bbox)

    if seconds > 0:
        pdf._chars_text = page_text


class _OsWithFstat:
    """``os`` for one module, with ``fstat`` replaced."""

    def __init__(self, fstat: Any) -> None:
        self.fstat = fstat

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


if __name__ == "__mp_main__":  # a worker process spawned by this script: same hooks
    _install()

if __name__ == "__main__":
    _install()
    from stancemap.cli import app

    sys.argv = ["stancemap", *sys.argv[1:]]
    app()
