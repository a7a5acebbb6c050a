"""`stancemap review` as a user runs it: prints the URL, serves 127.0.0.1, Ctrl-C stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.fixtures.review import build_review_store

ROOT = Path(__file__).resolve().parents[2]


def test_review_serves_with_a_token_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    build_review_store(tmp_path / "out")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STANCEMAP_HOME": str(tmp_path / "home")}
    process = subprocess.Popen(
        [sys.executable, "-m", "stancemap.cli", "review", "--out", str(tmp_path / "out")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("review page: http://127.0.0.1:"), first
        url = first.split(": ", 1)[1].strip()
        assert process.stdout.readline().strip() == (
            f"decisions go to {tmp_path / 'out.corrections.csv'}; Ctrl-C to stop")
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
            assert "Review positions" in response.read().decode("utf-8")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url.split("?")[0], timeout=30)
        assert refused.value.code == 403
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert out.strip() == "review stopped"
    assert not (tmp_path / "out.corrections.csv").exists()


def test_review_needs_positions(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from stancemap.cli import app

    result = CliRunner().invoke(app, ["review", "--out", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "no positions in" in result.output


def test_review_refuses_a_corrections_file_it_cannot_write(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from stancemap.cli import app

    build_review_store(tmp_path / "out")
    (tmp_path / "notes").write_text("a file where a folder should be", encoding="utf-8")
    wanted = tmp_path / "notes" / "decisions.csv"
    result = CliRunner().invoke(app, ["review", "--out", str(tmp_path / "out"),
                                      "--corrections", str(wanted)])
    assert result.exit_code == 2
    assert f"cannot write the corrections file {wanted}" in " ".join(result.output.split())
