"""Benchmark stancemap end to end and per stage, against the floor of its heavy components.

1. Generates a synthetic corpus (default 1,000 documents, ~10,000 pages: 70 % PDFs laid out
   with reportlab, 30 % text) by recombining the sentences of the bundled ``corpus/`` with
   organisations (each organisation name in a sentence is replaced by one drawn from the
   register or a made-up council), seeded, so the same options give the same corpus.
2. Runs ``stancemap run`` in a subprocess three times - cold, unchanged, one file changed -
   recording wall time, the per-stage times of the run summary and the peak memory of the run's
   process tree (RSS summed over the process and its children, sampled every 0.2 s).
3. Measures the floor: the same corpus through pdfplumber alone (text of every PDF page),
   spaCy ``nlp.pipe`` alone (every sentence the run produced) and the embedding model alone
   (the texts the arguments stage embeds; timed on a sample and scaled).
4. Writes ``BENCHMARKS.md`` (the machine, the corpus, the figures, the targets) and the raw
   figures as JSON next to the work folder.

Usage: python scripts/bench.py [--small] [--docs N] [--workdir DIR] [--keep-corpus]
(``--small``: 20 documents for a quick check). Do not run the full size on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
# Words per page: the PDFs of corpus/ hold 400-600 words a page, the densest real-world PDF of
# ../shared/pdfs (a three-column Federal Register issue) about 500.
WORDS_PER_PAGE = 500
PDF_SHARE = 0.7
PAGES_PER_PDF = (8, 20)
TARGETS = {"pages_per_s": 5.0, "floor_ratio": 1.3, "unchanged_share": 0.02,
           "changed_share": 0.03, "peak_gb": 3.0}


@dataclass(frozen=True)
class RunFigures:
    """One ``stancemap run`` measured from outside."""

    seconds: float
    peak_rss_mb: float
    summary: dict[str, Any]


# --- corpus ------------------------------------------------------------------------------


def corpus_sentences(corpus: Path) -> list[str]:
    """Sentences of the bundled corpus's text files (whitespace normalised)."""
    sentences: list[str] = []
    for path in sorted(corpus.glob("*")):
        if path.suffix in {".txt", ".md"}:
            text = " ".join(path.read_text(encoding="utf-8").split())
            sentences += [s for s in SENTENCE_END.split(text) if 40 <= len(s) <= 400]
    return sentences


def _pdf(path: Path, title: str, pages: list[list[str]]) -> None:
    from xml.sax.saxutils import escape

    from reportlab import rl_config
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    rl_config.invariant = 1
    styles = getSampleStyleSheet()
    story: list[Any] = [Paragraph(escape(title), styles["Title"])]
    for page in pages:
        story += [Paragraph(escape(" ".join(page[i:i + 4])), styles["BodyText"])
                  for i in range(0, len(page), 4)]
        story.append(PageBreak())
    SimpleDocTemplate(str(path), pagesize=A4, title=title).build(story)


PLACES = ("Ashby", "Brackenfold", "Colworth", "Dunmere", "Eastwick", "Fernley", "Glenholt",
          "Harwood", "Ilsham", "Kingsmoor", "Larkhill", "Marbury", "Northcote", "Oakhurst",
          "Penwith Vale", "Queensbridge", "Redmarsh", "Stowford", "Thornbury", "Upperton")
COUNCIL_KINDS = ("City Council", "County Council", "Borough Council", "District Council")


def organisation_names() -> list[str]:
    """Names to recombine into sentences: the register's organisations (its names and
    aliases) and councils of made-up places."""
    import yaml

    data = yaml.safe_load((ROOT / "models/entities/organisations.yaml").read_text("utf-8"))
    names = {org["name"] for org in data["organisations"]}
    for org in data["organisations"]:
        names.update(a for a in org.get("aliases", []) if len(a) > 8)
    names.update(f"{place} {kind}" for place in PLACES for kind in COUNCIL_KINDS)
    return sorted(names)


# Generic holders ("we", "the council") stand for an organisation too: naming one instead
# keeps the sentence's sense and makes most recombined texts distinct, as real ones are.
GENERIC_HOLDERS = (r"\bWe\b", r"\b[Tt]he [Cc]ouncil\b", r"\b[Tt]he [Tt]rust\b",
                   r"\b[Tt]he CCG\b", r"\b[Tt]he [Pp]artnership\b", r"\b[Tt]he [Bb]oard\b")


