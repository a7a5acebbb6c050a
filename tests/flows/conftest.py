"""Fixtures of the flow tests: ONE Prefect test server per session, tiny corpora."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before Prefect is first imported: its home and settings live in a throw-away folder.
_PREFECT_HOME = tempfile.mkdtemp(prefix="stancemap-prefect-test-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "WARNING"
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Sentences written for these tests; none comes from the shared seeds or dev texts.
DOCS = {
    "alpha-council-response.txt": (
        "Riverside Borough Council response to the integrated care proposals.\n\n"
        "Riverside Borough Council supports giving integrated care systems a statutory footing. "
        "We believe joint working between the council and local NHS bodies has improved "
        "services for older residents. The council has concerns about the pace of change."
    ),
    "beta-trust-briefing.md": (
        "# Hillview Hospitals NHS Trust briefing\n\n"
        "Hillview Hospitals NHS Trust opposes transferring commissioning functions without "
        "clear accountability. The trust would support the second option only if local "
        "partners keep a real say in decisions. Staff shortages remain our biggest risk."
    ),
    "gamma-network-note.txt": (
        "Northfield Primary Care Network note on collaboration.\n\n"
        "The network welcomes closer collaboration across health and care providers. "
        "Members asked for more time to plan the transition of services."
    ),
}
BROKEN = {"delta-empty.txt": ""}


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """One temporary Prefect server for the whole test session; yields its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield str(PREFECT_API_URL.value())


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    """Three short documents and one broken (empty) file."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in {**DOCS, **BROKEN}.items():
        (corpus / name).write_text(text, encoding="utf-8")
    return corpus
