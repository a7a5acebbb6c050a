"""Discovery: recursion, order, skipped files, links never followed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.errors import DocumentError
from pipeline.ingest import discover, ingest_document


def make_tree(root: Path) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "b.txt").write_text("b", encoding="utf-8")
    (root / "a file with spaces é.md").write_text("a", encoding="utf-8")
    (root / "b.txt.meta.yaml").write_text("title: B\n", encoding="utf-8")
    (root / ".secret.txt").write_text("s", encoding="utf-8")
    (root / ".hidden" / "c.txt").write_text("c", encoding="utf-8")
    (root / "sub" / "deeper" / "d.pdf").write_bytes(b"%PDF-1.4")
    (root / "sub" / "notes.xyz").write_text("x", encoding="utf-8")
    (root / "-leading dash 'quoted'.txt").write_text("q", encoding="utf-8")


def test_discover_walks_sorted_and_skips_hidden_and_sidecars(
    tmp_path: Path, settings: Settings
) -> None:
    make_tree(tmp_path)
    found = discover(tmp_path, settings)
    assert [s.rel_path for s in found] == [
        "-leading dash 'quoted'.txt",
        "a file with spaces é.md",
        "b.txt",
        "sub/deeper/d.pdf",
        "sub/notes.xyz",
    ]
    by_name = {s.rel_path: s for s in found}
    assert by_name["b.txt"].sidecar == tmp_path / "b.txt.meta.yaml"
    assert by_name["b.txt"].size == 1 and by_name["b.txt"].path.is_absolute()
    assert by_name["sub/deeper/d.pdf"].sidecar is None
    assert by_name["sub/notes.xyz"].extension == ".xyz"


def test_links_are_listed_never_followed(tmp_path: Path, settings: Settings) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside the corpus", encoding="utf-8")
    (corpus / "to-file.txt").symlink_to(outside / "secret.txt")
    (corpus / "to-dir").symlink_to(outside, target_is_directory=True)
    (corpus / "to-device.txt").symlink_to("/dev/zero")
    found = {s.rel_path: s for s in discover(corpus, settings)}
    assert set(found) == {"to-dir", "to-device.txt", "to-file.txt"}
    for source in found.values():
        assert source.link_target is not None
        with pytest.raises(DocumentError, match="symbolic link") as info:
            ingest_document(source, settings)
        assert info.value.kind == "link"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_fifo_is_listed_as_a_problem_never_opened(tmp_path: Path, settings: Settings) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "real.txt").write_text("text", encoding="utf-8")
    found = {s.rel_path: s.problem for s in discover(tmp_path, settings)}
    assert found == {"pipe.txt": ("not_regular", "a named pipe (FIFO), not a document: "
                                  "never opened"), "real.txt": None}


def test_empty_corpus(tmp_path: Path, settings: Settings) -> None:
    assert discover(tmp_path, settings) == []
