"""The schema module: every table declared, rows checked, versions stamped."""

from __future__ import annotations

import pyarrow as pa
import pytest

from pipeline.errors import SchemaMismatchError
from pipeline.schema import PARTITIONED, SCHEMA_VERSION, TABLES, empty_table, to_table, validate


def test_every_partitioned_table_is_declared_and_keyed() -> None:
    assert set(TABLES) >= PARTITIONED
    for name in PARTITIONED - {"errors"}:
        assert "doc_id" in TABLES[name].names
    assert "source_path" in TABLES["errors"].names


def test_empty_tables_carry_the_schema_version() -> None:
    for name in TABLES:
        table = empty_table(name)
        assert table.num_rows == 0
        assert table.schema.metadata == {b"stancemap_schema_version": SCHEMA_VERSION.encode()}


def test_to_table_rejects_missing_and_unknown_columns() -> None:
    row = {"doc_id": "d", "page": 1, "text": "x", "n_chars": 1}
    assert to_table("pages", [row]).num_rows == 1
    with pytest.raises(SchemaMismatchError, match="missing columns \\['n_chars'\\]"):
        to_table("pages", [{k: v for k, v in row.items() if k != "n_chars"}])
    with pytest.raises(SchemaMismatchError, match="unknown columns \\['extra'\\]"):
        to_table("pages", [{**row, "extra": 1}])
    with pytest.raises(SchemaMismatchError):
        to_table("pages", [{**row, "n_chars": "many"}])


def test_validate_rejects_wrong_types_and_unknown_tables() -> None:
    wrong = pa.table({"doc_id": ["d"], "page": [1], "text": ["x"], "n_chars": [1]})
    with pytest.raises(SchemaMismatchError, match="does not match"):
        validate("pages", wrong)
    with pytest.raises(SchemaMismatchError, match="unknown table"):
        validate("nope", wrong)
    good = to_table("pages", [{"doc_id": "d", "page": None, "text": "x", "n_chars": 1}])
    assert validate("pages", good.replace_schema_metadata(None)).schema.metadata is not None
