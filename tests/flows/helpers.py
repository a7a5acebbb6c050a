"""Comparing output folders in the flow tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.io import OutputStore
from pipeline.schema import TABLES

# Columns that record when, not what: they differ between two runs over the same corpus.
VOLATILE = {"ingested_at", "occurred_at"}


def table_rows(out: Path, name: str) -> list[str]:
    """The rows of one table as sorted JSON strings, without the volatile columns."""
    table = OutputStore(out).read_table(name)
    keep = [c for c in table.column_names if c not in VOLATILE]
    return sorted(json.dumps(row, sort_keys=True, default=str)
                  for row in table.select(keep).to_pylist())


def snapshot(out: Path) -> dict[str, Any]:
    """Every table's rows, the part files on disk and the manifest's per-file entries."""
    manifest = OutputStore(out).read_state("manifest")
    return {
        "tables": {name: table_rows(out, name) for name in TABLES},
        "files": sorted(str(p.relative_to(out)) for p in out.rglob("*.parquet")),
        "manifest": {rel: {k: v for k, v in entry.items() if k != "mtime_ns"}
                     for rel, entry in manifest.get("files", {}).items()},
    }


def doc_ids_everywhere(out: Path) -> set[str]:
    """Every doc_id found in any table of ``out``."""
    store = OutputStore(out)
    found: set[str] = set()
    for name, schema in TABLES.items():
        for column in ("doc_id", "key_point_doc_id"):
            if column in schema.names:
                found.update(v for v in store.read_table(name).column(column).to_pylist() if v)
    return found


def temporary_files(out: Path) -> list[Path]:
    """Leftover temporary files of interrupted writes."""
    return [p for p in out.rglob(".*") if ".tmp-" in p.name]
