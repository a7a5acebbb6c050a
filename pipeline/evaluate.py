"""Score stance positions against a gold CSV, and a harness that analyses a folder of texts.

Gold rows name a document by ``file`` (a file name in ``docs_dir``) or ``id`` (``<id>.txt`` in
``docs_dir``); the document is matched by content (``doc_id`` = first 16 hex digits of the
sha256 of its bytes), so copies of a file elsewhere match. One gold row is one position:
document, holder, target, stance. ``other:*`` targets are not scored.

Scores are precision, recall and F1 over non-neutral positions, strict (stance must be equal)
and lenient (conditional counted as support), overall, per target and for author-held and cited
positions separately. Author-held gold positions match the predicted author position of the
document (the author's name is the entities stage's business); cited ones match by canonical
holder: the register's id when a register is given, else the normalised name, with containment
("Paul Burstow" matches "Paul Burstow (chair, ...)") and the usual acronyms.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from pipeline.config import PROJECT_ROOT, read_yaml_mapping
from pipeline.errors import ConfigError
from pipeline.evaluation.scores import Scores
from pipeline.stance.holders import Register, normalise

if TYPE_CHECKING:
    from pipeline.config import Settings

log = logging.getLogger(__name__)

STANCES = ("support", "oppose", "conditional", "neutral")
NONE = "none"
# names gold files write in more than one way (normalised short form -> normalised full name)
HOLDER_ALIASES_FILE = PROJECT_ROOT / "models" / "entities" / "holder_aliases.yaml"
_STOP = {"the", "of", "and", "for", "a", "an", "in", "on", "via", "by", "at", "s"}


@dataclass(frozen=True)
class GoldPosition:
    """One gold row."""

    doc_id: str
    document: str
    holder: str
    holder_is_author: bool
    target: str
    stance: str
    evidence: str


@dataclass
class Evaluation:
    """Everything :func:`evaluate` measured."""

    scores: dict[str, dict[str, Scores]] = field(default_factory=dict)
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    misses: list[dict[str, Any]] = field(default_factory=list)
    false_finds: list[dict[str, Any]] = field(default_factory=list)
    unmatched_documents: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "scores": {
                mode: {k: s.as_dict() for k, s in group.items()}
                for mode, group in self.scores.items()
            },
            "confusion": self.confusion,
            "misses": self.misses,
            "false_finds": self.false_finds,
            "unmatched_documents": self.unmatched_documents,
        }

    def to_json(self) -> str:
        """Pretty JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def to_markdown(self) -> str:
        """A Markdown report: score tables, confusion matrix, misses and false finds."""
        lines = ["## Stance evaluation", ""]
        for mode, group in self.scores.items():
            lines += [
                f"### {mode}",
                "",
                "| slice | P | R | F1 | TP | predicted | gold |",
                "|---|---|---|---|---|---|---|",
            ]
            for key, s in group.items():
                lines.append(
                    f"| {key} | {s.precision:.2f} | {s.recall:.2f} | {s.f1:.2f} | "
                    f"{s.tp} | {s.n_predicted} | {s.n_gold} |"
                )
            lines.append("")
        labels = [*STANCES, NONE]
        lines += [
            "### Confusion (rows gold, columns predicted)",
            "",
            "| gold \\ predicted | " + " | ".join(labels) + " |",
            "|---|" + "---|" * len(labels),
        ]
        for gold in labels:
            row = self.confusion.get(gold, {})
            lines.append(f"| {gold} | " + " | ".join(str(row.get(p, 0)) for p in labels) + " |")
        for title, items in (("Misses", self.misses), ("False finds", self.false_finds)):
            lines += ["", f"### {title} ({len(items)})", ""]
            lines += [
                f"- `{i['document']}` {i['holder']} / {i['target']}: gold {i['gold']}, "
                f"predicted {i['predicted']} — {i['evidence'][:160]}"
                for i in items
            ]
        if self.unmatched_documents:
            lines += ["", "Gold documents not found: " + ", ".join(self.unmatched_documents)]
        return "\n".join(lines) + "\n"


def _doc_file(row: Mapping[str, str], docs_dir: Path) -> Path:
    if row.get("file"):
        return docs_dir / row["file"]
    return docs_dir / f"{row['id']}.txt"


