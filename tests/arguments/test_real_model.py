"""The arguments stage with the real embedder and the shipped classifier."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipeline.arguments import ArgumentResult, build_argument_tables
from pipeline.arguments.build import cached_embedder, load_argument_rules, load_classifier
from pipeline.arguments.match import matcher_for
from pipeline.config import load_settings
from pipeline.io import OutputStore
from pipeline.schema import empty_table, to_table

TEXTS = [
    "We are concerned that rural communities will lose their local hospital services.",
    "There is a real risk that smaller towns lose access to hospital care.",
    "Our members worry that hospital services will move away from rural areas.",
    "The government should fund councils properly for public health.",
    "Public health budgets held by councils must be increased.",
    "Ministers ought to restore the public health grant to councils.",
    "We would support the merger provided that staff keep their current contracts.",
    "The transfer is acceptable only if employees keep their terms and conditions.",
    "The meeting started at ten o'clock in the main hall.",
    "Copies of the minutes are available from the clerk.",
    "Appendix C lists the members of the working group.",
    "A single shared record would stop patients repeating their history to every clinician.",
    "Shared digital records mean patients no longer have to repeat their story.",
    "The board papers were circulated a week before the meeting.",
    "We believe the partnership has already improved care for older people.",
    "Joint working between the trust and the council has made discharge from hospital faster.",
    "Recruitment of nurses is the biggest challenge facing the service this winter.",
    "We fear nurse vacancies will leave wards unsafe over the winter months.",
    "Item 6 was deferred to the next meeting.",
    "Carers should be given a stronger voice in how services are planned.",
    "One shared patient record would save people from telling their story again and again.",
]
NOT_ARGUMENTS = {8, 9, 10, 13, 18}


@pytest.mark.slow
def test_real_embeddings_find_and_group_arguments(tmp_path: Path) -> None:
    settings = load_settings()
    sentences = to_table("sentences", [
        {"sentence_id": f"doc-{i:05d}", "doc_id": "doc", "idx": i, "page": None,
         "section": None, "start": 0, "end": len(t), "text": t} for i, t in enumerate(TEXTS)])
    documents = to_table("documents", [{
        "doc_id": "doc", "source_path": "doc.txt", "format": "txt", "title": None,
        "author_org": "Westshire Council", "author_org_id": None, "author_confidence": None,
        "doc_kind": "response", "date": None, "n_pages": None, "n_sentences": len(TEXTS),
        "n_chars": 0, "size_bytes": 0, "sha256": "x", "metadata_source": "test",
        "ingested_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "copy_of": None}])
    cache = cached_embedder(OutputStore(tmp_path), settings)
    classifier = load_classifier(settings)
    matcher = matcher_for(tmp_path / "matcher")
    config = settings.arguments.model_copy(update={"arguments_per_theme": 3})
    rules = load_argument_rules(settings)

    def run() -> ArgumentResult:
        return build_argument_tables(sentences, empty_table("stances"), documents, cache.embed,
                                     classifier, config, rules, match=matcher.embed)

    result = run()
    found = {int(sid[-5:]) for sid in result.arguments.column("sentence_id").to_pylist()}
    assert found.isdisjoint(NOT_ARGUMENTS)
    assert len(found) >= 13
    by_index = {int(r["sentence_id"][-5:]): r for r in result.arguments.to_pylist()}
    themes = []
    for group in ({0, 1, 2}, {3, 4, 5}, {11, 12, 20}):
        ids = {by_index[i]["cluster_id"] for i in group if i in by_index}
        assert len(ids) == 1 and None not in ids, group
        themes += ids
    assert len(set(themes)) == 3
    assert cache.n_embedded_ == len(TEXTS)
    again = run()
    assert cache.n_embedded_ == len(TEXTS)
    assert again.clusters.equals(result.clusters)
