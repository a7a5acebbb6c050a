"""Cluster labels from class-based TF-IDF (c-TF-IDF, as in BERTopic).

All texts of a cluster form one class document. A term's weight in class c is its
frequency in c (normalised by the class length) times ``log(1 + A / f_t)``, where ``A`` is
the average number of words per class and ``f_t`` the term's frequency over all classes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TOKEN_PATTERN = r"(?u)\b[a-zA-Z][a-zA-Z]+(?:-[a-zA-Z]+)*\b"


def ctfidf_keywords(
    texts: Sequence[str], labels: Sequence[int], top_n: int = 8
) -> dict[int, list[str]]:
    """The ``top_n`` most distinctive terms of each label (outliers, ``-1``, are a class too
    so that their words count in ``f_t``, but get no keywords)."""
    from sklearn.feature_extraction.text import CountVectorizer

    labels_arr = np.asarray(labels)
    classes = sorted({int(c) for c in labels_arr.tolist()})
    class_docs = [" ".join(t for t, lab in zip(texts, labels_arr, strict=True) if lab == c)
                  for c in classes]
    vectorizer = CountVectorizer(stop_words="english", ngram_range=(1, 2),
                                 token_pattern=TOKEN_PATTERN, lowercase=True)
    try:
        counts = vectorizer.fit_transform(class_docs).astype(np.float64)
    except ValueError:  # nothing but stop words
        return {c: [] for c in classes if c >= 0}
    terms = vectorizer.get_feature_names_out()
    per_class = np.asarray(counts.sum(axis=1)).ravel()
    per_term = np.asarray(counts.sum(axis=0)).ravel()
    idf = np.log1p(per_class.mean() / per_term)
    tf = counts.multiply(1.0 / np.maximum(per_class, 1.0)[:, None]).tocsr()
    scores = tf.multiply(idf[None, :]).tocsr()
    return {
        c: _top_terms(scores.getrow(i).toarray().ravel(), terms, top_n)
        for i, c in enumerate(classes) if c >= 0
    }


def _top_terms(row: np.ndarray, terms: np.ndarray, top_n: int) -> list[str]:
    """Best-scoring terms (ties alphabetical), skipping a term whose words are all shown."""
    order = np.lexsort((terms, -row))
    chosen: list[str] = []
    seen_words: set[str] = set()
    for i in order:
        if row[i] <= 0 or len(chosen) == top_n:
            break
        words = set(str(terms[i]).split())
        if words <= seen_words:
            continue
        chosen.append(str(terms[i]))
        seen_words |= words
    return chosen