GOLD_COLUMNS = ("holder", "holder_is_author", "target", "stance")
# the words of holder_is_author the official scorer (../shared/tools/score_stances.py) reads
TRUE_WORDS = ("true", "1", "yes", "t")
FALSE_WORDS = ("false", "0", "no", "f")


def _check_gold_columns(gold_csv: Path, columns: list[str] | None) -> None:
    """Raise :class:`ConfigError` naming the missing columns of a gold CSV."""
    found = [c.strip() for c in columns or []]
    missing = [c for c in GOLD_COLUMNS if c not in found]
    if not {"file", "id"} & set(found):
        missing.insert(0, "file")
    if missing:
        raise ConfigError(
            f"gold file {gold_csv} lacks the column(s) {', '.join(missing)} (it has: "
            f"{', '.join(found) or 'no header'}); a gold CSV has the columns file (or id), "
            "holder, holder_is_author, target, stance and optionally evidence (see README, "
            "\"Gold files\")")


def read_gold(gold_csv: Path, docs_dir: Path) -> tuple[list[GoldPosition], list[str]]:
    """Gold positions (core targets only) and the documents that could not be read; raise
    :class:`ConfigError` naming the file (and line) when it is not a gold CSV. A byte-order
    mark (Excel's "CSV UTF-8") and spaces around column names are allowed."""
    positions, missing = [], []
    with Path(gold_csv).open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        try:
            reader.fieldnames = [c.strip() for c in reader.fieldnames or []]
            _check_gold_columns(gold_csv, reader.fieldnames)
            rows = [(reader.line_num, row) for row in reader]
        except UnicodeDecodeError:
            raise ConfigError(f"gold file {gold_csv} is not UTF-8 text: save it as a UTF-8 "
                              "CSV") from None
        except csv.Error as exc:
            raise ConfigError(f"gold file {gold_csv} line {reader.line_num}: {exc}") from None
    if not rows:
        raise ConfigError(f"gold file {gold_csv} has a header but no gold positions")
    for line, row in rows:
        problem = _gold_row_problem(row)
        if problem:
            raise ConfigError(f"gold file {gold_csv} line {line}: {problem}")
        if row["target"].startswith("other:"):
            continue
        path = _doc_file(row, docs_dir)
        try:
            doc_id = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        except OSError:
            missing.append(path.name)
            continue
        positions.append(
            GoldPosition(
                doc_id,
                path.name,
                row["holder"],
                row["holder_is_author"].strip().lower() in TRUE_WORDS,
                row["target"],
                row["stance"].strip().lower(),
                row.get("evidence") or "",
            )
        )
    return positions, sorted(set(missing))


def _gold_row_problem(row: Mapping[str, str | None]) -> str | None:
    """What makes a gold row unusable (an empty required cell, a stance or ``holder_is_author``
    value outside its words), or None. An author-held row may leave ``holder`` empty."""
    author = str(row.get("holder_is_author") or "").strip().lower()
    required = GOLD_COLUMNS[1:] if author in TRUE_WORDS else GOLD_COLUMNS
    empty = [c for c in required if not (row.get(c) or "").strip()]
    if not (row.get("file") or "").strip() and not (row.get("id") or "").strip():
        empty.insert(0, "file (or id)")
    if empty:
        return f"no value for {', '.join(empty)}"
    stance = str(row["stance"]).strip().lower()
    if stance not in STANCES:
        return f"stance {row['stance']!r} is not one of {', '.join(STANCES)}"
    if author not in TRUE_WORDS + FALSE_WORDS:
        return f"holder_is_author {row['holder_is_author']!r} is not true or false"
    return None


@lru_cache(maxsize=4)
def holder_aliases(path: Path = HOLDER_ALIASES_FILE) -> dict[str, str]:
    """The holder-name aliases of ``path`` (a YAML mapping of short form to full name), both
    sides normalised; raise :class:`ConfigError` when the file is unusable."""
    data = read_yaml_mapping(path, "holder alias file")
    return {normalise(str(short)): normalise(str(full)) for short, full in data.items()}


