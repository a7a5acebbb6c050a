"""The review loop end to end: run, review in a real headless Chromium, run again.

The review page is driven by Playwright with Debian's chromium (never a downloaded browser);
the test skips where either is missing. Decisions made on the page must show in the positions,
the report and a query after the next run, after another document is added, and after the
outputs are deleted (the corrections file lives beside them, not in them).
"""

from __future__ import annotations

import csv
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.io import OutputStore
from pipeline.query import run_query
from tests.flows.conftest import DOCS

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytest.importorskip("pipeline.ingest", reason="the ingest stage has not landed")
if not CHROMIUM.exists():
    pytest.skip("chromium is not installed (apt-get install -y chromium)",
                allow_module_level=True)

# Sentences written for this test.
EXTRA = {
    "delta-federation-letter.txt": (
        "Eastmoor Care Federation letter on the proposals.\n\n"
        "Eastmoor Care Federation supports the first option for its clarity. "
        "The federation asks for funding to follow the new duties."
    ),
}
ADDED_HOLDER = "Northfield Patients Forum"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    texts = dict(DOCS)
    texts["beta-trust-briefing.md"] += " The trust supports the first option as a sensible step."
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(autouse=True)
def _in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANCEMAP_RUNTIME__ISOLATION", "none")


def _run(corpus: Path, out: Path) -> dict[str, Any]:
    from flows.run import run_flow

    return run_flow(str(corpus), str(out))


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _review_in_browser(out: Path, corrections: Path, browser: Any, shot: Path) -> None:
    """Confirm, correct, reject and add, on the page, with its keys and buttons."""
    from pipeline.config import load_settings
    from pipeline.review_app import make_server

    served = make_server(OutputStore(out), load_settings(), corrections, 0, "tester")
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    errors: list[str] = []
    try:
        page = browser.new_page(viewport={"width": 1300, "height": 950})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        assert page.request.get(served.url.split("?")[0]).status == 403
        page.goto(served.url)
        page.wait_for_selector("html[data-ready='1']")
        assert page.locator("#queue li").count() >= 3

        def decided(n: int) -> None:
            page.wait_for_selector(f"html[data-decisions='{n}']")

        page.keyboard.press("c")  # confirm the first; the page moves to the next
        decided(1)
        current = page.input_value("#stance-select")
        other = "oppose" if current != "oppose" else "support"
        page.select_option("#stance-select", other)
        page.fill("#note", "the sentence argues against it")
        page.click("#change-stance")
        decided(2)
        shown = page.get_attribute("html", "data-item")
        page.keyboard.press("n")
        page.wait_for_selector(f"html:not([data-item='{shown}'])")
        assert page.inner_text("#item-review") == "machine"
        page.click("#reject")
        decided(3)
        page.click("#context li:not(.evidence) button >> nth=0")
        page.fill("#add-holder", ADDED_HOLDER)
        page.select_option("#add-target", "q1_statutory_footing")
        page.select_option("#add-stance", "conditional")
        page.click("#add")
        decided(4)
        assert page.inner_text("#progress").startswith("(4 of ")
        page.screenshot(path=str(shot), full_page=True)
        assert errors == []
    finally:
        served.server.should_exit = True
        thread.join(timeout=10)


def _decisions(corrections: Path) -> list[dict[str, str]]:
    with open(corrections, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _check(out: Path, decisions: list[dict[str, str]]) -> None:
    """The four decisions in the positions, the report and a query."""
    rows = OutputStore(out).read_table("positions").to_pylist()
    by_key = {(r["source_path"], r["holder"], r["target"]): r for r in rows}
    confirm, stance, reject, add = decisions
    assert by_key[(confirm["source_path"], confirm["holder"], confirm["target"])]["review"] \
        == "confirmed"
    corrected = by_key[(stance["source_path"], stance["holder"], stance["target"])]
    assert (corrected["stance"], corrected["review"]) == (stance["new_value"], "corrected")
    assert by_key[(reject["source_path"], reject["holder"], reject["target"])]["review"] \
        == "rejected"
    added = by_key[(add["source_path"], ADDED_HOLDER, "q1_statutory_footing")]
    assert (added["stance"], added["review"], added["evidence"]) == (
        "conditional", "added", add["evidence"])
    query = run_query("SELECT review, count(*) AS n FROM positions WHERE review <> 'machine' "
                      "GROUP BY review ORDER BY review", out)
    assert query.to_pylist() == [{"review": r, "n": 1}
                                 for r in ("added", "confirmed", "corrected", "rejected")]
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert f"4 of {len(rows)} positions reviewed (1 confirmed, 1 corrected, 1 added, " \
           "1 rejected)" in markdown
    assert ADDED_HOLDER in markdown
    assert reject["holder"] + " → " not in markdown.split("## Evidence")[1] or any(
        r["holder"] == reject["holder"] and r["review"] != "rejected" for r in rows)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'data-review="corrected"' in html


def test_review_loop(prefect_api: str, corpus: Path, tmp_path: Path, browser: Any) -> None:
    out = tmp_path / "out"
    corrections = tmp_path / "out.corrections.csv"
    first = _run(corpus, out)
    assert "corrections: none yet" in " ".join(first["notes"])
    shot = tmp_path / "review-page.png"
    _review_in_browser(out, corrections, browser, shot)
    decisions = _decisions(corrections)
    assert [d["action"] for d in decisions] == ["confirm", "stance", "reject", "add"]
    assert decisions[1]["note"] == "the sentence argues against it"
    assert not any(p.name.endswith(".csv") for p in out.rglob("*"))
    target = os.environ.get("STANCEMAP_SCREENSHOT_DIR")
    if target:
        shutil.copy(shot, Path(target) / "review-page.png")

    again = _run(corpus, out)  # unchanged corpus: only the corrections are applied
    assert again["ingested"] == 0 and again.get("analysed", 0) == 0
    assert again["corrections"]["applied"] == 4
    _check(out, decisions)

    for name, text in EXTRA.items():
        (corpus / name).write_text(text, encoding="utf-8")
    grown = _run(corpus, out)
    assert grown["ingested"] == 1
    _check(out, decisions)

    shutil.rmtree(out)
    _run(corpus, out)
    _check(out, decisions)

    # The rejected position's document changes: its evidence sentence goes, the others stay.
    reject = decisions[2]
    source = corpus / reject["source_path"]
    text = source.read_text(encoding="utf-8")
    assert reject["evidence"] in text
    source.write_text(text.replace(reject["evidence"], "The trust will say more in spring."),
                      encoding="utf-8")
    changed = _run(corpus, out)
    status = {r["line"]: r["status"]
              for r in OutputStore(out).read_table("corrections").to_pylist()}
    assert status[4] == "stale"  # the reject decision, line 4 of the file
    same_file = [n + 2 for n, d in enumerate(decisions) if n != 2
                 and d["source_path"] == reject["source_path"]]
    assert same_file and all(status[line] == "reanchored" for line in same_file)
    stale = [n for n in changed["notes"] if n.startswith(f"{corrections}:4: reject ")]
    assert stale and stale[0].endswith("the document changed and the evidence sentence is no "
                                       "longer in it")
    assert f"| 4 | stale | reject | {corrections}:4: reject" in \
        (out / "report.md").read_text(encoding="utf-8")
    reviews = {r["review"] for r in OutputStore(out).read_table("positions").to_pylist()
               if r["source_path"] == reject["source_path"]}
    assert "rejected" not in reviews and reviews & {"corrected", "added"}
