"""End to end: run_flow on a tiny corpus, then unchanged, changed, deleted and fixed files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.io import OutputStore
from tests.flows.helpers import doc_ids_everywhere, temporary_files

pytestmark = pytest.mark.slow

pytest.importorskip("pipeline.ingest", reason="the ingest stage has not landed")


def _run(corpus: Path, out: Path) -> dict[str, object]:
    from flows.run import run_flow

    return run_flow(str(corpus), str(out))


def _counts(summary: dict[str, object]) -> tuple[object, ...]:
    return tuple(summary[k] for k in ("ingested", "skipped", "failed", "deleted"))


def _doc_id(out: Path, rel_path: str) -> str:
    rows = OutputStore(out).read_table("documents").to_pylist()
    return next(str(r["doc_id"]) for r in rows if r["source_path"] == rel_path)


def test_incremental_runs(prefect_api: str, tiny_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    store = OutputStore(out)

    first = _run(tiny_corpus, out)
    assert _counts(first) == (3, 0, 1, 0)
    assert store.read_table("documents").num_rows == 3
    errors = store.read_table("errors").to_pylist()
    assert [(e["source_path"], e["stage"], e["kind"]) for e in errors] == [
        ("delta-empty.txt", "ingest", "empty")]
    for name in ("pages", "sentences"):
        assert set(store.read_table(name).column("doc_id").to_pylist()) == \
            set(store.read_table("documents").column("doc_id").to_pylist())
    assert temporary_files(out) == []

    again = _run(tiny_corpus, out)
    assert _counts(again) == (0, 4, 0, 0)
    assert again.get("analysed", 0) == 0

    old_beta = _doc_id(out, "beta-trust-briefing.md")
    with open(tiny_corpus / "beta-trust-briefing.md", "a", encoding="utf-8") as fh:
        fh.write(" Hillview Hospitals NHS Trust will publish a fuller response in spring.")
    changed = _run(tiny_corpus, out)
    assert _counts(changed) == (1, 3, 0, 0)
    assert store.read_table("documents").num_rows == 3
    assert old_beta not in doc_ids_everywhere(out)
    assert _doc_id(out, "beta-trust-briefing.md") != old_beta

    alpha = _doc_id(out, "alpha-council-response.txt")
    (tiny_corpus / "alpha-council-response.txt").unlink()
    deleted = _run(tiny_corpus, out)
    assert _counts(deleted) == (0, 3, 0, 1)
    assert alpha not in doc_ids_everywhere(out)
    assert store.read_table("documents").num_rows == 2

    (tiny_corpus / "delta-empty.txt").write_text(
        "A short note from the Eastgate Health Forum about waiting lists.", encoding="utf-8")
    fixed = _run(tiny_corpus, out)
    assert _counts(fixed) == (1, 2, 0, 0)
    assert store.read_table("errors").num_rows == 0
    assert store.read_table("documents").num_rows == 3


def test_changing_a_later_stage_config_keeps_ingestion(
        prefect_api: str, tiny_corpus: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    _run(tiny_corpus, out)
    monkeypatch.setenv("STANCEMAP_STANCE__MIN_CONFIDENCE", "0.77")
    summary = _run(tiny_corpus, out)
    assert _counts(summary) == (0, 4, 0, 0)
    assert summary["analysed"] == 3


def test_lost_manifest_redoes_every_file_without_prefects_cache(
        prefect_api: str, tiny_corpus: Path, tmp_path: Path) -> None:
    """Prefect's result cache is off (it would unpickle files): the manifest is the only
    memory of a run, and losing it costs re-processing, never different outputs."""
    import httpx

    out = tmp_path / "out"
    _run(tiny_corpus, out)
    before = OutputStore(out).read_table("documents").num_rows
    (out / "_state" / "manifest.json").unlink()
    summary = _run(tiny_corpus, out)
    assert _counts(summary) == (3, 0, 1, 0)
    assert OutputStore(out).read_table("documents").num_rows == before
    cached = httpx.post(f"{prefect_api}/task_runs/filter", timeout=10, json={
        "task_runs": {"state": {"name": {"any_": ["Cached"]}}}}).json()
    assert cached == []


def test_a_run_into_an_fsspec_url_publishes_and_a_fresh_machine_can_read_it(
        prefect_api: str, tiny_corpus: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import fsspec

    from flows.run import run_flow
    from pipeline.io import materialise, staging_dir

    url = f"memory://stancemap-flow-test/{tmp_path.name}"
    monkeypatch.setenv("STANCEMAP_HOME", str(tmp_path / "home"))
    first = run_flow(str(tiny_corpus), url)
    fs = fsspec.filesystem("memory")
    published = {p.split(tmp_path.name + "/", 1)[1] for p in fs.find(url)}
    assert first["published"] == len(published) - 1  # every file but the listing
    assert {"_state/manifest.json", "report.html", "report.md"} <= published
    assert not any(p.startswith("_cache/") or p.endswith("lock") for p in published)
    staging = OutputStore(staging_dir(url, tmp_path / "home" / "staging"))
    documents = staging.read_table("documents").sort_by("doc_id")

    assert run_flow(str(tiny_corpus), url)["published"] == 0  # nothing changed

    elsewhere = OutputStore(materialise(url, tmp_path / "other-machine"))
    assert elsewhere.read_table("documents").sort_by("doc_id").equals(documents)
    assert elsewhere.read_table("stances").num_rows == staging.read_table("stances").num_rows


def test_settings_and_fingerprints_are_loaded_once_per_run(
        prefect_api: str, tiny_corpus: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.run
    from flows import incremental

    calls: list[str] = []

    def counted(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(flows.run, "load_settings", counted("settings", flows.run.load_settings))
    monkeypatch.setattr(incremental, "stage_fingerprints",
                        counted("fingerprints", incremental.stage_fingerprints))
    summary = _run(tiny_corpus, tmp_path / "out")
    assert _counts(summary) == (3, 0, 1, 0)
    assert sorted(calls) == ["fingerprints", "settings"]


def test_copies_are_one_voice_and_follow_deletions(prefect_api: str, tiny_corpus: Path,
                                                   tmp_path: Path) -> None:
    """The same text saved twice (another format, a re-save) is marked a copy after the run;
    when the canonical file goes, the copy becomes canonical on the next run."""
    from flows.run import ingest_flow

    text = (tiny_corpus / "alpha-council-response.txt").read_text(encoding="utf-8")
    (tiny_corpus / "resaved-alpha-response.md").write_text(
        text.replace("\n\n", "\n\n\n") + "\n", encoding="utf-8")
    out = tmp_path / "out"
    store = OutputStore(out)
    summary = ingest_flow(str(tiny_corpus), str(out))
    assert summary["copies"] == 1
    original = _doc_id(out, "alpha-council-response.txt")
    copy_of = {r["source_path"]: r["copy_of"] for r in store.read_table("documents").to_pylist()}
    assert copy_of == {"alpha-council-response.txt": None,
                       "resaved-alpha-response.md": original,
                       "beta-trust-briefing.md": None, "gamma-network-note.txt": None}
    (tiny_corpus / "alpha-council-response.txt").unlink()
    assert ingest_flow(str(tiny_corpus), str(out))["copies"] == 0
    assert all(r["copy_of"] is None for r in store.read_table("documents").to_pylist())
