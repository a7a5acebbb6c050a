"""Read-only, sandboxed DuckDB SQL over the output tables.

Every table of :mod:`pipeline.schema` is registered under its own name (``documents``,
``positions``, ...) as a lazily scanned pyarrow dataset, so DuckDB itself never opens a file:
after registration, external access is switched off and the configuration locked. Only one
read statement (``SELECT``, ``WITH``, ``FROM``, ``VALUES``, ``SHOW``, ``DESCRIBE``,
``SUMMARIZE``, or ``EXPLAIN`` of one of those) is accepted; everything else is refused with a
:class:`~pipeline.errors.QueryError` before it reaches the database.

Limits (``query:`` in the settings): a query is interrupted after ``max_seconds``; DuckDB may
use half of ``memory_mb``; the result is streamed out of DuckDB in batches and refused past
``max_rows`` rows or a quarter of ``memory_mb``, and rendered batch by batch, so the
command's memory stays within ``memory_mb``.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Literal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from pipeline.config import QueryConfig, load_settings
from pipeline.errors import QueryError
from pipeline.io import OutputStore, atomic_write_bytes, is_remote
from pipeline.safety import FORMULA_START, printable_text
from pipeline.schema import PARTITIONED, TABLES

log = logging.getLogger(__name__)

OutputFormat = Literal["table", "csv", "json", "parquet", "xlsx"]
FORMATS: tuple[str, ...] = ("table", "csv", "json", "parquet", "xlsx")

_EXPLAIN = re.compile(r"^\s*explain(\s+analy[sz]e)?\b", re.IGNORECASE)
_MAX_CELL_CHARS = 80
_BATCH_ROWS = 8192


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


def connect(out: Path, memory_mb: int = 1024) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with every output table registered, locked down, that
    may use ``memory_mb`` MB."""
    if is_remote(str(out)):
        raise QueryError(f"{out} is a URL: pass the local copy from pipeline.io.materialise")
    store = OutputStore(Path(out))
    con = duckdb.connect(":memory:")
    for name in TABLES:
        con.register(name, _dataset(store, name))
    con.execute(f"SET memory_limit = '{int(memory_mb)}MB'")
    con.execute("SET threads = 2")
    con.execute("SET enable_external_access = false")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET lock_configuration = true")
    return con


def _one_line(exc: duckdb.Error) -> str:
    """DuckDB's message in one line: its lines joined, and its position hint ("LINE 1: ...")
    in brackets after them (the caret under that hint cannot be shown on one line)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    where = [line for line in lines if line.startswith("LINE ")]
    text = [line for line in lines if line not in where and set(line) != {"^"}]
    return " ".join(text) + (f" ({where[0]})" if where else "")


def check_read_only(sql: str) -> None:
    """Raise :class:`QueryError` unless ``sql`` is exactly one read-only statement."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"invalid SQL: {_one_line(exc)}") from exc
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


