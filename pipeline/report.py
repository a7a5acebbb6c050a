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
_METRICS = ("precision", "recall", "f1")
_METHODS = {
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
    return str(row.get("holder_id") or row["holder"]).casefold()


def _cell_stance(positions: list[dict[str, Any]]) -> str:
    stances = {p["stance"] for p in positions}
    if len(stances) > 1 or any(p["mixed"] for p in positions):
        return "mixed"
    return stances.pop()


def _evidence(
    positions: list[dict[str, Any]],
    stances: dict[tuple[str, str, str], list[dict[str, Any]]],
    docs: dict[str, dict[str, Any]],
) -> list[Evidence]:
    quotes = []
    for pos in sorted(positions, key=lambda p: p["doc_id"]):
        doc = docs.get(pos["doc_id"])
        reported_by = None if pos["holder_is_author"] else (
            (doc or {}).get("author_org") or _doc_label(doc, pos["doc_id"]))
        rows = stances.get((pos["doc_id"], _holder_key(pos), pos["target"])) or [pos]
        for row in sorted(rows, key=lambda r: -float(r["confidence"])):
            quotes.append(Evidence(pos["doc_id"], _doc_label(doc, pos["doc_id"]), row["page"],
                                   row["evidence"], row["stance"], reported_by))
    return quotes


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
        org = orgs.get(str(every[0].get("holder_id")))
        holder = HolderRow(name, org["type"] if org else None,
                           any(p["holder_is_author"] for p in every))
        for target, ps in by_target.items():
            quotes = _evidence(ps, stances, docs)
            anchor = "ev-" + hashlib.sha1(f"{key}\0{target}".encode()).hexdigest()[:10]
            holder.cells[target] = Cell(
                name, target, anchor, _cell_stance(ps), len({p["doc_id"] for p in ps}),
                not any(p["holder_is_author"] for p in ps), quotes[:max_quotes],
                max(0, len(quotes) - max_quotes))
        holders.append(holder)
    return sorted(holders, key=lambda h: (not h.is_author, h.name.casefold()))


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
        result.append({"target": target, "by_stance": by_stance,
                       "counts": {s: len(v) for s, v in by_stance.items()},
                       "total": sum(len(v) for v in by_stance.values())})
    return result


def _clusters(store: OutputStore, docs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    raisers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in _rows(store, "comparison"):
        raisers[row["cluster_id"]].append(row)
    clusters = []
    for row in sorted(_rows(store, "clusters"), key=lambda c: (-c["size"], c["cluster_id"])):
        split = {s: row[f"n_{s}"] for s in ("support", "oppose", "conditional", "neutral")}
        who = sorted(raisers[row["cluster_id"]], key=lambda r: (-r["n_arguments"], r["holder"]))
        clusters.append({
            **row, "split": split,
            "key_point_doc": _doc_label(docs.get(row["key_point_doc_id"]),
                                        row["key_point_doc_id"]),
            "raised_by": who,
        })
    return clusters


def _argument_notes(store: OutputStore) -> list[str]:
    arguments = _rows(store, "arguments")
    if not arguments:
        return []
    outliers = sum(1 for a in arguments if a["cluster_id"] is None)
    groups = Counter(a["duplicate_group"] for a in arguments if a["duplicate_group"])
    notes = [f"{len(arguments)} argument units; {outliers} not in any cluster (outliers)."]
    if groups:
        copies = sum(groups.values())
        notes.append(f"{copies} arguments in {len(groups)} near-duplicate groups "
                     "(template or campaign text counted once per group in clusters).")
    return notes


def _period(year: int, month: int, bucket: str) -> str:
    return f"{year}-{month:02d}" if bucket == "month" else f"{year} Q{(month - 1) // 3 + 1}"


def _periods(first: dt.date, last: dt.date, bucket: str) -> list[str]:
    """Every period from ``first`` to ``last`` in order, so gaps show as empty periods."""
    months = range(first.year * 12 + first.month - 1, last.year * 12 + last.month)
    return list(dict.fromkeys(_period(m // 12, m % 12 + 1, bucket) for m in months))


def _timeline(positions: list[dict[str, Any]], docs: dict[str, dict[str, Any]],
              bucket: str) -> dict[str, Any]:
    dated = [(docs[p["doc_id"]]["date"], p) for p in positions
             if p["doc_id"] in docs and docs[p["doc_id"]]["date"] is not None]
    if not dated:
        return {"bucket": bucket, "rows": [], "undated": len(positions)}
    first, last = min(d for d, _ in dated), max(d for d, _ in dated)
    if bucket == "auto":
        span = (last.year - first.year) * 12 + last.month - first.month + 1
        bucket = "month" if span <= 18 else "quarter"
    counts: dict[str, Counter[str]] = {p: Counter() for p in _periods(first, last, bucket)}
    for date, pos in dated:
        counts[_period(date.year, date.month, bucket)][pos["stance"]] += 1
    rows = [{"period": period, **{s: c[s] for s in STANCES[:4]}, "total": sum(c.values())}
            for period, c in counts.items()]
    return {"bucket": bucket, "rows": rows, "undated": len(positions) - len(dated)}


def _evaluation(evaluation: dict[str, Any] | None) -> tuple[list[dict[str, Any]],
                                                              list[tuple[str, str]]]:
    """Rows of every nested dict holding precision/recall/F1, and top-level scalar facts."""
    if not evaluation:
        return [], []
    rows: list[dict[str, Any]] = []

    def walk(node: dict[str, Any], path: list[str]) -> None:
        if any(k in node for k in _METRICS):
            rows.append({"scope": " / ".join(path) or "overall",
                         **{k: node.get(k) for k in (*_METRICS, "support", "tp", "fp", "fn")}})
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, [*path, str(key)])
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, dict) and any(k in item for k in _METRICS):
                        name = item.get("target") or item.get("name") or str(i)
                        walk(item, [*path, str(key), str(name)])

    walk(evaluation, [])
    facts = [(str(k), _fmt(v)) for k, v in evaluation.items()
             if isinstance(v, str | int | float | bool) and k not in _METRICS]
    facts += [(str(k), f"{len(v)} listed") for k, v in evaluation.items() if isinstance(v, list)]
    return rows, facts


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else str(value)


def _method(settings: Settings, stance_rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    methods = Counter(r["method"] for r in stance_rows)
    produced = ", ".join(f"{m}: {n}" for m, n in sorted(methods.items())) or "no stance rows"
    return [
        ("Stance detection", f"{settings.stance.method} ({_METHODS[settings.stance.method]}); "
                             f"minimum confidence {settings.stance.min_confidence}"),
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
    positions = _rows(store, "positions")
    stance_rows = _rows(store, "stances")
    orgs = {o["canonical_id"]: o for o in _rows(store, "organisations")}
    holders = _matrix(positions, stance_rows, docs, orgs, settings.report.max_evidence_per_cell)
    targets = _targets(configured_targets(settings), positions)
    errors = sorted(_rows(store, "errors"), key=lambda e: (e["source_path"], e["stage"]))
    clusters = _clusters(store, docs)
    eval_rows, eval_facts = _evaluation(evaluation or load_evaluation(store))
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
        summary={"documents": len(documents), "organisations": len(organisations),
                 "positions": len(positions), "holders": len(holders),
                 "clusters": len(clusters), "failed": len({e["source_path"] for e in errors})},
        documents=documents, targets=targets, holders=holders,
        per_target=_per_target(targets, holders), clusters=clusters,
        argument_notes=_argument_notes(store),
        timeline=_timeline(positions, docs, settings.report.time_bucket),
        method=_method(settings, stance_rows), evaluation=eval_rows, evaluation_facts=eval_facts,
        errors=errors, notes=notes,
    )


# --- HTML ---------------------------------------------------------------------------------


def _timeline_svg(timeline: dict[str, Any]) -> Markup:
    """A stacked bar chart of positions per period as inline SVG."""
    rows = timeline["rows"]
    if not rows:
        return Markup("")
    bar, gap, height, top, bottom = 46, 18, 180, 16, 40
    peak = max(r["total"] for r in rows)
    width = len(rows) * (bar + gap) + gap
    parts = [f'<svg class="timeline" role="img" width="{width}" height="{height + top + bottom}"'
             f' viewBox="0 0 {width} {height + top + bottom}" xmlns="http://www.w3.org/2000/svg">'
             "<title>Positions per period by stance</title>"]
    for i, row in enumerate(rows):
        x, y = gap + i * (bar + gap), top + height
        for stance in STANCES[:4]:
            n = row[stance]
            if not n:
                continue
            h = height * n / peak
            y -= h
            parts.append(f'<rect x="{x}" y="{y:.1f}" width="{bar}" height="{h:.1f}" '
                         f'fill="{STANCE_STYLE[stance][0]}"><title>{escape(row["period"])}: '
                         f"{n} {stance}</title></rect>")
        parts.append(f'<text x="{x + bar / 2}" y="{top + height + 16}" text-anchor="middle">'
                     f'{escape(row["period"])}</text>')
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
        style=Markup(style), script_hash=_csp_hash(script),
        timeline_svg=_timeline_svg(data.timeline), fmt=_fmt,
    )


# --- Markdown -----------------------------------------------------------------------------


def md_cell(value: object) -> str:
    """``value`` as text safe inside a Markdown table cell (no pipes, breaks or raw HTML)."""
    text = _fmt(value)
    text = " ".join(text.split())
    for old, new in (("\\", "\\\\"), ("|", "\\|"), ("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(old, new)
    return text


def _md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(md_cell(h) for h in header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(md_cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def _page(page: int | None) -> str:
    return f"p. {page}" if page else "no page"


def _raiser(row: dict[str, Any]) -> str:
    minority = "; minority view" if row.get("is_majority") is False else ""
    return f"{row['holder']} ({row['stance']}, {row['n_arguments']}{minority})"


def _symbol(stance: str) -> str:
    _, symbol, letter = stance_style(stance)
    return f"{symbol} {letter}"


def _md_matrix(data: ReportData) -> list[str]:
    if not data.holders:
        return [data.notes["positions"] or "No positions were found.", ""]
    legend = ", ".join(f"{_symbol(s)} = {s}" for s in STANCES)
    rows = [[h.name + ("" if h.is_author else " (cited only)"), h.org_type or ""]
            + [(_symbol(h.cells[t.id].stance) + (" (cited)" if h.cells[t.id].cited else ""))
               if t.id in h.cells else "" for t in data.targets]
            for h in data.holders]
    return [f"Legend: {legend}.", "",
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
            lines += [f"- “{md_cell(q.text)}” ({md_cell(q.document)}, {_page(q.page)}"
                      + (f"; as reported by {md_cell(q.reported_by)}" if q.reported_by else "")
                      + ")" for q in cell.evidence]
            if cell.n_more:
                lines.append(f"- … and {cell.n_more} more")
            lines.append("")
    return lines


def _md_sections(data: ReportData) -> list[str]:
    s = data.summary
    lines = [f"# {md_cell(data.title)}", "", f"Generated {data.generated_at}.", "",
             f"**{s['documents']} documents, {s['organisations']} organisations, "
             f"{s['positions']} positions**; {s['clusters']} argument clusters; "
             f"{s['failed']} failed files.", "", "## Corpus", ""]
    lines += _md_table(["Date", "Title", "Author", "Kind", "Pages", "Source"], [
        [d["date"], d["label"], d["author_org"], d["doc_kind"], d["n_pages"], d["source_path"]]
        for d in data.documents]) if data.documents else [data.notes["documents"], ""]
    lines += ["## Positions: holders × targets", "", *_md_matrix(data), "## Per target", ""]
    if data.notes["positions"]:
        lines += [data.notes["positions"], ""]
    for entry in [] if data.notes["positions"] else data.per_target:
        lines += [f"### {md_cell(entry['target'].label)}", ""]
        lines += [f"- **{stance}** ({entry['counts'][stance]}): "
                  + "; ".join(md_cell(n) for n in names)
                  for stance, names in entry["by_stance"].items() if names] or ["- no positions"]
        lines.append("")
    lines += ["## Argument clusters", ""]
    lines += [line for note in data.argument_notes for line in (md_cell(note), "")]
    lines += _md_table(
        ["Cluster", "Key point", "Size", "Docs", "Voices", "Support", "Oppose", "Conditional",
         "Neutral", "Raised by"],
        [[c["label"], f"{c['key_point']} ({c['key_point_doc']}, {_page(c['key_point_page'])})",
          c["size"], c["n_documents"], c.get("n_voices", ""), *c["split"].values(),
          "; ".join(_raiser(r) for r in c["raised_by"])]
         for c in data.clusters]) if data.clusters else [data.notes["clusters"], ""]
    lines += ["## Change over time", ""]
    tl = data.timeline
    lines += _md_table(["Period", *STANCES[:4], "Total"],
                       [[r["period"], *(r[k] for k in STANCES[:4]), r["total"]]
                        for r in tl["rows"]]) if tl["rows"] else ["No dated positions.", ""]
    if tl["undated"]:
        lines += [f"{tl['undated']} positions come from undated documents.", ""]
    lines += ["## Method and accuracy", "", *_md_table(["Aspect", "Detail"], data.method)]
    lines += _md_table(["Scope", "Precision", "Recall", "F1", "Support"],
                       [[r["scope"], r["precision"], r["recall"], r["f1"], r["support"]]
                        for r in data.evaluation]) if data.evaluation else []
    lines += _md_table(["Fact", "Value"], data.evaluation_facts) if data.evaluation_facts else []
    if data.notes["evaluation"]:
        lines += [data.notes["evaluation"], ""]
    lines += ["## Failed documents", ""]
    lines += _md_table(["Source", "Stage", "Kind", "Reason"],
                       [[e["source_path"], e["stage"], e["kind"], e["message"]]
                        for e in data.errors]) if data.errors else ["None.", ""]
    lines += ["## Evidence", "", *_md_evidence(data)]
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


def report_artifacts(report: Report) -> tuple[str, list[dict[str, Any]]]:
    """Data for Prefect artifacts: the Markdown report and the matrix as table rows."""
    data = report.data
    rows = [{"holder": h.name, "type": h.org_type or "", "cited_only": not h.is_author,
             **{t.label: h.cells[t.id].stance if t.id in h.cells else "" for t in data.targets}}
            for h in data.holders]
    return report.markdown, rows
