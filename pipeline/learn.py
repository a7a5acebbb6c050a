"""The one small learned model of the pipeline: a softmax (multinomial logistic regression)
classifier, fitted with scikit-learn and applied with numpy alone.

The stance heads (:mod:`pipeline.stance.model`) and the argument-unit classifier
(:mod:`pipeline.arguments.units`) are instances of it; each stores its weights its own way
(``.npz`` arrays, never pickles).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Self

import numpy as np


class SoftmaxClassifier:
    """Multinomial logistic regression (scikit-learn conventions, numpy at predict time).

    ``class_weight="balanced"`` weighs classes inversely to their frequency; ``dtype`` is the
    precision of the weights and of the arithmetic at predict time.
    """

    def __init__(self, c: float = 4.0, max_iter: int = 2000,
                 class_weight: Literal["balanced"] | None = "balanced",
                 dtype: type[np.floating[Any]] = np.float32) -> None:
        self.c = c
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.dtype = dtype

    def fit(self, x: np.ndarray, y: Sequence[str]) -> SoftmaxClassifier:
        """Fit on feature rows ``x`` and labels ``y`` (deterministic lbfgs)."""
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=self.c, max_iter=self.max_iter,
                                   class_weight=self.class_weight)
        model.fit(x, list(y))
        self.classes_: Any = [str(c) for c in model.classes_]
        self.coef_ = model.coef_.astype(self.dtype)
        self.intercept_ = model.intercept_.astype(self.dtype)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities, one row per input row, columns in ``classes_`` order."""
        logits = np.asarray(x, dtype=self.dtype) @ self.coef_.T + self.intercept_
        if logits.shape[1] == 1:  # binary problem stored as one column
            logits = np.hstack([-logits, logits]) / 2
        logits -= logits.max(axis=1, keepdims=True)
        expo = np.exp(logits)
        return np.asarray(expo / expo.sum(axis=1, keepdims=True))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The most probable class of each row."""
        return np.asarray(self.classes_)[np.argmax(self.predict_proba(x), axis=1)]

    @classmethod
    def from_arrays(cls, coef: np.ndarray, intercept: np.ndarray, classes: Any,
                    **params: Any) -> Self:
        """A fitted classifier from stored weights (``params`` go to the constructor); raise
        ``ValueError`` when the weights do not fit the class list."""
        if coef.shape[0] != intercept.shape[0] or coef.shape[0] not in (1, len(classes)):
            raise ValueError("classifier weights do not match their class list")
        model = cls(**params)
        model.coef_ = coef.astype(model.dtype)
        model.intercept_ = intercept.astype(model.dtype)
        model.classes_ = classes
        return model
