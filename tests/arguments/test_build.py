"""The arguments core and entry point on a hand-written three-document corpus."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipeline.arguments import argument_id, build_argument_tables, build_arguments
from pipeline.arguments.build import _join_key_points, _largest, load_argument_rules
from pipeline.arguments.cluster import OUTLIER
from pipeline.arguments.codebook import AnalystTheme
from pipeline.arguments.match import export_matcher, matcher_onnx
from pipeline.arguments.units import ArgumentClassifier
from pipeline.config import ArgumentsConfig, load_settings
from pipeline.io import OutputStore
from pipeline.schema import empty_table, to_table
from tests.arguments.fakes import FakeEmbedder

RULES = load_argument_rules(load_settings())  # the mining rules of the project's consultation
CAMPAIGN = [
    "We believe funding for council services must be protected.",
    "We are concerned that staff morale is low across the area.",
    "Patients data should be shared between teams safely.",
]
DOCS: dict[str, tuple[str | None, list[str]]] = {
    "d1": ("Northfield Council", [
        "Agenda item four.",
        "We believe funding for the council services is far too low.",
        "The council funding settlement should rise every year.",
        "The meeting took place on a Monday in March.",
        "We are concerned that staff will leave the service.",
        "We also think the weather matters for everyone here.",
        "Option two is the right model for patients in this area.",
    ]),
    "d2": ("Riverside Patients Forum", CAMPAIGN),
    "d3": (None, [*CAMPAIGN, "Sent by email."]),
}


def _corpus() -> tuple[pa.Table, pa.Table, pa.Table]:
    documents: list[dict[str, object]] = []
    sentences: list[dict[str, object]] = []
    for doc_id, (author, texts) in DOCS.items():
        documents.append({
            "doc_id": doc_id, "source_path": f"responses/{doc_id}-resident.txt", "format": "txt",
            "title": None, "author_org": author, "author_org_id": None,
            "author_confidence": None, "doc_kind": "response", "date": None, "n_pages": 1,
            "n_sentences": len(texts), "n_chars": 0, "size_bytes": 0, "sha256": doc_id,
            "metadata_source": "test", "ingested_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            "copy_of": None,
        })
        sentences.extend({
            "sentence_id": f"{doc_id}-{i:05d}", "doc_id": doc_id, "idx": i, "page": 1 + i // 4,
            "section": None, "start": 0, "end": len(t), "text": t,
        } for i, t in enumerate(texts))
    stance_rows = [
        _stance("d1-00001", "Northfield Council", True, "neutral", 0.99),
        _stance("d1-00001", "Northfield Council", True, "support", 0.8),
        _stance("d1-00002", "Regional Health Partnership", False, "oppose", 0.7),
        _stance("d1-00006", "Northfield Council", True, "support", 0.9, target="option_2"),
    ]
    return (to_table("documents", documents), to_table("sentences", sentences),
            to_table("stances", stance_rows))


def _stance(sentence_id: str, holder: str, is_author: bool, stance: str, confidence: float,
            target: str = "council_funding") -> dict[str, object]:
    return {
        "stance_id": f"s-{sentence_id}-{stance}", "doc_id": sentence_id[:2],
        "sentence_id": sentence_id, "page": 1, "holder": holder, "holder_id": None,
        "holder_is_author": is_author, "target": target, "stance": stance,
        "confidence": confidence, "evidence": "", "method": "test",
    }


def _build(embedder: FakeEmbedder, classifier: ArgumentClassifier,
           config: ArgumentsConfig) -> Any:
    documents, sentences, stances = _corpus()
    return build_argument_tables(sentences, stances, documents, embedder, classifier, config,
                                 RULES)


def _by_sentence(result: Any) -> dict[str, dict[str, Any]]:
    return {r["sentence_id"]: r for r in result.arguments.to_pylist()}


def test_argument_units_holders_and_stances(fake_embedder: FakeEmbedder,
                                            classifier: ArgumentClassifier,
                                            config: ArgumentsConfig) -> None:
    rows = _by_sentence(_build(fake_embedder, classifier, config))
    summary = {sid: (r["kind"], r["holder"], r["holder_is_author"], r["target"], r["stance"])
               for sid, r in rows.items()}
    assert summary == {
        "d1-00001": ("claim", "Northfield Council", True, "council_funding", "support"),
        "d1-00002": ("recommendation", "Regional Health Partnership", False,
                     "council_funding", "oppose"),
        "d1-00004": ("concern", "Northfield Council", True, None, None),
        "d1-00005": ("claim", "Northfield Council", True, None, None),
        "d1-00006": ("claim", "Northfield Council", True, "option_2", "support"),
        "d2-00000": ("recommendation", "Riverside Patients Forum", True, None, None),
        "d2-00001": ("concern", "Riverside Patients Forum", True, None, None),
        "d2-00002": ("recommendation", "Riverside Patients Forum", True, None, None),
        "d3-00000": ("recommendation", "d3-resident", True, None, None),
        "d3-00001": ("concern", "d3-resident", True, None, None),
        "d3-00002": ("recommendation", "d3-resident", True, None, None),
    }
    assert rows["d1-00002"]["argument_id"] == argument_id("d1", "d1-00002")
    assert rows["d1-00004"]["page"] == 2


def test_campaign_copies_share_a_duplicate_group(fake_embedder: FakeEmbedder,
                                                 classifier: ArgumentClassifier,
                                                 config: ArgumentsConfig) -> None:
    rows = _by_sentence(_build(fake_embedder, classifier, config))
    groups = {sid: r["duplicate_group"] for sid, r in rows.items()}
    campaign = {groups[f"{d}-0000{i}"] for d in ("d2", "d3") for i in range(3)}
    assert len(campaign) == 1 and None not in campaign
    assert all(groups[sid] is None for sid in groups if sid.startswith("d1"))


def _themed(config: ArgumentsConfig) -> ArgumentsConfig:
    """Up to one theme per two arguments: the small corpus keeps its four themes."""
    return config.model_copy(update={"arguments_per_theme": 2})


def test_clusters_count_voices_split_sides_and_keep_outliers(
        fake_embedder: FakeEmbedder, classifier: ArgumentClassifier,
        config: ArgumentsConfig) -> None:
    result = _build(fake_embedder, classifier, _themed(config))
    rows = _by_sentence(result)
    assert rows["d1-00005"]["cluster_id"] is None
    clusters = {c["cluster_id"]: c for c in result.clusters.to_pylist()}
    against = clusters[rows["d1-00002"]["cluster_id"]]
    assert {sid for sid, r in rows.items() if r["cluster_id"] == against["cluster_id"]} == {
        "d1-00002", "d2-00000", "d3-00000"}
    assert (against["size"], against["n_documents"], against["n_holders"],
            against["n_voices"]) == (3, 3, 3, 2)
    assert (against["n_support"], against["n_oppose"], against["n_conditional"],
            against["n_neutral"], against["targets"]) == (0, 1, 0, 0, ["council_funding"])
    assert against["keywords"][:2] == ["council", "funding"]
    assert against["key_point"] == "The council funding settlement should rise every year."
    assert against["label"] == "The council funding settlement should rise every year"
    # The supporter's argument is a theme of its own side: pro and con never share one.
    pro = clusters[rows["d1-00001"]["cluster_id"]]
    assert (pro["size"], pro["n_support"], pro["key_point"], pro["label"]) == (
        1, 1, "We believe funding for the council services is far too low.",
        "Funding for the council services is far too…")
    staff = clusters[rows["d1-00004"]["cluster_id"]]
    assert (staff["size"], staff["n_holders"], staff["n_voices"]) == (3, 3, 2)
    assert staff["label"] == "Staff morale is low across the area"
    assert {c["origin"] for c in clusters.values()} == {"discovered"}
    assert result.vectors.shape == (11, 16)


def test_only_outliers_and_key_points_are_embedded_with_the_matcher(
        fake_embedder: FakeEmbedder, classifier: ArgumentClassifier,
        config: ArgumentsConfig) -> None:
    asked: list[str] = []

    def match(texts: Sequence[str]) -> np.ndarray:
        asked.extend(texts)
        return FakeEmbedder()(texts)

    documents, sentences, stances = _corpus()
    result = build_argument_tables(sentences, stances, documents, fake_embedder, classifier,
                                   _themed(config), RULES, match=match)
    rows = result.arguments.to_pylist()
    key_points = {c["key_point"] for c in result.clusters.to_pylist()}
    outlier = _by_sentence(result)["d1-00005"]["text"]
    assert outlier in asked and key_points <= set(asked)
    assert len(asked) == len(set(asked)) < len(rows)  # the others never reach the matcher


def test_themes_are_capped_per_argument(fake_embedder: FakeEmbedder,
                                        classifier: ArgumentClassifier,
                                        config: ArgumentsConfig) -> None:
    result = _build(fake_embedder, classifier, config)  # 11 arguments, one theme per 8
    assert result.clusters.num_rows == 1


def test_comparison_keeps_stances_apart(fake_embedder: FakeEmbedder,
                                        classifier: ArgumentClassifier,
                                        config: ArgumentsConfig) -> None:
    result = _build(fake_embedder, classifier, _themed(config))
    against = _by_sentence(result)["d1-00002"]["cluster_id"]
    rows = [(r["holder"], r["stance"], r["n_arguments"], r["is_majority"], r["evidence"])
            for r in result.comparison.to_pylist() if r["cluster_id"] == against]
    assert rows == [
        ("Regional Health Partnership", "oppose", 1, True,
         "The council funding settlement should rise every year."),
        ("Riverside Patients Forum", "none", 1, True,
         "We believe funding for council services must be protected."),
        ("d3-resident", "none", 1, True,
         "We believe funding for council services must be protected."),
    ]


def test_two_runs_give_identical_tables(classifier: ArgumentClassifier,
                                        config: ArgumentsConfig) -> None:
    first = _build(FakeEmbedder(), classifier, config)
    second = _build(FakeEmbedder(), classifier, config)
    for name in ("arguments", "clusters", "comparison"):
        assert getattr(first, name).equals(getattr(second, name)), name


def test_classifying_in_blocks_changes_nothing(classifier: ArgumentClassifier,
                                              config: ArgumentsConfig,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    whole = _build(FakeEmbedder(), classifier, config)
    monkeypatch.setattr("pipeline.arguments.build._BLOCK", 2)  # two sentences at a time
    blocks = _build(FakeEmbedder(), classifier, config)
    for name in ("arguments", "clusters", "comparison"):
        assert getattr(whole, name).equals(getattr(blocks, name)), name


def test_no_sentences_give_empty_tables(fake_embedder: FakeEmbedder,
                                        classifier: ArgumentClassifier,
                                        config: ArgumentsConfig) -> None:
    result = build_argument_tables(empty_table("sentences"), empty_table("stances"),
                                   empty_table("documents"), fake_embedder, classifier, config,
                                   RULES)
    assert (result.arguments.num_rows, result.clusters.num_rows,
            result.comparison.num_rows) == (0, 0, 0)
    assert fake_embedder.n_texts == 0


def test_entry_point_reads_the_store_and_caches_embeddings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, classifier: ArgumentClassifier
) -> None:
    documents, sentences, stances = _corpus()
    store = OutputStore(tmp_path)
    for doc_id in DOCS:
        store.write_part("documents", doc_id, documents.filter(pc.equal(
            documents["doc_id"], doc_id)))
        store.write_part("sentences", doc_id, sentences.filter(pc.equal(
            sentences["doc_id"], doc_id)))
    store.write_part("stances", "d1", stances)
    embedders: list[FakeEmbedder] = []

    def fake_factory(model_name: str, batch_size: int) -> FakeEmbedder:
        embedders.append(FakeEmbedder())
        return embedders[-1]

    monkeypatch.setattr("pipeline.embeddings.sentence_transformer_fn", fake_factory)
    monkeypatch.setattr("pipeline.arguments.build.load_classifier", lambda s: classifier)
    settings = load_settings()
    settings.nlp.embedding_backend = "torch"
    first = build_arguments(store, settings)
    second = build_arguments(store, settings)
    # 9 distinct texts of five words or more; the campaign copies are embedded once.
    assert (embedders[0].n_texts, embedders[1].n_texts) == (9, 0)
    assert first.arguments.equals(second.arguments)
    for name in ("arguments", "clusters", "comparison"):
        store.write_table(name, getattr(first, name))
    assert store.read_table("clusters").num_rows == first.clusters.num_rows


def test_a_missing_matcher_is_exported_in_a_child_process_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []

    class Stop(Exception):
        pass

    def child(job: Any, args: tuple[Any, ...], what: str) -> None:
        calls.append((job, args, what))
        raise Stop  # nothing after the export is needed here

    monkeypatch.setattr("pipeline.arguments.build.run_in_child", child)
    settings = load_settings()
    store = OutputStore(tmp_path)
    folder = store.cache_dir("embeddings")
    with pytest.raises(Stop):
        build_arguments(store, settings)
    assert calls == [(export_matcher, (folder, settings.nlp.embedding_batch_size),
                      "matcher-export")]
    calls.clear()
    matcher_onnx(folder).touch()  # exported: an empty corpus then never calls the matcher
    assert build_arguments(store, settings).arguments.num_rows == 0
    assert calls == []


def test_analyst_themes_come_first_and_take_their_matches(
        fake_embedder: FakeEmbedder, classifier: ArgumentClassifier,
        config: ArgumentsConfig) -> None:
    documents, sentences, stances = _corpus()
    codebook = [
        AnalystTheme("staff", "Staff are leaving the service."),
        AnalystTheme("funding-against", "Council funding is too low.", stance="oppose"),
        AnalystTheme("unused", "The weather matters.", stance="conditional"),
    ]
    result = build_argument_tables(sentences, stances, documents, fake_embedder, classifier,
                                   _themed(config), RULES, codebook=codebook)
    rows = _by_sentence(result)
    clusters = result.clusters.to_pylist()
    assert [c["cluster_id"] for c in clusters[:3]] == ["t-staff", "t-funding-against",
                                                       "t-unused"]
    assert {c["origin"] for c in clusters[3:]} == {"discovered"}
    staff, against, unused = clusters[:3]
    assert {sid for sid, r in rows.items() if r["cluster_id"] == "t-staff"} == {
        "d1-00004", "d2-00001", "d3-00001"}
    assert (staff["key_point"], staff["key_point_doc_id"], staff["label"]) == (
        "Staff are leaving the service.", None, "Staff are leaving the service")
    # The theme asks for opponents: only the opposing funding argument joins it.
    assert {sid for sid, r in rows.items() if r["cluster_id"] == "t-funding-against"} == {
        "d1-00002"}
    assert (against["size"], unused["size"], unused["n_documents"]) == (1, 0, 0)


def test_a_theme_dissolved_by_the_cap_joins_as_a_whole_by_its_key_point() -> None:
    texts = ["Councils need a fair funding settlement for adult social care.",
             "Adult social care funding must rise to meet demand in every area.",
             "Funding for social care should follow the growth in need.",
             "Clinical leaders should sit on the new statutory board.",
             "The board needs clinicians with a real voice at every meeting.",
             "Social care budgets should grow in line with local demand.",
             "Local care funding has to keep pace with an ageing population.",
             "The weather was pleasant on the day the board met."]
    rows = [{"text": t} for t in texts]
    axis = [0, 0, 0, 1, 1, 0, 0, 2]  # the dissolved theme points where the first theme does
    vectors = np.eye(3, dtype=np.float32)[axis]
    themes = np.asarray([0, 0, 0, 1, 1, 2, 2, OUTLIER])
    asked: list[int] = []

    def matched(indices: Sequence[int]) -> np.ndarray:
        asked.extend(indices)
        return vectors[list(indices)]

    labels = _join_key_points(rows, vectors, matched, themes, _largest(themes, 2), 0.05, RULES)
    assert labels.tolist() == [0, 0, 0, 1, 1, 0, 0, OUTLIER]
    # one key point per theme and the lone outlier: the dissolved theme's members are not
    # matched one by one
    assert len(asked) == 4 and 7 in asked and len({5, 6} & set(asked)) == 1
