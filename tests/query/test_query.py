"""Read-only, sandboxed SQL over a hand-made output folder."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.errors import QueryError
from pipeline.query import check_read_only, format_result, run_query, write_result
from pipeline.schema import TABLES
from tests.fixtures.report.outputs import build_outputs


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete fixture output folder shared by the module (queries cannot change it)."""
    root = tmp_path_factory.mktemp("query") / "out"
    build_outputs(root)
    return root


def test_every_table_is_a_view_with_its_name(out: Path) -> None:
    names = run_query("SHOW TABLES", out).column("name").to_pylist()
    assert sorted(names) == sorted(TABLES)


def test_missing_tables_are_empty_with_their_schema(tmp_path: Path) -> None:
    result = run_query("SELECT * FROM positions", tmp_path / "nothing")
    assert result.num_rows == 0
    assert result.column_names == TABLES["positions"].names
    assert run_query("SELECT count(*) AS n FROM clusters", tmp_path).to_pylist() == [{"n": 0}]


def test_councils_opposing_option_2(out: Path) -> None:
    sql = """
        SELECT DISTINCT p.holder
        FROM positions p JOIN organisations o ON o.canonical_id = p.holder_id
        WHERE o.type = 'council' AND p.target = 'option_2' AND p.stance = 'oppose'
        ORDER BY 1
    """
    assert run_query(sql, out).column("holder").to_pylist() == [
        "Exampleton Borough Council", "Riverside District Council"]


def test_positions_by_document_kind(out: Path) -> None:
    sql = """
        SELECT d.doc_kind, p.stance, count(*) AS n
        FROM positions p JOIN documents d USING (doc_id)
        WHERE d.copy_of IS NULL
        GROUP BY ALL ORDER BY d.doc_kind, p.stance
    """
    assert run_query(sql, out).to_pylist() == [
        {"doc_kind": "briefing", "stance": "conditional", "n": 1},
        {"doc_kind": "briefing", "stance": "support", "n": 1},
        {"doc_kind": "consultation_response", "stance": "conditional", "n": 1},
        {"doc_kind": "consultation_response", "stance": "oppose", "n": 2},
        {"doc_kind": "consultation_response", "stance": "support", "n": 2},
    ]


def test_arguments_raised_only_by_council(out: Path) -> None:
    sql = """
        SELECT c.cluster_id, c.label
        FROM clusters c
        JOIN comparison m USING (cluster_id)
        LEFT JOIN organisations o ON o.name = m.holder
        GROUP BY c.cluster_id, c.label
        HAVING bool_and(o.type = 'council')
        ORDER BY 1
    """
    assert run_query(sql, out).to_pylist() == [{"cluster_id": "c1", "label": "local voice"}]


def test_who_cites_whom(out: Path) -> None:
    sql = """
        SELECT d.author_org AS citing, p.holder AS cited, p.target, p.stance
        FROM positions p JOIN documents d USING (doc_id)
        WHERE NOT p.holder_is_author
    """
    assert run_query(sql, out).to_pylist() == [
        {"citing": "Exampleton Borough Council", "cited": "Local Government Association",
         "target": "option_1", "stance": "support"}]


@pytest.mark.parametrize("sql", [
    "COPY (SELECT * FROM documents) TO '{tmp}/leak.csv'",
    "COPY documents TO '{tmp}/leak.parquet' (FORMAT parquet)",
    "EXPORT DATABASE '{tmp}/dump'",
    "CREATE TABLE t AS SELECT 1",
    "CREATE VIEW v AS SELECT 1",
    "INSERT INTO documents SELECT * FROM documents",
    "DELETE FROM errors",
    "UPDATE documents SET title = 'x'",
    "DROP VIEW documents",
    "ATTACH '{tmp}/other.db' AS other",
    "DETACH memory",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "RESET lock_configuration",
    "PRAGMA disable_checkpoint_on_shutdown",
    "CALL pragma_version()",
    "EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1",
    "SELECT 1; SELECT 2",
    "",
    "SET memory_limit = '64GB'",
    "SELECT 1; COPY documents TO '{tmp}/leak.csv'",
])
def test_non_read_statements_are_refused(out: Path, tmp_path: Path, sql: str) -> None:
    with pytest.raises(QueryError, match=r"not allowed|read-only|exactly one|only EXPLAIN"):
        run_query(sql.format(tmp=tmp_path), out)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM read_blob('{out}/../secret.txt')",
    "SELECT * FROM read_parquet('{out}/documents/d1.parquet')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM 'https://example.com/data.csv'",
    "SELECT * FROM '/etc/passwd'",
])
def test_file_access_is_refused(out: Path, sql: str) -> None:
    with pytest.raises(QueryError, match=r"refused|failed"):
        run_query(sql.format(out=out), out)


