"""The stance comparison report: one self-contained HTML file and the same content as Markdown.

:func:`collect` turns the output tables into a :class:`ReportData` of plain rows; the HTML
(``templates/report.html.j2``, Jinja2 with autoescaping) and the Markdown renderer both read
only that, so the two always carry the same facts. Every missing table becomes a "not
available" note, never an error, so the report works on partial outputs and an empty corpus.

Matrix rule: a holder × target cell gathers the holder's positions on the target from every
document. Its stance is the one stance they share; it is ``mixed`` when the documents disagree
or any position was flagged ``mixed`` (conflicting evidence within one document).

The HTML loads nothing: styles and script are inline, charts are inline SVG, and a
Content-Security-Policy allows only the report's own script (by hash), so even markup that
slipped through escaping could neither run nor fetch anything.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pyarrow as pa
from markupsafe import Markup, escape

from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.io import OutputStore, atomic_write_bytes
from pipeline.safety import printable_text
from pipeline.stance.detect import UNKNOWN_AUTHOR
from pipeline.stance.learned import cross_validation_summary
from pipeline.stance.targets import Target, load_targets

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).with_name("templates")
STANCES = ("support", "oppose", "conditional", "neutral", "mixed")
# Okabe-Ito colours (colour-blind safe) with a symbol and a letter so no cell is colour-only.
STANCE_STYLE: dict[str, tuple[str, str, str]] = {
    "support": ("#0072B2", "✓", "S"),
    "oppose": ("#D55E00", "✗", "O"),
    "conditional": ("#E69F00", "≈", "C"),
    "neutral": ("#999999", "○", "N"),
    "mixed": ("#CC79A7", "±", "M"),
}
_OTHER_STYLE = ("#e4e7eb", "·", "–")
# Positions an analyst corrected or added: their evidence is their own, not the stance rows.
_REVIEWED_OWN = frozenset({"corrected", "added"})
REVIEW_MARK = "✎"
_METRICS = ("precision", "recall", "f1")
_METHODS = {
    "learned": "linear heads over sentence embeddings and parse cues, trained on annotated real "
               "texts (calibrated confidence)",
    "hybrid": "dependency-parse patterns combined with a sentence-embedding classifier",
    "rules": "dependency-parse patterns only",
    "classifier": "a sentence-embedding classifier only",
}


def stance_style(stance: str) -> tuple[str, str, str]:
    """Colour, symbol and letter of ``stance`` (a neutral grey "?" for values not in the legend)."""
    return STANCE_STYLE.get(stance, _OTHER_STYLE)


@dataclass(frozen=True)
class Evidence:
    """One quote behind a cell: where it comes from and what it says."""

    doc_id: str
    document: str
    page: int | None
    text: str
    stance: str
    reported_by: str | None
    needs_review: bool = False  # the position's calibrated confidence is below the threshold


@dataclass
class Cell:
    """A holder's combined stance on one target, with its evidence."""

    holder: str
    target: str
    anchor: str
    stance: str
    n_documents: int
    cited: bool
    evidence: list[Evidence]
    n_more: int = 0
    more: list[Evidence] = field(default_factory=list)  # the quotes behind "and N more"
    review: str = ""  # "corrected" or "confirmed" when an analyst reviewed it


@dataclass
class HolderRow:
    """A matrix row: one organisation that holds at least one position."""

    name: str
    org_type: str | None
    is_author: bool
    cells: dict[str, Cell] = field(default_factory=dict)


@dataclass
class ReportData:
    """Everything the report shows, as plain values (no markup)."""

    title: str
    generated_at: str
    summary: dict[str, int]
    documents: list[dict[str, Any]]
    targets: list[Target]
    holders: list[HolderRow]
    per_target: list[dict[str, Any]]
    clusters: list[dict[str, Any]]
    argument_notes: list[str]
    timeline: dict[str, Any]
    method: list[tuple[str, str]]
    evaluation: list[dict[str, Any]]
    evaluation_facts: list[tuple[str, str]]
    errors: list[dict[str, Any]]
    notes: dict[str, str]
    review: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    """A rendered report."""

    html: str
    markdown: str
    data: ReportData


# --- loading ----------------------------------------------------------------------------