def _name_forms(name: str) -> set[str]:
    forms = {normalise(name)}
    forms |= {normalise(part) for part in re.split(r"[()/,;]", name) if part.strip()}
    aliases = holder_aliases()
    return {aliases.get(f, f) for f in forms if f} | {f for f in forms if f}


def holders_match(
    gold: str, predicted: str, predicted_id: str | None = None, register: Register | None = None
) -> bool:
    """Whether a gold holder name and a predicted holder denote the same holder."""
    if register is not None and predicted_id is not None:
        org = register.lookup(gold)
        if org is not None and str(org.canonical_id) == predicted_id:
            return True
    gold_forms, pred_forms = _name_forms(gold), _name_forms(predicted)
    if gold_forms & pred_forms:
        return True
    full_gold, full_pred = normalise(gold), normalise(predicted)
    for g in gold_forms | {full_gold}:
        for p in pred_forms | {full_pred}:
            if len(p) > 3 and len(g) > 3 and (f" {p} " in f" {g} " or f" {g} " in f" {p} "):
                return True
    g_words = set(full_gold.split()) - _STOP
    p_words = set(full_pred.split()) - _STOP
    return (
        bool(g_words and p_words)
        and len(g_words & p_words) / min(len(g_words), len(p_words)) >= 0.6
    )


def _side(stance: str, lenient: bool) -> str:
    return "support" if lenient and stance == "conditional" else stance


def evaluate(
    gold_csv: Path,
    docs_dir: Path,
    positions: pa.Table,
    documents: pa.Table,
    register: Register | None = None,
) -> Evaluation:
    """Score ``positions`` against ``gold_csv`` (see the module docstring)."""
    gold, missing = read_gold(gold_csv, docs_dir)
    known = set(documents.column("doc_id").to_pylist()) if documents.num_rows else set()
    names = {g.doc_id: g.document for g in gold}
    gold_docs = {g.doc_id for g in gold} & known
    predicted = [p for p in positions.to_pylist() if p["doc_id"] in gold_docs]
    pairs = _match(gold, predicted, register)
    evaluation = Evaluation(
        unmatched_documents=missing + sorted(names[d] for d in {g.doc_id for g in gold} - known)
    )
    for lenient, mode in ((False, "strict"), (True, "lenient (conditional = support)")):
        evaluation.scores[mode] = _score(gold, predicted, pairs, lenient)
    evaluation.confusion = _confusion(gold, predicted, pairs)
    evaluation.misses, evaluation.false_finds = _errors(gold, predicted, pairs, names)
    return evaluation


def _match(
    gold: list[GoldPosition], predicted: list[dict[str, Any]], register: Register | None
) -> dict[int, int]:
    """Gold index -> predicted index; each predicted position used at most once."""
    pairs: dict[int, int] = {}
    used: set[int] = set()
    for gi, g in enumerate(gold):
        for pi, p in enumerate(predicted):
            if pi in used or p["doc_id"] != g.doc_id or p["target"] != g.target:
                continue
            if g.holder_is_author != p["holder_is_author"]:
                continue
            if g.holder_is_author or holders_match(g.holder, p["holder"], p["holder_id"], register):
                pairs[gi] = pi
                used.add(pi)
                break
    return pairs


def _score(
    gold: list[GoldPosition], predicted: list[dict[str, Any]], pairs: dict[int, int], lenient: bool
) -> dict[str, Scores]:
    slices: dict[str, Scores] = defaultdict(Scores)

    def keys(target: str, is_author: bool) -> list[str]:
        return ["overall", "author-held" if is_author else "cited", f"target {target}"]

    for g in gold:
        if g.stance != "neutral":
            for k in keys(g.target, g.holder_is_author):
                slices[k].n_gold += 1
    for p in predicted:
        if p["stance"] != "neutral":
            for k in keys(p["target"], p["holder_is_author"]):
                slices[k].n_predicted += 1
    for gi, pi in pairs.items():
        g, p = gold[gi], predicted[pi]
        if g.stance != "neutral" and _side(g.stance, lenient) == _side(p["stance"], lenient):
            for k in keys(g.target, g.holder_is_author):
                slices[k].tp += 1
    order = ["overall", "author-held", "cited"]
    return {k: slices[k] for k in order + sorted(k for k in slices if k not in order)}


