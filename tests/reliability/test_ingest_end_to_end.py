"""Hostile inputs that need their own run: passwords, leading dashes, limits set from the
environment, files that vanish or change while stancemap reads them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.io import OutputStore
from scripts import hostile_corpus as hc
from tests.reliability.conftest import run_cli

pytestmark = pytest.mark.slow

HOOKED = str(Path(__file__).with_name("hooked_cli.py"))
SENTENCE = "The Quillfield board supports joint committees for every area of the county."


def _tables(out: Path) -> tuple[dict[str, str], dict[str, dict[str, object]]]:
    store = OutputStore(out)
    docs = {d["source_path"]: d["doc_id"] for d in store.read_table("documents").to_pylist()}
    errors = {e["source_path"]: e for e in store.read_table("errors").to_pylist()}
    return docs, errors


def _text(out: Path, doc_id: str) -> str:
    return " ".join(OutputStore(out).read_table("sentences", {doc_id}).column("text").to_pylist())


def test_encrypted_pdf_with_and_without_password(tmp_path: Path,
                                                 stancemap_env: dict[str, str]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "locked.pdf").write_bytes(hc.pdf_pages([[SENTENCE]], password=hc.PASSWORD))
    (corpus / "open.txt").write_text(SENTENCE + "\n", encoding="utf-8")
    cases = [("none", [], "pass --password"),
             ("wrong", ["--password", "not-it"], "the password given does not open it"),
             ("right", ["--password", hc.PASSWORD], None)]
    for label, extra, message in cases:
        out = tmp_path / f"out-{label}"
        result = run_cli(["ingest", "--out", str(out), *extra, str(corpus)], stancemap_env)
        assert result.returncode == 0, result.stderr[-2000:]
        docs, errors = _tables(out)
        if message is None:
            assert "locked.pdf" not in errors
            assert SENTENCE in _text(out, docs["locked.pdf"])
        else:
            assert "locked.pdf" not in docs
            assert errors["locked.pdf"]["kind"] == "encrypted"
            assert message in str(errors["locked.pdf"]["message"])


def test_corpus_folder_with_a_leading_dash(tmp_path: Path, stancemap_env: dict[str, str]) -> None:
    corpus = tmp_path / "-rf corpus"
    corpus.mkdir()
    (corpus / "--help.txt").write_text(SENTENCE + "\n", encoding="utf-8")
    (corpus / "-v 'quoted' naïve.md").write_text(f"# Title\n\n{SENTENCE}\n", encoding="utf-8")
    out = tmp_path / "out"
    result = run_cli(["ingest", "--out", str(out), "--", str(corpus)], stancemap_env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"\b2 ingested\b", result.stdout), result.stdout
    docs, errors = _tables(out)
    assert sorted(docs) == ["--help.txt", "-v 'quoted' naïve.md"] and errors == {}


def test_limits_from_the_environment(tmp_path: Path, stancemap_env: dict[str, str]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "three-pages.pdf").write_bytes(hc.pdf_pages([[SENTENCE]] * 3))
    (corpus / "big.txt").write_text((SENTENCE + " ") * 2000, encoding="utf-8")  # ~150 KB
    (corpus / "small.txt").write_text(SENTENCE + "\n", encoding="utf-8")
    (corpus / "bomb.pdf").write_bytes(hc.flate_bomb_pdf(2))
    out = tmp_path / "out"
    limits = {"STANCEMAP_CORPUS__MAX_PAGES": "2", "STANCEMAP_CORPUS__MAX_FILE_MB": "0.1"}
    result = run_cli(["ingest", "--out", str(out), str(corpus)], stancemap_env,
                     extra_env=limits)
    assert result.returncode == 0, result.stderr[-2000:]
    docs, errors = _tables(out)
    assert sorted(docs) == ["small.txt"]
    assert {k: e["kind"] for k, e in errors.items()} == {
        "three-pages.pdf": "limit", "big.txt": "limit", "bomb.pdf": "limit"}
    assert "corpus.max_pages" in str(errors["three-pages.pdf"]["message"])
    assert "corpus.max_file_mb" in str(errors["big.txt"]["message"])
    assert "compression bomb" in str(errors["bomb.pdf"]["message"])


def test_a_compression_bomb_stays_within_memory(tmp_path: Path,
                                                stancemap_env: dict[str, str]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "small.txt").write_text(SENTENCE + "\n", encoding="utf-8")
    baseline_out = tmp_path / "baseline"
    _, _, baseline = hc.run_stancemap(corpus, baseline_out, command="ingest", env=stancemap_env)
    (corpus / "bomb.pdf").write_bytes(hc.flate_bomb_pdf(1024))  # 1 MB file, 1 GB inflated
    proc, _, peak = hc.run_stancemap(corpus, tmp_path / "out", command="ingest",
                                     env=stancemap_env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    _, errors = _tables(tmp_path / "out")
    assert errors["bomb.pdf"]["kind"] == "limit"
    assert peak < baseline + 150, (peak, baseline)  # the bomb is never inflated in memory


def test_files_that_vanish_or_change_while_read(tmp_path: Path,
                                                stancemap_env: dict[str, str]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("vanishes.txt", "rewritten.txt", "grows.txt", "steady.txt"):
        (corpus / name).write_text(f"{SENTENCE} This file is {name}.\n", encoding="utf-8")
    out = tmp_path / "out"
    hooks = {"HOOK_VANISH": str(corpus / "vanishes.txt"),
             "HOOK_REWRITE": str(corpus / "rewritten.txt"), "HOOK_GROW": str(corpus / "grows.txt")}
    result = run_cli(["ingest", "--out", str(out), str(corpus)], stancemap_env, script=HOOKED,
                     extra_env=hooks)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    docs, errors = _tables(out)
    assert sorted(docs) == ["rewritten.txt", "steady.txt"]
    assert errors["vanishes.txt"]["kind"] == "missing"
    assert "vanished" in str(errors["vanishes.txt"]["message"])
    assert errors["grows.txt"]["kind"] == "changed"
    assert "changed while it was being read" in str(errors["grows.txt"]["message"])
    assert "rewritten text says" in _text(out, docs["rewritten.txt"])  # read as it is now

    # The next run (files now stable) ingests what changed and forgets what vanished.
    again = run_cli(["ingest", "--out", str(out), str(corpus)], stancemap_env)
    assert again.returncode == 0, again.stderr[-2000:]
    docs, errors = _tables(out)
    assert errors == {}
    assert sorted(docs) == ["grows.txt", "rewritten.txt", "steady.txt"]
    assert "appended by another program" in _text(out, docs["grows.txt"])