def test_sandbox_holds_inside_a_select(out: Path) -> None:
    with pytest.raises(QueryError, match="refused"):
        run_query("WITH x AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM x", out)


def test_bad_sql_gives_duckdb_message(out: Path) -> None:
    with pytest.raises(QueryError, match=r"invalid SQL: Parser Error: syntax error"):
        run_query("SELEC holder FROM positions", out)
    with pytest.raises(QueryError, match=r"query failed: .*nosuchtable"):
        run_query("SELECT * FROM nosuchtable", out)
    with pytest.raises(QueryError, match=r"query failed: .*nosuchcolumn"):
        run_query("SELECT nosuchcolumn FROM positions", out)


def test_duckdb_messages_are_one_line_with_their_position(out: Path) -> None:
    with pytest.raises(QueryError) as syntax:
        run_query("SELECT holder,\nFROM positions WHERE", out)
    assert str(syntax.value) == ('invalid SQL: Parser Error: syntax error at or near "WHERE" '
                                 "(LINE 2: FROM positions WHERE)")
    with pytest.raises(QueryError) as binder:
        run_query("SELECT n_char FROM pages", out)
    assert str(binder.value) == ('query failed: Binder Error: Referenced column "n_char" not '
                                 'found in FROM clause! Candidate bindings: "n_chars"')


def test_reads_allowed(out: Path) -> None:
    assert run_query("DESCRIBE documents", out).num_rows == len(TABLES["documents"])
    assert run_query("FROM errors SELECT kind", out).to_pylist() == [{"kind": "corrupt"}]
    assert run_query("EXPLAIN SELECT * FROM positions", out).num_rows >= 1
    check_read_only("WITH a AS (SELECT 1) SELECT * FROM a")


def test_temporary_part_files_are_not_read(tmp_path: Path) -> None:
    root = tmp_path / "out"
    build_outputs(root)
    rows = [{**run_query("SELECT * FROM documents LIMIT 1", root).to_pylist()[0], "doc_id": "x"}]
    pq.write_table(pa.Table.from_pylist(rows, schema=TABLES["documents"]),
                   root / "documents" / ".x.parquet.tmp-1")
    assert run_query("SELECT count(*) AS n FROM documents", root).to_pylist() == [{"n": 5}]


def test_formats(tmp_path: Path, out: Path) -> None:
    table = run_query("SELECT holder, stance FROM positions WHERE doc_id = 'd2' ORDER BY 2",
                      out)
    assert format_result(table, "table") == (
        "holder          stance\n"
        "--------------  -----------\n"
        "North Vale ICS  conditional\n"
        "North Vale ICS  support\n"
        "(2 rows)\n")
    assert format_result(table, "csv") == (
        '"holder","stance"\n"North Vale ICS","conditional"\n"North Vale ICS","support"\n')
    lines = str(format_result(table, "json")).splitlines()
    assert [json.loads(line) for line in lines] == table.to_pylist()
    data = format_result(table, "parquet", tmp_path / "r.parquet")
    assert isinstance(data, bytes)
    assert pq.read_table(tmp_path / "r.parquet").equals(table)
    with pytest.raises(QueryError, match="unknown output format"):
        format_result(table, "xml")  # type: ignore[arg-type]


