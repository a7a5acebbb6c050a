"""Scoring positions against a gold CSV on a tiny handmade gold."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from pipeline.errors import ConfigError
from pipeline.evaluate import evaluate, holders_match, read_gold
from pipeline.schema import to_table

GOLD_COLUMNS = ["file", "holder", "holder_is_author", "target", "stance", "evidence"]


def _doc(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _position(
    doc_id: str, holder: str, is_author: bool, target: str, stance: str
) -> dict[str, Any]:
    return {
        "doc_id": doc_id,
        "source_path": "x",
        "holder": holder,
        "holder_id": None,
        "holder_is_author": is_author,
        "target": target,
        "stance": stance,
        "confidence": 0.8,
        "n_evidence": 1,
        "n_support": 0,
        "n_oppose": 0,
        "n_conditional": 0,
        "n_neutral": 0,
        "mixed": False,
        "evidence": "e",
        "page": None,
        "review": "machine",
        "needs_review": False,
    }


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[Path, Path, pa.Table, pa.Table]:
    docs = tmp_path / "docs"
    docs.mkdir()
    a = _doc(docs, "a.txt", "first document")
    b = _doc(docs, "b.txt", "second document")
    gold = tmp_path / "gold.csv"
    rows = [
        ["a.txt", "Northshire Council", "true", "option_1", "support", "we back it"],
        ["a.txt", "NHSE/I", "false", "option_2", "support", "they prefer it"],
        ["a.txt", "Northshire Council", "true", "option_2", "neutral", "Option 2: ..."],
        ["b.txt", "Care Federation", "true", "q1_statutory_footing", "conditional", "if"],
        ["b.txt", "Care Federation", "true", "other:funding", "support", "ignored"],
        ["missing.txt", "X", "true", "option_1", "support", "absent file"],
    ]
    with gold.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(GOLD_COLUMNS)
        writer.writerows(rows)
    positions = to_table(
        "positions",
        [
            _position(a, "Northshire Borough Council", True, "option_1", "support"),  # TP
            _position(a, "NHS England and NHS Improvement", False, "option_2", "support"),  # TP
            _position(a, "Northshire Borough Council", True, "option_2", "oppose"),  # false find
            _position(b, "Care Federation", True, "q1_statutory_footing", "support"),  # lenient TP
            _position(b, "Care Federation", True, "place_subsidiarity", "neutral"),  # not counted
        ],
    )
    documents = pa.table({"doc_id": [a, b]})
    return gold, docs, positions, documents


def test_read_gold_skips_other_targets_and_reports_missing_files(
    setup: tuple[Path, Path, pa.Table, pa.Table],
) -> None:
    gold, docs, _, _ = setup
    positions, missing = read_gold(gold, docs)
    assert [p.target for p in positions] == [
        "option_1",
        "option_2",
        "option_2",
        "q1_statutory_footing",
    ]
    assert missing == ["missing.txt"]


def test_scores_strict_and_lenient(setup: tuple[Path, Path, pa.Table, pa.Table]) -> None:
    result = evaluate(*setup)
    strict = result.scores["strict"]
    lenient = result.scores["lenient (conditional = support)"]
    assert strict["overall"].as_dict() == {
        "tp": 2,
        "predicted": 4,
        "gold": 3,
        "precision": 0.5,
        "recall": 0.6667,
        "f1": 0.5714,
    }
    assert lenient["overall"].as_dict()["tp"] == 3
    assert lenient["overall"].f1 == pytest.approx(2 * 0.75 * 1.0 / 1.75)
    assert (lenient["author-held"].tp, lenient["author-held"].n_gold) == (2, 2)
    assert (lenient["cited"].tp, lenient["cited"].n_predicted) == (1, 1)
    assert strict["target option_2"].as_dict()["predicted"] == 2


def test_confusion_misses_and_false_finds(setup: tuple[Path, Path, pa.Table, pa.Table]) -> None:
    result = evaluate(*setup)
    assert result.confusion == {
        "support": {"support": 2},
        "neutral": {"oppose": 1},
        "conditional": {"support": 1},
        "none": {"neutral": 1},
    }
    assert result.misses == []
    assert [(f["target"], f["gold"], f["predicted"]) for f in result.false_finds] == [
        ("option_2", "neutral", "oppose")
    ]
    assert result.unmatched_documents == ["missing.txt"]
    markdown = result.to_markdown()
    assert "| overall | 0.50 | 0.67 | 0.57 | 2 | 4 | 3 |" in markdown
    assert "False finds (1)" in markdown
    assert '"unmatched_documents"' in result.to_json()


def test_missing_prediction_is_a_miss(setup: tuple[Path, Path, pa.Table, pa.Table]) -> None:
    gold, docs, positions, documents = setup
    result = evaluate(gold, docs, positions.slice(0, 1), documents)
    assert [(m["holder"], m["predicted"]) for m in result.misses] == [
        ("NHSE/I", "none"),
        ("Care Federation", "none"),
    ]


@pytest.mark.parametrize(
    ("gold", "predicted", "expected"),
    [
        ("NHSE/I", "NHS England and NHS Improvement", True),
        ("LGA", "Local Government Association", True),
        ("Paul Smith (chair, Northshire STP)", "Paul Smith", True),
        ("unnamed commissioning boss of a major system", "commissioning boss", True),
        ("Care Federation", "Northshire Council", False),
        ("NHS England (the centre)", "Local Government Association", False),
    ],
)
def test_holder_matching(gold: str, predicted: str, expected: bool) -> None:
    assert holders_match(gold, predicted) is expected


def test_holder_matching_through_a_register() -> None:
    class Register:
        def lookup(self, text: str, doc_aliases: object = None) -> object:
            return type("Org", (), {"canonical_id": "fed", "name": "Care Federation"})()

    assert holders_match("The Federation of Carers", "Care Fed.", "fed", Register())


def test_gold_saved_by_excel_with_a_byte_order_mark_and_padded_names_reads(
        tmp_path: Path) -> None:
    _doc(tmp_path, "a.txt", "first document")
    gold = tmp_path / "gold.csv"
    gold.write_bytes(b"\xef\xbb\xbffile, holder ,holder_is_author,target,stance\r\n"
                     b"a.txt,Northshire Council,TRUE,option_1,Support\r\n")
    (position,), missing = read_gold(gold, tmp_path)
    assert (position.holder, position.holder_is_author, position.stance, position.evidence,
            missing) == ("Northshire Council", True, "support", "", [])


@pytest.mark.parametrize(("rows", "message"), [
    ("a.txt,Northshire Council,true,option_1\n", "line 2: no value for stance"),
    (",Northshire Council,true,option_1,support\n", "line 2: no value for file (or id)"),
    ("a.txt,Northshire Council,true,option_1,support\na.txt,X,true,option_1,maybe\n",
     "line 3: stance 'maybe' is not one of support, oppose, conditional, neutral"),
    ("a.txt,Northshire Council,perhaps,option_1,support\n",
     "line 2: holder_is_author 'perhaps' is not true or false"),
    ("a.txt,,false,option_1,support\n", "line 2: no value for holder"),
    ("", "has a header but no gold positions"),
])
def test_a_gold_row_that_cannot_be_scored_is_refused_naming_its_line(
        tmp_path: Path, rows: str, message: str) -> None:
    gold = tmp_path / "gold.csv"
    gold.write_text("file,holder,holder_is_author,target,stance\n" + rows, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        read_gold(gold, tmp_path)
    assert str(refused.value) == f"gold file {gold} {message}"


def test_gold_reads_the_scorers_words_for_the_author_flag_and_an_empty_author_holder(
        tmp_path: Path) -> None:
    _doc(tmp_path, "a.txt", "first document")
    gold = tmp_path / "gold.csv"
    gold.write_text("file,holder,holder_is_author,target,stance\n"
                    "a.txt,,1,option_1,support\na.txt,Westvale Trust,no,option_2,oppose\n"
                    "a.txt,Eastmere Council,yes,q1_statutory_footing,support\n",
                    encoding="utf-8")
    positions, _ = read_gold(gold, tmp_path)
    assert [(p.holder, p.holder_is_author) for p in positions] == [
        ("", True), ("Westvale Trust", False), ("Eastmere Council", True)]


def test_gold_with_a_latin1_row_after_the_first_block_is_refused(tmp_path: Path) -> None:
    gold = tmp_path / "gold.csv"
    rows = "a.txt,Northshire Council,true,option_1,support\n" * 500
    gold.write_bytes(("file,holder,holder_is_author,target,stance\n" + rows
                      + "a.txt,Caf\xe9 Council,true,option_1,support\n").encode("latin-1"))
    with pytest.raises(ConfigError, match="is not UTF-8 text: save it as a UTF-8 CSV"):
        read_gold(gold, tmp_path)
