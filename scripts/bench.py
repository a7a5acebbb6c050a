"""Benchmark stancemap end to end and per stage, against the floor of its heavy components.

1. Generates a synthetic corpus (default 1,000 documents): by default the realistic one of
   ``scripts/synthetic_corpus.py`` (own templates, no line more than three times, ~85 % PDFs of
   4-18 pages of ~500 words, two-column and scanned pages); with ``--repetitive`` the older one
   recombining the sentences of ``corpus/`` (few distinct texts: flatters the embedding cache).
   Seeded: the same options give the same corpus.
2. Runs ``stancemap run`` in a subprocess three times - cold, unchanged, one file changed -
   recording wall time, the per-stage times of the run summary and the peak memory of the run's
   process tree (RSS summed over the process and its children, sampled every 0.2 s); and, for
   the scaling figure, a cold run of a corpus a tenth the size.
3. Measures the floor, each component alone on one core: pdfplumber (text of every PDF page),
   spaCy ``nlp.pipe`` (every sentence the run produced) and the embedding model (every text
   the run really embedded, i.e. found in the embedding cache); timed on samples and scaled.
4. Measures the fixed costs on the demo outputs (``stancemap run corpus/``): ``report``,
   an unchanged ``run`` and ``query``, each repeated (min, median, max).
5. Writes ``BENCHMARKS.md`` (the machine, the corpus, the figures, the targets) and the raw
   figures as JSON in the work folder.

Usage: python scripts/bench.py [--documents N] [--repetitive] [--no-scaling] [--workdir DIR]
[--keep-corpus] (``--small``: 20 documents). Do not run the full size on a busy machine.
"""

from __future__ import annotations

import argparse
import contextlib
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
from synthetic_corpus import make_corpus

ROOT = Path(__file__).resolve().parent.parent
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
# Words per page: the PDFs of corpus/ hold 400-600 words a page, the densest real-world PDF of
# ../shared/pdfs (a three-column Federal Register issue) about 500.
WORDS_PER_PAGE = 500
PDF_SHARE = 0.7
PAGES_PER_PDF = (8, 20)
TARGETS = {"pages_per_s": 5.0, "floor_ratio": 1.3, "unchanged_share": 0.02,
           "changed_share": 0.03, "peak_gb": 3.0, "report_s": 3.0, "unchanged_run_s": 4.0}


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


def make_repetitive_corpus(folder: Path, n_docs: int, seed: int = 7) -> dict[str, int]:
    """Write ``n_docs`` documents recombining the sentences of ``corpus/`` into ``folder``
    (the ``--repetitive`` corpus: few distinct texts); return what was made."""
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
    texts = sorted([*corpus.glob("*.txt"), *corpus.glob("*.md")])
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
FLOOR_SAMPLE_EMBEDDED = 3_000


def one_core() -> None:
    """Run the floors on one core: BLAS/OpenMP pools, ONNX Runtime and torch on one thread."""
    from threadpoolctl import threadpool_limits

    from pipeline import embeddings

    threadpool_limits(1)
    embeddings.set_threads(1)


