"""The HTML report in headless Chromium: no console errors, working script, a screenshot.

Chromium comes from Debian (``apt-get install -y chromium``); the test set-up installs it and
these tests skip where it is absent. Chromium logs every console message (errors, uncaught
exceptions, Content-Security-Policy violations) to stderr as ``CONSOLE`` lines; the report's
own script also records uncaught errors on ``<html data-js-errors>`` and marks a clean run
with ``data-js-ok``, which ``--dump-dom`` shows.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.io import OutputStore
from pipeline.report import render_report, write_report
from pipeline.schema import to_table

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install -y chromium); CI installs it",
)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _chromium(page: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / "profile"
    shutil.rmtree(profile, ignore_errors=True)
    args = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=True)


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def _screenshot(page: Path, tmp: Path, name: str, size: str = "1400,2000") -> Path:
    """A PNG of the page's first ``size`` pixels, copied to ``$STANCEMAP_SCREENSHOT_DIR``
    when set (``docs/images/report-top.png`` is made this way)."""
    shot = tmp / name
    _chromium(page, tmp, f"--screenshot={shot}", f"--window-size={size}")
    assert shot.read_bytes()[:8] == PNG_MAGIC
    assert shot.stat().st_size > 20_000
    target = os.environ.get("STANCEMAP_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(target) / name)
    return shot


def _with_test_script(html: str, script: str) -> str:
    """The report with an extra script, allowed by adding its hash to the policy."""
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    html = re.sub(r"script-src '", f"script-src 'sha256-{digest}' '", html, count=1)
    return html.replace("</body>", f"<script>{script}</script></body>")


def test_report_opens_without_console_errors(
    tmp_path: Path, store: OutputStore, settings: Settings
) -> None:
    page = write_report(render_report(store, settings), tmp_path / "site")[0]
    result = _chromium(page, tmp_path, "--dump-dom")
    assert _console(result.stderr) == []
    html_tag = re.search(r"<html[^>]*>", result.stdout)
    assert html_tag is not None
    assert 'data-js-ok="1"' in html_tag.group(0)
    assert "data-js-errors" not in html_tag.group(0)
    assert len(re.findall(r"<th [^>]*sortable-th", result.stdout)) == 8 + 8 + 7 + 5
    _screenshot(page, tmp_path, "report-screenshot.png")
    _screenshot(page, tmp_path, "report-top.png", "1280,1000")


def test_empty_report_opens_without_console_errors(
    tmp_path: Path, settings: Settings
) -> None:
    report = render_report(OutputStore(tmp_path / "empty"), settings)
    page = write_report(report, tmp_path / "site")[0]
    result = _chromium(page, tmp_path, "--dump-dom")
    assert _console(result.stderr) == []
    assert 'data-js-ok="1"' in result.stdout


def test_cell_opens_evidence_and_headers_sort(
    tmp_path: Path, store: OutputStore, settings: Settings
) -> None:
    script = (
        "document.querySelector('td.cell[data-stance=\"oppose\"] a').click();"
        "document.querySelector('#corpus th').click();"
        "document.documentElement.setAttribute('data-first-date',"
        " document.querySelector('#corpus tbody td').textContent);"
    )
    html = _with_test_script(render_report(store, settings).html, script)
    page = tmp_path / "clicked.html"
    page.write_text(html, encoding="utf-8")
    result = _chromium(page, tmp_path, "--dump-dom")
    assert _console(result.stderr) == []
    dialog = re.search(r'<dialog id="panel" open="">(.*?)</dialog>', result.stdout, re.S)
    assert dialog is not None
    assert "We cannot support a body that absorbs the commissioning groups." in dialog.group(1)
    assert 'data-first-date="2020-12-10"' in result.stdout
    _screenshot(page, tmp_path, "report-evidence-screenshot.png")


def test_console_errors_are_detected(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><p>x</p><script>missingFunction();</script>",
                    encoding="utf-8")
    result = _chromium(page, tmp_path, "--dump-dom")
    assert any("missingFunction" in line for line in _console(result.stderr))


def test_evidence_panel_closes(tmp_path: Path, store: OutputStore, settings: Settings) -> None:
    script = (
        "document.querySelector('td.cell a').click();"
        "var opened = document.getElementById('panel').open;"
        "document.querySelector('#panel .close').click();"
        "document.documentElement.setAttribute('data-panel',"
        " opened + '/' + document.getElementById('panel').open);"
    )
    page = tmp_path / "closed.html"
    page.write_text(_with_test_script(render_report(store, settings).html, script),
                    encoding="utf-8")
    result = _chromium(page, tmp_path, "--dump-dom")
    assert _console(result.stderr) == []
    assert 'data-panel="true/false"' in result.stdout


def test_more_evidence_opens_in_the_panel(
    tmp_path: Path, store: OutputStore, settings: Settings
) -> None:
    """"… and N more" in a cell's pop-up is a control that shows the remaining quotes."""
    rows = store.read_table("stances", {"d1"}).to_pylist()
    first = next(r for r in rows if r["target"] == "option_2")
    store.write_part("stances", "d1", to_table("stances", [*rows, *(
        {**first, "stance_id": f"more-{i}", "stance": "neutral", "confidence": 0.5,
         "evidence": f"Option 2 is described in paragraph {i}."} for i in range(3))]))
    report = settings.report.model_copy(update={"max_evidence_per_cell": 1})
    html = render_report(store, settings.model_copy(update={"report": report})).html
    script = (
        "document.querySelector('td.cell[data-holder=\"Exampleton Borough Council\"]"
        "[data-target=\"option_2\"] a').click();"
        "var more = document.querySelector('#panel details.more');"
        "var before = more.querySelector('li').checkVisibility();"
        "more.querySelector('summary').click();"
        "document.documentElement.setAttribute('data-more', before + '/' + more.open + '/' +"
        " more.querySelector('li').checkVisibility());"
    )
    page = tmp_path / "more.html"
    page.write_text(_with_test_script(html, script), encoding="utf-8")
    result = _chromium(page, tmp_path, "--dump-dom")
    assert _console(result.stderr) == []
    assert 'data-more="false/true/true"' in result.stdout
    dialog = re.search(r'<dialog id="panel" open="">(.*?)</dialog>', result.stdout, re.S)
    assert dialog is not None
    assert "… and 3 more" in dialog.group(1)
    assert dialog.group(1).count("Option 2 is described in paragraph") == 3
