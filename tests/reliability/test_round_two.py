"""Reliability, round two (issue 18): each fix checked at the level it lives at, fast.

The end-to-end proof of the same cases is the hostile corpus (``test_hostile_corpus.py``);
these tests pin the exact behaviour: messages, policies and limits.
"""

from __future__ import annotations

import codecs
import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import time
import zlib
from pathlib import Path

import psutil
import pytest

from flows import incremental as inc
from flows import stages
from pipeline.config import QueryConfig, load_settings
from pipeline.errors import DocumentError, OutputTargetError, QueryError
from pipeline.ingest import discover
from pipeline.ingest.clean import remove_running_lines
from pipeline.ingest.formats import decode_text, html_lines, strip_markdown_html
from pipeline.ingest.metadata import infer_date, read_sidecar
from pipeline.ingest.pdf import _check_inflated_size
from pipeline.io import OutputStore, part_key
from pipeline.query import run_query
from pipeline.report import _bucket, md_cell
from pipeline.safety import clean_message, printable_path, redact
from pipeline.schema import to_table
from scripts import hostile_corpus as hc
from tests.reliability.conftest import ROOT

SETTINGS = load_settings()


# --- 1, 2, 4, 15: discovery -----------------------------------------------------------------


def test_a_name_that_is_not_utf8_is_stored_printable(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/caf\xe9.txt"
    with open(raw, "wb") as fh:
        fh.write(b"text")
    [source] = discover(tmp_path, SETTINGS)
    assert source.rel_path == "caf\\xe9.txt"
    assert os.fsencode(source.path) == raw  # the real name, to open it
    assert part_key(os.fsdecode(raw)) == part_key(os.fsdecode(raw))  # no UnicodeEncodeError
    row = stages.error_table(os.fsdecode(b"caf\xe9.txt"), None, "ingest", "empty", "x")
    assert row.column("source_path").to_pylist() == ["caf\\xe9.txt"]


def test_control_and_bidi_characters_in_a_name_are_escaped(tmp_path: Path) -> None:
    name = "minutes\x1b]0;owned\x07 draft\u202etxt.exe\n.txt"
    (tmp_path / name).write_text("text", encoding="utf-8")
    [source] = discover(tmp_path, SETTINGS)
    assert source.rel_path == "minutes\\x1b]0;owned\\x07 draft\\u202etxt.exe\\x0a.txt"
    assert source.path.name == name  # the real name, to open it
    assert printable_path(os.fsdecode(b"caf\xe9\t.txt")) == "caf\\xe9\\x09.txt"
    exc = DocumentError(name, f"cannot read {name}:\n\tstill\x1b[2J here")
    assert exc.path == source.rel_path
    assert exc.reason == ("cannot read minutes\\x1b]0;owned\\x07 draft\\u202etxt.exe\n.txt:"
                          "\n\tstill\\x1b[2J here")  # a message keeps its lines


def test_a_tree_deeper_than_path_max_is_one_problem_and_discovery_goes_on(
        tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    b = hc._Builder(corpus)
    corpus.mkdir()
    hc._deep_tree(b)
    (corpus / "ordinary.txt").write_text("text", encoding="utf-8")
    found = discover(corpus, SETTINGS)
    problems = [s for s in found if s.problem]
    assert len(problems) == 1 and problems[0].problem is not None
    assert problems[0].problem[0] == "unreadable" and "too long" in problems[0].problem[1]
    assert [s.rel_path for s in found if not s.problem] == ["ordinary.txt"]


def test_pipes_sockets_and_orphan_sidecars_are_problems_hidden_names_are_skipped(
        tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind("sock.txt")
    finally:
        os.chdir(here)
    (tmp_path / "lonely.pdf.meta.yaml").write_text("title: x\n", encoding="utf-8")
    (tmp_path / "paired.txt").write_text("text", encoding="utf-8")
    (tmp_path / "paired.txt.meta.yaml").write_text("title: x\n", encoding="utf-8")
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("x", encoding="utf-8")
    found = {s.rel_path: s.problem for s in discover(tmp_path, SETTINGS)}
    assert found == {
        "lonely.pdf.meta.yaml": ("sidecar", "sidecar without its document: no file named "
                                 "lonely.pdf next to it"),
        "paired.txt": None,
        "pipe.txt": ("not_regular", "a named pipe (FIFO), not a document: never opened"),
        "sock.txt": ("not_regular", "a socket, not a document: never opened"),
    }
    fifo = next(s for s in discover(tmp_path, SETTINGS) if s.rel_path == "pipe.txt")
    assert inc.content_sha(fifo)  # never opened (it would block)


def test_the_output_folder_is_left_out_of_discovery_with_a_note(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "documents").mkdir(parents=True)
    (out / "report.md").write_text("# report", encoding="utf-8")
    (tmp_path / "doc.txt").write_text("text", encoding="utf-8")
    assert [s.rel_path for s in discover(tmp_path, SETTINGS, exclude=[out])] == ["doc.txt"]
    [note] = inc.output_inside_corpus(tmp_path, out)
    assert "is inside the corpus" in note
    assert inc.output_inside_corpus(tmp_path / "corpus", tmp_path / "out") == []


# --- 3, 15: messages --------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    'password: "hunter2-xyz', "password: hunter2-xyz", "api_key=hunter2-xyz",
    "TOKEN : 'hunter2-xyz'", "db_password=hunter2-xyz;", "secret: hunter2-xyz",
])
def test_values_of_sensitive_keys_are_redacted(text: str) -> None:
    assert "hunter2-xyz" not in redact(f"cannot read: {text} (line 2)")
    assert "[redacted]" in redact(text)


def test_document_errors_and_error_rows_are_cleaned() -> None:
    exc = DocumentError(os.fsdecode(b"a\xff.txt"), "oops password: hunter2-xyz in "
                        "<_io.BytesIO object at 0x7f00aa>")
    assert exc.path == "a\\xff.txt" and "hunter2-xyz" not in exc.reason
    assert "object at" not in exc.reason
    row = stages.error_table("a.txt", None, "stance", "ValueError", "token=hunter2-xyz")
    assert row.column("message").to_pylist() == ["token=[redacted]"]
    assert clean_message("plain words stay") == "plain words stay"
    assert printable_path("ok.txt") == "ok.txt"


# --- 9, 13, 15: sidecars and dates ------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("date: 2020-02-30\n", "date '2020-02-30' is not a date"),
    ("date: 9999-12-31\n", "date 9999-12-31 is outside the plausible years 1900-2100"),
    ("title: [a, b]\n", "title must be text, not a list"),
    ("author_org: {x: 1}\n", "author_org must be text, not a mapping"),
    ('title: x\npassword: "hunter2-xyz\n', "YAML syntax error at line 3, column 1"),
])
def test_bad_sidecars_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "doc.txt.meta.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DocumentError) as caught:
        read_sidecar(path, "doc.txt", (1900, 2100))
    assert caught.value.kind == "sidecar"
    assert message in caught.value.reason and "doc.txt.meta.yaml" in caught.value.reason
    assert "hunter2-xyz" not in str(caught.value)