def configured_targets(settings: Settings) -> list[Target]:
    """The targets of the configured target file (:func:`pipeline.stance.load_targets`), in
    file order; none, with a warning, when it is unusable: the report then labels the targets
    of the positions by their ids."""
    try:
        return list(load_targets(settings.resolve(settings.stance.targets)).targets)
    except ConfigError as exc:
        log.warning("report: %s; using target ids as labels", exc)
        return []


def load_evaluation(store: OutputStore) -> dict[str, Any] | None:
    """``OUT/evaluation.json`` if present and readable."""
    path = store.root / "evaluation.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("report: ignoring unreadable %s: %s", path, exc)
        return None
    return data if isinstance(data, dict) else None


def _rows(store: OutputStore, name: str) -> list[dict[str, Any]]:
    table: pa.Table = store.read_table(name)
    return table.to_pylist()


# --- assembling ---------------------------------------------------------------------------


def _doc_label(doc: dict[str, Any] | None, doc_id: str) -> str:
    if doc is None:
        return doc_id
    return str(doc.get("title") or Path(str(doc["source_path"])).name)


def _holder_key(row: dict[str, Any]) -> str:
    if _unidentified(row):
        # the unidentified authors of two documents are not one holder
        return f"{UNKNOWN_AUTHOR}\0{row['doc_id']}"
    return str(row.get("holder_id") or row["holder"]).casefold()


def _unidentified(row: dict[str, Any]) -> bool:
    return bool(row["holder_is_author"]) and row["holder"] == UNKNOWN_AUTHOR \
        and not row.get("holder_id")


def _cell_stance(positions: list[dict[str, Any]]) -> str:
    stances = {p["stance"] for p in positions}
    if len(stances) > 1 or any(p["mixed"] for p in positions):
        return "mixed"
    return stances.pop()


def _evidence(
    positions: list[dict[str, Any]],
    stances: dict[tuple[str, str, str], list[dict[str, Any]]],
    docs: dict[str, dict[str, Any]],
    cell_stance: str,
) -> list[Evidence]:
    """The cell's quotes: those with the cell's own stance first, then by confidence; a quote
    repeated (the same sentence in two documents or twice in one) appears once."""
    found = []
    for pos in sorted(positions, key=lambda p: p["doc_id"]):
        doc = docs.get(pos["doc_id"])
        reported_by = None if pos["holder_is_author"] else (
            (doc or {}).get("author_org") or _doc_label(doc, pos["doc_id"]))
        rows = [pos] if pos.get("review") in _REVIEWED_OWN else (
            stances.get((pos["doc_id"], _holder_key(pos), pos["target"])) or [pos])
        for row in rows:
            found.append((row["stance"] != cell_stance, -float(row["confidence"]),
                          Evidence(pos["doc_id"], _doc_label(doc, pos["doc_id"]), row["page"],
                                   row["evidence"], row["stance"], reported_by,
                                   bool(pos.get("needs_review")))))
    quotes: dict[str, Evidence] = {}
    for _, _, quote in sorted(found, key=lambda f: (f[0], f[1], f[2].doc_id)):
        quotes.setdefault(" ".join(quote.text.casefold().split()), quote)
    return list(quotes.values())


def _matrix(
    positions: list[dict[str, Any]], stance_rows: list[dict[str, Any]],
    docs: dict[str, dict[str, Any]], orgs: dict[str, dict[str, Any]], max_quotes: int,
) -> list[HolderRow]:
    stances: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in stance_rows:
        stances[(row["doc_id"], _holder_key(row), row["target"])].append(row)
    groups: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for pos in positions:
        groups[_holder_key(pos)][pos["target"]].append(pos)
    holders = []
    for key, by_target in groups.items():
        every = [p for ps in by_target.values() for p in ps]
        name = Counter(p["holder"] for p in every).most_common(1)[0][0]
        if _unidentified(every[0]):
            doc_id = every[0]["doc_id"]
            name = f"unidentified author of {_doc_label(docs.get(doc_id), doc_id)}"
        org = orgs.get(str(every[0].get("holder_id")))
        holder = HolderRow(name, org["type"] if org else None,
                           any(p["holder_is_author"] for p in every))
        for target, ps in by_target.items():
            stance = _cell_stance(ps)
            quotes = _evidence(ps, stances, docs, stance)
            anchor = "ev-" + hashlib.sha1(f"{key}\0{target}".encode()).hexdigest()[:10]
            holder.cells[target] = Cell(
                name, target, anchor, stance, len({p["doc_id"] for p in ps}),
                not any(p["holder_is_author"] for p in ps), quotes[:max_quotes],
                max(0, len(quotes) - max_quotes), quotes[max_quotes:], _cell_review(ps))
        holders.append(holder)
    return sorted(holders, key=lambda h: (not h.is_author, h.name.casefold()))


