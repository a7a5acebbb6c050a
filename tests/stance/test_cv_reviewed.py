"""Training on an analyst's review (``scripts/stance_cv.py``, ``train_stance.py --reviewed``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipeline.config import load_settings
from pipeline.io import OutputStore
from pipeline.schema import to_table
from tests.script_loader import load_script
from tests.stance.test_dataset import _position

pytestmark = pytest.mark.slow

TEXT = ("Northshire Council response to Integrating care.\n\n"
        "The council has read the consultation with care. "
        "Northshire Council supports Option 2, a statutory ICS body.\n")


def test_reviewed_documents_train_and_shared_copies_are_left_out(tmp_path: Path) -> None:
    cv = load_script("stance_cv")
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    corpus.mkdir()
    (corpus / "response.txt").write_text(TEXT, encoding="utf-8")
    (corpus / "copy.txt").write_text(TEXT + "Annex.\n", encoding="utf-8")
    evidence = "Northshire Council supports Option 2, a statutory ICS body."
    OutputStore(out).write_part("positions", "p", to_table("positions", [
        _position("response.txt", "option_2", "support", "confirmed", evidence),
        _position("copy.txt", "option_2", "support", "confirmed", evidence),
    ]))
    known = {hashlib.sha256((corpus / "copy.txt").read_bytes()).hexdigest()[:16]}
    ctx = cv.Context(load_settings(None))
    digest = hashlib.sha256()
    examples = cv.reviewed_examples(ctx, out, corpus, tmp_path / "cache", known, digest)
    assert list(examples) == ["reviewed/out/response.txt"]
    example = examples["reviewed/out/response.txt"]
    assert (example.relevance_y.count("yes"), example.stance_y, example.holder_y) == (
        1, ["support"], ["author"])
    assert cv.fold_of("reviewed/out/response.txt", cv.FOLDS) == -1
    assert digest.hexdigest() != hashlib.sha256().hexdigest()
