"""The classifier heads: fit, predict, save and load without pickle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import load_settings
from pipeline.errors import ConfigError
from pipeline.stance.model import (
    SoftmaxClassifier,
    StanceModel,
    load_stance_model,
    read_stance_model,
    save_stance_model,
)

X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [0.5, 0.5], [0.45, 0.55]])
Y = ["support", "support", "oppose", "oppose", "neutral", "neutral"]


def test_fit_returns_self_and_separates_classes() -> None:
    clf = SoftmaxClassifier(c=10.0)
    assert clf.fit(X, Y) is clf
    proba = clf.predict_proba(X)
    assert clf.classes_ == ["neutral", "oppose", "support"]
    assert proba.shape == (6, 3)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert [clf.classes_[i] for i in proba.argmax(axis=1)][:4] == Y[:4]


def test_save_and_read_round_trip(tmp_path: Path) -> None:
    head = SoftmaxClassifier().fit(X, Y)
    model = StanceModel(head, head, "all-MiniLM-L6-v2", info={"n_sentences": 6})
    path = tmp_path / "clf.npz"
    save_stance_model(model, path)
    again = read_stance_model(path)
    assert again.info == {"n_sentences": 6}
    assert np.allclose(again.stance.predict_proba(X), head.predict_proba(X), atol=1e-6)
    stance, target = again.predict(X[:1].astype(np.float32))
    assert set(stance[0]) == {"neutral", "oppose", "support"} and target[0] == stance[0]


def test_unreadable_weights_raise_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="train_stance"):
        read_stance_model(tmp_path / "absent.npz")
    head = SoftmaxClassifier().fit(X, Y)
    path = tmp_path / "clf.npz"
    save_stance_model(StanceModel(head, head, "all-MiniLM-L6-v2"), path)
    meta = json.loads(path.with_suffix(".json").read_text())
    meta["classes"]["stance"] = ["only", "two"]
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="class list"):
        read_stance_model(path)


def test_shipped_weights_match_the_training_file() -> None:
    settings = load_settings()
    model = load_stance_model(settings)
    assert model.method == settings.stance.method
    assert model.min_confidence == settings.stance.min_confidence
    assert set(model.stance.classes_) == {"support", "oppose", "conditional", "neutral"}
    data = settings.resolve(Path(model.info["training_file"])).read_bytes()
    import hashlib

    assert hashlib.sha256(data).hexdigest() == model.info["training_sha256"], (
        "models/stance/training_sentences.csv changed: run scripts/train_stance.py"
    )


def test_shipped_decider_records_its_provenance_and_cv_figures() -> None:
    settings = load_settings()
    model = load_stance_model(settings)
    assert model.decider is not None
    info = model.decider.info
    assert len(info["training_sha256"]) == 64
    cv = info["cross_validation"]
    assert cv["method"].startswith("document-grouped 5-fold CV")
    assert {"all_p", "all_r", "all_f1", "cited_f1"} <= set(cv["lenient"])
    assert cv["reliability"] and all("precision" in b for b in cv["reliability"])
    a, _ = model.decider.calibration_
    assert a > 0  # higher scores, higher calibrated confidence
    assert model.decider.position_ is not None
    assert cv["min_position_confidence"] == settings.stance.min_position_confidence


@pytest.mark.parametrize(("rows", "line"), [
    ("They backed it.,option_1,support,them\n", 2),  # no such holder
    # each row is a one-sentence document whose other targets are negatives
    ("We back the first.,option_1,support,\nWe back the first.,option_2,oppose,\n", 3),
])
def test_training_rows_say_who_holds_the_view_and_give_a_sentence_once(
        tmp_path: Path, rows: str, line: int) -> None:
    from tests.script_loader import load_script

    cv = load_script("stance_cv")
    path = tmp_path / "sentences.csv"
    path.write_text("text,target,stance,holder\n"
                    "We back it.,option_1,support,\n"
                    "The college backed it.,option_1,support,cited\n", encoding="utf-8")
    assert [r["holder"] for r in cv.read_rows(path)] == ["", "cited"]
    path.write_text("text,target,stance,holder\n" + rows, encoding="utf-8")
    with pytest.raises(ValueError, match=rf"sentences\.csv:{line}: bad or repeated row"):
        cv.read_rows(path)