def _recombiner(names: list[str], rng: random.Random) -> Any:
    """A function giving a sentence with each organisation name (or generic holder) in it
    replaced by an organisation drawn from ``names``."""
    alternatives = [re.escape(n) for n in sorted(names, key=len, reverse=True)]
    pattern = re.compile("|".join([*alternatives, *GENERIC_HOLDERS]))

    def vary(sentence: str) -> str:
        return pattern.sub(lambda _: rng.choice(names), sentence)

    return vary


def _page(pool: list[str], rng: random.Random, vary: Any) -> list[str]:
    """Recombined sentences filling one page of about ``WORDS_PER_PAGE`` words."""
    page: list[str] = []
    words = 0
    while words < WORDS_PER_PAGE:
        sentence = vary(rng.choice(pool))
        page.append(sentence)
        words += len(sentence.split())
    return page


def make_corpus(folder: Path, n_docs: int, seed: int = 7) -> dict[str, int]:
    """Write ``n_docs`` synthetic documents into ``folder``; return what was made."""
    pool = corpus_sentences(ROOT / "corpus")
    if not pool:
        raise SystemExit("no sentences found in corpus/ to recombine")
    rng = random.Random(seed)
    vary = _recombiner(organisation_names(), rng)
    folder.mkdir(parents=True, exist_ok=True)
    made = {"documents": 0, "pdf": 0, "text": 0, "pdf_pages": 0, "sentences": 0, "words": 0}
    # The text is drawn here, in order; only the PDF layout (reportlab, pure Python) is
    # spread over the cores, so the corpus does not depend on how many there are.
    with ProcessPoolExecutor(os.cpu_count() or 1) as layout:
        pending: list[Any] = []
        for i in range(n_docs):
            pages = _document(i, folder, pool, rng, vary, made, pending, layout)
            made["documents"] += 1
            made["sentences"] += sum(len(p) for p in pages)
            made["words"] += sum(len(s.split()) for p in pages for s in p)
        for future in pending:
            future.result()
    return made


def _document(i: int, folder: Path, pool: list[str], rng: random.Random, vary: Any,
              made: dict[str, int], pending: list[Any], layout: Any) -> list[list[str]]:
    """Draw document ``i``: a text file written now, or a PDF submitted to ``layout``."""
    n_pages = rng.randint(*PAGES_PER_PDF)
    pages = [_page(pool, rng, vary) for _ in range(n_pages)]
    title = f"Synthetic response {i:05d}: " + pages[0][0][:60]
    if rng.random() < PDF_SHARE:
        pending.append(layout.submit(_pdf, folder / f"doc-{i:05d}.pdf", title, pages))
        made["pdf"] += 1
        made["pdf_pages"] += n_pages
    else:
        body = "\n\n".join(" ".join(page) for page in pages)
        (folder / f"doc-{i:05d}.txt").write_text(f"{title}\n\n{body}\n", encoding="utf-8")
        made["text"] += 1
    return pages


# --- measured runs -----------------------------------------------------------------------


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


def measured_run(corpus: Path, out: Path, home: Path, label: str) -> RunFigures:
    """``stancemap run`` in a subprocess: wall time, peak RSS of its tree, the summary."""
    summary_file = out.parent / f"summary-{label}.json"
    env = {**os.environ, "STANCEMAP_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "stancemap.cli", "run", str(corpus), "--out", str(out),
           "--summary-json", str(summary_file)]
    started = time.monotonic()
    log_file = out.parent / f"run-{label}.log"
    with open(log_file, "wb") as log:
        child = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc, peak = psutil.Process(child.pid), 0
    while child.poll() is None:
        peak = max(peak, _tree_rss(proc))
        time.sleep(0.2)
    seconds = time.monotonic() - started
    if child.returncode != 0:
        raise SystemExit(f"{label} run failed (exit {child.returncode}); see {log_file}")
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    print(f"{label}: {seconds:.1f} s, peak {peak / 2**20:.0f} MB", flush=True)
    return RunFigures(round(seconds, 2), round(peak / 2**20, 1), summary)


