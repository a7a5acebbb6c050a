"""The corrections file and applying it: keys, last decision wins, re-anchoring, bad rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline import corrections as corr
from pipeline.config import Settings
from pipeline.io import OutputStore
from pipeline.schema import to_table
from tests.fixtures.report.outputs import fixture_settings
from tests.fixtures.review import (
    SENTENCES,
    SHA,
    build_review_store,
    doc_id,
    position_rows,
    write_arguments,
    write_document,
)

WHO = "analyst"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fixture_settings(tmp_path)


@pytest.fixture
def store(tmp_path: Path) -> OutputStore:
    return build_review_store(tmp_path / "out")


def decide(path: Path, action: str, doc: str, holder: str, target: str, evidence: int,
           new: str = "", old: str = "", note: str = "") -> corr.Decision:
    decision = corr.Decision(0, action, f"{doc}.txt", SHA[doc], holder, target,
                             SENTENCES[doc][evidence], 1, old, new, note, WHO,
                             dt.datetime(2021, 3, 2, 9, 0, tzinfo=dt.UTC))
    corr.append_decision(path, decision)
    return decision


def positions(store: OutputStore) -> dict[tuple[str, str, str], tuple[str, str]]:
    return {(r["doc_id"], r["holder"], r["target"]): (r["stance"], r["review"])
            for r in store.read_table("positions").to_pylist()}


EXAMPLETON, LGA = "Exampleton Borough Council", "Local Government Association"


def test_default_path_is_beside_the_outputs(tmp_path: Path) -> None:
    assert corr.default_path(tmp_path / "out") == tmp_path / "out.corrections.csv"


def test_key_ignores_whitespace_and_case_of_the_evidence() -> None:
    assert corr.decision_key("s", "A Council", "option_1", "We  back it.") == \
        corr.decision_key("s", "a council", "option_1", "we back it.")
    assert corr.decision_key("s", "A", "option_1", "x") != corr.decision_key("s", "A",
                                                                              "option_2", "x")


def test_appended_decisions_read_back(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    first = decide(path, "stance", "a", EXAMPLETON, "option_2", 2, "oppose", "support", "a, \"b\"")
    decide(path, "reject", "a", LGA, "option_1", 3)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(corr.COLUMNS)
    assert len(lines) == 3
    read = corr.read_decisions(path)
    assert [(d.line, d.action, d.problem) for d in read] == [(2, "stance", None),
                                                              (3, "reject", None)]
    assert read[0].key == first.key and read[0].note == 'a, "b"'
    assert read[0].decided_at == dt.datetime(2021, 3, 2, 9, 0, tzinfo=dt.UTC)


def test_cells_a_spreadsheet_would_run_are_written_as_text_and_read_back(
        tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    decision = corr.Decision(0, "add", "=cmd|' calc'!A0.md", "f" * 64, "@Quillby Board",
                             "option_2", '=HYPERLINK("http://attacker.test","Details")', 2, "",
                             "support", "-2+3 see p. 2", WHO,
                             dt.datetime(2021, 3, 2, 9, 0, tzinfo=dt.UTC))
    quoted = replace(decision, holder="'+already quoted", note="'plain note")
    corr.append_decision(path, decision)
    corr.append_decision(path, quoted)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[1] == (f"{decision.key},2021-03-02T09:00:00+00:00,analyst,add,"
                        f"'=cmd|' calc'!A0.md,{'f' * 64},'@Quillby Board,option_2,"
                        "\"'=HYPERLINK(\"\"http://attacker.test\"\",\"\"Details\"\")\",2,,"
                        "support,'-2+3 see p. 2")
    assert ",''+already quoted," in lines[2] and lines[2].endswith(",'plain note")
    read = corr.read_decisions(path)
    assert [replace(d, line=0) for d in read] == [decision, quoted]
    assert read[0].key == decision.key


def test_concurrent_appends_lose_nothing(tmp_path: Path) -> None:
    """Two review sessions (or tabs) appending at once: every decision is kept, whole."""
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "c.csv"

    def append(n: int) -> None:
        corr.append_decision(path, corr.Decision(0, "confirm", "a.txt", SHA["a"], f"Holder {n}",
                                                 "option_1", "x" * 2000, new_value="support"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(append, range(200)))
    decisions = corr.read_decisions(path)
    assert sorted(d.holder for d in decisions) == sorted(f"Holder {n}" for n in range(200))
    assert all(d.problem is None for d in decisions)


def test_appending_after_a_hand_edit_without_a_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    decide(path, "reject", "a", LGA, "option_1", 3)
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n"), encoding="utf-8")
    decide(path, "confirm", "a", EXAMPLETON, "option_1", 1, "support")
    assert [(d.line, d.action, d.problem) for d in corr.read_decisions(path)] == [
        (2, "reject", None), (3, "confirm", None)]


def test_four_decisions_apply(store: OutputStore, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    decide(path, "confirm", "a", EXAMPLETON, "option_1", 1, "support")
    decide(path, "stance", "a", EXAMPLETON, "option_2", 2, "oppose", "support")
    decide(path, "reject", "a", LGA, "option_1", 3)
    decide(path, "add", "a", EXAMPLETON, "q1_statutory_footing", 4, "support")
    untouched = store.table_token("positions", doc_id("b"))
    review = corr.apply_corrections(store, settings, path)
    a = doc_id("a")
    assert positions(store) == {
        (a, EXAMPLETON, "option_1"): ("support", "confirmed"),
        (a, EXAMPLETON, "option_2"): ("oppose", "corrected"),
        (a, LGA, "option_1"): ("support", "rejected"),
        (a, EXAMPLETON, "q1_statutory_footing"): ("support", "added"),
        (doc_id("b"), "North Vale ICS", "option_2"): ("support", "machine"),
        (doc_id("b"), "North Vale ICS", "q4_delegated_commissioning"): ("conditional",
                                                                        "machine"),
    }
    added = next(r for r in store.read_table("positions").to_pylist()
                 if r["target"] == "q1_statutory_footing")
    assert (added["evidence"], added["page"], added["holder_is_author"], added["n_support"]) == (
        SENTENCES["a"][4], 2, True, 1)
    assert store.table_token("positions", doc_id("b")) == untouched
    assert review.counts() == {"applied": 4}
    table = store.read_table("corrections").to_pylist()
    assert [(r["line"], r["action"], r["status"]) for r in table] == [
        (2, "confirm", "applied"), (3, "stance", "applied"), (4, "reject", "applied"),
        (5, "add", "applied")]

    # Applying again changes nothing; removing the decisions restores the machine's output.
    corr.apply_corrections(store, settings, path)
    assert positions(store)[(a, LGA, "option_1")] == ("support", "rejected")
    path.unlink()
    corr.apply_corrections(store, settings, path)
    assert {review for _, review in positions(store).values()} == {"machine"}
    assert store.read_table("positions").num_rows == 5
    assert store.original_keys("positions") == set()


def test_last_decision_wins_and_holder_change_merges(store: OutputStore, settings: Settings,
                                                    tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    decide(path, "stance", "a", EXAMPLETON, "option_2", 2, "oppose", "support")
    decide(path, "stance", "a", EXAMPLETON, "option_2", 2, "neutral", "support")
    decide(path, "holder", "a", LGA, "option_1", 3, EXAMPLETON, LGA)
    review = corr.apply_corrections(store, settings, path)
    a = doc_id("a")
    rows = {(r["holder"], r["target"]): r for r in store.read_table("positions", {a}).to_pylist()}
    assert rows[(EXAMPLETON, "option_2")]["stance"] == "neutral"
    assert (LGA, "option_1") not in rows
    merged = rows[(EXAMPLETON, "option_1")]
    assert (merged["review"], merged["n_support"], merged["n_evidence"]) == ("corrected", 2, 2)
    assert [o.status for o in review.outcomes] == ["superseded", "applied", "applied"]


def test_control_characters_in_a_decision_are_escaped(store: OutputStore, settings: Settings,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    decide(path, "holder", "a", LGA, "option_1", 3, "Bramblewick\x1b]0;owned\x07 Council", LGA,
           note="see \u202e2 .p")
    review = corr.apply_corrections(store, settings, path)
    assert [o.status for o in review.outcomes] == ["applied"]
    holders = {r["holder"] for r in store.read_table("positions", {doc_id("a")}).to_pylist()}
    assert "Bramblewick\\x1b]0;owned\\x07 Council" in holders
    [row] = store.read_table("corrections").to_pylist()
    assert (row["new_value"], row["note"]) == ("Bramblewick\\x1b]0;owned\\x07 Council",
                                               "see \\u202e2 .p")


def test_holder_change_then_stance_change_both_stand(store: OutputStore, settings: Settings,
                                                     tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    decide(path, "holder", "b", "North Vale ICS", "option_2", 1, "Westshire County Council",
           "North Vale ICS")
    decide(path, "stance", "b", "North Vale ICS", "option_2", 1, "oppose", "support")
    corr.apply_corrections(store, settings, path)
    row = next(r for r in store.read_table("positions", {doc_id("b")}).to_pylist()
               if r["target"] == "option_2")
    assert (row["holder"], row["holder_id"], row["holder_is_author"], row["stance"],
            row["review"]) == ("Westshire County Council", "org-westshire", False, "oppose",
                               "corrected")


def test_a_rewritten_positions_part_is_the_new_machine_output(
        store: OutputStore, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    decide(path, "reject", "a", LGA, "option_1", 3)
    corr.apply_corrections(store, settings, path)
    a = doc_id("a")
    rows = position_rows("a", a)
    rows[0]["stance"] = "oppose"  # the stance stage ran again and changed its mind
    store.write_part("positions", a, to_table("positions", rows))
    corr.apply_corrections(store, settings, path)
    assert positions(store)[(a, EXAMPLETON, "option_1")] == ("oppose", "machine")
    assert positions(store)[(a, LGA, "option_1")] == ("support", "rejected")


def _new_version(store: OutputStore, sentences: list[str]) -> str:
    """Replace document a by a changed version (same path, new content)."""
    for table in ("documents", "sentences", "positions", "stances"):
        store.delete_part(table, doc_id("a"))
    did = write_document(store, "a", "c" * 64, sentences)
    store.write_part("positions", did, to_table("positions", position_rows("a", did)))
    return did


def test_changed_document_reanchors_when_the_evidence_is_still_there(
        store: OutputStore, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    decide(path, "stance", "a", EXAMPLETON, "option_2", 2, "oppose", "support")
    did = _new_version(store, [*SENTENCES["a"], "A paragraph added in the new version."])
    review = corr.apply_corrections(store, settings, path)
    assert positions(store)[(did, EXAMPLETON, "option_2")] == ("oppose", "corrected")
    assert [(o.status, o.doc_id) for o in review.outcomes] == [("reanchored", did)]
    assert review.problems() == []


def test_changed_document_without_the_evidence_lists_the_correction_as_stale(
        store: OutputStore, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    decide(path, "stance", "a", EXAMPLETON, "option_2", 2, "oppose", "support")
    sentences = [s for i, s in enumerate(SENTENCES["a"]) if i != 2]
    did = _new_version(store, sentences)
    review = corr.apply_corrections(store, settings, path)
    assert positions(store)[(did, EXAMPLETON, "option_2")] == ("support", "machine")
    assert [o.status for o in review.outcomes] == ["stale"]
    assert review.problems() == [
        f"{path}:2: stance {EXAMPLETON} on option_2 in a.txt: the document changed and the "
        "evidence sentence is no longer in it"]
    row = store.read_table("corrections").to_pylist()[0]
    assert (row["status"], row["line"], row["new_value"]) == ("stale", 2, "oppose")


def test_bad_rows_are_reported_and_the_others_apply(store: OutputStore, settings: Settings,
                                                   tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    decide(path, "reject", "a", LGA, "option_1", 3)
    good = path.read_text(encoding="utf-8")
    bad = [
        "k,2021-03-02,me,stance,a.txt," + SHA["a"] + ",X,option_9,e,1,support,oppose,",
        "k,2021-03-02,me,stance,a.txt," + SHA["a"] + ",X,option_1,e,1,support,strongly,",
        "k,2021-03-02,me,shout,a.txt," + SHA["a"] + ",X,option_1,e,1,,,",
        "only,three,fields",
        "k,not-a-date,me,reject,a.txt," + SHA["a"] + ",X,option_1,e,1,,,",
        "k,,me,reject,z.txt," + "f" * 64 + ",Nobody,option_1,Never said.,1,,,",
        "k,,me,confirm,a.txt," + SHA["a"] + ",Nobody,option_1,Never said at all here.,1,,,",
    ]
    path.write_text(good + "\n".join(bad) + "\n", encoding="utf-8")
    review = corr.apply_corrections(store, settings, path)
    assert positions(store)[(doc_id("a"), LGA, "option_1")] == ("support", "rejected")
    assert review.problems() == [
        f"{path}:3: unknown target 'option_9' (not in the target file)",
        f"{path}:4: unknown stance 'strongly' (use one of support, oppose, conditional, "
        "neutral)",
        f"{path}:5: unknown action 'shout' (use one of confirm, stance, holder, reject, add)",
        f"{path}:6: malformed row: 3 fields where the header has 13",
        f"{path}:7: decided_at 'not-a-date' is not an ISO date and time",
        f"{path}:8: reject Nobody on option_1 in z.txt: the document is no longer in the corpus",
        f"{path}:9: confirm Nobody on option_1 in a.txt: no such position, and its evidence "
        "sentence is not in the document",
    ]
    assert [o.status for o in review.outcomes] == ["applied", *["invalid"] * 5, "stale",
                                                  "unmatched"]


def test_a_file_without_the_required_columns_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("who,when\nme,today\n", encoding="utf-8")
    [decision] = corr.read_decisions(path)
    assert decision.problem == f"{path}:1: header lacks the column(s) action, holder, target"


def test_comparison_rows_follow_the_review(store: OutputStore, settings: Settings,
                                           tmp_path: Path) -> None:
    write_arguments(store)
    path = tmp_path / "c.csv"
    decide(path, "stance", "a", EXAMPLETON, "option_2", 2, "oppose", "support")
    decide(path, "reject", "a", LGA, "option_1", 3)
    corr.apply_corrections(store, settings, path)
    rows = [(r["holder"], r["stance"], r["n_arguments"], r["is_majority"], r["evidence"])
            for r in store.read_table("comparison").to_pylist()]
    assert rows == [
        (EXAMPLETON, "oppose", 1, False, SENTENCES["a"][2]),
        (EXAMPLETON, "support", 1, True, SENTENCES["a"][1]),
        (LGA, "none", 1, True, SENTENCES["a"][3]),
    ]
    path.unlink()
    corr.apply_corrections(store, settings, path)
    assert [(r["holder"], r["stance"], r["n_arguments"])
            for r in store.read_table("comparison").to_pylist()] == [
        (EXAMPLETON, "support", 2), (LGA, "support", 1)]


def test_evaluate_scores_the_machine_against_the_decisions(store: OutputStore,
                                                           tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from stancemap.cli import app

    path = tmp_path / "c.csv"
    decide(path, "confirm", "a", EXAMPLETON, "option_1", 1, "support")
    decide(path, "stance", "a", EXAMPLETON, "option_2", 2, "oppose", "support")
    decide(path, "reject", "a", LGA, "option_1", 3)
    decide(path, "add", "a", EXAMPLETON, "q1_statutory_footing", 4, "support")
    decide(path, "confirm", "b", "North Vale ICS", "option_2", 1, "support")
    decide(path, "holder", "b", "North Vale ICS", "q4_delegated_commissioning", 2,
           "Westshire County Council", "North Vale ICS")
    result = CliRunner().invoke(app, ["evaluate", "--out", str(store.root), "--corrections",
                                      str(path)])
    assert result.exit_code == 0, result.output
    assert "overall: precision 0.40 (2 of 5 reviewed right; 1 wrong stance, 1 wrong holder, " \
           "1 rejected; 1 missed)" in result.output
    scores = json.loads((store.root / "review_evaluation.json").read_text(encoding="utf-8"))
    assert scores["option_1"] == {"reviewed": 2, "precision": 0.5, "right": 1,
                                  "wrong_stance": 0, "wrong_holder": 0, "rejected": 1,
                                  "missed": 0}
    assert scores["q1_statutory_footing"]["missed"] == 1
    assert not store.exists("corrections")  # evaluating applies nothing


def test_a_decision_on_a_document_applies_to_its_copies(store: OutputStore, settings: Settings,
                                                        tmp_path: Path) -> None:
    copy = write_document(store, "a", "d" * 64, SENTENCES["a"], copy_of=doc_id("a"))
    store.write_part("positions", copy, to_table("positions", position_rows("a", copy)))
    path = tmp_path / "c.csv"
    decide(path, "stance", "a", EXAMPLETON, "option_2", 2, "oppose", "support")
    review = corr.review_positions(store, path, None, corr.Corpus(store, {}))
    for did in (doc_id("a"), copy):
        row = next(r for r in review.positions[did] if r["target"] == "option_2")
        assert (row["stance"], row["review"]) == ("oppose", "corrected")
    assert [(o.status, o.doc_id) for o in review.outcomes] == [("applied", doc_id("a"))]
    from pipeline.review_app import ReviewSession

    session = ReviewSession(store, settings, path, "tester")
    assert copy not in {item["doc_id"] for item in session.queue()}  # reviewed once, as a
    assert len(session.queue()) == 5                                 # decision on the original


def test_check_writable_leaves_no_file_and_names_an_unwritable_one(tmp_path: Path) -> None:
    from pipeline.corrections import check_writable
    from pipeline.errors import ConfigError

    fresh = tmp_path / "new" / "decisions.csv"
    check_writable(fresh)
    assert fresh.parent.is_dir() and not fresh.exists()
    (tmp_path / "plain").write_text("not a folder", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"cannot write the corrections file .*plain"):
        check_writable(tmp_path / "plain" / "decisions.csv")
