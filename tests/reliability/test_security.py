"""Security checks over the whole product: no code from the corpus, a read-only SQL interface,
parsers without known vulnerabilities."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from pipeline.io import OutputStore
from pipeline.schema import to_table

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for folder in ("pipeline", "flows", "stancemap")
                 for p in (ROOT / folder).rglob("*.py"))

# Calls that can run code hidden in data. yaml.load is only safe with SafeLoader/CSafeLoader.
DANGEROUS = {
    "pickle": re.compile(
        r"\b(c?pickle|dill|cloudpickle|shelve|marshal)\.(loads?|Unpickler|open)\b"),
    "joblib": re.compile(r"\bjoblib\b"),
    "eval/exec": re.compile(r"(?<![\w.])(eval|exec|execfile|compile)\s*\("),
    "yaml.load": re.compile(r"\byaml\.(load|load_all|unsafe_load|full_load)\s*\("),
    "allow_pickle": re.compile(r"allow_pickle\s*=\s*True"),
    "torch.load": re.compile(r"\btorch\.load\s*\((?![^)]*weights_only\s*=\s*True)"),
    "subprocess shell": re.compile(r"shell\s*=\s*True"),
}


def _code_lines(path: Path) -> list[tuple[int, str]]:
    lines = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        code = line.split("#", 1)[0]
        if code.strip():
            lines.append((number, code))
    return lines


def test_the_sources_are_scanned() -> None:
    assert len(SOURCES) > 20
    assert ROOT / "pipeline" / "ingest" / "pdf.py" in SOURCES


@pytest.mark.parametrize("what", sorted(DANGEROUS))
def test_nothing_from_the_corpus_is_unpickled_or_evaluated(what: str) -> None:
    pattern = DANGEROUS[what]
    found = [f"{path.relative_to(ROOT)}:{n}: {code.strip()}" for path in SOURCES
             for n, code in _code_lines(path) if pattern.search(code)]
    if what == "yaml.load":  # allowed with an explicit safe loader only
        found = [f for f in found if re.search(r"Loader\s*=\s*(yaml\.)?C?SafeLoader", f) is None]
    assert found == []


def test_the_scan_would_catch_each_pattern() -> None:
    samples = {"pickle": "data = pickle.loads(blob)", "joblib": "import joblib",
               "eval/exec": "x = eval(text)", "yaml.load": "yaml.load(fh)",
               "allow_pickle": "np.load(p, allow_pickle=True)", "torch.load": "torch.load(p)",
               "subprocess shell": "run(cmd, shell=True)"}
    assert set(samples) == set(DANGEROUS)
    for what, sample in samples.items():
        assert DANGEROUS[what].search(sample), what
    assert not DANGEROUS["torch.load"].search("torch.load(p, weights_only=True)")
    assert not DANGEROUS["eval/exec"].search("model.eval()")


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


@pytest.mark.parametrize(("package", "fixed"), [
    ("pdfminer.six", "20251107"),  # CVE-2025-64512: code execution via a crafted CMap pickle
    ("pdfplumber", "0.11.9"),  # the first release requiring that pdfminer.six
    ("jinja2", "3.1.6"),  # CVE-2025-27516: sandbox breakout via |attr
    ("lxml", "5.2.0"),
])
def test_parsers_are_at_versions_without_known_vulnerabilities(package: str, fixed: str) -> None:
    assert _version_tuple(version(package)) >= _version_tuple(fixed)


def _outputs(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    OutputStore(out).write_part("pages", "d1", to_table(
        "pages", [{"doc_id": "d1", "page": 1, "text": "page text", "n_chars": 9}]))
    return out


def _query(sql: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stancemap.cli", "query", sql, "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "NO_COLOR": "1"})


def test_the_sql_interface_reads_the_outputs(tmp_path: Path) -> None:
    result = _query("SELECT doc_id, n_chars FROM pages", _outputs(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-4:] == ["d1", "9", "(1", "row)"]


@pytest.mark.parametrize("sql", [
    "COPY (SELECT * FROM pages) TO '{tmp}/leak.csv'",
    "SELECT 1; COPY pages TO '{tmp}/leak.parquet' (FORMAT parquet)",
    "CREATE TABLE {name} AS SELECT 1",
    "ATTACH '{tmp}/other.duckdb' AS other",
    "INSTALL httpfs",
    "SET enable_external_access = true",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM read_parquet('{outside}/*.parquet')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM read_parquet('{out}/../secret/*.parquet')",
])
def test_the_sql_interface_cannot_write_or_read_outside_the_outputs(tmp_path: Path,
                                                                    sql: str) -> None:
    out = _outputs(tmp_path)
    outside = tmp_path / "secret"
    OutputStore(outside).write_part("pages", "s1", to_table(
        "pages", [{"doc_id": "SECRETDOC", "page": 1, "text": "secret", "n_chars": 6}]))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    result = _query(sql.format(tmp=scratch, outside=outside / "pages", out=out, name="t1"), out)
    assert result.returncode == 2, result.stdout
    assert "error:" in result.stderr and "Traceback" not in result.stderr
    assert "SECRETDOC" not in result.stdout and "root:" not in result.stdout
    assert list(scratch.iterdir()) == []
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["d1.parquet"]