def change_one_file(corpus: Path) -> str:
    """Append a sentence to one text document (or re-title one PDF when there is none)."""
    texts = sorted(corpus.glob("*.txt"))
    if texts:
        with open(texts[len(texts) // 2], "a", encoding="utf-8") as fh:
            fh.write("\nThe board will revisit these proposals after the next review.\n")
        return texts[len(texts) // 2].name
    pdf = sorted(corpus.glob("*.pdf"))[0]
    _pdf(pdf, "Changed document", [["The board will revisit these proposals."]])
    return pdf.name


# --- floor -------------------------------------------------------------------------------


FLOOR_SAMPLE_PDFS = 60
FLOOR_SAMPLE_SENTENCES = 20_000


def floor_pdfplumber(corpus: Path) -> tuple[float, int]:
    """Seconds for pdfplumber alone to extract the text of every PDF page (timed on up to
    ``FLOOR_SAMPLE_PDFS`` evenly spread files and scaled by pages); pages."""
    import pdfplumber
    import pypdfium2

    paths = sorted(corpus.glob("*.pdf"))
    sample = paths[:: max(1, len(paths) // FLOOR_SAMPLE_PDFS)]
    total = sum(len(pypdfium2.PdfDocument(str(path))) for path in paths)
    started, pages = time.monotonic(), 0
    for path in sample:
        with pdfplumber.open(path) as pdf:
            for page in pdf.pages:
                page.extract_text()
                pages += 1
    return (time.monotonic() - started) * total / max(pages, 1), total


def floor_spacy(sentences: list[str], model: str, batch_size: int) -> tuple[float, int]:
    """Seconds for ``nlp.pipe`` alone over ``sentences`` (timed on up to
    ``FLOOR_SAMPLE_SENTENCES`` evenly spread ones and scaled by words); words."""
    from pipeline.nlp import load_spacy

    nlp = load_spacy(model)
    sample = sentences[:: max(1, len(sentences) // FLOOR_SAMPLE_SENTENCES)]
    total = sum(len(s.split()) for s in sentences)
    started = time.monotonic()
    for _ in nlp.pipe(sample, batch_size=batch_size):
        pass
    seconds = time.monotonic() - started
    return seconds * total / max(sum(len(s.split()) for s in sample), 1), total


def floor_embeddings(texts: list[str], nlp: Any, folder: Path,
                     sample: int = 2000) -> tuple[float, int]:
    """Seconds for the configured embedding backend (``nlp.embedding_backend``, the one the run
    uses; exported model files are taken from ``folder``) to embed ``texts``, without the cache
    (timed on a sample, scaled); how many texts."""
    from pipeline.embeddings import embedder_for

    if not texts:
        return 0.0, 0
    embed = embedder_for(nlp, folder).embed_fn
    embed(texts[:2])  # load the model outside the timing, as the other floors do
    part = texts[:sample]
    started = time.monotonic()
    for i in range(0, len(part), nlp.embedding_batch_size):
        embed(part[i : i + nlp.embedding_batch_size])
    return (time.monotonic() - started) * len(texts) / len(part), len(texts)


def machine() -> dict[str, Any]:
    """CPU, cores, memory, OS and Python of this machine."""
    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
    return {"cpu": names[0] if names else cpu, "cores": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "os": platform.platform(), "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def _rate(count: float, seconds: float) -> str:
    return f"{count / seconds:.2f}" if seconds > 0 else "n/a"


def render(results: dict[str, Any]) -> str:
    """BENCHMARKS.md from the measured figures."""
    m, c, runs, fl = results["machine"], results["corpus"], results["runs"], results["floor"]
    cold = runs["cold"]
    s = cold["summary"]
    n_docs, pages, sents = c["documents"], results["out"]["pages"], results["out"]["sentences"]
    floor_total = fl["pdfplumber_s"] + fl["spacy_s"] + fl["embeddings_s"]
    stage_rows = [(name, s.get(f"{name}_seconds")) for name in
                  ("ingest", "analyse", "organisations", "arguments", "report")]
    lines = [
        "# Benchmarks", "",
        f"Measured by `python scripts/bench.py{' --small' if results['small'] else ''}` on "
        f"{results['date']}. {results.get('note', '')}".rstrip(), "",
        "## Machine", "",
        f"- CPU: {m['cpu']}, {m['cores']} cores; memory {m['memory_gb']} GB",
        f"- {m['os']}, Python {m['python']}; load average at start {m['load_average']}", "",
        "## Corpus", "",
        f"{n_docs} synthetic documents ({c['pdf']} PDFs with {c['pdf_pages']} pages, "
        f"{c['text']} text files; {c.get('words', 0)} words, each page filled to about "
        f"{WORDS_PER_PAGE} words) recombining the sentences of `corpus/` with organisations; "
        f"the run produced {pages} page rows and {sents} sentences "
        f"({results['out'].get('distinct_sentences', 'n/a')} distinct texts: the embedding "
        "cache embeds each distinct text once). Pages/s below count page rows: each PDF "
        "page, and each text file as one (its 8-20 pages of text make it the cheaper count).",
        "",
        "## End to end (`stancemap run`, local runner, subprocess)", "",
        "| run | seconds | share of cold | documents/s | pages/s | sentences/s | peak memory MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, run in runs.items():
        share = run["seconds"] / cold["seconds"]
        lines.append(f"| {label} | {run['seconds']:.1f} | {share:.1%} | "
                     f"{_rate(n_docs, run['seconds'])} | {_rate(pages, run['seconds'])} | "
                     f"{_rate(sents, run['seconds'])} | {run['peak_rss_mb']:.0f} |")
    lines += ["", "Wall time includes starting Prefect's temporary local server "
              "(several seconds on this machine).", "",
              "## Per stage (cold run)", "", "| stage | seconds | documents/s | pages/s | "
              "sentences/s | words/s |", "|---|---|---|---|---|---|"]
    words = results["out"].get("words", 0)
    for name, seconds in stage_rows:
        if seconds:
            lines.append(f"| {name} | {seconds:.1f} | {_rate(n_docs, seconds)} | "
                         f"{_rate(pages, seconds)} | {_rate(sents, seconds)} | "
                         f"{_rate(words, seconds)} |")
    lines += ["", "## Floor (each component alone, one process)", "",
              "| component | seconds | throughput |", "|---|---|---|",
              f"| pdfplumber `extract_text`, every PDF page (sample, scaled) | "
              f"{fl['pdfplumber_s']:.1f} | "
              f"{_rate(fl['pdf_pages'], fl['pdfplumber_s'])} pages/s |",
              f"| spaCy `nlp.pipe`, every sentence (sample, scaled) | {fl['spacy_s']:.1f} | "
              f"{_rate(fl['words'], fl['spacy_s'])} words/s |",
              f"| embedding model ({fl.get('embedding_backend', 'torch')}), the "
              f"{fl['embedded']} argument texts (sample, scaled) | "
              f"{fl['embeddings_s']:.1f} | {_rate(fl['embedded'], fl['embeddings_s'])} "
              "sentences/s |",
              f"| floor total | {floor_total:.1f} | |", "",
              "## Against the targets", "", "| target | goal | measured |", "|---|---|---|",
              f"| end to end pages/s | ≥ {TARGETS['pages_per_s']} | "
              f"{_rate(pages, cold['seconds'])} |",
              f"| cold run / floor | ≤ {TARGETS['floor_ratio']} | "
              f"{cold['seconds'] / floor_total:.2f} |" if floor_total else "| floor | | n/a |",
              f"| unchanged re-run / cold | ≤ {TARGETS['unchanged_share']:.0%} | "
              f"{runs['unchanged']['seconds'] / cold['seconds']:.1%} |",
              f"| one changed file / cold | ≤ {TARGETS['changed_share']:.0%} | "
              f"{runs['one_changed']['seconds'] / cold['seconds']:.1%} |",
              f"| peak memory | < {TARGETS['peak_gb']} GB | "
              f"{max(r['peak_rss_mb'] for r in runs.values()) / 1024:.2f} GB |"]
    scaling = results.get("scaling")
    if scaling:
        lines.append(f"| time at {scaling['docs_ratio']:.0f}× the documents | ≤ "
                     f"{scaling['docs_ratio'] * 1.1:.0f}× | {scaling['time_ratio']:.1f}× |")
    return "\n".join(lines) + "\n"


def _out_counts(out: Path) -> dict[str, int]:
    import pyarrow.compute as pc

    from pipeline.io import OutputStore

    store = OutputStore(out)
    counts = {name: store.read_table(name).num_rows for name in ("documents", "pages", "sentences",
                                                                 "arguments", "errors")}
    words = pc.list_value_length(pc.utf8_split_whitespace(store.read_table("sentences")["text"]))
    counts["words"] = int(pc.sum(words).as_py() or 0)
    counts["distinct_sentences"] = int(pc.count_distinct(store.read_table("sentences")["text"])
                                       .as_py())
    return counts


def main(argv: list[str] | None = None) -> None:
    """Generate the corpus, run and measure, write BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="20 documents: a quick check")
    parser.add_argument("--docs", type=int, default=1000, help="documents to generate")
    parser.add_argument("--workdir", type=Path, default=ROOT / "outputs" / "bench")
    parser.add_argument("--report", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--note", default="", help="a sentence added to BENCHMARKS.md")
    parser.add_argument("--keep-corpus", action="store_true",
                        help="reuse the generated corpus of an earlier run of the same size")
    args = parser.parse_args(argv)
    n_docs = 20 if args.small else args.docs
    work = args.workdir / f"{n_docs}"
    corpus, out, home = work / "corpus", work / "out", work / "home"
    if not (args.keep_corpus and corpus.is_dir()):
        shutil.rmtree(work, ignore_errors=True)
        print(f"generating {n_docs} documents in {corpus}", flush=True)
        made = make_corpus(corpus, n_docs)
        (work / "corpus.json").write_text(json.dumps(made), encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    made = json.loads((work / "corpus.json").read_text(encoding="utf-8"))
    results: dict[str, Any] = {"machine": machine(), "corpus": made, "small": args.small,
                               "note": args.note,
                               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    runs = {"cold": measured_run(corpus, out, home, "cold"),
            "unchanged": measured_run(corpus, out, home, "unchanged")}
    changed = change_one_file(corpus)
    runs["one_changed"] = measured_run(corpus, out, home, "one_changed")
    results["changed_file"] = changed
    results["runs"] = {k: vars(v) for k, v in runs.items()}
    results["out"] = _out_counts(out)
    results["floor"] = _floor(corpus, out)
    results["scaling"] = _scaling(args.workdir, n_docs, runs["cold"].seconds)
    (work / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    args.report.write_text(render(results) + _notes(args.report), encoding="utf-8")
    print(f"wrote {args.report}", flush=True)


NOTES_MARKER = "<!-- notes: written by hand, kept when the script rewrites the rest -->"


def _notes(report: Path) -> str:
    """The hand-written part of an existing report (from ``NOTES_MARKER`` on), if any."""
    text = report.read_text(encoding="utf-8") if report.exists() else ""
    return "\n" + text[text.index(NOTES_MARKER):] if NOTES_MARKER in text else ""


def _floor(corpus: Path, out: Path) -> dict[str, Any]:
    from pipeline.config import load_settings
    from pipeline.io import OutputStore

    settings = load_settings()
    store = OutputStore(out)
    pdf_s, pdf_pages = floor_pdfplumber(corpus)
    sentences = store.read_table("sentences").column("text").to_pylist()
    spacy_s, words = floor_spacy(sentences, settings.nlp.spacy_model, settings.nlp.batch_size)
    texts = store.read_table("arguments").column("text").to_pylist()
    embed_s, embedded = floor_embeddings(texts, settings.nlp, store.cache_dir("embeddings"))
    return {"pdfplumber_s": round(pdf_s, 2), "pdf_pages": pdf_pages,
            "spacy_s": round(spacy_s, 2), "words": words,
            "embeddings_s": round(embed_s, 2), "embedded": embedded,
            "embedding_backend": settings.nlp.embedding_backend}


def _scaling(workdir: Path, n_docs: int, seconds: float) -> dict[str, float] | None:
    """Compare with the cold run of the largest smaller corpus measured before, if any."""
    smaller = []
    for path in workdir.glob("*/results.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        docs = data["corpus"]["documents"]
        if docs < n_docs:
            smaller.append((docs, data["runs"]["cold"]["seconds"]))
    if not smaller:
        return None
    docs, base = max(smaller)
    return {"docs_ratio": n_docs / docs, "time_ratio": seconds / base}


if __name__ == "__main__":
    main()
