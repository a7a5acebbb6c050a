"""A realistic synthetic corpus of consultation responses, for the benchmark.

Every sentence is built from the templates below (written for this benchmark; no sentence of a
real response is used) with varied organisations, places, services, numbers, vocabulary and
clause order, so almost every sentence is new, as in real text: no line is written more than
``MAX_COPIES`` times across the corpus (a counter rejects the draw and draws again). Documents
have the shape of real responses: a title page, a table of contents, numbered consultation
questions with answers, running footers, some two-column pages, a few scanned-looking
image-only pages, and a few wholly scanned documents (which ingestion turns into error rows).
About 85 % of the documents are PDFs laid out with reportlab, the rest text or Markdown files.
Seeded: the same options give byte-identical files.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WORDS_PER_PAGE = 500
MAX_COPIES = 3
PDF_SHARE = 0.85
SCANNED_SHARE = 0.03  # wholly image-only PDFs: error rows
SCANNED_PAGE_SHARE = 0.1  # PDFs ending with a scanned (image-only) letter page
TWO_COLUMN_SHARE = 0.2  # body pages set in two columns
PAGES = (4, 18)

PLACES = ("Ashby", "Brackenfold", "Colworth", "Dunmere", "Eastwick", "Fernley", "Glenholt",
          "Harwood", "Ilsham", "Kingsmoor", "Larkhill", "Marbury", "Northcote", "Oakhurst",
          "Penwith Vale", "Queensbridge", "Redmarsh", "Stowford", "Thornbury", "Upperton",
          "Wrenfield", "Yarrowby", "Altonmere", "Beckhaven", "Calder Moss", "Denholme Cross",
          "Elmstead", "Foxcombe", "Greyling", "Hollinbrook", "Kestrel Bay", "Lowfield")
ORG_KINDS = ("City Council", "County Council", "Borough Council", "District Council",
             "Clinical Commissioning Group", "NHS Foundation Trust", "Hospitals NHS Trust",
             "Community Health NHS Trust", "Integrated Care System", "Health and Wellbeing Board",
             "Healthwatch", "Primary Care Network", "Local Medical Committee",
             "Council for Voluntary Service", "Care Association")
NATIONAL = ("Royal College of Occupational Therapists", "Society of Community Practitioners",
            "Association of Care Directors", "Federation of Health Partnerships",
            "Institute for Public Service Reform", "Centre for Local Health Policy",
            "Union of Health and Care Staff", "Alliance of Patient Voices",
            "Network of Rural Health Providers", "College of Allied Health Leaders",
            "Foundation for Integrated Care Research", "Confederation of Community Providers")
SERVICES = ("community nursing", "mental health services", "adult social care", "urgent care",
            "primary care", "maternity services", "children's services", "dementia care",
            "hospital discharge", "public health", "learning disability services",
            "palliative care", "district nursing", "pharmacy services", "dental services",
            "sexual health services", "drug and alcohol services", "reablement",
            "speech and language therapy", "specialised commissioning")
GROUPS = ("older residents", "unpaid carers", "young people leaving care", "people with "
          "learning disabilities", "rural patients", "people experiencing homelessness",
          "families on low incomes", "frail patients", "people with long-term conditions",
          "residents of care homes", "ethnic minority communities", "new parents",
          "people in recovery", "armed forces veterans", "students", "shift workers")
PROPOSALS = ("putting integrated care systems on a statutory footing",
             "the creation of a statutory ICS body", "a joint committee with an accountable "
             "officer", "absorbing CCG commissioning functions into the ICS",
             "permissive membership of the ICS board", "transferring NHS England's direct "
             "commissioning to ICSs", "a new duty to collaborate", "the proposed "
             "provider collaboratives", "a single pot of money for each system",
             "the proposed changes to procurement rules", "place-based partnership boards",
             "a lead provider model for each place")
OPTIONS = ("Option 1", "Option 2", "the first option", "the second option",
           "the statutory ICS body model", "the joint committee model")
SUPPORT = ("supports", "strongly supports", "welcomes", "endorses", "is in favour of",
           "agrees with", "broadly supports", "backs")
OPPOSE = ("opposes", "does not support", "has serious reservations about", "rejects",
          "cannot support", "disagrees with", "is not persuaded by", "objects to")
CONDITION = ("provided that", "as long as", "only if", "on condition that", "so long as")
CONDITIONS = ("local authorities keep an equal voice on the board",
              "funding follows the new responsibilities", "clinical leadership stays "
              "visible at place level", "the voluntary sector has a formal seat",
              "accountability to local residents is written into the guidance",
              "the transition does not distract from recovery after the pandemic",
              "staff are consulted before any transfer", "existing pooled budgets are "
              "protected", "smaller providers are not squeezed out", "the timetable allows "
              "at least {n} months of preparation")
REASONS = ("joint budgets in {place} already fund {n} shared posts",
           "{group} in {place} depend on {service} that cross organisational boundaries",
           "waiting times for {service} rose by {pct} per cent last year",
           "our {service} teams already work from {n} shared sites",
           "the {place} partnership saved £{m} million through joint purchasing",
           "{pct} per cent of our budget is spent on {service}",
           "{group} told us in {n} listening events that services feel fragmented",
           "the current arrangements for {service} duplicate {n} separate contracts",
           "vacancy rates in {service} now stand at {pct} per cent",
           "{n} care homes in {place} rely on the same discharge team",
           "our survey of {n} {group} found strong support for joined-up care")
OPENERS = ("In our view", "On balance", "Having consulted our members", "After discussion at "
           "our {month} board meeting", "Taking everything into account", "As a general "
           "principle", "From our experience in {place}", "Speaking for our {n} members",
           "Looking ahead to {year}", "Put simply")
VERBS_CONCERN = ("is concerned that", "worries that", "fears that", "notes with concern that",
                 "warns that", "is anxious that")
CONCERNS = ("{proposal} could weaken the voice of {group}",
            "{service} may lose funding during the transition",
            "the pace of change leaves too little time to prepare {service}",
            "accountability will be blurred between the ICS and {place}",
            "the new body will be dominated by acute hospital trusts",
            "{n} existing agreements on {service} will need to be renegotiated",
            "smaller councils such as {place} will struggle to take part",
            "the costs of reorganisation could reach £{m} million")
ASKS = ("We ask {authority} to {action}.", "We would urge {authority} to {action}.",
        "{authority} should {action}.", "We recommend that {authority} {action_s}.",
        "It is essential that {authority} {action_s}.")
AUTHORITIES = ("NHS England", "the Department of Health and Social Care", "the government",
               "ministers", "the national team", "each ICS", "the regional team")
ACTIONS = (("publish clear guidance on {service}", "publishes clear guidance on {service}"),
           ("set out how {group} will be involved", "sets out how {group} will be involved"),
           ("protect funding for {service}", "protects funding for {service}"),
           ("give places at least {n} months to prepare", "gives places at least {n} months "
            "to prepare"),
           ("test the model in {place} first", "tests the model in {place} first"),
           ("report on progress every {n} months", "reports on progress every {n} months"),
           ("consult again before legislating on {proposal}", "consults again before "
            "legislating on {proposal}"))
PURPOSES = ("", " so that {group} in {place} see the benefit",
            " before the changes take effect next year", " so that {service} are not disrupted",
            " within {n} months of the bill", " and share the evidence with {other}")
FACTS = ("The {place} system covers about {k} thousand people and {n} GP practices.",
         "Last year {place} spent £{m} million on {service}, {pct} per cent more than in {year}.",
         "Some {n} staff work across health and care in {place}.",
         "{group} make up about {pct} per cent of the population in {place}.",
         "Our {service} team handled {k} thousand referrals in {year}.",
         "Since {year} we have pooled £{m} million with our partners in {place}.",
         "A review in {month} {year} found {n} gaps in {service} across {place}.")
QUESTIONS = ("Do you agree that giving ICSs a statutory footing is the right approach?",
             "Do you agree that Option 2 offers a greater incentive to collaborate?",
             "Do you agree that membership of the ICS board should be permissive?",
             "Do you agree that NHS England's direct commissioning should transfer to ICSs?")
QUESTION_LABELS = ("Question {q}", "Q{q}.", "Consultation question {q}:", "{q}.",
                   "Question {q} -", "Response to question {q}:")
QUESTION_TAILS = ("", " (page {p} of the consultation document)", " ({org}'s answer)",
                  " - our answer", " [{month} {year}]")
SECTIONS = ("About {org}", "Summary of our response", "Our position on {option}",
            "Workforce and {service}", "Finance and {service}", "The role of {place}",
            "Involving {group}", "Governance and accountability", "Next steps for {place}",
            "Conclusion", "Annex: {service} in {place}", "Evidence from {place}")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
YEARS = tuple(range(2012, 2022))


@dataclass
class Writer:
    """Draws sentences and lines from the templates; no text more than ``MAX_COPIES`` times."""

    rng: random.Random
    orgs: list[str]
    seen: Counter[str] = field(default_factory=Counter)
    lines: int = 0

    def fill(self, template: str, org: str, capital: bool = True) -> str:
        """``template`` with its slots drawn at random (recursively), capitalised."""
        r = self.rng
        values = {"place": r.choice(PLACES), "service": r.choice(SERVICES),
                  "group": r.choice(GROUPS), "proposal": r.choice(PROPOSALS),
                  "option": r.choice(OPTIONS), "org": org, "other": r.choice(self.orgs),
                  "n": r.randint(2, 60), "k": r.randint(11, 980), "m": r.randint(1, 240),
                  "pct": r.randint(3, 64), "year": r.choice(YEARS), "month": r.choice(MONTHS),
                  "p": r.randint(4, 40), "authority": r.choice(AUTHORITIES)}
        if "{action" in template:
            action = r.choice(ACTIONS)
            values["action"], values["action_s"] = (self.fill(a, org, False) for a in action)
        text = template.format(**values)
        return text[:1].upper() + text[1:] if capital else text

    def unique(self, make: Callable[[], str]) -> str:
        """A line from ``make`` written fewer than ``MAX_COPIES`` times so far."""
        for _ in range(50):
            text = make()
            if self.seen[text] < MAX_COPIES:
                break
        self.seen[text] += 1
        self.lines += 1
        return text

    def sentence(self, org: str) -> str:
        """One body sentence: a position, a reason, a concern, a fact or a request, with its
        clauses in one of several orders."""
        return self.unique(lambda: self.fill(self._template(org), org))

    def _template(self, org: str) -> str:
        r = self.rng
        holder = r.choice((org, org, "We", "Our board", "The partnership", r.choice(self.orgs)))
        kind = r.random()
        if kind < 0.3:
            verb = r.choice(SUPPORT if r.random() < 0.55 else OPPOSE)
            main = f"{holder} {_agree(verb, holder)} {r.choice((*PROPOSALS, *OPTIONS))}"
            reason = (f"{r.choice(CONDITION)} {r.choice(CONDITIONS)}" if r.random() < 0.3
                      else f"because {r.choice(REASONS)}")
            order = r.random()
            if order < 0.35:
                return f"{r.choice(OPENERS)}, {main} {reason}{self._more()}."
            if order < 0.55:
                return f"{reason[0].upper()}{reason[1:]}, {main}{self._more()}."
            return f"{main} {reason}{self._more()}."
        if kind < 0.5:
            concern = f"{holder} {_agree(r.choice(VERBS_CONCERN), holder)} {r.choice(CONCERNS)}"
            return f"{concern}{self._more()}."
        if kind < 0.7:
            return f"{r.choice(FACTS)[:-1]}{self._more()}."
        if kind < 0.85:
            return f"{r.choice(ASKS)[:-1]}{r.choice(PURPOSES)}."
        if r.random() < 0.5:
            return f"{r.choice(OPENERS)}, {r.choice(REASONS)}, and {r.choice(REASONS)}."
        return f"{r.choice(REASONS)}; {r.choice(CONCERNS)}."

    def _more(self) -> str:
        """Nothing, or a further clause (real sentences run to about 25 words)."""
        r = self.rng
        if r.random() < 0.4:
            return ""
        return r.choice((f", and {r.choice(REASONS)}", f", although {r.choice(REASONS)}",
                         f", while {r.choice(REASONS)}", f"; {r.choice(CONCERNS)}",
                         f", which matters because {r.choice(REASONS)}"))

    def paragraph(self, org: str, words: int) -> str:
        """Sentences adding up to about ``words`` words."""
        out: list[str] = []
        while sum(len(s.split()) for s in out) < words:
            out.append(self.sentence(org))
        return " ".join(out)


_PLURAL = {"is": "are", "has": "have", "does": "do", "supports": "support",
           "welcomes": "welcome", "endorses": "endorse", "agrees": "agree", "backs": "back",
           "opposes": "oppose", "rejects": "reject", "disagrees": "disagree",
           "objects": "object", "worries": "worry", "fears": "fear", "notes": "note",
           "warns": "warn"}


def _agree(verb: str, holder: str) -> str:
    """``verb`` (third person singular) agreeing with ``holder`` ("We" takes the plural)."""
    if holder != "We":
        return verb
    return " ".join(_PLURAL.get(word, word) for word in verb.split())


Block = tuple[str, str]  # (style: title, heading, question, body, toc, small), text


@dataclass(frozen=True)
class Document:
    """One drawn response: its pages of blocks, and how it is laid out."""

    name: str
    org: str
    footer: str
    pages: list[list[Block]]
    two_column: frozenset[int]
    scanned: frozenset[int]
    fmt: str


def _sections(writer: Writer, org: str, count: int) -> list[str]:
    r = writer.rng
    return [writer.unique(lambda: writer.fill(r.choice(SECTIONS), org)) for _ in range(count)]


def _question_block(writer: Writer, org: str, q: int) -> Block:
    r = writer.rng

    def make() -> str:
        label = r.choice(QUESTION_LABELS).format(q=q)
        tail = writer.fill(r.choice(QUESTION_TAILS), org, False)
        return f"{label} {QUESTIONS[q - 1]}{tail}"

    return "question", writer.unique(make)


def _body_page(writer: Writer, org: str, heading: str, question: int | None) -> list[Block]:
    """A page of about ``WORDS_PER_PAGE`` words: a heading, maybe a question, answers."""
    blocks: list[Block] = [("heading", heading)]
    if question is not None:
        blocks.append(_question_block(writer, org, question))
    used = sum(len(t.split()) for _, t in blocks)
    while used < WORDS_PER_PAGE:
        paragraph = writer.paragraph(org, min(writer.rng.randint(60, 140),
                                              WORDS_PER_PAGE - used))
        blocks.append(("body", paragraph))
        used += len(paragraph.split())
    return blocks


def draw_document(writer: Writer, i: int) -> Document:
    """Document ``i``: its organisation, pages and layout, drawn from ``writer``."""
    r = writer.rng
    org = r.choice(writer.orgs)
    n_pages = r.randint(*PAGES)
    fmt = "pdf" if r.random() < PDF_SHARE else r.choice(("txt", "md"))
    ref = f"{''.join(w[0] for w in org.split() if w[0].isupper())}/{r.choice(YEARS)}/{i:05d}"
    title = writer.unique(lambda: writer.fill(r.choice((
        "{org} response to the consultation on integrating care",
        "Integrating care: the response of {org}", "{org}: submission to NHS England on the "
        "future of integrated care systems", "Briefing from {org} on the proposals for ICSs",
        "Report to the {month} {year} board of {org}: integrating care")), org))
    sections = _sections(writer, org, n_pages)
    questions = r.sample(range(1, 5), k=min(4, max(0, n_pages - 3)))
    cover: list[Block] = [("title", title),
                          ("small", writer.unique(lambda: writer.fill(
                              f"Submitted {{month}} {{year}}; reference {ref}; contact: "
                              "the policy team, {place}.", org)))]
    cover += _body_page(writer, org, sections[0], None)[1:]
    pages = [cover]
    if n_pages >= 6:
        toc = [("heading", "Contents")] + [("toc", f"{k}. {s} {'.' * 12} {k + 1}")
                                           for k, s in enumerate(sections[1:], start=1)]
        toc += _body_page(writer, org, sections[1], None)
        pages.append(toc)
    while len(pages) < n_pages:
        question = questions.pop(0) if questions else None
        pages.append(_body_page(writer, org, sections[len(pages) % len(sections)], question))
    two_column = frozenset(p for p in range(1, n_pages) if r.random() < TWO_COLUMN_SHARE)
    scanned: frozenset[int] = frozenset()
    if fmt == "pdf" and r.random() < SCANNED_SHARE:
        scanned = frozenset(range(n_pages))
    elif fmt == "pdf" and r.random() < SCANNED_PAGE_SHARE:
        scanned = frozenset({n_pages - 1})
    footer = f"{org} | {ref} | page "
    return Document(f"response-{i:05d}.{fmt}", org, footer, pages, two_column, scanned, fmt)


# --- layout -----------------------------------------------------------------------------------


def _scan_image(seed: int) -> Any:
    """A grey page with dark strokes in lines, like a scanned typed letter (no text layer)."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.new("L", (620, 877), 236)
    draw = ImageDraw.Draw(image)
    y = 70
    while y < 800:
        x = 60
        while x < 560:
            width = rng.randint(8, 48)
            draw.rectangle((x, y, min(x + width, 560), y + 7), fill=rng.randint(30, 90))
            x += width + rng.randint(5, 9)
        y += rng.choice((16, 16, 16, 32))
    for _ in range(4000):
        draw.point((rng.randrange(620), rng.randrange(877)), fill=rng.randint(150, 220))
    return image


