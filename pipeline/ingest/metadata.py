"""Document metadata inferred from the text (title, date, kind) and the optional sidecar YAML.

The rules are general: labelled fields ("Title", "Report on:", "Meeting Date:"), the document's
first heading, its running header, a date standing alone near the top; and kinds scored
from textual cues.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import DocumentError
from pipeline.ingest.clean import collapse_spaces, normalize
from pipeline.ingest.dates import parse_date
from pipeline.ingest.structure import Block
from pipeline.safety import printable_path

log = logging.getLogger(__name__)

DOC_KINDS = (
    "nhse_paper",
    "council_report",
    "membership_briefing",
    "consultation_response",
    "ics_update",
    "other",
)
SIDECAR_KEYS = frozenset({"title", "author_org", "date", "doc_kind", "password"})

_TOP_LINES = 15
_LABEL_LINES = 40
_MAX_TITLE = 200
_GENERIC_HEADINGS = frozenset(
    {
        "key points",
        "key messages",
        "introduction",
        "contents",
        "table of contents",
        "summary",
        "executive summary",
        "background",
        "overview",
        "foreword",
        "purpose",
        "abstract",
        "context",
        "agenda item",
        "minutes",
    }
)
_TITLE_LABEL = re.compile(
    r"^\s*(?:report\s+title|title|report\s+on|subject|paper\s+title)\s*(?::\s*|\t+)(.+)$",
    re.IGNORECASE,
)
_DATE_LABEL = re.compile(
    r"^\s*(?:meeting\s+date|date\s+of\s+meeting|date\s+of\s+report|report\s+date|"
    r"publication\s+date|date\s+published|published|date|dated)\s*(?::\s*|\t+)(.+)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Sidecar:
    """The overrides read from ``<file><sidecar_suffix>``."""

    title: str | None = None
    author_org: str | None = None
    date: dt.date | None = None
    doc_kind: str | None = None
    password: str | None = None

    def given(self) -> set[str]:
        """The metadata fields the sidecar sets (the password is not metadata)."""
        fields = ("title", "author_org", "date", "doc_kind")
        return {f for f in fields if getattr(self, f) is not None}


class _SidecarLoader(yaml.SafeLoader):
    """YAML's safe loader without the implicit timestamps and booleans: a sidecar's
    ``date: 2020-02-30`` reaches the date check as text (naming the key), and ``title: No``
    stays the word it is."""


_SidecarLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_sidecar(path: Path | None, name: str, years: tuple[int, int] = (1, 9999)) -> Sidecar:
    """Parse a sidecar file (YAML mapping of the keys in ``SIDECAR_KEYS``) safely; a date
    outside ``years`` (first, last) is refused."""
    if path is None:
        return Sidecar()
    shown = printable_path(path.name)
    try:
        data = _load_yaml(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        raise DocumentError(
            name, f"cannot read sidecar {shown}: {_yaml_problem(exc)}", kind="sidecar"
        ) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DocumentError(name, f"cannot read sidecar {shown}: {exc}", kind="sidecar") from None
    if data is None:
        return Sidecar()
    if not isinstance(data, dict):
        raise DocumentError(name, f"sidecar {shown} must be a mapping", kind="sidecar")
    unknown = set(map(str, data)) - SIDECAR_KEYS
    if unknown:
        raise DocumentError(
            name,
            f"sidecar {shown} has unknown keys {sorted(unknown)} "
            f"(allowed: {', '.join(sorted(SIDECAR_KEYS))})",
            kind="sidecar",
        )
    text = {key: _optional_str(data.get(key), key, name, shown)
            for key in ("title", "author_org", "doc_kind", "password")}
    text |= {key: _one_line(text[key]) for key in ("title", "author_org", "doc_kind")}
    kind = text["doc_kind"]
    if kind is not None and kind not in DOC_KINDS:
        raise DocumentError(
            name,
            f"sidecar {shown}: doc_kind {kind!r} is not one of {', '.join(DOC_KINDS)}",
            kind="sidecar",
        )
    return Sidecar(
        title=text["title"],
        author_org=text["author_org"],
        date=_sidecar_date(data.get("date"), name, shown, years),
        doc_kind=kind,
        password=text["password"],
    )


def _load_yaml(text: str) -> Any:
    """``text`` parsed by :class:`_SidecarLoader` (a safe loader: no tags that build objects)."""
    loader = _SidecarLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    """Where and what the YAML syntax error is, without the quoted line (it may hold the
    password)."""
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"YAML syntax error at {where}{exc.problem or exc.context or 'invalid YAML'}"


def _optional_str(value: Any, key: str, name: str, shown: str) -> str | None:
    """A text value; numbers are taken as written; lists, mappings and the like are refused
    (their Python form is not metadata)."""
    if value is None:
        return None
    if not isinstance(value, str | int | float):
        raise DocumentError(
            name, f"sidecar {shown}: {key} must be text, not a {_yaml_type(value)}",
            kind="sidecar",
        )
    text = str(value).strip()
    return text or None


def _one_line(text: str | None) -> str | None:
    """Sidecar metadata cleaned like document text, on one line: no control, invisible or
    bidirectional characters (a double-quoted YAML ``"\\e"`` writes an escape character)."""
    if text is None:
        return None
    return " ".join(normalize(text).split()) or None


def _yaml_type(value: Any) -> str:
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def _sidecar_date(value: Any, name: str, shown: str, years: tuple[int, int]) -> dt.date | None:
    if value is None:
        return None
    parsed = parse_date(str(value)) if isinstance(value, str | int) else None
    if parsed is None:
        raise DocumentError(
            name,
            f"sidecar {shown}: date {str(value)!r} is not a date (write it as 2020-12-31 or "
            "31 December 2020; the day must exist in that month)",
            kind="sidecar",
        )
    if not years[0] <= parsed.year <= years[1]:
        raise DocumentError(
            name,
            f"sidecar {shown}: date {parsed.isoformat()} is outside the plausible years "
            f"{years[0]}-{years[1]} (ingest.earliest_year, ingest.latest_year)",
            kind="sidecar",
        )
    return parsed


def infer_date(lines: Sequence[str], years: tuple[int, int] = (1, 9999)) -> dt.date | None:
    """The document's own date: a labelled date field near the top, else a line near the top
    that is nothing but a date. Dates inside sentences are not the document's date, nor are
    dates outside ``years`` (first, last: "1 January 0001" is a placeholder, not a date)."""
    top = [line for line in lines if line.strip()]
    for line in top[:_LABEL_LINES]:
        match = _DATE_LABEL.match(line)
        if match:
            found = parse_date(re.split(r"\t", match.group(1).strip())[0])
            if found is not None and years[0] <= found.year <= years[1]:
                return found
    for line in top[:_TOP_LINES]:
        found = parse_date(line)
        if found is not None and years[0] <= found.year <= years[1]:
            return found
    return None


def infer_title(
    lines: Sequence[str],
    blocks: Sequence[Block],
    format_title: str | None,
    running: Sequence[str],
) -> str | None:
    """The title: a labelled title field, else the format's own title (HTML ``<title>``,
    Word properties, the first Markdown ``#`` heading), else the running header, else the first
    heading that is not a generic section name."""
    for line in [x for x in lines if x.strip()][:_LABEL_LINES]:
        match = _TITLE_LABEL.match(line)
        if match:
            value = re.split(r"\t", match.group(1).strip())[0]
            if value.strip():
                return _shorten(value)
    if format_title and not _is_generic(format_title):
        return _shorten(format_title)
    header = _running_title(running)
    if header:
        return header
    candidates = [b for b in blocks[:_TOP_LINES] if _could_be_title(b.text)]
    for block in candidates:
        if block.kind == "heading":
            return _shorten(block.text)
    return _shorten(candidates[0].text) if candidates else None


def _could_be_title(text: str) -> bool:
    """Not a generic section name, not a date, not a lone reference code ("ICS0016")."""
    words = text.split()
    code = len(words) == 1 and any(ch.isdigit() for ch in text)
    return bool(words) and not code and not _is_generic(text) and parse_date(text) is None


def _running_title(running: Sequence[str]) -> str | None:
    candidates = [r for r in running if len(r.split()) >= 3 and any(c.isalpha() for c in r)]
    if not candidates:
        return None
    counts: dict[str, int] = {}
    for c in candidates:
        counts[c] = counts.get(c, 0) + 1
    # Lines without digits first: "Page 3 of 10" footers are not titles.
    return _shorten(
        max(counts, key=lambda c: (not any(ch.isdigit() for ch in c), counts[c], len(c)))
    )


def _is_generic(text: str) -> bool:
    return collapse_spaces(text).strip(" :").lower() in _GENERIC_HEADINGS


def _shorten(text: str) -> str:
    text = collapse_spaces(text)
    return text if len(text) <= _MAX_TITLE else text[: _MAX_TITLE - 1].rstrip() + "…"


# --- document kind -----------------------------------------------------------------------

_CUES: dict[str, list[tuple[str, int]]] = {
    "council_report": [
        (r"\b(?:borough|county|city|district|metropolitan|parish) council\b", 1),
        (r"\bwards? affected\b", 3),
        (r"^\s*report of\b", 2),
        (r"\brecommended decisions?\b", 2),
        (r"\b(?:cabinet|scrutiny) (?:meeting|member|committee|report)\b", 2),
        (r"\bportfolio holder\b", 2),
        (r"^\s*minutes:?\s*$", 2),
        (r"\bthe committee (?:received|noted|considered|agreed|resolved)\b", 2),
        (r"\boverview and scrutiny\b", 2),
        (r"\bcouncillors?\b", 1),
    ],
    "nhse_paper": [
        (r"\bboard meetings? held in common\b", 3),
        (r"\bdecision making responsibility\b", 2),
        (r"\bagenda item\b", 1),
        (r"\bthe board is (?:asked|invited) to\b", 2),
        (r"\bnhs england\b.*\bnhs improvement\b", 1),
    ],
    "membership_briefing": [
        (r"\bour members\b", 2),
        (r"\bmember networks?\b", 2),
        (r"\bmembership body\b", 2),
        (r"\bbriefing\b", 1),
        (r"\bon behalf of (?:our )?members\b", 2),
    ],
    "consultation_response": [
        (r"\b(?:our|this) (?:formal )?response to\b", 2),
        (r"\bwe (?:welcome|support|oppose) the (?:proposals?|consultation)\b", 1),
        (r"\brespond(?:s|ing)? to (?:the|this) consultation\b", 2),
        (r"\bconsultation response\b", 2),
        (r"\bresponse to\b", 1),
        (r"\bwritten (?:evidence|submission)\b", 2),
        (r"\bresponse (?:sent )?on behalf of\b", 2),
        (r"\bsubmission to\b", 1),
        (r"\bwe welcome the opportunity to (?:respond|comment)\b", 2),
    ],
    "ics_update": [
        (r"\bics development\b", 2),
        (r"\b(?:development )?update\b", 1),
        (r"\bkey messages\b", 2),
        (r"\bour ics\b", 2),
        (r"\bpartners in the ics\b", 2),
        (r"\bics partnership\b", 1),
    ],
}
_COMPILED = {
    kind: [(re.compile(p, re.IGNORECASE | re.MULTILINE), w) for p, w in cues]
    for kind, cues in _CUES.items()
}
_MIN_KIND_SCORE = 2
_KIND_SCAN_CHARS = 100_000  # cues sit in the opening pages; bounded time on huge texts
_TITLE_WEIGHT = 2


def infer_kind(title: str | None, text: str) -> str:
    """The kind with the highest cue score (cues in the title count double); ``other`` when no
    kind reaches the minimum score. Ties go to the kind listed first in ``DOC_KINDS``. Only
    the first ``_KIND_SCAN_CHARS`` characters of ``text`` are read."""
    text = text[:_KIND_SCAN_CHARS]
    scores: dict[str, int] = {}
    for kind, cues in _COMPILED.items():
        score = 0
        for pattern, weight in cues:
            if pattern.search(text):
                score += weight
            if title and pattern.search(title):
                score += weight * (_TITLE_WEIGHT - 1)
        scores[kind] = score
    best = max(DOC_KINDS[:-1], key=lambda k: scores[k])
    log.debug("kind scores %s", scores)
    return best if scores[best] >= _MIN_KIND_SCORE else "other"
