"""The data contract: every output table, its pyarrow schema and the schema version.

A table is stored at ``OUT/<name>`` either as a folder of per-document parquet parts
(``PARTITIONED``) or as a single ``OUT/<name>.parquet`` file. The writer in
:mod:`pipeline.io` rejects any table whose schema differs from the one declared here.
"""

from __future__ import annotations

import pyarrow as pa

from pipeline.errors import SchemaMismatchError

SCHEMA_VERSION = "5"

_str = pa.string()
_i32 = pa.int32()
_f32 = pa.float32()
_ts = pa.timestamp("us", tz="UTC")


def _schema(*fields: tuple[str, pa.DataType, bool]) -> pa.Schema:
    return pa.schema(
        [pa.field(name, typ, nullable=nullable) for name, typ, nullable in fields],
        metadata={"stancemap_schema_version": SCHEMA_VERSION},
    )


DOCUMENTS = _schema(
    ("doc_id", _str, False),
    ("source_path", _str, False),
    ("format", _str, False),
    ("title", _str, True),
    ("author_org", _str, True),
    ("author_org_id", _str, True),
    ("author_confidence", _f32, True),
    ("doc_kind", _str, False),
    ("date", pa.date32(), True),
    ("n_pages", _i32, True),
    ("n_sentences", _i32, False),
    ("n_chars", pa.int64(), False),
    ("size_bytes", pa.int64(), False),
    ("sha256", _str, False),
    ("metadata_source", _str, False),
    ("ingested_at", _ts, False),
    ("copy_of", _str, True),
)

PAGES = _schema(
    ("doc_id", _str, False),
    ("page", _i32, True),
    ("text", _str, False),
    ("n_chars", _i32, False),
)

SENTENCES = _schema(
    ("sentence_id", _str, False),
    ("doc_id", _str, False),
    ("idx", _i32, False),
    ("page", _i32, True),
    ("section", _str, True),
    ("start", _i32, False),
    ("end", _i32, False),
    ("text", _str, False),
)

ENTITIES = _schema(
    ("doc_id", _str, False),
    ("sentence_id", _str, False),
    ("page", _i32, True),
    ("start", _i32, False),
    ("end", _i32, False),
    ("text", _str, False),
    ("label", _str, False),
    ("canonical_id", _str, True),
    ("canonical_name", _str, True),
    ("org_type", _str, True),
    ("source", _str, False),
)

ORGANISATIONS = _schema(
    ("canonical_id", _str, False),
    ("name", _str, False),
    ("type", _str, False),
    ("aliases", pa.list_(_str), False),
    ("n_documents", _i32, False),
    ("n_mentions", _i32, False),
)

STANCES = _schema(
    ("stance_id", _str, False),
    ("doc_id", _str, False),
    ("sentence_id", _str, False),
    ("page", _i32, True),
    ("holder", _str, False),
    ("holder_id", _str, True),
    ("holder_is_author", pa.bool_(), False),
    ("target", _str, False),
    ("stance", _str, False),
    ("confidence", _f32, False),
    ("evidence", _str, False),
    ("method", _str, False),
)

POSITIONS = _schema(
    ("doc_id", _str, False),
    ("source_path", _str, False),
    ("holder", _str, False),
    ("holder_id", _str, True),
    ("holder_is_author", pa.bool_(), False),
    ("target", _str, False),
    ("stance", _str, False),
    ("confidence", _f32, False),
    ("n_evidence", _i32, False),
    ("n_support", _i32, False),
    ("n_oppose", _i32, False),
    ("n_conditional", _i32, False),
    ("n_neutral", _i32, False),
    ("mixed", pa.bool_(), False),
    ("evidence", _str, False),
    ("page", _i32, True),
    ("review", _str, False),
    ("needs_review", pa.bool_(), False),
)

ARGUMENTS = _schema(
    ("argument_id", _str, False),
    ("doc_id", _str, False),
    ("sentence_id", _str, False),
    ("holder", _str, False),
    ("holder_is_author", pa.bool_(), False),
    ("target", _str, True),
    ("stance", _str, True),
    ("kind", _str, False),
    ("text", _str, False),
    ("page", _i32, True),
    ("cluster_id", _str, True),
    ("duplicate_group", _str, True),
)