def write_pdf(doc: Document, path: Path) -> None:
    """Lay ``doc`` out with reportlab: one- and two-column pages, a running footer, image-only
    pages for the scanned ones."""
    from xml.sax.saxutils import escape

    from reportlab import rl_config
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import (
        BaseDocTemplate,
        Frame,
        NextPageTemplate,
        PageBreak,
        PageTemplate,
        Paragraph,
        Spacer,
    )

    rl_config.invariant = 1
    styles = getSampleStyleSheet()
    style = {"title": styles["Title"], "heading": styles["Heading2"],
             "question": styles["Heading4"], "body": styles["BodyText"],
             "toc": styles["Normal"], "small": styles["Italic"]}
    width, height = A4
    margin, gap = 56.0, 18.0
    body_h = height - 2 * margin
    one = [Frame(margin, margin, width - 2 * margin, body_h, id="one")]
    half = (width - 2 * margin - gap) / 2
    two = [Frame(margin, margin, half, body_h, id="left"),
           Frame(margin + half + gap, margin, half, body_h, id="right")]

    def footer(canvas: Any, template: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(margin, 30, f"{doc.footer}{canvas.getPageNumber()}")
        canvas.restoreState()

    def scan(canvas: Any, template: Any) -> None:
        image = ImageReader(_scan_image(hash_seed(doc.name, canvas.getPageNumber())))
        canvas.drawImage(image, 0, 0, width=width, height=height)

    templates = [PageTemplate("one", one, onPage=footer), PageTemplate("two", two, onPage=footer),
                 PageTemplate("scan", [Frame(0, 0, width, height, id="blank")], onPage=scan)]
    story: list[Any] = []
    for number, blocks in enumerate(doc.pages):
        kind = "scan" if number in doc.scanned else "two" if number in doc.two_column else "one"
        if number:
            story += [NextPageTemplate(kind), PageBreak()]
        elif kind != "one":
            templates = [t for t in templates if t.id == kind] + templates
        if kind == "scan":
            story.append(Spacer(1, 1))
            continue
        story += [Paragraph(escape(text), style[name]) for name, text in blocks]
    pdf = BaseDocTemplate(str(path), pagesize=A4, title=doc.pages[0][0][1], author=doc.org,
                          pageTemplates=templates)
    pdf.build(story)


def hash_seed(name: str, page: int) -> int:
    """A stable seed from a file name and a page number (``hash`` is salted per process)."""
    return sum((i + 1) * ord(c) for i, c in enumerate(name)) * 1009 + page


def write_text(doc: Document, path: Path) -> None:
    """``doc`` as a text file (blank lines between blocks) or Markdown (headings marked)."""
    marks = {"title": "# ", "heading": "## ", "question": "### "} if doc.fmt == "md" else {}
    parts = [f"{marks.get(name, '')}{text}" for page in doc.pages for name, text in page]
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")


def _lay_out(doc: Document, path: Path) -> None:
    if doc.fmt == "pdf":
        write_pdf(doc, path)
    else:
        write_text(doc, path)


def organisations(rng: random.Random) -> list[str]:
    """Made-up local organisations (place + kind) and national bodies."""
    local = [f"{place} {kind}" for place in PLACES for kind in ORG_KINDS]
    return sorted(rng.sample(local, k=len(local) // 2)) + list(NATIONAL)


def make_corpus(folder: Path, n_docs: int, seed: int = 7) -> dict[str, Any]:
    """Write ``n_docs`` responses into ``folder``; return what was made, with the share of
    distinct lines (sentences, headings and table-of-contents entries)."""
    rng = random.Random(seed)
    writer = Writer(rng, organisations(rng))
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, Any] = {"documents": 0, "pdf": 0, "text": 0, "pdf_pages": 0,
                            "scanned_documents": 0, "scanned_pages": 0, "two_column_pages": 0,
                            "words": 0}
    # The text is drawn here, in order; only the layout (reportlab, pure Python) is spread
    # over the cores, so the corpus does not depend on how many there are.
    with ProcessPoolExecutor(os.cpu_count() or 1) as layout:
        pending = []
        for i in range(n_docs):
            doc = draw_document(writer, i)
            pending.append(layout.submit(_lay_out, doc, folder / doc.name))
            made["documents"] += 1
            made["pdf" if doc.fmt == "pdf" else "text"] += 1
            if doc.fmt == "pdf":
                made["pdf_pages"] += len(doc.pages)
                made["scanned_pages"] += len(doc.scanned)
                made["scanned_documents"] += len(doc.scanned) == len(doc.pages)
                made["two_column_pages"] += len(doc.two_column - doc.scanned)
            made["words"] += sum(len(t.split()) for p in doc.pages for _, t in p)
        for future in pending:
            future.result()
    made["lines"] = writer.lines
    made["distinct_lines"] = len(writer.seen)
    made["max_copies"] = max(writer.seen.values(), default=0)
    return made