def _cell_review(positions: list[dict[str, Any]]) -> str:
    reviews = {p.get("review") for p in positions}
    if reviews & _REVIEWED_OWN:
        return "corrected"
    return "confirmed" if "confirmed" in reviews else ""


def _review(positions: list[dict[str, Any]], decisions: list[dict[str, Any]]) -> dict[str, Any]:
    """How many positions an analyst reviewed, and the decisions that no longer apply."""
    counts = Counter(str(p.get("review") or "machine") for p in positions)
    problems = [d for d in decisions if d["status"] in ("stale", "unmatched", "invalid")]
    return {"reviewed": len(positions) - counts["machine"], "total": len(positions),
            "counts": {k: counts[k] for k in ("confirmed", "corrected", "added", "rejected")},
            "decisions": len(decisions), "problems": problems}


def _targets(known: list[Target], positions: list[dict[str, Any]]) -> list[Target]:
    seen = {t.id for t in known}
    extra = sorted({p["target"] for p in positions} - seen)
    # targets the file does not list keep their id as label (not validated: ids may be anything)
    return known + [Target.model_construct(id=t, label=t, question=None) for t in extra]


def _per_target(targets: list[Target], holders: list[HolderRow]) -> list[dict[str, Any]]:
    result = []
    for target in targets:
        by_stance: dict[str, list[str]] = defaultdict(list, {s: [] for s in STANCES})
        for holder in holders:
            cell = holder.cells.get(target.id)
            if cell is not None:
                by_stance[cell.stance].append(holder.name + (" (cited)" if cell.cited else ""))
        counts = {s: len(v) for s, v in by_stance.items()}
        result.append({"target": target, "by_stance": by_stance, "counts": counts,
                       "total": sum(counts.values()),
                       # neutral holders only described the target: not a position taken
                       "taking": sum(n for s, n in counts.items() if s != "neutral"),
                       "described": by_stance["neutral"]})
    return result


