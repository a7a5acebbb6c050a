"""Compare every table of two stancemap output folders: all columns, rows sorted, ignoring
only the columns that record when something happened (``occurred_at``, ``ingested_at``).

    python scripts/compare_outputs.py BEFORE AFTER

Prints one line per table (``same`` or what differs) and exits 1 when any table differs:
the check behind a refactor that must not change outputs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pyarrow as pa

from pipeline.io import OutputStore
from pipeline.schema import TABLES

TIMESTAMPS = frozenset({"occurred_at", "ingested_at"})


def _rows(store: OutputStore, name: str) -> tuple[list[str], list[tuple[str, ...]]]:
    """The table's columns (timestamps left out) and its rows as sorted tuples of reprs."""
    if not store.exists(name):
        return [], []
    table: pa.Table = store.read_table(name)
    columns = sorted(c for c in table.column_names if c not in TIMESTAMPS)
    data = table.select(columns).to_pylist()
    return columns, sorted(tuple(repr(row[c]) for c in columns) for row in data)


def compare(before: Path, after: Path) -> list[str]:
    """One line per table that differs (equal ones are printed); empty when all are equal."""
    old, new = OutputStore(before), OutputStore(after)
    problems = []
    for name in TABLES:
        (old_cols, old_rows), (new_cols, new_rows) = _rows(old, name), _rows(new, name)
        if old_cols != new_cols:
            problems.append(f"{name}: columns {old_cols} != {new_cols}")
        elif old_rows != new_rows:
            gone = sorted(set(old_rows) - set(new_rows))
            added = sorted(set(new_rows) - set(old_rows))
            problems.append(f"{name}: {len(old_rows)} vs {len(new_rows)} rows, "
                            f"{len(gone)} only before, {len(added)} only after; e.g. "
                            f"{gone[:1]} / {added[:1]}")
        else:
            print(f"{name}: {len(old_rows)} rows, same")
    return problems


def main() -> None:
    """Compare and report; exit 1 on any difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    problems = compare(args.before, args.after)
    for line in problems:
        print(line)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
