"""The HTML and Markdown report over a hand-made output folder."""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser
from pathlib import Path

from pipeline.config import Settings
from pipeline.io import OutputStore
from pipeline.report import (
    collect,
    configured_targets,
    md_cell,
    render_report,
    report_artifacts,
    write_report,
)
from pipeline.schema import to_table
from tests.fixtures.report.outputs import EXPECTED_HOLDERS, HOSTILE, TARGETS, build_outputs

EVALUATION = {
    "overall": {"precision": 0.9, "recall": 0.75, "f1": 0.818, "support": 12},
    "per_target": {"option_2": {"precision": 1.0, "recall": 0.5, "f1": 0.667, "support": 4}},
    "gold": "hand-made",
    "misses": [{"doc": "d1"}, {"doc": "d2"}],
}


class _Collector(HTMLParser):
    """Gathers tags, attributes and the text of the HTML for assertions."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._stack:
            while self._stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def cells(self) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == "td" and "cell" in (a.get("class") or "")]


def _parse(html: str) -> _Collector:
    parser = _Collector()
    parser.feed(html)
    return parser


def test_matrix_has_a_cell_for_each_holder_and_target(
    store: OutputStore, settings: Settings
) -> None:
    parsed = _parse(render_report(store, settings).html)
    cells = parsed.cells()
    assert {c["data-holder"] for c in cells} == EXPECTED_HOLDERS
    assert len(cells) == len(EXPECTED_HOLDERS) * len(TARGETS)
    found = {(c["data-holder"], c["data-target"]): c.get("data-stance") for c in cells}
    assert found[("Exampleton Borough Council", "option_2")] == "oppose"
    assert found[("Exampleton Borough Council", "option_1")] == "conditional"
    assert found[("Local Government Association", "option_1")] == "support"
    assert found[("North Vale ICS", "option_2")] == "support"
    assert found[("Riverside District Council", "q1_statutory_footing")] == "mixed"
    assert found[("North Vale ICS", "place_subsidiarity")] is None
    assert sum(v is not None for v in found.values()) == 7


def test_summary_counts_and_per_target(store: OutputStore, settings: Settings) -> None:
    data = collect(store, settings)
    assert data.summary == {"documents": 4, "copies": 1, "organisations": 4, "positions": 7,
                            "holders": 4, "clusters": 2, "failed": 1}
    option_2 = next(e for e in data.per_target if e["target"].id == "option_2")
    assert option_2["counts"] == {"support": 1, "oppose": 2, "conditional": 0, "neutral": 0,
                                  "mixed": 0}
    assert option_2["by_stance"]["oppose"] == ["Exampleton Borough Council",
                                               "Riverside District Council"]
    option_1 = next(e for e in data.per_target if e["target"].id == "option_1")
    assert option_1["by_stance"]["support"] == ["Local Government Association (cited)"]
    html = render_report(store, settings).html
    assert re.search(r"<b>4</b> documents <small>\(\+ 1 copy counted once\)</small></li>\s*"
                     r"<li><b>4</b> organisations</li>\s*"
                     r"<li><b>7</b> positions</li>", html)


def test_cited_holder_is_marked_with_its_reporter(store: OutputStore, settings: Settings) -> None:
    data = collect(store, settings)
    lga = next(h for h in data.holders if h.name == "Local Government Association")
    assert not lga.is_author
    cell = lga.cells["option_1"]
    assert cell.cited
    assert [(q.reported_by, q.page) for q in cell.evidence] == [("Exampleton Borough Council", 3)]
    html = render_report(store, settings).html
    assert "as reported by Exampleton Borough Council" in html
    assert "cited only" in html


def test_document_markup_is_escaped(store: OutputStore, settings: Settings) -> None:
    report = render_report(store, settings)
    parsed = _parse(report.html)
    assert [t for t, _ in parsed.tags].count("script") == 1
    assert not [t for t, _ in parsed.tags if t == "img"]
    assert not any(k.startswith("on") for _, attrs in parsed.tags for k in attrs)
    text = "".join(parsed.text)
    assert HOSTILE in text
    assert "We reject it: " + HOSTILE in text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in report.html
    assert "<b>file</b>" not in report.html
    assert "<script>alert" not in report.markdown
    assert "&lt;script&gt;" in report.markdown


def test_nothing_is_loaded_from_outside(store: OutputStore, settings: Settings) -> None:
    html = render_report(store, settings).html
    parsed = _parse(html)
    for tag, attrs in parsed.tags:
        for key in ("src", "srcset", "action", "data", "poster", "background"):
            assert key not in attrs, (tag, attrs)
        if "href" in attrs:
            assert (attrs["href"] or "").startswith("#"), (tag, attrs)
    assert "@import" not in html
    assert "url(" not in html
    csp = next(a["content"] for t, a in parsed.tags if a.get("http-equiv") ==
               "Content-Security-Policy")
    assert csp is not None and "default-src 'none'" in csp and "'unsafe-inline'" not in \
        csp.split("script-src")[1].split(";")[0]


def test_each_cell_links_to_its_evidence(store: OutputStore, settings: Settings) -> None:
    html = render_report(store, settings).html
    parsed = _parse(html)
    ids = {a["id"] for _, a in parsed.tags if a.get("id")}
    links = [a["href"] for t, a in parsed.tags
             if t == "a" and "cell-link" in (a.get("class") or "")]
    assert len(links) == 7
    assert all(href is not None and href[1:] in ids for href in links)
    assert "We cannot support a body that absorbs the commissioning groups." in html
    assert "Response of Exampleton, p. 2" in html


def test_errors_section_lists_failures(store: OutputStore, settings: Settings) -> None:
    report = render_report(store, settings)
    assert "corpus/broken &lt;b&gt;file&lt;/b&gt;.pdf" in report.html
    assert "no cross-reference table &lt;xref&gt;" in report.html
    assert ("| corpus/broken &lt;b&gt;file&lt;/b&gt;.pdf | ingest | corrupt | "
            "no cross-reference table &lt;xref&gt; |") in report.markdown


def test_clusters_timeline_and_notes(store: OutputStore, settings: Settings) -> None:
    data = collect(store, settings)
    assert [c["cluster_id"] for c in data.clusters] == ["c1", "c2"]
    assert [r["holder"] for r in data.clusters[0]["raised_by"]] == [
        "Exampleton Borough Council", "Riverside District Council"]
    assert data.argument_notes == ["4 argument units; 1 not in any cluster (outliers)."]
    assert data.timeline["bucket"] == "month"
    option_2 = next(e for e in data.timeline["targets"] if e["target"].id == "option_2")
    assert option_2["rows"] == [
        {"period": "2020-12", "target": "option_2", "support": 0, "oppose": 1,
         "conditional": 0, "neutral": 0, "total": 1},
        {"period": "2021-01", "target": "option_2", "support": 1, "oppose": 1,
         "conditional": 0, "neutral": 0, "total": 2},
    ]
    assert [e["target"].id for e in data.timeline["targets"]] == [
        "option_1", "option_2", "q1_statutory_footing", "q4_delegated_commissioning"]
    assert [(r["period"], r["target"], r["total"]) for r in data.timeline["rows"]] == [
        ("2020-12", "option_1", 2), ("2020-12", "option_2", 1), ("2021-01", "option_2", 2),
        ("2021-01", "q1_statutory_footing", 1), ("2021-01", "q4_delegated_commissioning", 1)]
    assert data.timeline["peak"] == 2
    assert data.timeline["undated"] == 0
    html = render_report(store, settings).html
    assert html.count("<svg") == 4  # one small chart per target with dated positions
    assert "<figcaption>Option 2: statutory body</figcaption>" in html


def test_stance_values_outside_the_legend(store: OutputStore, settings: Settings) -> None:
    comparison = store.read_table("comparison").to_pylist()
    store.write_table("comparison", to_table("comparison", [
        {**row, "stance": "none"} for row in comparison]))
    report = render_report(store, settings)
    assert 'title="none"' not in report.html
    assert 'North Vale ICS <span class="count" title="arguments">(1)</span>' in report.html
    assert "North Vale ICS (none, 1)" in report.markdown


def test_quarter_buckets(store: OutputStore, settings: Settings) -> None:
    report = settings.report.model_copy(update={"time_bucket": "quarter"})
    data = collect(store, settings.model_copy(update={"report": report}))
    assert [(r["period"], r["total"]) for r in data.timeline["rows"]] == [
        ("2020 Q4", 2), ("2020 Q4", 1), ("2021 Q1", 2), ("2021 Q1", 1), ("2021 Q1", 1)]


def test_timeline_fills_gaps_and_switches_to_quarters(
    store: OutputStore, settings: Settings
) -> None:
    row = store.read_table("documents", {"d2"}).to_pylist()[0]
    store.write_part("documents", "d2", to_table("documents", [
        {**row, "date": dt.date(2022, 6, 1)}]))
    timeline = collect(store, settings).timeline
    assert timeline["bucket"] == "quarter"
    option_2 = next(e for e in timeline["targets"] if e["target"].id == "option_2")
    assert [(r["period"], r["total"]) for r in option_2["rows"]] == [
        ("2020 Q4", 1), ("2021 Q1", 1), ("2021 Q2", 0), ("2021 Q3", 0), ("2021 Q4", 0),
        ("2022 Q1", 0), ("2022 Q2", 1)]


def test_evaluation_lists_of_scores(store: OutputStore, settings: Settings) -> None:
    evaluation = {"targets": [{"target": "option_1", "precision": 0.5, "recall": 1.0,
                               "f1": 0.667}]}
    data = collect(store, settings, evaluation)
    assert [(r["scope"], r["recall"]) for r in data.evaluation] == [
        ("targets · target: Option 1: statutory committee", 1.0)]
    assert data.evaluation_facts == [("targets", "1")]


def test_evaluation_given_or_read_from_file(store: OutputStore, settings: Settings) -> None:
    data = collect(store, settings)
    assert data.evaluation == []
    assert "Not available" in data.notes["evaluation"]
    (store.root / "evaluation.json").write_text(json.dumps(EVALUATION), encoding="utf-8")
    for data in (collect(store, settings), collect(store, settings, EVALUATION)):
        assert [(r["scope"], r["f1"]) for r in data.evaluation] == [
            ("all positions", 0.818), ("target: Option 2: statutory body", 0.667)]
        assert data.evaluation_facts == [("gold", "hand-made"), ("Gold positions missed", "2")]
        assert data.notes["evaluation"] == ""
    markdown = render_report(store, settings).markdown
    assert "| all positions | 0.900 | 0.750 | 0.818 | 12 |" in markdown


def test_partial_outputs_say_not_available(tmp_path: Path, settings: Settings) -> None:
    store = build_outputs(tmp_path / "partial", stances=False, arguments=False)
    report = render_report(store, settings)
    assert "Not available: stance detection has not run" in report.html
    assert "Not available: argument clustering has not run" in report.html
    assert "Not available: no positions from dated documents." in report.html
    assert "Not available: stance detection has not run" in report.markdown
    assert _parse(report.html).cells() == []


def test_empty_corpus(tmp_path: Path, settings: Settings) -> None:
    report = render_report(OutputStore(tmp_path / "empty"), settings)
    assert report.data.summary == {"documents": 0, "copies": 0, "organisations": 0,
                                   "positions": 0, "holders": 0, "clusters": 0, "failed": 0}
    assert "No documents have been ingested." in report.html
    assert "None: every file was processed." in report.html
    assert report.markdown.startswith("# stancemap")


def test_targets_fall_back_to_ids(tmp_path: Path, store: OutputStore, settings: Settings) -> None:
    stance = settings.stance.model_copy(update={"targets": tmp_path / "missing.yaml"})
    data = collect(store, settings.model_copy(update={"stance": stance}))
    assert [(t.id, t.label) for t in data.targets] == [
        ("option_1", "option_1"), ("option_2", "option_2"),
        ("q1_statutory_footing", "q1_statutory_footing"),
        ("q4_delegated_commissioning", "q4_delegated_commissioning")]


def test_target_labels_come_from_the_one_target_loader(tmp_path: Path,
                                                       settings: Settings) -> None:
    labels = [(t.id, t.label) for t in configured_targets(settings)]
    assert labels[:2] == [("option_1", "Option 1: statutory committee"),
                          ("option_2", "Option 2: statutory body")]
    path = tmp_path / "t.yaml"
    path.write_text("targets: [{id: a, label: Alpha}]", encoding="utf-8")  # not a valid file
    stance = settings.stance.model_copy(update={"targets": path})
    assert configured_targets(settings.model_copy(update={"stance": stance})) == []


def test_markdown_tables(store: OutputStore, settings: Settings) -> None:
    markdown = render_report(store, settings).markdown
    assert ("| Exampleton Borough Council | council | ≈ C | ✗ O |  |  |  |"
            in markdown)
    assert ("| Local Government Association (cited only) | membership_body | ✓ S (cited) |"
            in markdown)
    assert "| 2021-01 | Option 2: statutory body | 1 | 1 | 0 | 0 | 2 |" in markdown
    table_lines = [line for line in markdown.splitlines() if line.startswith("|")]
    header_cols = {line.count(" | ") for line in table_lines if line.startswith("| Holder")}
    assert header_cols == {6}


def test_positions_needing_review_are_marked(store: OutputStore, settings: Settings) -> None:
    markdown = render_report(store, settings).markdown
    quotes = [line for line in markdown.splitlines() if line.startswith("- ") and "“" in line]
    flagged = [line for line in quotes if "**needs review**" in line]
    assert 0 < len(flagged) < len(quotes)  # the fixture flags its conditional positions only
    html = render_report(store, settings).html
    assert '<strong class="review">needs review</strong>' in html


def test_md_cell_escapes() -> None:
    assert md_cell("a|b\nc\r\nd <x> & \\") == "a\\|b c d &lt;x&gt; &amp; \\\\"
    assert md_cell(None) == ""
    assert md_cell(0.5) == "0.500"


def test_md_cell_escapes_control_characters() -> None:
    # A holder from a hand-edited corrections file: the terminal showing report.md would
    # have run the sequences, the override shown the rest of the line reversed.
    assert md_cell("Bramblewick\x1b]0;owned\x07 Council\tand \u202elivE") == (
        "Bramblewick\\\\x1b\\]0;owned\\\\x07 Council and \\\\u202elivE")


def test_write_report_and_artifacts(tmp_path: Path, store: OutputStore,
                                    settings: Settings) -> None:
    report = render_report(store, settings)
    paths = write_report(report, tmp_path / "site")
    assert [p.name for p in paths] == ["report.html", "report.md"]
    assert paths[0].read_text(encoding="utf-8") == report.html
    assert not list((tmp_path / "site").glob(".*"))
    markdown, rows = report_artifacts(report)
    assert markdown == report.markdown
    assert rows[0] == {"holder": "Exampleton Borough Council", "type": "council",
                       "cited_only": False, "Option 1: statutory committee": "conditional",
                       "Option 2: statutory body": "oppose", "Statutory footing": "",
                       "Delegated commissioning": "", "Place subsidiarity": ""}
    assert len(rows) == 4


def test_a_report_too_long_for_an_artifact_keeps_the_sections_that_fit(
        store: OutputStore, settings: Settings) -> None:
    report = render_report(store, settings)
    sections = report.markdown.split("\n## ")
    longest = max(sections[1:], key=len)
    limit = len(report.markdown) - len(longest) + 10
    markdown, _ = report_artifacts(report, limit)
    title = longest.splitlines()[0].strip()
    assert len(markdown) < len(report.markdown)
    assert markdown.startswith(sections[0])
    assert f"\n## {title}\n" not in markdown
    assert all(f"\n## {s.splitlines()[0]}" in markdown for s in sections[1:] if s != longest)
    assert markdown.endswith(f"*Too long for an artifact, left out here: {title}. The whole "
                             "report is `report.md` in the output folder.*\n")


def test_copies_count_once(store: OutputStore, settings: Settings) -> None:
    """d5 is the PDF of d1 (copy_of): its misreading never makes the cell mixed."""
    data = collect(store, settings)
    exampleton = next(h for h in data.holders if h.name == "Exampleton Borough Council")
    assert exampleton.cells["option_1"].stance == "conditional"
    assert {q.doc_id for c in exampleton.cells.values() for q in c.evidence} == {"d1"}
    assert [d["copy_label"] for d in data.documents if d["doc_id"] == "d5"] == ["corpus/d1.txt"]
    report = render_report(store, settings)
    assert "copy of corpus/d1.txt: counted once" in report.html
    assert "(+ 1 copy counted once)" in report.html
    assert "| corpus/d5.pdf (copy of corpus/d1.txt) |" in report.markdown
    assert "1 documents are copies of another and count once." in report.markdown


def _add_stances(store: OutputStore, rows: list[tuple[str, float, str]]) -> None:
    old = store.read_table("stances", {"d1"}).to_pylist()
    template = next(r for r in old if r["target"] == "option_2")
    new = [{**template, "stance_id": f"extra-{i}", "stance": stance, "confidence": confidence,
            "evidence": text} for i, (stance, confidence, text) in enumerate(rows)]
    store.write_part("stances", "d1", to_table("stances", old + new))


def test_evidence_puts_the_cells_stance_first_drops_repeats_and_keeps_the_rest(
        store: OutputStore, settings: Settings) -> None:
    _add_stances(store, [
        ("neutral", 0.99, "Option 2 would create a statutory body for each system."),
        ("oppose", 0.6, "We  cannot support a body that absorbs the COMMISSIONING groups."),
        ("oppose", 0.7, "Councils would be junior partners in such a body."),
    ])
    report = settings.report.model_copy(update={"max_evidence_per_cell": 2})
    data = collect(store, settings.model_copy(update={"report": report}))
    cell = next(h for h in data.holders if h.name == "Exampleton Borough Council"
                ).cells["option_2"]
    assert cell.stance == "oppose"
    assert [(q.stance, q.text[:20]) for q in cell.evidence] == [
        ("oppose", "We cannot support a "), ("oppose", "Councils would be ju")]
    assert [q.stance for q in cell.more] == ["neutral"]
    assert cell.n_more == 1
    html = render_report(store, settings.model_copy(update={"report": report})).html
    assert re.search(r'<details class="more"><summary>… and 1 more</summary>\s*<ul>\s*<li>'
                     r'<span class="badge s-neutral"', html)
    markdown = render_report(store, settings).markdown
    assert ("- ✗ O “We cannot support a body that absorbs the commissioning groups.” "
            "(Response of Exampleton, p. 2)") in markdown


def test_per_target_separates_holders_who_only_described_it(
        store: OutputStore, settings: Settings) -> None:
    rows = store.read_table("positions", {"d2"}).to_pylist()
    store.write_part("positions", "d2", to_table("positions", [
        *rows, {**rows[0], "target": "option_1", "stance": "neutral"}]))
    data = collect(store, settings)
    option_1 = next(e for e in data.per_target if e["target"].id == "option_1")
    assert option_1["described"] == ["North Vale ICS"]
    assert option_1["taking"] == 2
    html = render_report(store, settings).html
    assert "Described it without taking a side (1): North Vale ICS" in html
    assert "- described it without taking a side (1): North Vale ICS" in render_report(
        store, settings).markdown


def test_evaluation_from_stancemap_evaluate_reads_as_words(
        store: OutputStore, settings: Settings) -> None:
    """The layout `stancemap evaluate` writes: readable scopes, no raw keys, no empty column."""
    scores = {"tp": 3, "predicted": 4, "gold": 5, "precision": 0.75, "recall": 0.6,
              "f1": 0.6666666666666666}
    evaluation = {"scores": {"lenient (conditional = support)": {
        "author-held": scores, "overall": scores, "target option_2": scores}},
        "confusion": {"support": {"support": 3}}, "misses": [{}], "false_finds": [{}, {}],
        "unmatched_documents": []}
    data = collect(store, settings, evaluation)
    assert [r["scope"] for r in data.evaluation] == [
        "lenient scoring (conditional counts as support) · all positions",
        "lenient scoring (conditional counts as support) · held by the document's author",
        "lenient scoring (conditional counts as support) · target: Option 2: statutory body"]
    assert data.evaluation_facts == [("Gold positions missed", "1"),
                                     ("False finds (predicted, not in the gold)", "2"),
                                     ("Gold documents not found in the corpus", "0")]
    markdown = render_report(store, settings, evaluation).markdown
    assert ("| Scope | Precision | Recall | F1 | Correct | Predicted | Gold |\n"
            "|---|---|---|---|---|---|---|\n"
            "| lenient scoring (conditional counts as support) · all positions | 0.750 | "
            "0.600 | 0.667 | 3 | 4 | 5 |") in markdown
    assert "scores /" not in markdown and "false_finds" not in markdown


def test_argument_notes_count_template_text_across_documents_not_copies(
        store: OutputStore, settings: Settings) -> None:
    rows = store.read_table("arguments").to_pylist()
    twin = {**rows[0], "argument_id": "a5", "doc_id": "d5"}  # the copy's version of a1
    groups = {"a1": "dup-copy", "a5": "dup-copy", "a2": "dup-template", "a3": "dup-template"}
    store.write_table("arguments", to_table("arguments", [
        {**r, "duplicate_group": groups.get(r["argument_id"])} for r in [*rows, twin]]))
    assert collect(store, settings).argument_notes == [
        "4 argument units; 1 not in any cluster (outliers).",
        "2 arguments in 1 near-duplicate groups (template or campaign text counted once per "
        "group in clusters)."]


def test_unidentified_authors_of_two_documents_are_two_holders(
    store: OutputStore, settings: Settings
) -> None:
    for doc_id in ("d2", "d4"):
        store.write_part("positions", doc_id, to_table("positions", [{
            "doc_id": doc_id, "source_path": f"{doc_id}.txt", "holder": "author",
            "holder_id": None, "holder_is_author": True, "target": "option_2",
            "stance": "support", "confidence": 0.7, "n_evidence": 1, "n_support": 1,
            "n_oppose": 0, "n_conditional": 0, "n_neutral": 0, "mixed": False,
            "evidence": f"The writer of {doc_id} backs a statutory body.", "page": 1,
            "review": "machine", "needs_review": False}]))
    data = collect(store, settings)
    unidentified = sorted(h.name for h in data.holders if h.name.startswith("unidentified"))
    assert unidentified == ["unidentified author of Campaign | note",
                            "unidentified author of North Vale briefing"]
    option_2 = next(e for e in data.per_target if e["target"].id == "option_2")
    assert option_2["counts"]["support"] == 2


def test_method_says_whether_positions_are_withheld(store: OutputStore, settings: Settings) -> None:
    def detection(min_position_confidence: float) -> str:
        stance = settings.stance.model_copy(
            update={"min_position_confidence": min_position_confidence})
        method = dict(collect(store, settings.model_copy(update={"stance": stance})).method)
        return method["Stance detection"].split("; ", 2)[2]

    assert detection(0.0) == "no position is withheld; a position less than 0.5 likely right " \
        "needs review"
    assert detection(0.3) == "a position less than 0.3 likely right is withheld (neutral), " \
        "a position less than 0.5 likely right needs review"