def _confusion(
    gold: list[GoldPosition], predicted: list[dict[str, Any]], pairs: dict[int, int]
) -> dict[str, dict[str, int]]:
    counts: Counter[tuple[str, str]] = Counter()
    for gi, g in enumerate(gold):
        counts[(g.stance, predicted[pairs[gi]]["stance"] if gi in pairs else NONE)] += 1
    for pi in set(range(len(predicted))) - set(pairs.values()):
        counts[(NONE, predicted[pi]["stance"])] += 1
    table: dict[str, dict[str, int]] = defaultdict(dict)
    for (g_stance, p_stance), n in sorted(counts.items()):
        table[g_stance][p_stance] = n
    return dict(table)


def _errors(
    gold: list[GoldPosition],
    predicted: list[dict[str, Any]],
    pairs: dict[int, int],
    names: dict[str, str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    misses, false_finds = [], []
    for gi, g in enumerate(gold):
        p = predicted[pairs[gi]] if gi in pairs else None
        got = p["stance"] if p else NONE
        if g.stance != "neutral" and _side(got, True) != _side(g.stance, True):
            misses.append(
                {
                    "document": g.document,
                    "holder": g.holder,
                    "target": g.target,
                    "gold": g.stance,
                    "predicted": got,
                    "evidence": g.evidence,
                }
            )
    matched = {pi: gold[gi].stance for gi, pi in pairs.items()}
    for pi, p in enumerate(predicted):
        want = matched.get(pi, NONE)
        if p["stance"] != "neutral" and _side(want, True) != _side(p["stance"], True):
            false_finds.append(
                {
                    "document": names.get(p["doc_id"], p["doc_id"]),
                    "holder": p["holder"],
                    "target": p["target"],
                    "gold": want,
                    "predicted": p["stance"],
                    "evidence": p["evidence"],
                }
            )
    return misses, false_finds


def analyse_folder(docs_dir: Path, settings: Settings, cache_folder: Path | None = None
                   ) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Ingest, parse, extract entities and detect stances for every file under ``docs_dir``.

    Returns ``(documents, stances, positions)``. A harness for evaluation runs before (or
    without) the Prefect flow; documents that fail to ingest are logged and skipped. With
    ``cache_folder``, sentences are embedded through the cached embedder of ``settings.nlp``
    kept there (as in a run), else by sentence-transformers.
    """
    from pipeline.chain import analyse_sources, load_analysers
    from pipeline.schema import empty_table

    documents, stances, positions = [], [], []
    for found in analyse_sources(docs_dir, load_analysers(settings, cache_folder=cache_folder)):
        found.analysis.raise_failure()
        documents.append(found.analysis.document)
        stances.append(found.analysis.stances)
        positions.append(found.analysis.positions)
    docs_table = pa.Table.from_pylist(documents) if documents else pa.table({"doc_id": []})
    return (
        docs_table,
        pa.concat_tables(stances) if stances else empty_table("stances"),
        pa.concat_tables(positions) if positions else empty_table("positions"),
    )


def main(argv: list[str] | None = None) -> None:
    """``python -m pipeline.evaluate --gold CSV --docs DIR --out DIR``: analyse and score."""
    from pipeline.config import load_settings
    from pipeline.entities import load_register

    parser = argparse.ArgumentParser(description="score stance detection against a gold CSV")
    parser.add_argument("--gold", type=Path, required=True)
    parser.add_argument("--docs", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = load_settings(args.config)
    from pipeline.io import OutputStore

    cache = OutputStore(args.out).cache_dir("embeddings")
    documents, stances, positions = analyse_folder(args.docs, settings, cache)
    result = evaluate(args.gold, args.docs, positions, documents, load_register(settings))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "evaluation.md").write_text(result.to_markdown(), encoding="utf-8")
    (args.out / "evaluation.json").write_text(result.to_json() + "\n", encoding="utf-8")
    import pyarrow.parquet as pq

    pq.write_table(stances, args.out / "stances.parquet")
    pq.write_table(positions, args.out / "positions.parquet")
    for mode, group in result.scores.items():
        log.info("%s: %s", mode, asdict(group["overall"]) | {"f1": round(group["overall"].f1, 3)})


if __name__ == "__main__":
    main()
