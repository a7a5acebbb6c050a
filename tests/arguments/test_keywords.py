"""c-TF-IDF labels on a toy corpus."""

from __future__ import annotations

from pipeline.arguments.keywords import ctfidf_keywords

TEXTS = [
    "Funding for councils is too low.",
    "Council funding must rise.",
    "Staff shortages hurt services.",
    "Services need more staff.",
    "The weather was pleasant.",
]


def test_distinctive_words_lead_each_cluster() -> None:
    keywords = ctfidf_keywords(TEXTS, [0, 0, 1, 1, -1], top_n=3)
    assert keywords == {
        0: ["funding", "council", "councils"],  # "council funding" adds no new word
        1: ["services", "staff", "hurt"],
    }


def test_stop_words_and_numbers_never_appear() -> None:
    keywords = ctfidf_keywords(["The 2022 plan is for the people", "and the plan 2022"], [0, 0])
    assert keywords == {0: ["plan", "people"]}


def test_outliers_get_no_keywords_and_only_stop_words_give_none() -> None:
    assert ctfidf_keywords(["the and of", "it is"], [0, -1]) == {0: []}
