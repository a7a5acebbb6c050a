"""The report shows the analyst's decisions: corrected cells marked, rejected positions gone,
how many positions were reviewed, and the decisions that no longer apply."""

from __future__ import annotations

from pathlib import Path

from pipeline import corrections as corr
from pipeline.report import render_report
from tests.fixtures.report.outputs import fixture_settings
from tests.fixtures.review import SENTENCES, SHA, build_review_store


def test_report_marks_reviewed_positions(tmp_path: Path) -> None:
    store = build_review_store(tmp_path / "out")
    settings = fixture_settings(tmp_path)
    path = tmp_path / "c.csv"
    rows = [("stance", "Exampleton Borough Council", "option_2", 2, "oppose"),
            ("reject", "Local Government Association", "option_1", 3, ""),
            ("confirm", "North Vale ICS", "option_2", 1, "support")]
    for action, holder, target, idx, new in rows:
        corr.append_decision(path, corr.Decision(0, action, "a.txt" if idx != 1 else "b.txt",
                                                 SHA["a" if idx != 1 else "b"], holder, target,
                                                 SENTENCES["a" if idx != 1 else "b"][idx],
                                                 new_value=new))
    corr.append_decision(path, corr.Decision(0, "reject", "gone.txt", "f" * 64, "X",
                                             "option_1", "A sentence nobody kept."))
    corr.apply_corrections(store, settings, path)
    report = render_report(store, settings)

    holders = {h.name: h for h in report.data.holders}
    assert "Local Government Association" not in holders
    cell = holders["Exampleton Borough Council"].cells["option_2"]
    assert (cell.stance, cell.review) == ("oppose", "corrected")
    assert [q.text for q in cell.evidence] == [SENTENCES["a"][2]]
    assert holders["North Vale ICS"].cells["option_2"].review == "confirmed"
    assert report.data.review["reviewed"] == 3
    assert report.data.review["counts"] == {"confirmed": 1, "corrected": 1, "added": 0,
                                            "rejected": 1}
    assert report.data.summary["positions"] == 4

    assert 'data-stance="oppose" data-review="corrected"' in report.html
    assert "<b>3</b> of 5 reviewed" in report.html
    assert 'id="stale-corrections"' in report.html
    assert "the document is no longer in the corpus" in report.html
    assert "| ✗ O ✎ |" in report.markdown
    assert "3 of 5 positions reviewed (1 confirmed, 1 corrected, 0 added, 1 rejected); " \
           "4 decisions in the corrections file." in report.markdown
    assert f"| 5 | stale | reject | {path}:5: reject X on option_1 in gone.txt: the document " \
           "is no longer in the corpus |" in report.markdown
