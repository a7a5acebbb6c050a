"""The whole product on a hostile corpus: one `stancemap run`, every bad file one errors row."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.io import OutputStore
from scripts import hostile_corpus as hc
from tests.reliability.conftest import SHARED

pytestmark = pytest.mark.slow

# Peak RSS of the whole run (spaCy, the embedder, Prefect and the largest document); measured
# about 2.9 GB on the hostile corpus (see docs/reliability.md).
MAX_PEAK_RSS_MB = 3500


@dataclass(frozen=True)
class HostileRun:
    """A built hostile corpus and one `stancemap run` over it."""

    corpus: Path
    out: Path
    cases: list[hc.Case]
    proc: subprocess.CompletedProcess[str]
    seconds: float
    peak_mb: float

    def outcomes(self) -> list[hc.Outcome]:
        return hc.tally(self.cases, self.out)

    def case(self, name: str) -> hc.Case:
        return next(c for c in self.cases if c.name == name)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory,
            stancemap_env: dict[str, str]) -> HostileRun:
    base = tmp_path_factory.mktemp("hostile")
    corpus = base / "corpus"
    out = corpus / hc.OUT_INSIDE  # inside the corpus: the run must leave it out
    cases = hc.build(corpus, SHARED if (SHARED / "pdfs").is_dir() else None)
    proc, seconds, peak = hc.run_stancemap(corpus, out, env=stancemap_env)
    return HostileRun(corpus, out, cases, proc, seconds, peak)


def test_the_run_completes(hostile: HostileRun) -> None:
    assert hostile.proc.returncode == 0, hostile.proc.stderr[-3000:]
    assert "Traceback" not in hostile.proc.stderr
    assert "summary:" in hostile.proc.stdout
    assert OutputStore(hostile.out).read_state("manifest")["corpus"].get("report")
    assert (hostile.out / "report.html").is_file() and (hostile.out / "report.md").is_file()


def test_every_case_is_handled(hostile: HostileRun) -> None:
    failed = [f"{o.case.name}: {o.detail}" for o in hostile.outcomes() if not o.handled]
    assert failed == []


def test_one_error_row_per_bad_file_with_a_readable_reason(hostile: HostileRun) -> None:
    errors = [e for e in OutputStore(hostile.out).read_table("errors").to_pylist()
              if e["stage"] == "ingest"]
    paths = [e["source_path"] for e in errors]
    assert len(paths) == len(set(paths))
    expected = {f for c in hostile.cases if c.expect == "error" and not c.prefix
                for f in c.files}
    assert expected <= set(paths)
    for case in [c for c in hostile.cases if c.expect == "error" and c.prefix]:
        assert len([p for p in paths if p.startswith(case.files[0])]) == 1, case.name
    for row in errors:
        message = str(row["message"])
        assert len(message) >= 10 and "Traceback" not in message, row
        assert row["kind"] and row["kind"] != "internal", row


def test_text_encodings_are_decoded_exactly(hostile: HostileRun) -> None:
    for name in ("latin-1 text", "cp1252 text", "UTF-16 with BOM"):
        outcome = next(o for o in hostile.outcomes() if o.case.name == name)
        assert outcome.handled, outcome.detail


def test_script_and_handler_text_never_reaches_the_tables(hostile: HostileRun) -> None:
    store = OutputStore(hostile.out)
    texts = [*store.read_table("pages").column("text").to_pylist(),
             *store.read_table("sentences").column("text").to_pylist(),
             *(str(t) for t in store.read_table("documents").column("title").to_pylist())]
    blob = "\n".join(texts)
    assert "Harbourside Care Forum supports" in blob
    for marker in hc.SCRIPT_MARKERS:
        assert marker not in blob


def test_links_and_devices_are_never_read(hostile: HostileRun) -> None:
    store = OutputStore(hostile.out)
    errors = {e["source_path"]: e for e in store.read_table("errors").to_pylist()}
    for case in hostile.cases:
        if case.name.startswith("link to"):
            row = errors[case.files[0]]
            assert row["kind"] == "link" and "symbolic link" in row["message"], row
    pages = "\n".join(store.read_table("pages").column("text").to_pylist())
    assert "root:x:0:0" not in pages and "localhost" not in pages


def test_nothing_from_the_corpus_ran(hostile: HostileRun) -> None:
    assert not (hostile.corpus / hc.PWNED).exists()


def test_reports_escape_document_text(hostile: HostileRun) -> None:
    html = (hostile.out / "report.html").read_text(encoding="utf-8")
    markdown = (hostile.out / "report.md").read_text(encoding="utf-8")
    for text in (html, markdown):
        assert "<img src=x onerror" not in text
        assert "<script>alert(" not in text
        assert "<b>raw</b>" not in text
        assert "&lt;img src=x onerror=alert(1)&gt;.txt" in text  # the failed file is listed
    assert "&lt;script&gt;alert(" in html  # the hostile title, shown as text


def test_report_md_is_inert_markdown(hostile: HostileRun) -> None:
    """No image a renderer would fetch, no link (javascript: or other), no raw HTML tag."""
    markdown = (hostile.out / "report.md").read_text(encoding="utf-8")
    assert "tracker.invalid" in markdown and "javascript:" in markdown  # shown, as text
    assert re.search(r"(?<!\\)!?(?<!\\)\[[^\]]*(?<!\\)\]\(", markdown) is None
    assert re.search(r"<[A-Za-z/!]", markdown) is None


def test_no_secret_reaches_any_output(hostile: HostileRun) -> None:
    assert hc.secrets_found(hostile.out, hostile.proc.stdout, hostile.proc.stderr) == []
    row = next(e for e in OutputStore(hostile.out).read_table("errors").to_pylist()
               if e["source_path"] == "sidecars/broken-yaml.txt")
    assert "line 4, column 1" in row["message"] and "broken-yaml.txt.meta.yaml" in row["message"]


def test_identical_copies_are_one_document_counted_once(hostile: HostileRun) -> None:
    store = OutputStore(hostile.out)
    listed = [d for d in store.read_table("documents").to_pylist()
              if d["source_path"].startswith("copies/")]
    assert [d["source_path"] for d in listed] == ["copies/a-listed.txt"]
    assert "copies/b-copy.txt = copies/a-listed.txt" in hostile.proc.stdout
    assert re.search(r"\b1 identical copies\b", hostile.proc.stdout)


def test_the_output_folder_inside_the_corpus_is_left_out(hostile: HostileRun) -> None:
    assert "is inside the corpus" in hostile.proc.stdout
    store = OutputStore(hostile.out)
    paths = [*store.read_table("documents").column("source_path").to_pylist(),
             *store.read_table("errors").column("source_path").to_pylist()]
    assert not [p for p in paths if p.startswith(hc.OUT_INSIDE)]


def test_implausible_dates_are_dropped(hostile: HostileRun) -> None:
    dates = {d["source_path"]: d["date"]
             for d in OutputStore(hostile.out).read_table("documents").to_pylist()}
    assert dates["sidecars/year-one.txt"] is None
    assert all(d is None or 1900 <= d.year <= 2100 for d in dates.values())


def test_nothing_is_pickled_under_the_prefect_home(hostile: HostileRun) -> None:
    import os

    home = Path(os.environ["PREFECT_HOME"])
    assert [p for p in home.rglob("*") if p.is_file() and "storage" in p.parts] == []


def test_every_parquet_file_is_readable_and_nothing_temporary_is_left(
        hostile: HostileRun) -> None:
    files = sorted(hostile.out.rglob("*.parquet"))
    assert files
    for path in files:
        pq.read_table(path)
    assert [p for p in hostile.out.rglob("*") if ".tmp-" in p.name] == []


def test_peak_memory_is_bounded(hostile: HostileRun) -> None:
    assert hostile.peak_mb < MAX_PEAK_RSS_MB


def test_a_second_run_changes_nothing(hostile: HostileRun,
                                      stancemap_env: dict[str, str]) -> None:
    from tests.flows.helpers import snapshot

    before = snapshot(hostile.out)
    proc, _, _ = hc.run_stancemap(hostile.corpus, hostile.out, env=stancemap_env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert re.search(r"\b0 ingested\b", proc.stdout) and re.search(r"\b0 failed\b", proc.stdout)
    assert snapshot(hostile.out) == before


def test_deleted_outputs_are_restored_identical(hostile: HostileRun,
                                                stancemap_env: dict[str, str]) -> None:
    """One part of each per-document table (from different documents), an errors part and
    every corpus-level table and report deleted; one run restores each, identical."""
    outcomes = hc.restore_check(hostile.corpus, hostile.out, env=stancemap_env)
    assert {o.case.name for o in outcomes} >= {
        f"deleted {t} part" for t in (*hc.PART_TABLES, "errors")} | {
        f"deleted {name}" for name in hc.CORPUS_OUTPUTS}
    assert [f"{o.case.name}: {o.detail}" for o in outcomes if not o.handled] == []