def run_query(sql: str, out: Path, limits: QueryConfig | None = None) -> pa.Table:
    """Run one read-only SQL statement over the output folder ``out`` within ``limits``
    (default: the ``query`` settings); return the result."""
    check_read_only(sql)
    limits = limits or load_settings().query
    con = connect(out, limits.memory_mb // 2)
    timer = threading.Timer(limits.max_seconds, con.interrupt)
    timer.start()
    try:
        return _fetch(con.sql(sql).to_arrow_reader(_BATCH_ROWS), limits,
                      time.monotonic() + limits.max_seconds)
    except duckdb.InterruptException:
        raise _too_slow(limits) from None
    except duckdb.PermissionException as exc:
        raise QueryError(f"refused: {_one_line(exc)} (only the output tables can be "
                         "read)") from exc
    except duckdb.OutOfMemoryException:
        raise QueryError(
            f"the query needs more than {limits.memory_mb // 2} MB (half of query.memory_mb): "
            "aggregate more, select fewer columns or add a LIMIT") from None
    except duckdb.Error as exc:
        raise QueryError(f"query failed: {_one_line(exc)}") from exc
    finally:
        timer.cancel()
        con.close()


def _fetch(reader: pa.RecordBatchReader, limits: QueryConfig, deadline: float) -> pa.Table:
    """The batches of ``reader`` as one table, refused past the row, size or time limit."""
    budget = limits.memory_mb * (1 << 20) // 4
    batches: list[pa.RecordBatch] = []
    rows = size = 0
    for batch in reader:
        rows += batch.num_rows
        size += batch.nbytes
        if rows > limits.max_rows:
            raise QueryError(
                f"the result has more than {limits.max_rows:,} rows (query.max_rows): "
                "aggregate, filter or add a LIMIT")
        if size > budget:
            raise QueryError(
                f"the result is larger than {budget >> 20} MB (a quarter of query.memory_mb): "
                "select fewer columns, aggregate or add a LIMIT")
        if time.monotonic() > deadline:
            raise _too_slow(limits)
        batches.append(batch)
    return pa.Table.from_batches(batches, schema=reader.schema)


def _too_slow(limits: QueryConfig) -> QueryError:
    return QueryError(f"the query was stopped after {limits.max_seconds:g} s "
                      "(query.max_seconds): make it cheaper or raise the limit")


def _cell(value: object) -> str:
    text = "" if value is None else printable_text(str(value))
    text = text.replace("\r", " ").replace("\n", " ")
    return text if len(text) <= _MAX_CELL_CHARS else text[: _MAX_CELL_CHARS - 1] + "…"


def _plain_lines(table: pa.Table) -> Iterator[str]:
    """A fixed-width text rendering of ``table`` for a terminal, line by line (the rows are
    read twice, batch by batch, never all at once as Python objects)."""
    header = [str(name) for name in table.column_names]
    widths = [len(h) for h in header]
    for rows in _row_batches(table):
        for row in rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    yield _line(header, widths)
    yield _line(["-" * w for w in widths], widths)
    for rows in _row_batches(table):
        yield from (_line(row, widths) for row in rows)
    yield f"({table.num_rows} row{'s' if table.num_rows != 1 else ''})\n"


def _row_batches(table: pa.Table) -> Iterator[list[list[str]]]:
    for part in _rounded_batches(table):
        yield [[_cell(v) for v in row.values()] for row in part.to_pylist()]


def _line(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() + "\n"


def format_result(
    table: pa.Table, fmt: OutputFormat = "table", dest: Path | None = None
) -> str | bytes:
    """Render a query result: text for ``table``/``csv``/``json`` (JSON lines), bytes for
    parquet and xlsx (a workbook, :func:`pipeline.export.table_workbook`).

    With ``dest``, the rendering is also written there atomically.
    """
    buffer = io.BytesIO()
    _write(table, fmt, buffer)
    data = buffer.getvalue()
    if dest is not None:
        atomic_write_bytes(Path(dest), data)
    return data if fmt in ("parquet", "xlsx") else data.decode("utf-8")


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


def _rounded_batches(table: pa.Table) -> Iterator[pa.Table]:
    """``table`` in rounded slices of at most ``_BATCH_ROWS`` rows (never all of it as Python
    objects at once)."""
    for start in range(0, table.num_rows, _BATCH_ROWS):
        yield rounded(table.slice(start, _BATCH_ROWS))


def spreadsheet_safe(table: pa.Table) -> pa.Table:
    """``table`` with every text cell that starts like a formula (``=``, ``+``, ``-``, ``@``,
    a tab or a carriage return) prefixed with ``'``: a spreadsheet opening the CSV shows it
    as text and never evaluates it."""
    for i, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            column = table.column(i)
            quoted = pc.binary_join_element_wise("'", column, "")
            formula = pc.match_substring_regex(column, f"^{FORMULA_START}")
            table = table.set_column(i, field, pc.if_else(formula, quoted, column))
    return table


def write_result(table: pa.Table, fmt: OutputFormat = "table", dest: Path | None = None) -> None:
    """Render a query result to ``dest`` (written atomically) or to standard output,
    streaming: a large result is never held as one string."""
    if dest is None:
        _write(table, fmt, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    dest = Path(dest)
    if dest.is_dir():
        raise QueryError(f"{dest} is a folder: give a file name for the result, e.g. "
                         f"{dest}/result.{'txt' if fmt == 'table' else fmt}")
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            _write(table, fmt, fh)
        os.replace(tmp, dest)
    except OSError as exc:  # the error names the temporary file: name the one asked for
        raise QueryError(f"cannot write the result to {dest}: {exc.strerror or exc}; check "
                         "that its folder exists and can be written") from None
    finally:
        tmp.unlink(missing_ok=True)


def _write(table: pa.Table, fmt: str, sink: IO[bytes]) -> None:
    if fmt == "table":
        for line in _plain_lines(table):
            sink.write(line.encode("utf-8"))
    elif fmt == "csv":
        with pacsv.CSVWriter(sink, rounded(table.slice(0, 0)).schema) as writer:
            for part in _rounded_batches(table):
                writer.write_table(spreadsheet_safe(part))
    elif fmt == "json":
        for part in _rounded_batches(table):
            sink.write("".join(json.dumps(row, default=str, ensure_ascii=False) + "\n"
                               for row in part.to_pylist()).encode("utf-8"))
    elif fmt == "parquet":
        pq.write_table(table, sink)
    elif fmt == "xlsx":
        from pipeline.export import table_workbook

        sink.write(table_workbook(rounded(table)))  # a workbook is built whole anyway
    else:
        raise QueryError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