def test_csv_text_that_looks_like_a_formula_is_quoted_as_text(tmp_path: Path) -> None:
    table = pa.table({
        "evidence": ['=HYPERLINK("http://attacker.test","Details")', "+SUM(1,2) we agree",
                     "-2+3 devolve to place", "@SUM(A1:A9)", "\tTabbed", "Plain - text = ok",
                     "", None],
        "n": [-1, 2, 3, 4, 5, 6, 7, 8]})
    text = str(format_result(table, "csv", tmp_path / "r.csv"))
    assert text.splitlines() == [
        '"evidence","n"', '"\'=HYPERLINK(""http://attacker.test"",""Details"")",-1',
        '"\'+SUM(1,2) we agree",2', '"\'-2+3 devolve to place",3', '"\'@SUM(A1:A9)",4',
        '"\'\tTabbed",5', '"Plain - text = ok",6', '"",7', ',8']
    assert (tmp_path / "r.csv").read_text(encoding="utf-8") == text
    assert json.loads(str(format_result(table, "json")).splitlines()[0])["evidence"] == (
        '=HYPERLINK("http://attacker.test","Details")')  # only the CSV is quoted


def test_table_format_flattens_newlines_and_long_text() -> None:
    table = pa.table({"t": ["a\nb", "x" * 200]})
    text = str(format_result(table, "table"))
    assert "a b" in text
    assert "x" * 79 + "…" in text


def test_table_format_escapes_control_characters() -> None:
    table = pa.table({"holder": ["Bramblewick\x1b]0;owned\x07 Council", "Left \u202etfel"]})
    assert str(format_result(table, "table")).splitlines()[2:4] == [
        "Bramblewick\\x1b]0;owned\\x07 Council", "Left \\u202etfel"]


def test_documented_examples_run(out: Path, repo_root: Path) -> None:
    text = (repo_root / "docs" / "query.md").read_text(encoding="utf-8")
    examples = re.findall(r"```sql\n(.*?)```", text, re.S)
    assert len(examples) >= 10
    results = [run_query(sql, out) for sql in examples]
    assert results[0].column("holder").to_pylist() == [
        "Exampleton Borough Council", "Riverside District Council"]
    assert results[3].column("label").to_pylist() == ["local voice"]
    assert results[4].column("cited").to_pylist() == ["Local Government Association"]


def test_text_formats_show_rounded_numbers(out: Path) -> None:
    table = run_query("SELECT CAST(0.66 AS FLOAT) AS c, avg(CAST(0.66 AS FLOAT)) AS mean, "
                      "CAST('NaN' AS DOUBLE) AS odd, CAST(NULL AS FLOAT) AS none, "
                      "1234567.125::DOUBLE AS big", out)
    assert format_result(table, "table").splitlines()[2].split() == [
        "0.66", "0.66", "nan", "1234567.125"]
    assert format_result(table, "csv").splitlines()[1] == "0.66,0.66,nan,,1234567.125"
    row = json.loads(str(format_result(table, "json")))
    assert (row["c"], row["mean"], row["none"], row["big"]) == (0.66, 0.66, None, 1234567.125)
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(bytes(format_result(table, "xlsx")))).active
    assert sheet is not None and (sheet["A2"].value, sheet["B2"].value) == (0.66, 0.66)
    assert run_query("SELECT CAST(0.66 AS FLOAT) AS c", out).column("c").type == pa.float32()


def test_a_result_file_that_cannot_be_written_is_named_and_nothing_is_left(
        tmp_path: Path) -> None:
    table = pa.table({"n": [1]})
    with pytest.raises(QueryError) as folder:
        write_result(table, "csv", tmp_path)
    assert str(folder.value) == (f"{tmp_path} is a folder: give a file name for the result, "
                                 f"e.g. {tmp_path}/result.csv")
    missing = tmp_path / "no such folder" / "result.json"
    with pytest.raises(QueryError) as absent:
        write_result(table, "json", missing)
    assert str(absent.value) == (f"cannot write the result to {missing}: No such file or "
                                 "directory; check that its folder exists and can be written")
    assert list(tmp_path.iterdir()) == []
