"""Scoring the entities stage against gold counts of canonical mentions per document.

The gold (``tests/gold/seed_entities.csv``) holds, per file, label, canonical id and surface
form, how many times the entity is mentioned. Scores compare counts, not offsets, so they do
not depend on sentence segmentation: for each (file, label, canonical id) the true positives
are ``min(predicted, gold)``. Precision and recall are reported per label (ORG, LAW, POLICY)
and per organisation type (``ORG:<type>``: gold type for recall, predicted type for
precision).
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from pipeline.evaluation.scores import PrecisionRecall

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.entities.register import OrganisationRegister
    from pipeline.entities.types import Author

SCORED_LABELS = ("ORG", "LAW", "POLICY")
_Key = tuple[str, str, str]  # file, label, canonical id


@dataclass(frozen=True)
class GoldMention:
    """One gold row: ``count`` mentions of ``canonical_id`` written as ``surface``."""

    file: str
    label: str
    canonical_id: str
    org_type: str
    surface: str
    count: int


@dataclass(frozen=True)
class LabelScore(PrecisionRecall):
    """Precision, recall and F1 of one label with the counts behind them (a gold type and a
    predicted type may differ, so precision and recall count their own true positives)."""

    label: str
    tp_precision: int
    n_predicted: int
    tp_recall: int
    n_gold: int

    def counts(self) -> tuple[int, int, int, int]:
        """True positives of precision, predicted, true positives of recall, gold."""
        return self.tp_precision, self.n_predicted, self.tp_recall, self.n_gold


@dataclass
class EntityEvaluation:
    """Scores per label, author results and the differences, for a report."""

    scores: dict[str, LabelScore]
    authors: dict[str, tuple[str | None, str | None, float | None]] = field(default_factory=dict)
    misses: list[tuple[str, str, str, int]] = field(default_factory=list)
    false_finds: list[tuple[str, str, str, int]] = field(default_factory=list)
    words_per_second: float | None = None


def read_gold(path: Path) -> list[GoldMention]:
    """Read the gold CSV (file, label, canonical_id, org_type, surface, count)."""
    with path.open(newline="", encoding="utf-8") as fh:
        return [GoldMention(r["file"], r["label"], r["canonical_id"], r["org_type"],
                            r["surface"], int(r["count"])) for r in csv.DictReader(fh)]


def read_gold_authors(path: Path) -> dict[str, str]:
    """Read the gold authors CSV: file -> canonical id of the author."""
    with path.open(newline="", encoding="utf-8") as fh:
        return {r["file"]: r["author_org_id"] for r in csv.DictReader(fh)}


def score(gold: Iterable[GoldMention], predicted: Mapping[str, pa.Table]) -> EntityEvaluation:
    """Compare predicted ``entities`` tables (by file name) with the gold counts."""
    gold_counts: Counter[_Key] = Counter()
    gold_types: dict[_Key, str] = {}
    for g in gold:
        key = (g.file, g.label, g.canonical_id)
        gold_counts[key] += g.count
        gold_types[key] = g.org_type
    pred_counts: Counter[_Key] = Counter()
    pred_types: dict[_Key, str] = {}
    for file, table in predicted.items():
        for row in table.select(["label", "canonical_id", "org_type"]).to_pylist():
            if row["label"] in SCORED_LABELS and row["canonical_id"]:
                key = (file, row["label"], row["canonical_id"])
                pred_counts[key] += 1
                pred_types[key] = row["org_type"] or ""
    return _evaluation(gold_counts, gold_types, pred_counts, pred_types)


def _evaluation(gold_counts: Counter[_Key], gold_types: dict[_Key, str],
                pred_counts: Counter[_Key], pred_types: dict[_Key, str]) -> EntityEvaluation:
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for key in gold_counts.keys() | pred_counts.keys():
        tp = min(gold_counts[key], pred_counts[key])
        label = key[1]
        for name in _names(label, pred_types.get(key)):
            tally[name][0] += tp
            tally[name][1] += pred_counts[key]
        for name in _names(label, gold_types.get(key)):
            tally[name][2] += tp
            tally[name][3] += gold_counts[key]
    scores = {name: LabelScore(name, *counts) for name, counts in sorted(tally.items())}
    misses = sorted((*k, gold_counts[k] - pred_counts[k]) for k in gold_counts
                    if gold_counts[k] > pred_counts[k])
    false_finds = sorted((*k, pred_counts[k] - gold_counts[k]) for k in pred_counts
                         if pred_counts[k] > gold_counts[k])
    return EntityEvaluation(scores, misses=misses, false_finds=false_finds)


def _names(label: str, org_type: str | None) -> list[str]:
    if label != "ORG" or org_type is None:
        return [label] if org_type is not None or label != "ORG" else []
    return ["ORG", f"ORG:{org_type or 'other'}"]


def evaluate_corpus(corpus: Path, files: Iterable[str], settings: Settings,
                    register: OrganisationRegister, gold: list[GoldMention],
                    gold_authors: Mapping[str, str] | None = None) -> EntityEvaluation:
    """Ingest, parse and extract ``files`` of ``corpus``, then score them against ``gold``."""
    from pipeline.chain import ENTITIES, Analysers, analyse_sources

    wanted = set(files)
    predicted: dict[str, pa.Table] = {}
    authors: dict[str, Author | None] = {}
    words, seconds = 0, 0.0
    for item in analyse_sources(corpus, Analysers(settings, register), (ENTITIES,),
                                keep=lambda source: source.path.name in wanted):
        item.analysis.raise_failure()
        assert item.analysis.entities is not None
        seconds += item.analysis.seconds[ENTITIES]
        words += sum(len(t.split()) for t in item.ingested.sentences.column("text").to_pylist())
        predicted[item.source.path.name] = item.analysis.entities.entities
        authors[item.source.path.name] = item.analysis.entities.author
    evaluation = score(gold, predicted)
    evaluation.words_per_second = words / seconds if seconds else None
    for file, expected in (gold_authors or {}).items():
        found = authors.get(file)
        evaluation.authors[file] = (expected, found.canonical_id if found else None,
                                    found.confidence if found else None)
    return evaluation


def to_markdown(evaluation: EntityEvaluation) -> str:
    """The scores as Markdown tables (labels, then authors)."""
    lines = ["| label | precision | recall | F1 | predicted | gold |", "|---|---|---|---|---|---|"]
    for s in evaluation.scores.values():
        lines.append(f"| {s.label} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} "
                     f"| {s.n_predicted} | {s.n_gold} |")
    if evaluation.authors:
        lines += ["", "| file | expected author | found | confidence |", "|---|---|---|---|"]
        for file, (expected, found, conf) in sorted(evaluation.authors.items()):
            mark = "ok" if expected == found else "WRONG"
            conf_text = f"{conf:.2f}" if conf is not None else "-"
            lines.append(f"| {file} | {expected} | {found} ({mark}) | {conf_text} |")
    return "\n".join(lines)