def test_sidecar_words_stay_words_and_numbers_are_text(tmp_path: Path) -> None:
    path = tmp_path / "doc.txt.meta.yaml"
    path.write_text("title: No\nauthor_org: 2020\ndate: 2020-02-03\n", encoding="utf-8")
    sidecar = read_sidecar(path, "doc.txt", (1900, 2100))
    assert (sidecar.title, sidecar.author_org, sidecar.date) == ("No", "2020",
                                                                 dt.date(2020, 2, 3))


def test_dates_outside_the_plausible_years_are_not_a_documents_date() -> None:
    assert infer_date(["1 January 0001", "Title"], (1900, 2100)) is None
    assert infer_date(["Date: 31 December 9999", "2 March 2021"], (1900, 2100)) == dt.date(
        2021, 3, 2)


def test_the_report_axis_is_bounded() -> None:
    assert _bucket(dt.date(2020, 1, 1), dt.date(2020, 12, 1), "auto") == "month"
    assert _bucket(dt.date(2018, 1, 1), dt.date(2021, 12, 1), "auto") == "quarter"
    assert _bucket(dt.date(1900, 1, 1), dt.date(2100, 12, 1), "auto") == "year"
    assert _bucket(dt.date(2000, 1, 1), dt.date(2020, 1, 1), "month") == "year"


