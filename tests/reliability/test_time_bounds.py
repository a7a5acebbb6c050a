"""Time per document: the ingest deadline, and analysis on text no pattern should choke on."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from pipeline.io import OutputStore
from scripts import hostile_corpus as hc
from tests.reliability.conftest import run_cli

pytestmark = pytest.mark.slow

HOOKED = str(Path(__file__).with_name("hooked_cli.py"))
SENTENCE = "The Quillfield board supports joint committees for every area of the county."


def _ingest_with_limit(tmp_path: Path, env: dict[str, str], files: dict[str, bytes],
                       seconds: str, slow_page: str = "0") -> tuple[dict[str, dict[str, object]],
                                                                    list[str], float]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, data in files.items():
        (corpus / name).write_bytes(data)
    out = tmp_path / "out"
    started = time.monotonic()
    result = run_cli(["ingest", "--out", str(out), str(corpus)], env, script=HOOKED,
                     extra_env={"HOOK_SLOW_PAGE_SECONDS": slow_page,
                                "STANCEMAP_CORPUS__MAX_SECONDS_PER_DOCUMENT": seconds})
    elapsed = time.monotonic() - started
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    store = OutputStore(out)
    errors = {str(e["source_path"]): e for e in store.read_table("errors").to_pylist()}
    return errors, store.read_table("documents").column("source_path").to_pylist(), elapsed


def test_the_per_document_time_limit_stops_a_slow_pdf_between_pages(
        tmp_path: Path, stancemap_env: dict[str, str]) -> None:
    files = {"slow.pdf": hc.pdf_pages([[SENTENCE]] * 40)}
    errors, _, elapsed = _ingest_with_limit(tmp_path, stancemap_env, files, "6", "0.5")
    assert errors["slow.pdf"]["kind"] == "limit"
    assert "max_seconds_per_document" in str(errors["slow.pdf"]["message"])
    assert elapsed < 40 * 0.5  # stopped well before all 40 slow pages


def test_model_loading_is_not_charged_to_a_document(tmp_path: Path,
                                                     stancemap_env: dict[str, str]) -> None:
    # Distinct texts: identical files would be one document (doc_id derives from content).
    files = {f"doc-{i}.txt": f"{SENTENCE} Meeting {i}.\n".encode() for i in range(2)}
    errors, documents, _ = _ingest_with_limit(tmp_path, stancemap_env, files, "1.5")
    assert errors == {} and sorted(documents) == ["doc-0.txt", "doc-1.txt"]


@pytest.mark.parametrize("token", ["z", "a.", "ab-"])
def test_analysis_of_one_enormous_token_finishes(tmp_path: Path, stancemap_env: dict[str, str],
                                                 token: str) -> None:
    """A text holding one 200 KB "word" (a pasted blob, a long URL) once hung the stance stage
    (a regex with nested quantifiers) and slowed the author finder (unbounded e-mail and web
    address patterns) quadratically."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    blob = (token * (200_000 // len(token)))[:200_000]
    (corpus / "blob.txt").write_text(f"{SENTENCE}\n\n{blob}\n\n{SENTENCE}\n", encoding="utf-8")
    out = tmp_path / "out"
    started = time.monotonic()
    result = run_cli(["run", "--out", str(out), str(corpus)], stancemap_env, timeout=600)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"\b1 ingested\b", result.stdout), result.stdout
    assert "failed analysis" not in result.stdout
    assert elapsed < 300


def test_a_page_that_never_finishes_is_killed_at_the_hard_limit(
        tmp_path: Path, stancemap_env: dict[str, str]) -> None:
    """One page slower than the whole budget: the cooperative check (between pages) cannot
    stop it; the worker is killed 5 s after the limit and the next file is still ingested."""
    files = {"stuck.pdf": hc.pdf_pages([[SENTENCE]]),
             "fine.txt": f"{SENTENCE} A second file.\n".encode()}
    errors, documents, elapsed = _ingest_with_limit(tmp_path, stancemap_env, files, "2", "120")
    assert errors["stuck.pdf"]["kind"] == "limit"
    assert "killed (over corpus.max_seconds_per_document, 2 s)" in str(
        errors["stuck.pdf"]["message"])
    assert documents == ["fine.txt"]
    assert elapsed < 100  # far less than the page's 120 s


def test_a_document_over_the_memory_limit_becomes_an_error_row(
        tmp_path: Path, stancemap_env: dict[str, str]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(f"{SENTENCE}\n", encoding="utf-8")
    out = tmp_path / "out"
    result = run_cli(["ingest", "--out", str(out), str(corpus)], stancemap_env,
                     extra_env={"STANCEMAP_CORPUS__MAX_MEMORY_MB_PER_DOCUMENT": "60"})
    assert result.returncode == 1, result.stderr[-2000:]  # every file failed
    assert "Traceback" not in result.stderr
    [error] = OutputStore(out).read_table("errors").to_pylist()
    assert (error["source_path"], error["kind"]) == ("a.txt", "limit")
    assert "over corpus.max_memory_mb_per_document (60 MB)" in str(error["message"])