CLUSTERS = _schema(
    ("cluster_id", _str, False),
    ("label", _str, False),
    ("keywords", pa.list_(_str), False),
    ("key_point", _str, False),
    ("key_point_doc_id", _str, True),  # null for an analyst theme's own key point
    ("key_point_page", _i32, True),
    ("size", _i32, False),
    ("n_documents", _i32, False),
    ("n_holders", _i32, False),
    ("n_voices", _i32, False),
    ("n_support", _i32, False),
    ("n_oppose", _i32, False),
    ("n_conditional", _i32, False),
    ("n_neutral", _i32, False),
    ("targets", pa.list_(_str), False),
    ("origin", _str, False),  # analyst (a codebook theme) or discovered
)

COMPARISON = _schema(
    ("cluster_id", _str, False),
    ("holder", _str, False),
    ("stance", _str, False),
    ("n_arguments", _i32, False),
    ("is_majority", pa.bool_(), False),
    ("evidence", _str, False),
    ("doc_id", _str, False),
    ("page", _i32, True),
)

ERRORS = _schema(
    ("source_path", _str, False),
    ("doc_id", _str, True),
    ("stage", _str, False),
    ("kind", _str, False),
    ("message", _str, False),
    ("occurred_at", _ts, False),
)

# One row per decision in the analyst's corrections file, with what became of it this run
# (pipeline.corrections).
CORRECTIONS = _schema(
    ("line", _i32, False),
    ("key", _str, False),
    ("action", _str, False),
    ("status", _str, False),
    ("message", _str, True),
    ("doc_id", _str, True),
    ("source_path", _str, True),
    ("holder", _str, True),
    ("target", _str, True),
    ("evidence", _str, True),
    ("old_value", _str, True),
    ("new_value", _str, True),
    ("note", _str, True),
    ("who", _str, True),
    ("decided_at", _ts, True),
)

TABLES: dict[str, pa.Schema] = {
    "documents": DOCUMENTS,
    "pages": PAGES,
    "sentences": SENTENCES,
    "entities": ENTITIES,
    "organisations": ORGANISATIONS,
    "stances": STANCES,
    "positions": POSITIONS,
    "arguments": ARGUMENTS,
    "clusters": CLUSTERS,
    "comparison": COMPARISON,
    "errors": ERRORS,
    "corrections": CORRECTIONS,
}

# Tables stored as one parquet part per document (or per source file, for errors).
PARTITIONED = frozenset(
    {"documents", "pages", "sentences", "entities", "stances", "positions", "errors"}
)


def empty_table(name: str) -> pa.Table:
    """An empty table with the declared schema of ``name``."""
    return TABLES[name].empty_table()


def to_table(name: str, rows: list[dict[str, object]]) -> pa.Table:
    """Build the table ``name`` from row dicts, checking every declared column is present."""
    schema = TABLES[name]
    for row in rows:
        missing = set(schema.names) - row.keys()
        extra = row.keys() - set(schema.names)
        if missing or extra:
            raise SchemaMismatchError(
                f"table {name!r}: row has missing columns {sorted(missing)} "
                f"and unknown columns {sorted(extra)}"
            )
    try:
        return pa.Table.from_pylist(rows, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise SchemaMismatchError(f"table {name!r}: {exc}") from exc


def validate(name: str, table: pa.Table) -> pa.Table:
    """Return ``table`` if it matches the declared schema of ``name``; raise otherwise."""
    if name not in TABLES:
        raise SchemaMismatchError(f"unknown table {name!r}")
    expected = TABLES[name]
    if not table.schema.equals(expected, check_metadata=False):
        raise SchemaMismatchError(
            f"table {name!r} does not match schema version {SCHEMA_VERSION}:\n"
            f"expected {expected}\ngot {table.schema}"
        )
    return table.replace_schema_metadata(expected.metadata)