# --- 6: report.md -----------------------------------------------------------------------------


def test_markdown_cells_are_inert() -> None:
    cell = md_cell("![t](https://x.invalid/p.png) [c](javascript:alert(1)) <b>x</b> *e* `c`")
    assert re.search(r"(?<!\\)[\[\]`*]", cell) is None
    assert "<" not in cell and "javascript:alert" in cell


# --- 7, 15: decoding --------------------------------------------------------------------------


@pytest.mark.parametrize("charset", ["utf-16", "shift_jis", "iso-8859-1"])
def test_utf8_html_is_read_as_utf8_whatever_it_declares(charset: str) -> None:
    page = (f'<html><head><meta charset="{charset}"></head><body><p>Señora Muñoz agrees.</p>'
            "</body></html>").encode()
    lines, _ = html_lines(page, "p.html")
    assert [line.text for line in lines if line.text] == ["Señora Muñoz agrees."]


def test_hidden_html_is_not_text() -> None:
    lines, _ = html_lines(hc.HIDDEN_HTML.encode(), "h.html")
    text = " ".join(line.text for line in lines)
    assert "welcomes joint committees" in text
    assert not [m for m in hc.HIDDEN_MARKERS if m in text]


def test_raw_html_in_markdown_is_not_text() -> None:
    text = strip_markdown_html(hc.HIDDEN_MD + "<script>never closed MDSCRIPTMARKER")
    assert not [m for m in hc.HIDDEN_MARKERS if m in text]
    assert "The forum welcomes the proposals." in text
    assert strip_markdown_html("see <https://example.org> a < b") == (
        "see <https://example.org> a < b")


def test_utf8_with_a_bom_and_one_cp1252_line_is_decoded_line_by_line() -> None:
    data = (codecs.BOM_UTF8 + "Naïve façade.\n".encode() + "“Quoted” – fine.\n".encode("cp1252"))
    text, _ = decode_text(data, "t.txt")
    assert text == "Naïve façade.\n“Quoted” – fine.\n"


def test_a_page_repeated_between_form_feeds_is_kept() -> None:
    page = ["Quillfield supports the plan.", "A second line."]
    kept, dropped = remove_running_lines([page] * 40, 0.5)
    assert kept == [page] * 40 and dropped == []


def test_a_bomb_behind_a_second_filter_is_refused() -> None:
    packer = zlib.compressobj(9)
    bomb = b"".join(packer.compress(b" " * (1 << 20)) for _ in range(64)) + packer.flush()
    for content, filters in ((zlib.compress(bomb), b"/Filter [/FlateDecode /FlateDecode]"),
                             (bomb.hex().encode() + b">", b"/Filter [/AHx /Fl]")):
        with pytest.raises(DocumentError) as caught:
            _check_inflated_size(hc.raw_pdf(content, filters), "b.pdf", 32 << 20)
        assert caught.value.kind == "limit"
    _check_inflated_size(hc.raw_pdf(zlib.compress(bomb), b"/Filter /FlateDecode"), "b.pdf",
                         65 << 20)


# --- 5, 8, 14: manifest, restoring, copies ----------------------------------------------------