def pdf_sample(corpus: Path) -> tuple[list[Path], int]:
    """Up to ``FLOOR_SAMPLE_PDFS`` evenly spread PDFs of ``corpus`` to time the PDF floors on,
    and the number of pages of all its PDFs (to scale them by)."""
    import pypdfium2

    paths = sorted(corpus.glob("*.pdf"))
    total = 0
    for path in paths:
        pdf = pypdfium2.PdfDocument(str(path))
        total += len(pdf)
        pdf.close()
    return paths[:: max(1, len(paths) // FLOOR_SAMPLE_PDFS)], total


def floor_pdfplumber(sample: list[Path], total: int) -> float:
    """Seconds for pdfplumber alone to extract the text of all ``total`` PDF pages, timed on
    the ``sample`` files (:func:`pdf_sample`) and scaled by pages."""
    import pdfplumber

    started, pages = time.monotonic(), 0
    for path in sample:
        with pdfplumber.open(path) as pdf:
            for page in pdf.pages:
                page.extract_text()
                pages += 1
    return (time.monotonic() - started) * total / max(pages, 1)


def floor_extractor(sample: list[Path], total: int, extractor: str) -> float:
    """Seconds for the run's PDF extractor (``ingest.pdf_extractor``) alone to read all
    ``total`` PDF pages, timed on the same ``sample`` as :func:`floor_pdfplumber`."""
    from pipeline.errors import DocumentError
    from pipeline.ingest.pdf import extract_pdf

    started, pages = time.monotonic(), 0
    for path in sample:
        with contextlib.suppress(DocumentError):
            pages += len(extract_pdf(path.read_bytes(), path.name, extractor, None,
                                     (100_000, 1 << 40), lambda _: None))
    return (time.monotonic() - started) * total / max(pages, 1)


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


def embedded_texts(sentences: list[str], cache: Path) -> list[str]:
    """The distinct sentences the run embedded: those whose key is in the embedding cache."""
    import numpy as np

    from pipeline.embeddings import text_key

    keys: set[str] = set()
    for shard in cache.glob("*.npz"):
        with np.load(shard, allow_pickle=False) as data:
            keys.update(data["keys"].tolist())
    return [t for t in dict.fromkeys(sentences) if text_key(t) in keys]


def floor_embeddings(texts: list[str], nlp: Any, folder: Path,
                     sample: int = FLOOR_SAMPLE_EMBEDDED) -> tuple[float, int]:
    """Seconds for the configured embedding backend (``nlp.embedding_backend``, the one the run
    uses; exported model files are taken from ``folder``) to embed ``texts``, without the cache
    (timed on an evenly spread sample, scaled by count); how many texts."""
    from pipeline.embeddings import embed_in_batches, embedder_for

    if not texts:
        return 0.0, 0
    embed = embedder_for(nlp, folder).embed_fn
    embed(texts[:2])  # load the model outside the timing, as the other floors do
    part = texts[:: max(1, len(texts) // sample)]
    started = time.monotonic()
    embed_in_batches(embed, part, nlp.embedding_batch_size)  # batched as the cache does
    return (time.monotonic() - started) * len(texts) / len(part), len(texts)


# --- fixed costs -------------------------------------------------------------------------


FIXED_RUNS = 5


def fixed_costs(work: Path, home: Path, runs: int = FIXED_RUNS) -> dict[str, dict[str, float]]:
    """Wall seconds (min, median, max of ``runs`` after one warm-up) of the small commands on
    the demo outputs (``stancemap run corpus/`` into ``work/demo``, made first)."""
    out = work / "demo"
    env = {**os.environ, "STANCEMAP_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    cli = [sys.executable, "-m", "stancemap.cli"]
    subprocess.run([*cli, "run", str(ROOT / "corpus"), "--out", str(out)], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    commands = {"report": ["report", "--out", str(out)],
                "run (unchanged)": ["run", str(ROOT / "corpus"), "--out", str(out)],
                "query": ["query", "SELECT count(*) FROM documents", "--out", str(out)],
                "--help": ["--help"]}
    figures = {}
    for name, args in commands.items():
        seconds = []
        for _ in range(runs + 1):
            started = time.monotonic()
            subprocess.run([*cli, *args], cwd=ROOT, env=env, check=True, capture_output=True)
            seconds.append(time.monotonic() - started)
        counted = sorted(seconds[1:])
        figures[name] = {"min": round(counted[0], 2), "max": round(counted[-1], 2),
                         "median": round(counted[len(counted) // 2], 2)}
        print(f"{name}: median {figures[name]['median']:.2f} s", flush=True)
    return figures


def machine() -> dict[str, Any]:
    """CPU, cores, memory, OS and Python of this machine."""
    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
    return {"cpu": names[0] if names else cpu, "cores": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "os": platform.platform(), "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


# --- report ------------------------------------------------------------------------------


def _rate(count: float, seconds: float) -> str:
    return f"{count / seconds:.2f}" if seconds > 0 else "n/a"


def _corpus_lines(results: dict[str, Any]) -> list[str]:
    c, o = results["corpus"], results["out"]
    distinct = o.get("distinct_sentences", 0) / max(o["sentences"], 1)
    if results.get("repetitive"):
        made = (f"recombining the sentences of `corpus/` with organisations (`--repetitive`), "
                f"{c['pdf']} PDFs with {c['pdf_pages']} pages and {c['text']} text files")
    else:
        made = (f"written from the templates of `scripts/synthetic_corpus.py`: {c['pdf']} PDFs "
                f"with {c['pdf_pages']} pages ({c.get('two_column_pages', 0)} two-column, "
                f"{c.get('scanned_pages', 0)} scanned image-only of which "
                f"{c.get('scanned_documents', 0)} wholly scanned documents), {c['text']} text "
                f"and Markdown files; no generated line more than {c.get('max_copies', '?')} "
                "times")
    return [f"{c['documents']} synthetic documents, {c.get('words', 0)} words (pages of about "
            f"{WORDS_PER_PAGE} words), {made}. The run produced {o['pages']} page rows, "
            f"{o['errors']} error rows and {o['sentences']} sentences, of which "
            f"**{o.get('distinct_sentences', 0)} distinct ({distinct:.1%})**; "
            f"{o.get('embedded', 'n/a')} distinct texts were embedded. Pages/s count page rows: "
            "each PDF page, and each text file as one."]


def _one_core_floor(fl: dict[str, Any], pdf: str = "pdfplumber_s") -> float:
    """The one-core floor: PDF reading (pdfplumber alone, or ``extractor_s``: the run's own
    extractor) + spaCy + embedding, in seconds."""
    return float(fl[pdf] + fl["spacy_s"] + fl["embeddings_s"])


def _floor_rows(results: dict[str, Any]) -> list[str]:
    fl, runs, cores = results["floor"], results["runs"], results["machine"]["cores"] or 1
    s = runs["cold"]["summary"]
    total = _one_core_floor(fl)
    rows = [("pdfplumber `extract_text`, every PDF page", fl["pdfplumber_s"],
             f"{_rate(fl['pdf_pages'], fl['pdfplumber_s'])} pages/s",
             "ingest", s.get("ingest_seconds")),
            ("spaCy `nlp.pipe`, every sentence", fl["spacy_s"],
             f"{_rate(fl['words'], fl['spacy_s'])} words/s", "", None),
            (f"embedding model ({fl.get('embedding_backend', 'onnx')}), the {fl['embedded']} "
             "texts embedded", fl["embeddings_s"],
             f"{_rate(fl['embedded'], fl['embeddings_s'])} texts/s", "", None),
            ("spaCy + embedding", fl["spacy_s"] + fl["embeddings_s"], "",
             "analyse", s.get("analyse_seconds")),
            ("**floor total**", total, "", "**cold run**", runs["cold"]["seconds"])]
    if "extractor_s" in fl:  # the PDF extractor the run used, in place of pdfplumber alone
        own = _one_core_floor(fl, "extractor_s")
        rows[1:1] = [(f"the run's PDF extractor (`{fl['extractor']}`), every PDF page",
                      fl["extractor_s"], f"{_rate(fl['pdf_pages'], fl['extractor_s'])} pages/s",
                      "ingest", s.get("ingest_seconds"))]
        rows.append(("floor total with the run's PDF extractor", own, "", "cold run",
                     runs["cold"]["seconds"]))
    lines = [f"| component (samples, scaled) | throughput | one core s | ÷ {cores} cores s | "
             "run part | run s | run / floor |", "|---|---|---|---|---|---|---|"]
    for name, seconds, rate, part, measured in rows:
        floor = seconds / cores
        ratio = f"{measured / floor:.2f}" if measured and floor else ""
        lines.append(f"| {name} | {rate} | {seconds:.1f} | {floor:.1f} | {part} | "
                     f"{measured if measured is not None else ''} | {ratio} |")
    return lines


def _own_floor_target(results: dict[str, Any], cores: int) -> list[str]:
    """The floor ratio again with the run's own PDF extractor in place of pdfplumber."""
    fl = results["floor"]
    if "extractor_s" not in fl:
        return []
    own = _one_core_floor(fl, "extractor_s") / cores
    return [f"| cold run / floor with the run's PDF extractor (`{fl['extractor']}`) | "
            f"≤ {TARGETS['floor_ratio']} | {results['runs']['cold']['seconds'] / own:.2f} |"]


def render(results: dict[str, Any]) -> str:
    """BENCHMARKS.md from the measured figures."""
    m, runs, fl = results["machine"], results["runs"], results["floor"]
    cold = runs["cold"]
    s = cold["summary"]
    n_docs, pages, sents = (results["corpus"]["documents"], results["out"]["pages"],
                            results["out"]["sentences"])
    cores = m["cores"] or 1
    floor = _one_core_floor(fl) / cores
    distinct = results["out"].get("distinct_sentences", 0) / max(sents, 1)
    options = results.get("options", "")
    lines = [
        "# Benchmarks", "",
        f"Measured by `python scripts/bench.py{options}` on {results['date']}. "
        f"{results.get('note', '')}".rstrip(), "",
        "## Machine", "",
        f"- CPU: {m['cpu']}, {m['cores']} cores; memory {m['memory_gb']} GB",
        f"- {m['os']}, Python {m['python']}; load average at start {m['load_average']}", "",
        "## Corpus", "", *_corpus_lines(results), "",
        "## End to end (`stancemap run`, local runner, subprocess)", "",
        "| run | seconds | share of cold | documents/s | pages/s | sentences/s | peak memory MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, run in runs.items():
        share = run["seconds"] / cold["seconds"]
        lines.append(f"| {label} | {run['seconds']:.1f} | {share:.1%} | "
                     f"{_rate(n_docs, run['seconds'])} | {_rate(pages, run['seconds'])} | "
                     f"{_rate(sents, run['seconds'])} | {run['peak_rss_mb']:.0f} |")
    lines += ["", "## Per stage (cold run)", "", "| stage | seconds | documents/s | pages/s | "
              "sentences/s | words/s |", "|---|---|---|---|---|---|"]
    words = results["out"].get("words", 0)
    for name in ("ingest", "analyse", "organisations", "arguments", "report"):
        seconds = s.get(f"{name}_seconds")
        if seconds:
            lines.append(f"| {name} | {seconds:.1f} | {_rate(n_docs, seconds)} | "
                         f"{_rate(pages, seconds)} | {_rate(sents, seconds)} | "
                         f"{_rate(words, seconds)} |")
    lines += ["", "## Floor (each component alone, one core; the run uses all cores)", "",
              *_floor_rows(results)]
    fixed = results.get("fixed")
    if fixed:
        lines += ["", f"## Fixed costs on the demo outputs ({FIXED_RUNS} runs after a warm-up)",
                  "", "| command | min s | median s | max s |", "|---|---|---|---|"]
        lines += [f"| `stancemap {name}` | {f['min']:.2f} | {f['median']:.2f} | "
                  f"{f['max']:.2f} |" for name, f in fixed.items()]
    lines += ["", f"## Against the targets (distinct sentences: {distinct:.1%})", "",
              "| target | goal | measured |", "|---|---|---|",
              f"| end to end pages/s | ≥ {TARGETS['pages_per_s']} | "
              f"{_rate(pages, cold['seconds'])} |",
              f"| cold run / floor (one-core total ÷ {cores}) | ≤ {TARGETS['floor_ratio']} | "
              + (f"{cold['seconds'] / floor:.2f} |" if floor else "n/a |"),
              *_own_floor_target(results, cores),
              f"| unchanged re-run / cold | ≤ {TARGETS['unchanged_share']:.0%} | "
              f"{runs['unchanged']['seconds'] / cold['seconds']:.1%} |",
              f"| one changed file / cold | ≤ {TARGETS['changed_share']:.0%} | "
              f"{runs['one_changed']['seconds'] / cold['seconds']:.1%} |",
              f"| peak memory | < {TARGETS['peak_gb']} GB | "
              f"{max(r['peak_rss_mb'] for r in runs.values()) / 1024:.2f} GB |"]
    scaling = results.get("scaling")
    if scaling:
        lines.append(f"| time at {scaling['docs_ratio']:.0f}× the documents "
                     f"({scaling['base_documents']} → {n_docs}) | ≤ "
                     f"{scaling['docs_ratio'] * 1.1:.0f}× | {scaling['time_ratio']:.1f}× |")
    if fixed:
        report, unchanged = fixed["report"]["median"], fixed["run (unchanged)"]["median"]
        lines += [f"| `stancemap report` on the demo outputs (median) | ≤ "
                  f"{TARGETS['report_s']:.0f} s | {report:.2f} s |",
                  f"| unchanged `stancemap run` on the demo outputs (median) | ≤ "
                  f"{TARGETS['unchanged_run_s']:.0f} s | {unchanged:.2f} s |"]
    return "\n".join(lines) + "\n"


def _out_counts(out: Path) -> dict[str, int]:
    import pyarrow.compute as pc

    from pipeline.io import OutputStore

    store = OutputStore(out)
    counts = {name: store.read_table(name).num_rows for name in ("documents", "pages", "sentences",
                                                                 "arguments", "errors")}
    texts = store.read_table("sentences")["text"]
    words = pc.list_value_length(pc.utf8_split_whitespace(texts))
    counts["words"] = int(pc.sum(words).as_py() or 0)
    counts["distinct_sentences"] = int(pc.count_distinct(texts).as_py())
    return counts


def _generate(work: Path, n_docs: int, repetitive: bool, keep: bool) -> dict[str, Any]:
    """The corpus of ``work`` (generated unless ``keep`` and already there) and what it holds."""
    corpus = work / "corpus"
    if not (keep and (work / "corpus.json").is_file()):
        shutil.rmtree(work, ignore_errors=True)
        print(f"generating {n_docs} documents in {corpus}", flush=True)
        made = (make_repetitive_corpus if repetitive else make_corpus)(corpus, n_docs)
        (work / "corpus.json").write_text(json.dumps(made), encoding="utf-8")
    shutil.rmtree(work / "out", ignore_errors=True)
    return dict(json.loads((work / "corpus.json").read_text(encoding="utf-8")))


def main(argv: list[str] | None = None) -> None:
    """Generate the corpus, run and measure, write BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", "--docs", type=int, default=1000, dest="documents",
                        help="documents to generate (default 1000)")
    parser.add_argument("--small", action="store_true", help="20 documents: a quick check")
    parser.add_argument("--repetitive", action="store_true",
                        help="the older corpus recombining the sentences of corpus/")
    parser.add_argument("--no-scaling", action="store_true",
                        help="skip the cold run of a tenth of the documents")
    parser.add_argument("--workdir", type=Path, default=ROOT / "outputs" / "bench")
    parser.add_argument("--report", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--note", default="", help="a sentence added to BENCHMARKS.md")
    parser.add_argument("--keep-corpus", action="store_true",
                        help="reuse the generated corpus of an earlier run of the same size")
    args = parser.parse_args(argv)
    n_docs = 20 if args.small else args.documents
    kind = "repetitive" if args.repetitive else "realistic"
    home = args.workdir / "home"
    options = "".join([f" --documents {n_docs}" if n_docs != 1000 else "",
                       " --repetitive" if args.repetitive else "",
                       " --no-scaling" if args.no_scaling else ""])
    results: dict[str, Any] = {"machine": machine(), "repetitive": args.repetitive,
                               "options": options, "note": args.note,
                               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    if not args.no_scaling and n_docs >= 20:
        base = args.workdir / f"{kind}-{n_docs // 10}"
        _generate(base, n_docs // 10, args.repetitive, args.keep_corpus)
        base_run = measured_run(base / "corpus", base / "out", home, "cold-tenth")
        results["scaling"] = {"base_documents": n_docs // 10, "docs_ratio": 10.0,
                              "base_seconds": base_run.seconds, "time_ratio": None}
    work = args.workdir / f"{kind}-{n_docs}"
    corpus, out = work / "corpus", work / "out"
    results["corpus"] = _generate(work, n_docs, args.repetitive, args.keep_corpus)
    runs = {"cold": measured_run(corpus, out, home, "cold"),
            "unchanged": measured_run(corpus, out, home, "unchanged")}
    results["changed_file"] = change_one_file(corpus)
    runs["one_changed"] = measured_run(corpus, out, home, "one_changed")
    results["runs"] = {k: vars(v) for k, v in runs.items()}
    if "scaling" in results:
        results["scaling"]["time_ratio"] = runs["cold"].seconds / results["scaling"][
            "base_seconds"]
    results["out"] = _out_counts(out)
    results["floor"] = _floor(corpus, out)
    results["out"]["embedded"] = results["floor"]["embedded"]
    results["fixed"] = fixed_costs(args.workdir, home)
    (work / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    args.report.write_text(render(results) + _notes(args.report), encoding="utf-8")
    print(f"wrote {args.report}", flush=True)


NOTES_MARKER = "<!-- notes: written by hand, kept when the script rewrites the rest -->"


def _notes(report: Path) -> str:
    """The hand-written part of an existing report (from ``NOTES_MARKER`` on), if any."""
    text = report.read_text(encoding="utf-8") if report.exists() else ""
    return "\n" + text[text.index(NOTES_MARKER):] if NOTES_MARKER in text else ""


def _floor(corpus: Path, out: Path) -> dict[str, Any]:
    """The one-core floors of the run of ``corpus`` into ``out``, measured in this process."""
    from pipeline.config import load_settings
    from pipeline.io import OutputStore

    one_core()
    settings = load_settings()
    store = OutputStore(out)
    sample, pdf_pages = pdf_sample(corpus)
    pdf_s = floor_pdfplumber(sample, pdf_pages)
    extractor_s = floor_extractor(sample, pdf_pages, settings.ingest.pdf_extractor)
    sentences = store.read_table("sentences").column("text").to_pylist()
    spacy_s, words = floor_spacy(sentences, settings.nlp.spacy_model, settings.nlp.batch_size)
    folder = store.cache_dir("embeddings")
    texts = embedded_texts(sentences, folder)
    embed_s, embedded = floor_embeddings(texts, settings.nlp, folder)
    return {"pdfplumber_s": round(pdf_s, 2), "pdf_pages": pdf_pages,
            "extractor": settings.ingest.pdf_extractor, "extractor_s": round(extractor_s, 2),
            "spacy_s": round(spacy_s, 2), "words": words,
            "embeddings_s": round(embed_s, 2), "embedded": embedded,
            "embedding_backend": settings.nlp.embedding_backend}


if __name__ == "__main__":
    main()