def _clusters(store: OutputStore, docs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    raisers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in _rows(store, "comparison"):
        raisers[row["cluster_id"]].append(row)
    clusters = []
    order = sorted(_rows(store, "clusters"), key=lambda c: (
        c.get("origin") != "analyst", -c["size"], c["cluster_id"]))
    for row in order:
        split = {s: row[f"n_{s}"] for s in ("support", "oppose", "conditional", "neutral")}
        doc_id = row["key_point_doc_id"]
        clusters.append({
            **row, "split": split,
            "key_point_doc": (_doc_label(docs.get(doc_id), doc_id) if doc_id
                              else "analyst key point"),
            "raised_by": _raised_by(raisers[row["cluster_id"]]),
        })
    return clusters


def _raised_by(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each holder once: its majority stance in the theme, all its arguments counted, and its
    best argument sentence with that stance (its own words, why it holds it)."""
    by_holder: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_holder[row["holder"]].append(row)
    out = []
    for holder, own in by_holder.items():
        main = max(own, key=lambda r: (bool(r.get("is_majority")), r["n_arguments"],
                                       r["stance"] != "none", r["stance"]))
        out.append({**main, "holder": holder, "n_arguments": sum(r["n_arguments"] for r in own),
                    "is_majority": True})
    return sorted(out, key=lambda r: (-r["n_arguments"], r["holder"]))


def _argument_notes(store: OutputStore, copies: set[str]) -> list[str]:
    arguments = [a for a in _rows(store, "arguments") if a["doc_id"] not in copies]
    if not arguments:
        return []
    outliers = sum(1 for a in arguments if a["cluster_id"] is None)
    spread: dict[str, set[str]] = defaultdict(set)
    counted: Counter[str] = Counter()
    for a in arguments:
        if a["duplicate_group"]:
            spread[a["duplicate_group"]].add(a["doc_id"])
            counted[a["duplicate_group"]] += 1
    # template text spans documents; a group left in one document was shared with its copy
    groups = {g: n for g, n in counted.items() if len(spread[g]) > 1}
    notes = [f"{len(arguments)} argument units; {outliers} not in any cluster (outliers)."]
    if groups:
        grouped = sum(groups.values())
        notes.append(f"{grouped} arguments in {len(groups)} near-duplicate groups "
                     "(template or campaign text counted once per group in clusters).")
    return notes


def _period(year: int, month: int, bucket: str) -> str:
    if bucket == "year":
        return str(year)
    return f"{year}-{month:02d}" if bucket == "month" else f"{year} Q{(month - 1) // 3 + 1}"


# The axis has at most this many periods: a coarser bucket is used past it.
MAX_PERIODS = 60
_BUCKET_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def _bucket(first: dt.date, last: dt.date, wanted: str) -> str:
    """``wanted`` (auto: months up to 18 of them, else quarters), coarsened until the span
    fits in :data:`MAX_PERIODS` periods (years at most, whatever the span: dates outside
    ingest's plausible years never get this far)."""
    span = (last.year - first.year) * 12 + last.month - first.month + 1
    bucket = ("month" if span <= 18 else "quarter") if wanted == "auto" else wanted
    for coarser in ("month", "quarter", "year"):
        months = _BUCKET_MONTHS[coarser]
        if months >= _BUCKET_MONTHS[bucket] and (span / months <= MAX_PERIODS
                                                 or coarser == "year"):
            return coarser
    return bucket


def _periods(first: dt.date, last: dt.date, bucket: str) -> list[str]:
    """Every period from ``first`` to ``last`` in order, so gaps show as empty periods."""
    months = range(first.year * 12 + first.month - 1, last.year * 12 + last.month)
    return list(dict.fromkeys(_period(m // 12, m % 12 + 1, bucket) for m in months))


def _timeline(positions: list[dict[str, Any]], docs: dict[str, dict[str, Any]],
              bucket: str, targets: list[Target]) -> dict[str, Any]:
    """Positions per period and stance, for each target apart (support for one option and
    for another never add up), with every period from the first date to the last."""
    dated = [(docs[p["doc_id"]]["date"], p) for p in positions
             if p["doc_id"] in docs and docs[p["doc_id"]]["date"] is not None]
    if not dated:
        return {"bucket": bucket, "rows": [], "targets": [], "peak": 0,
                "undated": len(positions)}
    first, last = min(d for d, _ in dated), max(d for d, _ in dated)
    bucket = _bucket(first, last, bucket)
    periods = _periods(first, last, bucket)
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for date, pos in dated:
        counts[(pos["target"], _period(date.year, date.month, bucket))][pos["stance"]] += 1
    per_target: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for target in targets:
        series = [{"period": period, "target": target.id,
                   **{s: counts[(target.id, period)][s] for s in STANCES[:4]},
                   "total": sum(counts[(target.id, period)].values())} for period in periods]
        if any(r["total"] for r in series):
            per_target.append({"target": target, "rows": series})
            rows += [r for r in series if r["total"]]
    return {"bucket": bucket, "rows": sorted(rows, key=lambda r: periods.index(r["period"])),
            "targets": per_target, "peak": max((int(r["total"]) for r in rows), default=0),
            "undated": len(positions) - len(dated)}


_SCOPE_WORDS = {
    "scores": "",
    "overall": "all positions",
    "author-held": "held by the document's author",
    "cited": "cited (reported by another document)",
    "lenient (conditional = support)": "lenient scoring (conditional counts as support)",
    "strict": "strict scoring",
    "per_target": "",
}
_FACT_NAMES = {
    "misses": "Gold positions missed",
    "false_finds": "False finds (predicted, not in the gold)",
    "unmatched_documents": "Gold documents not found in the corpus",
}
# evaluation.json's count keys -> the report's columns
_COUNTS = {"tp": "correct", "predicted": "predicted", "gold": "gold", "support": "gold"}


def _scope(path: list[str], labels: dict[str, str]) -> str:
    """An evaluation slice in words: "strict scoring · target: Option 2" for the path
    ``scores / strict / target option_2``."""
    words = []
    for part in path:
        name = part.removeprefix("target ")
        if name in labels:
            words.append(f"target: {labels[name]}")
        elif _SCOPE_WORDS.get(part, part):
            words.append(_SCOPE_WORDS.get(part, part).replace("_", " "))
    return " · ".join(words) or "all positions"


def _evaluation(evaluation: dict[str, Any] | None, targets: Sequence[Target] = ()
                ) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Rows of every nested dict holding precision/recall/F1 (with a readable scope and the
    counts as correct / predicted / gold), and top-level scalar facts and list sizes."""
    if not evaluation:
        return [], []
    rows: list[dict[str, Any]] = []
    labels = {t.id: t.label for t in targets}

    def walk(node: dict[str, Any], path: list[str]) -> None:
        if any(k in node for k in _METRICS):
            counts = {column: node[key] for key, column in _COUNTS.items() if key in node}
            rows.append({"scope": _scope(path, labels), **{k: node.get(k) for k in _METRICS},
                         **{c: counts.get(c) for c in ("correct", "predicted", "gold")}})
        # all positions first, then the slices, in the file's order
        for key, value in sorted(node.items(), key=lambda kv: kv[0] != "overall"):
            if isinstance(value, dict):
                walk(value, [*path, str(key)])
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, dict) and any(k in item for k in _METRICS):
                        name = item.get("target") or item.get("name") or str(i)
                        walk(item, [*path, str(key), str(name)])

    walk(evaluation, [])
    facts = [(_FACT_NAMES.get(str(k), str(k)), _fmt(v)) for k, v in evaluation.items()
             if isinstance(v, str | int | float | bool) and k not in _METRICS]
    facts += [(_FACT_NAMES.get(str(k), str(k)), str(len(v)))
              for k, v in evaluation.items() if isinstance(v, list)]
    return rows, facts


def evaluation_columns(rows: list[dict[str, Any]]) -> list[str]:
    """The count columns the evaluation rows fill (an empty column is left out)."""
    return [c for c in ("correct", "predicted", "gold") if any(r.get(c) is not None for r in rows)]


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else str(value)


def _method(settings: Settings, stance_rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    methods = Counter(r["method"] for r in stance_rows)
    produced = ", ".join(f"{m}: {n}" for m, n in sorted(methods.items())) or "no stance rows"
    cv = (cross_validation_summary(settings.resolve(settings.stance.decider))
          if settings.stance.method == "learned" else None)
    stance = settings.stance
    withheld = (f"a position less than {stance.min_position_confidence} likely right is "
                "withheld (neutral), " if stance.min_position_confidence > 0 else
                "no position is withheld; ")
    return [
        ("Stance detection", f"{stance.method} ({_METHODS[stance.method]}); minimum confidence "
                             f"{stance.min_confidence}; {withheld}a position less than "
                             f"{stance.review_threshold} likely right needs review"),
        *([("Stance accuracy (cross-validated)", cv)] if cv else []),
        ("Evidence sentences by method", produced),
        ("Sentence parsing", settings.nlp.spacy_model),
        ("Embeddings", settings.nlp.embedding_model),
        ("Argument clustering", f"{settings.arguments.clusterer}, distance threshold "
                                f"{settings.arguments.distance_threshold}"),
        ("Matrix rule", "a cell combines a holder's positions on a target across documents; "
                        "mixed when documents disagree or a document's evidence conflicts"),
    ]


def collect(store: OutputStore, settings: Settings,
            evaluation: dict[str, Any] | None = None) -> ReportData:
    """Read the output tables and assemble everything the report shows."""
    documents = sorted(_rows(store, "documents"),
                       key=lambda d: (d["date"] is None, d["date"] or dt.date.min, d["doc_id"]))
    for doc in documents:
        doc["label"] = _doc_label(doc, doc["doc_id"])
    docs = {d["doc_id"]: d for d in documents}
    # a copy of another document's text (copy_of) is listed, but its voice counts once
    copies = {d["doc_id"] for d in documents if d.get("copy_of")}
    for doc in documents:
        original = docs.get(str(doc.get("copy_of")))
        doc["copy_label"] = original["source_path"] if original else None
    every_position = [p for p in _rows(store, "positions") if p["doc_id"] not in copies]
    positions = [p for p in every_position if p.get("review") != "rejected"]
    stance_rows = [r for r in _rows(store, "stances") if r["doc_id"] not in copies]
    orgs = {o["canonical_id"]: o for o in _rows(store, "organisations")}
    holders = _matrix(positions, stance_rows, docs, orgs, settings.report.max_evidence_per_cell)
    targets = _targets(configured_targets(settings), positions)
    errors = sorted(_rows(store, "errors"), key=lambda e: (e["source_path"], e["stage"]))
    clusters = _clusters(store, docs)
    eval_rows, eval_facts = _evaluation(evaluation or load_evaluation(store), targets)
    organisations = {h.name.casefold() for h in holders} | {
        str(d["author_org"]).casefold() for d in documents if d["author_org"]}
    notes = {
        "documents": "" if documents else "No documents have been ingested.",
        "positions": "" if store.exists("positions") else
        "Not available: stance detection has not run on these outputs.",
        "clusters": "" if store.exists("clusters") else
        "Not available: argument clustering has not run on these outputs.",
        "evaluation": "" if eval_rows or eval_facts else
        "Not available: no evaluation was given (run `stancemap evaluate`, which writes "
        "evaluation.json next to the tables).",
    }
    return ReportData(
        title=settings.report.title,
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        summary={"documents": len(documents) - len(copies), "copies": len(copies),
                 "organisations": len(organisations),
                 "positions": len(positions), "holders": len(holders),
                 "clusters": len(clusters), "failed": len({e["source_path"] for e in errors})},
        documents=documents, targets=targets, holders=holders,
        per_target=_per_target(targets, holders), clusters=clusters,
        argument_notes=_argument_notes(store, copies),
        timeline=_timeline(positions, docs, settings.report.time_bucket, targets),
        method=_method(settings, stance_rows), evaluation=eval_rows, evaluation_facts=eval_facts,
        errors=errors, notes=notes,
        review=_review(every_position, _rows(store, "corrections")),
    )


# --- HTML ---------------------------------------------------------------------------------


def _timeline_svg(rows: list[dict[str, Any]], peak: int, label: str) -> Markup:
    """A small stacked bar chart of one target's positions per period as inline SVG; every
    target's chart shares the scale ``peak``, so their bars compare."""
    if not rows or not peak:
        return Markup("")
    bar, gap, height, top, bottom, left = 30, 10, 90, 16, 52, 34  # left: the first label
    width = left + len(rows) * (bar + gap)
    parts = [f'<svg class="timeline" role="img" width="{width}" height="{height + top + bottom}"'
             f' viewBox="0 0 {width} {height + top + bottom}" xmlns="http://www.w3.org/2000/svg">'
             f"<title>Positions on {escape(label)} per period by stance</title>"]
    for i, row in enumerate(rows):
        x, y = left + i * (bar + gap), top + height
        for stance in STANCES[:4]:
            n = row[stance]
            if not n:
                continue
            h = height * n / peak
            y -= h
            parts.append(f'<rect x="{x}" y="{y:.1f}" width="{bar}" height="{h:.1f}" '
                         f'fill="{STANCE_STYLE[stance][0]}"><title>{escape(row["period"])}: '
                         f"{n} {stance}</title></rect>")
        label_x, label_y = x + bar / 2 + 4, top + height + 12  # slanted: periods never overlap
        parts.append(f'<text x="{label_x}" y="{label_y}" text-anchor="end" '
                     f'transform="rotate(-40 {label_x} {label_y})">'
                     f'{escape(row["period"])}</text>')
        if row["total"]:
            parts.append(f'<text x="{x + bar / 2}" y="{y - 3:.1f}" text-anchor="middle" '
                         f'class="total">{row["total"]}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _csp_hash(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()


def render_html(data: ReportData) -> str:
    """The self-contained HTML report."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    script = (TEMPLATES / "report.js").read_text(encoding="utf-8")
    style = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    return env.get_template("report.html.j2").render(
        data=data, stances=STANCES, style_of=stance_style, script=Markup(script),
        style=Markup(style), script_hash=_csp_hash(script), review_mark=REVIEW_MARK,
        timeline_svgs={e["target"].id: _timeline_svg(e["rows"], data.timeline["peak"],
                                                     e["target"].label)
                       for e in data.timeline["targets"]},
        fmt=_fmt, evaluation_columns=evaluation_columns(data.evaluation),
    )


# --- Markdown -----------------------------------------------------------------------------


# Markdown punctuation that can open a link or an image (brackets), emphasis (*), code,
# strike-through or a table cell: backslash-escaped, so a rendered report.md shows it as text.
_MD_SPECIAL = re.compile(r"([\\`*\[\]|~])")


def md_cell(value: object) -> str:
    """``value`` as literal text in Markdown: no pipes, breaks, raw HTML, links, images
    (nothing a renderer would fetch), emphasis or control characters (escaped, as in
    :func:`~pipeline.safety.printable_text`); it reads as the text it was."""
    text = " ".join(printable_text(_fmt(value)).split())
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(md_cell(h) for h in header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(md_cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def _page(page: int | None) -> str:
    return f"p. {page}" if page else "no page"


def _raiser(row: dict[str, Any]) -> str:
    quote = f": “{row['evidence']}”" if row.get("evidence") else ""
    return f"{row['holder']} ({row['stance']}, {row['n_arguments']}){quote}"


def _symbol(stance: str) -> str:
    _, symbol, letter = stance_style(stance)
    return f"{symbol} {letter}"


def _md_matrix(data: ReportData) -> list[str]:
    if not data.holders:
        return [data.notes["positions"] or "No positions were found.", ""]
    legend = ", ".join(f"{_symbol(s)} = {s}" for s in STANCES)
    rows = [[h.name + ("" if h.is_author else " (cited only)"), h.org_type or ""]
            + [(_symbol(h.cells[t.id].stance) + (" (cited)" if h.cells[t.id].cited else "")
                + (f" {REVIEW_MARK}" if h.cells[t.id].review == "corrected" else ""))
               if t.id in h.cells else "" for t in data.targets]
            for h in data.holders]
    return [f"Legend: {legend}; {REVIEW_MARK} = corrected by an analyst.", "",
            *_md_table(["Holder", "Type"] + [t.label for t in data.targets], rows)]


def _md_evidence(data: ReportData) -> list[str]:
    lines: list[str] = []
    labels = {t.id: t.label for t in data.targets}
    for holder in data.holders:
        for target in data.targets:
            cell = holder.cells.get(target.id)
            if cell is None:
                continue
            lines.append(f"**{md_cell(holder.name)} → {md_cell(labels[target.id])}**: "
                         f"{cell.stance}")
            lines.append("")
            lines += [f"- {_symbol(q.stance)} “{md_cell(q.text)}” ({md_cell(q.document)}, "
                      f"{_page(q.page)}"
                      + (f"; as reported by {md_cell(q.reported_by)}" if q.reported_by else "")
                      + ("; **needs review**" if q.needs_review else "")
                      + ")" for q in cell.evidence]
            if cell.n_more:
                lines.append(f"- … and {cell.n_more} more (all in report.html)")
            lines.append("")
    return lines


def _md_sections(data: ReportData) -> list[str]:
    s = data.summary
    lines = [f"# {md_cell(data.title)}", "", f"Generated {data.generated_at}.", "",
             f"**{s['documents']} documents, {s['organisations']} organisations, "
             f"{s['positions']} positions**; {s['clusters']} argument clusters; "
             f"{s['failed']} failed files."
             + (f" {s['copies']} documents are copies of another and count once."
                if s["copies"] else ""), "", "## Corpus", ""]
    lines += _md_table(["Date", "Title", "Author", "Kind", "Pages", "Source"], [
        [d["date"], d["label"], d["author_org"], d["doc_kind"], d["n_pages"],
         d["source_path"] + (f" (copy of {d['copy_label']})" if d["copy_label"] else "")]
        for d in data.documents]) if data.documents else [data.notes["documents"], ""]
    lines += ["## Positions: holders × targets", "", *_md_matrix(data), "## Per target", ""]
    if data.notes["positions"]:
        lines += [data.notes["positions"], ""]
    for entry in [] if data.notes["positions"] else data.per_target:
        lines += [f"### {md_cell(entry['target'].label)}", ""]
        lines += [f"- {_symbol(stance)} **{stance}** ({entry['counts'][stance]}): "
                  + "; ".join(md_cell(n) for n in names)
                  for stance, names in entry["by_stance"].items()
                  if names and stance != "neutral"] or ["- nobody took a position"]
        if entry["described"]:
            lines.append(f"- described it without taking a side ({len(entry['described'])}): "
                         + "; ".join(md_cell(n) for n in entry["described"]))
        lines.append("")
    lines += ["## Argument clusters", ""]
    lines += [line for note in data.argument_notes for line in (md_cell(note), "")]
    lines += _md_table(
        ["Cluster", "Key point", "Size", "Docs", "Voices", "Support", "Oppose", "Conditional",
         "Neutral", "Raised by"],
        [[c["label"] + (" (analyst theme)" if c.get("origin") == "analyst" else ""),
          f"{c['key_point']} ({c['key_point_doc']}, {_page(c['key_point_page'])})",
          c["size"], c["n_documents"], c.get("n_voices", ""), *c["split"].values(),
          "; ".join(_raiser(r) for r in c["raised_by"])]
         for c in data.clusters]) if data.clusters else [data.notes["clusters"], ""]
    lines += ["## Change over time", ""]
    tl = data.timeline
    labels = {t.id: t.label for t in data.targets}
    lines += _md_table(["Period", "Target", *STANCES[:4], "Total"],
                       [[r["period"], labels.get(r["target"], r["target"]),
                         *(r[k] for k in STANCES[:4]), r["total"]]
                        for r in tl["rows"]]) if tl["rows"] else ["No dated positions.", ""]
    if tl["undated"]:
        lines += [f"{tl['undated']} positions come from undated documents.", ""]
    lines += ["## Method and accuracy", "", *_md_table(["Aspect", "Detail"], data.method)]
    counts = evaluation_columns(data.evaluation)
    lines += _md_table(["Scope", "Precision", "Recall", "F1", *(c.capitalize() for c in counts)],
                       [[r["scope"], r["precision"], r["recall"], r["f1"], *(r[c] for c in counts)]
                        for r in data.evaluation]) if data.evaluation else []
    lines += _md_table(["Fact", "Value"], data.evaluation_facts) if data.evaluation_facts else []
    if data.notes["evaluation"]:
        lines += [data.notes["evaluation"], ""]
    lines += _md_review(data.review)
    lines += ["## Failed documents", ""]
    lines += _md_table(["Source", "Stage", "Kind", "Reason"],
                       [[e["source_path"], e["stage"], e["kind"], e["message"]]
                        for e in data.errors]) if data.errors else ["None.", ""]
    lines += ["## Evidence", "", *_md_evidence(data)]
    return lines


def _md_review(review: dict[str, Any]) -> list[str]:
    if not review:
        return []
    counts = ", ".join(f"{n} {k}" for k, n in review["counts"].items())
    lines = ["## Analyst review", "",
             f"{review['reviewed']} of {review['total']} positions reviewed ({counts}); "
             f"{review['decisions']} decisions in the corrections file.", ""]
    if review["problems"]:
        lines += _md_table(["Line", "Status", "Decision", "Reason"],
                           [[d["line"], d["status"], d["action"], d["message"]]
                            for d in review["problems"]])
    return lines


def render_markdown(data: ReportData) -> str:
    """The report as Markdown tables, for pasting into briefings."""
    return "\n".join(_md_sections(data)).rstrip() + "\n"


# --- entry points -------------------------------------------------------------------------


def render_report(store: OutputStore, settings: Settings,
                  evaluation: dict[str, Any] | None = None) -> Report:
    """Render the report of the outputs in ``store`` (HTML and Markdown)."""
    data = collect(store, settings, evaluation)
    return Report(html=render_html(data), markdown=render_markdown(data), data=data)


def write_report(report: Report, out_dir: Path) -> list[Path]:
    """Atomically write ``report.html`` and ``report.md`` into ``out_dir``; return their paths."""
    paths = [Path(out_dir) / "report.html", Path(out_dir) / "report.md"]
    for path, text in zip(paths, (report.html, report.markdown), strict=True):
        atomic_write_bytes(path, text.encode("utf-8"))
    return paths


# Prefect's server refuses events over 1.5 MB (its default), and an artifact's event carries
# its text: at 1,000 documents the whole report is about 6 MB.
ARTIFACT_MAX_CHARS = 1_000_000


def report_artifacts(report: Report, limit: int = ARTIFACT_MAX_CHARS
                     ) -> tuple[str, list[dict[str, Any]]]:
    """Data for Prefect artifacts: the Markdown report (the sections that fit in ``limit``
    characters, in order, when the whole does not) and the matrix as table rows."""
    data = report.data
    rows = [{"holder": h.name, "type": h.org_type or "", "cited_only": not h.is_author,
             **{t.label: h.cells[t.id].stance if t.id in h.cells else "" for t in data.targets}}
            for h in data.holders]
    return _within(report.markdown, limit), rows


def _within(markdown: str, limit: int) -> str:
    if len(markdown) <= limit:
        return markdown
    kept, left_out = "", []
    for section in re.split(r"(?m)^(?=## )", markdown):
        if len(kept) + len(section) <= limit:
            kept += section
        else:
            left_out.append(section.splitlines()[0].removeprefix("## ").strip())
    return (kept.rstrip("\n") + "\n\n*Too long for an artifact, left out here: "
            + "; ".join(left_out) + ". The whole report is `report.md` in the output folder.*\n")