def _doc(doc_id: str, path: str) -> dict[str, object]:
    return {"doc_id": doc_id, "source_path": path, "format": "txt", "title": "t",
            "author_org": None, "author_org_id": None, "author_confidence": None,
            "doc_kind": "other", "date": None, "n_pages": None, "n_sentences": 1, "n_chars": 4,
            "size_bytes": 4, "sha256": doc_id * 4, "metadata_source": "inferred",
            "ingested_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "copy_of": None}


def _entry(doc_id: str | None, stages_done: dict[str, str],
           errors: dict[str, str] | None = None) -> dict[str, object]:
    return {"sha256": "s", "doc_id": doc_id, "size": 1, "mtime_ns": 1, "sidecar": None,
            "stages": stages_done, "errors": errors or {}}


@pytest.mark.parametrize("files", [
    [1, 2], {"a.txt": "x"}, {"a.txt": {**_entry("d", {}), "stages": ["ingest"]}},
    {"a.txt": {**_entry("d", {}), "size": "12"}}, {"a.txt": {**_entry("d", {}), "doc_id": 7}},
])
def test_a_manifest_of_the_wrong_shape_is_a_lost_manifest(tmp_path: Path, files: object) -> None:
    store = OutputStore(tmp_path)
    store.write_state("manifest", {"version": inc.MANIFEST_VERSION, "files": files,
                                   "corpus": {}})
    manifest = inc.Manifest.load(store)
    assert manifest.files == {} and manifest.corpus == {}


def test_missing_parts_and_error_rows_mark_their_stage_to_redo(tmp_path: Path) -> None:
    store = OutputStore(tmp_path)
    for table in ("documents", "pages", "sentences", "entities", "stances", "positions"):
        (store.table_path(table)).mkdir(parents=True)
        (store.table_path(table) / "d1.parquet").write_bytes(b"x")
    entry = _entry("d1", {"ingest": "f", "entities": "f", "stance": "f"})
    assert inc.missing_outputs(store, entry) == set()
    (store.table_path("stances") / "d1.parquet").unlink()
    assert inc.missing_outputs(store, entry) == {"stance"}
    (store.table_path("pages") / "d1.parquet").unlink()
    assert inc.missing_outputs(store, entry) == {"ingest", "stance"}
    failed = _entry(None, {"ingest": "f"}, {"ingest": "k1"})
    assert inc.missing_outputs(store, failed) == {"ingest"}


def test_identical_files_are_listed_under_the_first_path_even_after_it_is_deleted(
        tmp_path: Path) -> None:
    store = OutputStore(tmp_path)
    manifest = inc.Manifest(store, {"a.txt": _entry("d1", {"ingest": "f"}),
                                    "b.txt": _entry("d1", {"ingest": "f"})})
    store.write_part("documents", "d1", to_table("documents", [_doc("d1", "b.txt")]))
    assert inc.settle_copies(store, manifest) == [("b.txt", "a.txt")]
    assert store.read_table("documents").column("source_path").to_pylist() == ["a.txt"]
    inc.forget_file(store, manifest, "a.txt")
    assert inc.settle_copies(store, manifest) == []
    assert store.read_table("documents").column("source_path").to_pylist() == ["b.txt"]
    summary: dict[str, object] = {"ingested": 2, "notes": []}
    inc.count_copies(summary, [("b.txt", "a.txt")], {"a.txt", "b.txt"})
    assert summary["ingested"] == 1 and summary["identical"] == 1


def test_an_output_folder_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "_state").write_text("not a folder", encoding="utf-8")
    with pytest.raises(OutputTargetError, match="cannot write to the output folder"), \
            OutputStore(tmp_path).lock():
        pass


# --- 12: no pickled results -------------------------------------------------------------------


def test_prefect_persists_and_caches_no_task_result() -> None:
    from prefect import Task
    from prefect.cache_policies import NO_CACHE

    from flows import tasks

    every = [t for t in vars(tasks).values() if isinstance(t, Task)]
    assert {t.name for t in every} >= {"ingest-document", "analyse-document",
                                       "build-corpus-stage", "render-report", "publish-outputs"}
    for task in every:
        assert task.persist_result is False and task.cache_policy is NO_CACHE, task.name


# --- 10: query limits -------------------------------------------------------------------------


def _outputs(tmp_path: Path) -> Path:
    """An output folder holding one table (the query command refuses a folder without any)."""
    out = tmp_path / "out"
    OutputStore(out).write_part("pages", "d1", to_table(
        "pages", [{"doc_id": "d1", "page": 1, "text": "page text", "n_chars": 9}]))
    return out


def _query(sql: str, out: Path, env: dict[str, str],
           *extra: str) -> tuple[subprocess.CompletedProcess[str], float, float]:
    wrapper = ("import resource, subprocess, sys; rc = subprocess.call(sys.argv[1:]); "
               "sys.stderr.write('PEAK %d' % resource.getrusage(resource.RUSAGE_CHILDREN)"
               ".ru_maxrss); sys.exit(rc)")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-m", "stancemap.cli",
                           "query", sql, "--out", str(out), *extra], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, **env}, timeout=300)
    peak = int(re.findall(r"PEAK (\d+)", proc.stderr)[-1]) / 1024
    return proc, time.monotonic() - started, peak


