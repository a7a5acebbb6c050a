"""An unchanged `stancemap run`, `stancemap report` and `stancemap query` never start Prefect."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import Settings, load_settings
from pipeline.io import OutputStore
from tests.flows.conftest import BROKEN, DOCS
from tests.flows.helpers import snapshot

pytestmark = pytest.mark.slow

pytest.importorskip("pipeline.ingest", reason="the ingest stage has not landed")

ROOT = Path(__file__).resolve().parents[2]
# Runs the CLI in a fresh interpreter and reports its exit code and whether Prefect was loaded.
PROBE = """
import json, sys
from stancemap.cli import app
code = 0
try:
    app(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "prefect": sorted(m for m in sys.modules
                                                  if m.split(".")[0] == "prefect")}))
"""


@pytest.fixture(scope="module")
def done(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A corpus and the outputs of one complete run of it."""
    from flows.run import run_flow

    root = tmp_path_factory.mktemp("preflight")
    corpus, out = root / "corpus", root / "out"
    corpus.mkdir()
    for name, text in {**DOCS, **BROKEN}.items():
        (corpus / name).write_text(text, encoding="utf-8")
    run_flow(str(corpus), str(out))
    return corpus, out


def _cli(args: list[str], home: Path) -> tuple[dict[str, object], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STANCEMAP_HOME": str(home)}
    result = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    *printed, last = result.stdout.strip().splitlines()
    return json.loads(last), "\n".join(printed)


def test_unchanged_run_report_and_query_never_import_prefect(done: tuple[Path, Path],
                                                            tmp_path: Path) -> None:
    corpus, out = done
    before = snapshot(out)
    probe, printed = _cli(["run", str(corpus), "--out", str(out)], tmp_path)
    assert probe == {"code": 0, "prefect": []}
    assert "summary: 0 ingested, 4 skipped, 0 failed, 0 deleted, 0 analysed" in printed
    assert "note: report: unchanged" in printed
    probe, printed = _cli(["report", "--out", str(out)], tmp_path)
    assert probe == {"code": 0, "prefect": []}
    assert f"wrote {out / 'report.html'}" in printed
    probe, printed = _cli(["query", "SELECT count(*) AS n FROM documents", "--out", str(out),
                           "--format", "csv"], tmp_path)
    assert probe == {"code": 0, "prefect": []}
    assert printed.splitlines() == ['"n"', "3"]
    assert snapshot(out) == before


def test_preflight_hands_any_work_to_the_flows(done: tuple[Path, Path], tmp_path: Path) -> None:
    from flows.preflight import unchanged_run
    from pipeline.corrections import default_path

    corpus, out = tmp_path / "corpus", tmp_path / "out"
    shutil.copytree(done[0], corpus)
    shutil.copytree(done[1], out)
    settings = load_settings()
    store = OutputStore(out)
    review = default_path(out)
    touched = corpus / "gamma-network-note.txt"
    os.utime(touched, ns=(1, 1))  # same bytes, another mtime: still nothing to do
    summary = unchanged_run(corpus, store, settings, review)
    assert summary is not None
    assert (summary["ingested"], summary["skipped"], summary["deleted"]) == (0, 4, 0)
    assert store.read_state("manifest")["files"]["gamma-network-note.txt"]["mtime_ns"] == 1

    (corpus / "new-note.txt").write_text("Eastfold Borough Council backs option two.\n",
                                         encoding="utf-8")
    assert unchanged_run(corpus, store, settings, review) is None
    (corpus / "new-note.txt").unlink()
    (corpus / "beta-trust-briefing.md").unlink()
    assert unchanged_run(corpus, store, settings, review) is None
    shutil.copy(done[0] / "beta-trust-briefing.md", corpus)
    assert unchanged_run(corpus, store, settings, review) is not None
    review.write_text("an analyst's decision\n", encoding="utf-8")  # to be applied: work to do
    assert unchanged_run(corpus, store, settings, review) is None
    review.unlink()

    manifest = store.read_state("manifest")
    manifest["files"]["alpha-council-response.txt"]["stages"]["stance"] = "older"
    store.write_state("manifest", manifest)
    assert unchanged_run(corpus, store, settings, review) is None


def test_nothing_is_unchanged_in_an_empty_folder(tmp_path: Path) -> None:
    from flows.preflight import unchanged_run
    from pipeline.corrections import default_path

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Westmoor District Council supports option one.\n",
                                  encoding="utf-8")
    out = tmp_path / "out"
    assert unchanged_run(corpus, OutputStore(out), load_settings(), default_path(out)) is None


def _settings_with(tmp_path: Path, key: str, text: str) -> Settings:
    """The default settings with the data file of ``key`` (section.key) holding ``text``."""
    path = tmp_path / "data.yaml"
    path.write_text(text, encoding="utf-8")
    section, name = key.split(".")
    config = tmp_path / "config.yaml"
    config.write_text(f"{section}:\n  {name}: {path}\n", encoding="utf-8")
    return load_settings(config)


@pytest.mark.parametrize(("key", "text", "message"), [
    ("stance.targets", "name: second\ntargets:\n  - id: option_a\n",
     "invalid target file {path} (stance.targets): consultation: Field required; "
     "targets.0.label: Field required; targets.0.description: Field required; "
     "targets.0.aliases: Field required"),
    ("stance.targets", "targets: [\n",
     "cannot read target file {path}: YAML syntax error at line 2, column 1: expected the "
     "node content, but found '<stream end>' (stance.targets)"),
    ("entities.patterns", "organisations: []\n",
     "invalid entity pattern file {path} (entities.patterns): no 'systems' key"),
    ("entities.patterns", "organisations:\n  - {id: brightwater-trust, name: Brightwater "
     "Trust, type: charity}\n",
     "invalid entity pattern file {path} (entities.patterns): organisations entry 1 "
     "(brightwater-trust): unknown type 'charity'; the types are ccg, council, government, ics,"
     " legislature, membership_body, nhs_national, other, professional_body, trust"),
])
def test_a_bad_data_file_is_one_line_naming_it_and_its_setting(
        tmp_path: Path, key: str, text: str, message: str) -> None:
    from flows.preflight import check_data_files
    from pipeline.errors import ConfigError

    settings = _settings_with(tmp_path, key, text)
    with pytest.raises(ConfigError) as refused:
        check_data_files(settings)
    assert str(refused.value) == message.format(path=tmp_path / "data.yaml")


def test_a_run_with_a_bad_target_file_stops_before_any_document(tmp_path: Path) -> None:
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    corpus.mkdir()
    (corpus / "a.txt").write_text("We support the first option.\n", encoding="utf-8")
    (tmp_path / "targets.yaml").write_text("name: second\n", encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(f"stance:\n  targets: {tmp_path / 'targets.yaml'}\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STANCEMAP_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-m", "stancemap.cli", "run", str(corpus), "--out",
                             str(out), "--config", str(config)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: invalid target file {tmp_path / 'targets.yaml'} (stance.targets): "
        "consultation: Field required; targets: Field required"]
    assert not out.exists()
