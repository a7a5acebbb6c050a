"""What the CLI does without Prefect: the output folder's lock, the check that a run has nothing
to do, and the report.

Starting Prefect's temporary server takes several seconds, more than everything an unchanged
run or a report otherwise does. So ``stancemap run`` first asks :func:`unchanged_run` whether
the manifest, the stage fingerprints and the corpus's files say there is anything to do, and
``stancemap report`` renders through :func:`report_outputs` directly. Plain Python: nothing
here imports Prefect (the flows import this module, not the other way round).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from flows import incremental as inc
from flows.catalog import stages as catalog_stages
from pipeline.config import Settings, validation_problems
from pipeline.errors import ConfigError
from pipeline.ingest import discover
from pipeline.io import OutputStore

_HELD: set[str] = set()
_CORPUS_STAGES = tuple(stage.name for stage in catalog_stages("corpus", "analyse"))


@contextlib.contextmanager
def hold_lock(store: OutputStore) -> Iterator[None]:
    """Hold the output folder's lock, re-entrantly within this process (subflows of a run)."""
    key = str(store.root.resolve())
    if key in _HELD:
        yield
        return
    with store.lock():
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)


def check_data_files(settings: Settings) -> None:
    """Read the data files the analysis names (``stance.targets``, ``entities.patterns``) so
    that a missing, malformed or partial one stops a run before any document is read, with
    one :class:`ConfigError` line naming the file and what is wrong; found later, in every
    document's analysis, it would be an error row per document and a traceback per task."""
    from pydantic import ValidationError

    from pipeline.entities.register import PatternDataError, load_register
    from pipeline.stance.targets import load_targets

    path = settings.resolve(settings.stance.targets)
    try:
        load_targets(path)
    except ConfigError as exc:
        if isinstance(exc.__cause__, ValidationError):  # pydantic's message spans lines
            raise ConfigError(f"invalid target file {path} (stance.targets): "
                              f"{validation_problems(exc.__cause__)}") from None
        raise ConfigError(f"{exc} (stance.targets)") from None
    patterns = settings.resolve(settings.entities.patterns)
    try:
        load_register(settings)
    except PatternDataError as exc:
        raise ConfigError(f"invalid entity pattern file {patterns} (entities.patterns): "
                          f"{exc.problem}") from None
    except ConfigError as exc:
        where = "" if str(patterns) in str(exc) else f": {patterns}"
        raise ConfigError(f"{exc} (entities.patterns{where})") from None


def report_key(manifest: inc.Manifest, fingerprints: dict[str, str]) -> str:
    """What the report was rendered from: the documents, the arguments, the analyst's
    corrections and the report stage."""
    return (f"{manifest.signature()}:{manifest.corpus.get('arguments')}:"
            f"{fingerprints['report']}:{manifest.corpus.get('review')}")


def review_key(store: OutputStore, fingerprints: dict[str, str], path: Path) -> str:
    """What the corrections were applied to: the corrections file, the review code and every
    positions part and the comparison table."""
    from pipeline.corrections import file_hash, file_hash_of_text

    tokens = sorted(f"{k}={store.table_token('positions', k)}"
                    for k in store.part_keys("positions"))
    tokens.append(f"comparison={store.table_token('comparison')}")
    return f"{file_hash(path)}:{fingerprints['review']}:{file_hash_of_text(' '.join(tokens))}"


def report_outputs(store: OutputStore, settings: Settings, force: bool,
                   render: Callable[[], list[str]],
                   fingerprints: dict[str, str] | None = None) -> dict[str, Any]:
    """Call ``render`` (which writes the reports and returns their paths) unless nothing
    changed since the last report and not ``force``; record what it was rendered from
    (``fingerprints``: the run's, computed here when not given)."""
    fps = fingerprints or inc.stage_fingerprints(settings)
    summary: dict[str, Any] = {"notes": []}
    with hold_lock(store):
        manifest = inc.Manifest.load(store)
        key = report_key(manifest, fps)
        if manifest.corpus.get("report") == key and reports_present(store) and not force:
            summary["notes"].append("report: unchanged")
            return summary
        started = time.monotonic()
        summary["report"] = render()
        summary["report_seconds"] = round(time.monotonic() - started, 2)
        manifest.corpus["report"] = key
        manifest.commit()
    return summary


def unchanged_run(corpus: Path, store: OutputStore, settings: Settings,
                  corrections: Path) -> dict[str, Any] | None:
    """The summary of a run of ``corpus`` into ``store`` when it has nothing to do, else
    ``None`` (the caller then runs the flows).

    Nothing to do: no file new, changed or deleted; every ingested document analysed under the
    current fingerprints; organisations, arguments, the analyst's ``corrections`` and the
    report applied or built from this manifest. Like
    the flows, it records files found unchanged by content after a touch and removes orphan
    parts and temporary files.
    """
    started = time.monotonic()
    fps = inc.stage_fingerprints(settings)
    with hold_lock(store):
        manifest = inc.Manifest.load(store)
        if (not manifest.files or not _corpus_current(store, manifest, fps)
                or manifest.corpus.get("review") != review_key(store, fps, corrections)):
            return None
        sources = discover(corpus, settings, exclude=[store.root])
        plan = inc.plan_ingest(sources, manifest, fps["ingest"])
        if plan.todo or plan.deleted or not all(
                _analysed(store, entry, fps) for entry in manifest.files.values()):
            return None
        manifest.commit()
        orphans = inc.collect_garbage(store, manifest)
    notes = [f"{name}: unchanged" for name in (*_CORPUS_STAGES, "report")]
    return {"ingested": 0, "skipped": len(plan.unchanged), "failed": 0, "deleted": 0,
            "notes": notes, "orphans_removed": orphans, "analysed": 0, "analysis_failed": 0,
            "seconds": round(time.monotonic() - started, 2)}


def _corpus_current(store: OutputStore, manifest: inc.Manifest,
                    fingerprints: dict[str, str]) -> bool:
    """Whether the corpus-level tables and the report were built from this manifest and are
    all still on disk."""
    signature = manifest.signature()
    built = all(manifest.corpus.get(name) == f"{signature}:{fingerprints[name]}"
                and all(map(store.exists, inc.CORPUS_TABLES[name]))
                for name in _CORPUS_STAGES)
    return (built and manifest.corpus.get("report") == report_key(manifest, fingerprints)
            and reports_present(store))


def reports_present(store: OutputStore) -> bool:
    """Whether every report file is on disk (a deleted one is rendered again)."""
    return all((store.root / name).is_file() for name in inc.REPORT_FILES)


def _analysed(store: OutputStore, entry: dict[str, Any], fingerprints: dict[str, str]) -> bool:
    """Whether a file needs nothing redone: its outputs (parts or errors row) are all on disk,
    and it failed at ingestion or was analysed by every stage."""
    if inc.missing_outputs(store, entry):
        return False
    if not entry.get("doc_id"):
        return True
    done = entry.get("stages", {})
    return all(done.get(stage.name) == fingerprints[stage.name]
               for stage in catalog_stages("document"))