def test_a_query_past_its_time_limit_stops_with_a_clear_message(tmp_path: Path) -> None:
    env = {"STANCEMAP_QUERY__MAX_SECONDS": "3"}
    proc, seconds, _ = _query("SELECT count(*) FROM range(1000000000000)", _outputs(tmp_path),
                              env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "stopped after 3 s (query.max_seconds)" in proc.stderr
    assert seconds < 3 + 30  # the limit, plus starting Python on a busy machine
    started = time.monotonic()
    with pytest.raises(QueryError, match=r"stopped after 2 s \(query\.max_seconds\)"):
        run_query("SELECT count(*) FROM range(1000000000000)", tmp_path,
                  QueryConfig(max_seconds=2))
    assert time.monotonic() - started < 2 + 3


def test_a_query_past_its_row_limit_stops_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(QueryError, match=r"more than 1,000 rows \(query\.max_rows\)"):
        run_query("SELECT * FROM range(5000)", tmp_path, QueryConfig(max_rows=1000))
    assert run_query("SELECT * FROM range(1000)", tmp_path,
                     QueryConfig(max_rows=1000)).num_rows == 1000


@pytest.mark.parametrize("sql", [
    "SELECT repeat('x', 1000) AS s FROM range(2000000)",  # a result past the memory share
    "SELECT string_agg(repeat('x', 100), ',') FROM range(20000000)",  # DuckDB's own memory
    "SELECT * FROM range(3000000)",  # allowed: rendered batch by batch
])
def test_the_query_command_stays_under_its_memory_limit(tmp_path: Path, sql: str) -> None:
    limit = 500
    env = {"STANCEMAP_QUERY__MEMORY_MB": str(limit), "STANCEMAP_QUERY__MAX_ROWS": "10000000"}
    proc, _, peak = _query(sql, _outputs(tmp_path), env, "--format", "json", "--output",
                           str(tmp_path / "result.json"))
    assert peak < limit, (peak, proc.stderr[-500:])
    assert "Traceback" not in proc.stderr
    if "range(3000000)" in sql:
        assert proc.returncode == 0
        assert (tmp_path / "result.json").stat().st_size > 3_000_000 * 10
    else:
        assert proc.returncode == 2 and "query.memory_mb" in proc.stderr


# --- 11: a run's helpers die with it ----------------------------------------------------------


_SLEEPER = "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"


def _watched_child(body: str) -> tuple[subprocess.Popen[str], psutil.Process]:
    """A process that starts a watchdog, then runs ``body`` (which starts a sleeping child
    and prints its pid): the process and the child."""
    script = ("import os, signal, subprocess, sys, time\n"
              "from stancemap.runtime import start_watchdog\n"
              "start_watchdog()\n" + body)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    return proc, psutil.Process(int(proc.stdout.readline()))


def test_the_watchdog_kills_what_a_killed_process_started() -> None:
    proc, child = _watched_child(_SLEEPER + "print(child.pid, flush=True)\ntime.sleep(600)\n")
    time.sleep(1.0)  # the watchdog's first look
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    _gone, alive = psutil.wait_procs([child], timeout=10)
    assert alive == []


def test_the_watchdog_kills_what_was_started_just_before_the_kill() -> None:
    """A worker started after the watchdog's last look (it looks twice a second) is found as
    an orphan of the killed process."""
    proc, child = _watched_child("time.sleep(1.0)\n" + _SLEEPER + "print(child.pid, flush=True)\n"
                                 "os.kill(os.getpid(), signal.SIGKILL)\n")
    proc.wait(timeout=10)
    _gone, alive = psutil.wait_procs([child], timeout=10)
    assert alive == []


def test_run_into_an_output_folder_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Quillfield supports the plan.", encoding="utf-8")
    (out / "_state").parent.mkdir()
    (out / "_state").write_text("a file where the state folder should be", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "stancemap.cli", "run", "--out", str(out), "--",
                           str(corpus)], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cannot write to the output folder" in proc.stderr
