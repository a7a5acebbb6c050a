"""Read-only, sandboxed DuckDB SQL over the output tables.

Every table of :mod:`pipeline.schema` is registered under its own name (``documents``,
``positions``, ...) as a lazily scanned pyarrow dataset, so DuckDB itself never opens a file:
after registration, external access is switched off and the configuration locked. Only one
read statement (``SELECT``, ``WITH``, ``FROM``, ``VALUES``, ``SHOW``, ``DESCRIBE``,
``SUMMARIZE``, or ``EXPLAIN`` of one of those) is accepted; everything else is refused with a
:class:`~pipeline.errors.QueryError` before it reaches the database.
"""

from __future__ import annotations

import io
import json
import logging
import math
import re
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from pipeline.errors import QueryError
from pipeline.io import OutputStore, atomic_write_bytes, is_remote
from pipeline.schema import PARTITIONED, TABLES

log = logging.getLogger(__name__)

OutputFormat = Literal["table", "csv", "json", "parquet", "xlsx"]
FORMATS: tuple[str, ...] = ("table", "csv", "json", "parquet", "xlsx")

_EXPLAIN = re.compile(r"^\s*explain(\s+analy[sz]e)?\b", re.IGNORECASE)
_MAX_CELL_CHARS = 80
# Keeps a runaway query (e.g. an accidental cross join) within the pipeline's memory budget.
MEMORY_LIMIT = "2GB"


def _dataset(store: OutputStore, name: str) -> ds.Dataset | pa.Table:
    """The table ``name`` as a lazy dataset, or an empty table with its schema if absent."""
    schema = TABLES[name]
    if not store.exists(name):
        return schema.empty_table()
    path = store.table_path(name)
    if name in PARTITIONED:
        files = [str(path / f"{key}.parquet") for key in sorted(store.part_keys(name))]
    else:
        files = [str(path)]
    return ds.dataset(files, schema=schema, format="parquet")


def connect(out: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with every output table registered, locked down."""
    if is_remote(str(out)):
        raise QueryError(f"{out} is a URL: pass the local copy from pipeline.io.materialise")
    store = OutputStore(Path(out))
    con = duckdb.connect(":memory:")
    for name in TABLES:
        con.register(name, _dataset(store, name))
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET enable_external_access = false")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET lock_configuration = true")
    return con


def check_read_only(sql: str) -> None:
    """Raise :class:`QueryError` unless ``sql`` is exactly one read-only statement."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"invalid SQL: {exc}") from exc
    if len(statements) != 1:
        raise QueryError(f"expected exactly one SQL statement, got {len(statements)}")
    statement = statements[0]
    kind = statement.type
    if kind == duckdb.StatementType.EXPLAIN:
        inner = _EXPLAIN.sub("", statement.query, count=1)
        inner_types = {s.type for s in duckdb.extract_statements(inner)} if inner.strip() else set()
        if inner_types != {duckdb.StatementType.SELECT}:
            raise QueryError("only EXPLAIN of a SELECT query is allowed")
        return
    if kind != duckdb.StatementType.SELECT:
        raise QueryError(
            f"{kind.name} statements are not allowed: the query interface is read-only "
            "(use SELECT/WITH/SHOW/DESCRIBE over the output tables)"
        )


def run_query(sql: str, out: Path) -> pa.Table:
    """Run one read-only SQL statement over the output folder ``out``; return the result."""
    check_read_only(sql)
    con = connect(out)
    try:
        return con.sql(sql).to_arrow_table()
    except duckdb.PermissionException as exc:
        raise QueryError(f"refused: {exc} (only the output tables can be read)") from exc
    except duckdb.Error as exc:
        raise QueryError(f"query failed: {exc}") from exc
    finally:
        con.close()


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\r", " ").replace("\n", " ")
    return text if len(text) <= _MAX_CELL_CHARS else text[: _MAX_CELL_CHARS - 1] + "…"


def _plain_table(table: pa.Table) -> str:
    """A fixed-width text rendering of ``table`` for a terminal."""
    header = [str(name) for name in table.column_names]
    rows = [[_cell(v) for v in row.values()] for row in table.to_pylist()]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.append(f"({table.num_rows} row{'s' if table.num_rows != 1 else ''})")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def format_result(
    table: pa.Table, fmt: OutputFormat = "table", dest: Path | None = None
) -> str | bytes:
    """Render a query result: text for ``table``/``csv``/``json`` (JSON lines), bytes for
    parquet and xlsx (a workbook, :func:`pipeline.export.table_workbook`).

    With ``dest``, the rendering is also written there atomically (the CLI's ``--output``).
    """
    data = _render(table, fmt)
    if dest is not None:
        atomic_write_bytes(Path(dest), data.encode("utf-8") if isinstance(data, str) else data)
    return data


def _round(value: float | None, single: bool) -> float | None:
    """``value`` without binary noise: a float32 at its own precision (0.66, not
    0.6600000262260437), anything else to six decimals (what a sum or average of them shows)."""
    if value is None or not math.isfinite(value):
        return value
    return float(f"{value:.7g}") if single else round(value, 6)


def rounded(table: pa.Table) -> pa.Table:
    """``table`` with its floating-point columns rounded (see :func:`_round`) for text output."""
    for i, field in enumerate(table.schema):
        if pa.types.is_floating(field.type):
            single = field.type in (pa.float16(), pa.float32())
            values = [_round(v, single) for v in table.column(i).to_pylist()]
            table = table.set_column(i, pa.field(field.name, pa.float64(), field.nullable),
                                     pa.array(values, type=pa.float64()))
    return table


def _render(table: pa.Table, fmt: str) -> str | bytes:
    if fmt in ("table", "csv", "json"):
        table = rounded(table)
    if fmt == "table":
        return _plain_table(table)
    if fmt == "csv":
        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer)
        return buffer.getvalue().decode("utf-8")
    if fmt == "json":
        rows = table.to_pylist()
        return "".join(json.dumps(row, default=str, ensure_ascii=False) + "\n" for row in rows)
    if fmt == "parquet":
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        return bytes(sink.getvalue().to_pybytes())
    if fmt == "xlsx":
        from pipeline.export import table_workbook

        return table_workbook(table)
    raise QueryError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
