"""The argument-unit classifier: features, fit/predict, saving and loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.arguments.units import KINDS, ArgumentClassifier, features, lexical_features


def test_lexical_features_flag_each_cue() -> None:
    rows = lexical_features([
        "The board should meet in public.",
        "We agree provided that funding follows.",
        "There is a risk of delay.",
        "Contents.",
    ])
    assert rows[:, :4].tolist() == [[1, 0, 0, 0], [0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 0]]
    assert rows[:, 4].tolist() == pytest.approx([6 / 40, 6 / 40, 6 / 40, 1 / 40])


def test_features_append_lexical_columns_to_embeddings() -> None:
    x = features(np.ones((2, 3)), ["a b", "we should"])
    assert x.shape == (2, 8)
    assert x[1, 3:7].tolist() == [1, 0, 0, 1]


def _toy() -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(i, 0.1, (6, 4)) for i in range(len(KINDS))])
    return x, [k for k in KINDS for _ in range(6)]


def test_fit_predict_and_save_load_round_trip(tmp_path: Path) -> None:
    x, y = _toy()
    model = ArgumentClassifier().fit(x, y)
    assert model.predict(x).tolist() == y
    assert np.allclose(model.predict_proba(x).sum(axis=1), 1.0)
    model.save(tmp_path / "m.npz")
    loaded = ArgumentClassifier.load(tmp_path / "m.npz")
    assert np.array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert loaded.c == model.c


def test_load_rejects_weights_for_other_kinds(tmp_path: Path) -> None:
    x, y = _toy()
    ArgumentClassifier().fit(x[:12], y[:12]).save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="are not"):
        ArgumentClassifier.load(tmp_path / "m.npz")


def test_shipped_weights_load(repo_root: Path) -> None:
    model = ArgumentClassifier.load(repo_root / "models/arguments/classifier.npz")
    assert sorted(model.classes_.tolist()) == sorted(KINDS)
    assert model.coef_.shape == (len(KINDS), 384 + 5)
