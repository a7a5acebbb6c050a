"""Analyst corrections: the corrections file, its keys, and applying it to a run's outputs.

**The file** is plain CSV (UTF-8, one header line, then one row per decision) that a person can
read, edit and keep under version control. The review page only ever appends to it, under an
exclusive lock, so two tabs or two review sessions never lose a decision. Columns
(:data:`COLUMNS`): ``key, decided_at, who, action, source_path, doc_sha256, holder, target,
evidence, page, old_value, new_value, note``. Actions:

- ``confirm``: the machine's position is right (``new_value``: the stance confirmed);
- ``stance``: the stance is wrong (``old_value`` -> ``new_value``);
- ``holder``: the holder is wrong (``new_value``: the right organisation; a holder that already
  has a position on the target in the document is merged into it);
- ``reject``: not a stance on this target;
- ``add``: a position the machine missed (``holder``, ``target``, ``evidence`` say which;
  ``new_value`` is its stance).

**Keys** never use row numbers: :func:`decision_key` hashes the document's content (sha256 of
its bytes), the holder and target of the machine's position and its evidence sentence, so a key
survives re-runs and changes elsewhere in the corpus. The ``key`` column is derived from the
other columns (a hand edit of those wins over it). The last decision per key wins (per key
and aspect: a holder change and a verdict on the same position both stand).

**Applying** (:func:`apply_corrections`, after analysis on every run): a decision's document is
found by content hash; if the file at its ``source_path`` has changed, the decision is
re-anchored to the new version when its evidence sentence is still there, and listed as stale
otherwise. Every decision becomes a row of the ``corrections`` table with its status
(``applied``, ``reanchored``, ``stale``, ``unmatched``, ``invalid``, ``superseded``) and, for
the last four, a message naming the file and line. Positions parts are rewritten only for the
documents whose decisions changed; the stance stage's own positions are kept as originals
(:meth:`pipeline.io.OutputStore.save_original`), so editing or deleting decisions never needs
the documents analysed again. ``positions.review`` says what the analyst did: ``machine``,
``confirmed``, ``corrected``, ``added`` or ``rejected`` (rejected rows stay, marked, so the
decision is visible; the report and the matrix leave them out).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import fcntl
import hashlib
import io
import logging
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.io import OutputStore
from pipeline.safety import FORMULA_START, printable_text
from pipeline.schema import TABLES, empty_table, to_table

log = logging.getLogger(__name__)

COLUMNS = ("key", "decided_at", "who", "action", "source_path", "doc_sha256", "holder",
           "target", "evidence", "page", "old_value", "new_value", "note")
ACTIONS = ("confirm", "stance", "holder", "reject", "add")
STANCES = ("support", "oppose", "conditional", "neutral")
REVIEW_VALUES = ("machine", "confirmed", "corrected", "added", "rejected")
STATUSES = ("applied", "reanchored", "stale", "unmatched", "invalid", "superseded")
PROBLEM_STATUSES = frozenset({"stale", "unmatched", "invalid"})
STATE = "review"
_REQUIRED = frozenset({"action", "holder", "target"})
# A cell a spreadsheet would run as a formula is written after a "'", which reading takes off
# again: the file opens in Excel as text and reads back as it was written.
_FORMULA = re.compile(rf"'*{FORMULA_START}")


def default_path(out: Path) -> Path:
    """Where the corrections of the outputs ``out`` live unless configured: beside ``out``
    (``<parent>/<name>.corrections.csv``), so deleting the outputs keeps the analyst's work."""
    out = Path(out).resolve()
    return out.parent / f"{out.name}.corrections.csv"


def normalise(text: str) -> str:
    """Text as compared for anchoring: whitespace collapsed, case folded."""
    return " ".join(str(text).split()).casefold()


def decision_key(doc_sha256: str, holder: str, target: str, evidence: str) -> str:
    """The stable key of a decision on one position (see the module docstring)."""
    text = "\0".join((doc_sha256, normalise(holder), target, normalise(evidence)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Decision:
    """One row of the corrections file; ``problem`` says why it cannot be used, if so."""

    line: int
    action: str
    source_path: str
    doc_sha256: str
    holder: str
    target: str
    evidence: str
    page: int | None = None
    old_value: str = ""
    new_value: str = ""
    note: str = ""
    who: str = ""
    decided_at: dt.datetime | None = None
    problem: str | None = None

    @property
    def key(self) -> str:
        """:func:`decision_key` of this decision."""
        return decision_key(self.doc_sha256, self.holder, self.target, self.evidence)

    def as_row(self) -> dict[str, str]:
        """The decision as a CSV row."""
        return {"key": self.key,
                "decided_at": self.decided_at.isoformat(timespec="seconds")
                if self.decided_at else "",
                "who": self.who, "action": self.action, "source_path": self.source_path,
                "doc_sha256": self.doc_sha256, "holder": self.holder, "target": self.target,
                "evidence": self.evidence, "page": "" if self.page is None else str(self.page),
                "old_value": self.old_value, "new_value": self.new_value, "note": self.note}


# --- the file -------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path, mode: str) -> Iterator[Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode, encoding="utf-8", newline="") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX if "a" in mode else fcntl.LOCK_SH)
        try:
            yield fh
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def check_writable(path: Path) -> None:
    """Raise :class:`ConfigError` naming ``path`` when decisions could not be appended to it
    (a folder of that name, a folder that cannot be made or written), so that the review page
    refuses to start rather than fail at the analyst's first decision. Leaves no new file."""
    path = Path(path)
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot write the corrections file {path}: "
                          f"{exc.strerror or exc}") from None
    if not existed:
        path.unlink(missing_ok=True)


def append_decision(path: Path, decision: Decision) -> None:
    """Append ``decision`` to the corrections file ``path`` (created with its header), under
    an exclusive lock and flushed to disk before returning."""
    with _locked(Path(path), "a") as fh:
        fh.seek(0, os.SEEK_END)
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        if fh.tell() == 0:
            writer.writeheader()
        elif not _ends_with_newline(Path(path)):
            fh.write("\n")  # a hand edit left the last line open
        writer.writerow({name: _as_text(value) for name, value in decision.as_row().items()})
        fh.flush()
        os.fsync(fh.fileno())


def _as_text(cell: str) -> str:
    return "'" + cell if _FORMULA.match(cell) else cell


def _from_text(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and _FORMULA.match(cell) else cell


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) in (b"\n", b"\r")


def read_decisions(path: Path, targets: Mapping[str, str] | None = None) -> list[Decision]:
    """Every decision in ``path`` in file order (none if it does not exist); rows that cannot be
    used carry a ``problem`` naming the file, the line and the reason. ``targets``: the known
    target ids (unknown ones are problems)."""
    path = Path(path)
    try:
        with _locked(path, "r") as fh:
            text = fh.read()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        return [_broken(path, 0, f"cannot be read ({exc})")]
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        return []
    except csv.Error as exc:
        return [_broken(path, 1, f"malformed header ({exc})")]
    missing = sorted(_REQUIRED - set(header))
    if missing:
        return [_broken(path, 1, f"header lacks the column(s) {', '.join(missing)}")]
    decisions = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            decisions.append(_broken(path, reader.line_num, f"malformed row ({exc})"))
            continue
        if not any(cell.strip() for cell in row):
            continue
        decisions.append(_parse(path, reader.line_num, header, row, targets))
    return decisions


def _broken(path: Path, line: int, reason: str) -> Decision:
    return Decision(line, "", "", "", "", "", "", problem=f"{path}:{line}: {reason}")


def _parse(path: Path, line: int, header: Sequence[str], row: Sequence[str],
           targets: Mapping[str, str] | None) -> Decision:
    if len(row) != len(header):
        return _broken(path, line, f"malformed row: {len(row)} fields where the header has "
                                   f"{len(header)}")
    # Control and bidirectional characters (written \x1b, \u202e) never reach a holder or note.
    cells = {name: _from_text(printable_text(value).strip())
             for name, value in zip(header, row, strict=True)}
    get = cells.get
    action = (get("action") or "").lower()
    decided_at, bad_date = _when(get("decided_at") or "")
    page = get("page") or ""
    decision = Decision(
        line, action, get("source_path") or "", (get("doc_sha256") or "").lower(),
        get("holder") or "", get("target") or "", get("evidence") or "",
        int(page) if page.isdigit() else None, get("old_value") or "",
        (get("new_value") or "").strip(), get("note") or "", get("who") or "", decided_at)
    problem = _problem(decision, targets) or bad_date
    return replace(decision, problem=f"{path}:{line}: {problem}") if problem else decision


def _when(text: str) -> tuple[dt.datetime | None, str | None]:
    if not text:
        return None, None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None, f"decided_at {text!r} is not an ISO date and time"
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).astimezone(dt.UTC), None


def _problem(d: Decision, targets: Mapping[str, str] | None) -> str | None:
    if d.action not in ACTIONS:
        return f"unknown action {d.action!r} (use one of {', '.join(ACTIONS)})"
    if not (d.doc_sha256 or d.source_path):
        return "neither doc_sha256 nor source_path says which document"
    if not d.holder or not d.target:
        return "holder and target are required"
    if targets is not None and d.target not in targets:
        return f"unknown target {d.target!r} (not in the target file)"
    takes_stance = d.action in ("stance", "add") or (d.action == "confirm" and d.new_value)
    if takes_stance and d.new_value.lower() not in STANCES:
        return f"unknown stance {d.new_value!r} (use one of {', '.join(STANCES)})"
    if d.action == "holder" and not d.new_value:
        return "a holder decision needs the new holder in new_value"
    if d.action == "add" and not d.evidence:
        return "an added position needs its evidence sentence"
    return None


# --- applying -------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What became of one decision in this run."""

    decision: Decision
    status: str
    message: str | None = None
    doc_id: str | None = None


@dataclass
class Review:
    """Corrected positions per document (rows carry ``_key``/``_origin``, the decision key
    and identity of what they came from) and the outcome of every decision."""

    positions: dict[str, list[dict[str, Any]]]
    outcomes: list[Outcome]
    decided: set[str] = field(default_factory=set)

    def counts(self) -> Counter[str]:
        """Decisions per status."""
        return Counter(o.status for o in self.outcomes)

    def problems(self) -> list[str]:
        """One message per stale, unmatched or invalid decision."""
        return [o.message or "" for o in self.outcomes if o.status in PROBLEM_STATUSES]

    def table(self) -> pa.Table:
        """The ``corrections`` table."""
        rows: list[dict[str, object]] = [
                {"line": o.decision.line, "key": o.decision.key if o.decision.action else "",
                 "action": o.decision.action or "?", "status": o.status, "message": o.message,
                 "doc_id": o.doc_id, "source_path": o.decision.source_path or None,
                 "holder": o.decision.holder or None, "target": o.decision.target or None,
                 "evidence": o.decision.evidence or None,
                 "old_value": o.decision.old_value or None,
                 "new_value": o.decision.new_value or None, "note": o.decision.note or None,
                 "who": o.decision.who or None, "decided_at": o.decision.decided_at}
                for o in self.outcomes]
        return to_table("corrections", rows) if rows else empty_table("corrections")


class Corpus:
    """Documents, sentences and organisations of a store, read lazily."""

    def __init__(self, store: OutputStore, register: Mapping[str, str]) -> None:
        self.store = store
        self.documents = {d["doc_id"]: d for d in store.read_table("documents").to_pylist()}
        self.by_sha = {d["sha256"]: d for d in self.documents.values()}
        self.by_path = {d["source_path"]: d for d in self.documents.values()}
        self.register = register
        # doc_id -> the documents that are copies of it (documents.copy_of, where it exists)
        self.copies: dict[str, list[str]] = defaultdict(list)
        for doc in self.documents.values():
            if doc.get("copy_of"):
                self.copies[str(doc["copy_of"])].append(doc["doc_id"])
        self._sentences: dict[str, list[dict[str, Any]]] = {}

    def sentences(self, doc_id: str) -> list[dict[str, Any]]:
        if doc_id not in self._sentences:
            rows = self.store.read_table("sentences", {doc_id}).to_pylist()
            self._sentences[doc_id] = sorted(rows, key=lambda r: r["idx"])
        return self._sentences[doc_id]

    def find_sentence(self, doc_id: str, evidence: str) -> dict[str, Any] | None:
        """The sentence of ``doc_id`` that is ``evidence`` (or holds it, or is held by it)."""
        wanted = normalise(evidence)
        if not wanted:
            return None
        rows = self.sentences(doc_id)
        exact = next((s for s in rows if normalise(s["text"]) == wanted), None)
        if exact is not None or len(wanted) < 20:
            return exact
        return next((s for s in rows if wanted in normalise(s["text"])
                     or (len(s["text"]) >= 20 and normalise(s["text"]) in wanted)), None)

    def holder_id(self, name: str) -> str | None:
        return self.register.get(name.casefold())


def organisation_names(store: OutputStore, settings: Settings | None = None) -> dict[str, str]:
    """Canonical organisation names (casefolded) -> ids: the corpus's organisations table and,
    with ``settings``, the organisation register file."""
    names: dict[str, str] = {}
    if settings is not None:
        path = settings.resolve(settings.entities.patterns)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            log.warning("cannot read the organisation register %s: %s", path, exc)
            data = {}
        for org in data.get("organisations", []) if isinstance(data, dict) else []:
            if isinstance(org, dict) and org.get("name") and org.get("id"):
                names[str(org["name"]).casefold()] = str(org["id"])
    for org in store.read_table("organisations").to_pylist():
        names[str(org["name"]).casefold()] = str(org["canonical_id"])
    return names


def _aspect(d: Decision) -> tuple[str, str]:
    """What a decision settles about its position: who holds it, or the verdict on it (the
    last decision per key and aspect wins, so changing the holder and then the stance keeps
    both)."""
    return d.key, "holder" if d.action == "holder" else "verdict"


def _effective(decisions: list[Decision]) -> tuple[list[Decision], list[Outcome]]:
    """The last valid decision per key (in file order), and outcomes of the others."""
    last: dict[tuple[str, str], Decision] = {}
    outcomes = []
    for d in decisions:
        if d.problem:
            outcomes.append(Outcome(d, "invalid", d.problem))
        else:
            last[_aspect(d)] = d
    for d in decisions:
        if not d.problem and last[_aspect(d)] is not d:
            outcomes.append(Outcome(d, "superseded", f"line {d.line}: replaced by the decision "
                                                     f"on line {last[_aspect(d)].line}"))
    return sorted(last.values(), key=lambda d: d.line), outcomes


def _anchor(d: Decision, corpus: Corpus, path: Path) -> Outcome:
    """Find the decision's document: by content, else the new version of its file."""
    doc = corpus.by_sha.get(d.doc_sha256) if d.doc_sha256 else None
    if doc is not None:
        return Outcome(d, "applied", None, doc["doc_id"])
    doc = corpus.by_path.get(d.source_path)
    where = f"{path}:{d.line}: {d.action} {d.holder} on {d.target} in {d.source_path}"
    if doc is None:
        return Outcome(d, "stale", f"{where}: the document is no longer in the corpus")
    if corpus.find_sentence(doc["doc_id"], d.evidence) is None:
        return Outcome(d, "stale", f"{where}: the document changed and the evidence sentence "
                                   "is no longer in it")
    return Outcome(d, "reanchored", f"{where}: re-anchored to the changed document",
                   doc["doc_id"])


def _same(row: dict[str, Any], holder: str, target: str) -> bool:
    return row["target"] == target and normalise(row["holder"]) == normalise(holder)


def _origin(doc: dict[str, Any], holder: str, target: str, evidence: str,
            page: int | None) -> dict[str, Any]:
    return {"doc_sha256": doc["sha256"], "source_path": doc["source_path"], "holder": holder,
            "target": target, "evidence": evidence, "page": page}


def _machine_row(row: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    origin = _origin(doc, row["holder"], row["target"], row["evidence"], row["page"])
    return {**row, "_origin": origin,
            "_key": decision_key(doc["sha256"], row["holder"], row["target"], row["evidence"])}


def _new_row(doc: dict[str, Any], d: Decision, stance: str, sentence: dict[str, Any],
             corpus: Corpus) -> dict[str, Any]:
    """A position the machine does not have, from the analyst's decision."""
    row: dict[str, Any] = {}
    for f in TABLES["positions"]:
        row[f.name] = None if f.nullable else (False if pa.types.is_boolean(f.type) else 0)
    author = normalise(doc.get("author_org") or "")
    row.update(doc_id=doc["doc_id"], source_path=doc["source_path"], holder=d.holder,
               holder_id=corpus.holder_id(d.holder),
               holder_is_author=bool(author) and normalise(d.holder) == author,
               target=d.target, stance=stance, confidence=1.0, n_evidence=1,
               evidence=sentence["text"], page=sentence["page"])
    row[f"n_{stance}"] = 1
    row["_origin"] = _origin(doc, d.holder, d.target, d.evidence, d.page)
    row["_key"] = d.key
    return row


def _settle(row: dict[str, Any], review: str, d: Decision) -> None:
    row["review"] = review
    row["_key"] = d.key
    if review != "rejected":
        row["confidence"] = 1.0
    if "needs_review" in row:
        row["needs_review"] = False


def _merge_into(rows: list[dict[str, Any]], i: int, j: int) -> None:
    """Fold row ``j`` (the same holder and target) into row ``i`` and drop it."""
    for name in ("n_evidence", "n_support", "n_oppose", "n_conditional", "n_neutral"):
        rows[i][name] = int(rows[i][name] or 0) + int(rows[j][name] or 0)
    rows[i]["mixed"] = bool(rows[i]["mixed"] or rows[j]["mixed"])
    del rows[j]


def _find(rows: list[dict[str, Any]], d: Decision) -> int | None:
    """The row a decision is about: the one it (or the machine) keyed, else the same holder
    and target (the evidence sentence may differ after a re-run or in a changed document)."""
    by_key = next((n for n, r in enumerate(rows) if r.get("_key") == d.key), None)
    if by_key is not None:
        return by_key
    return next((n for n, r in enumerate(rows) if _same(r, d.holder, d.target)), None)


def _decide(rows: list[dict[str, Any]], d: Decision, doc: dict[str, Any], corpus: Corpus,
            outcome: Outcome, path: Path) -> None:
    """Apply one decision to a document's rows (in place); set the outcome's status."""
    i = _find(rows, d)
    stance = d.new_value.lower()
    if i is None:
        sentence = corpus.find_sentence(doc["doc_id"], d.evidence)
        if sentence is None or d.action == "holder" or (d.action == "confirm" and not stance):
            outcome.status = "unmatched"
            outcome.message = (f"{path}:{d.line}: {d.action} {d.holder} on {d.target} in "
                               f"{doc['source_path']}: no such position, and its evidence "
                               "sentence is not in the document")
            return
        if d.action == "reject":
            return  # nothing to reject: the machine no longer finds it
        review = {"add": "added", "confirm": "confirmed"}.get(d.action, "corrected")
        rows.append(_new_row(doc, d, stance, sentence, corpus))
        _settle(rows[-1], review, d)
        return
    row = rows[i]
    if d.action == "reject":
        _settle(row, "rejected", d)
    elif d.action == "holder":
        row["holder"], row["holder_id"] = d.new_value, corpus.holder_id(d.new_value)
        author = normalise(doc.get("author_org") or "")
        row["holder_is_author"] = bool(author) and normalise(d.new_value) == author
        _settle(row, "corrected", d)
        j = next((n for n, r in enumerate(rows) if n != i and _same(r, d.new_value, d.target)),
                 None)
        if j is not None:
            _merge_into(rows, i, j)
    else:  # confirm, stance, add: the analyst's stance stands
        new = stance or row["stance"]
        same = new == row["stance"] and row["review"] != "corrected"
        row["stance"] = new
        _settle(row, "confirmed" if same else "corrected", d)


def apply_one(rows: list[dict[str, Any]], decision: Decision, doc: dict[str, Any],
              corpus: Corpus, path: Path) -> Outcome:
    """Apply one new decision to a document's reviewed rows in place (the review page does
    this after appending it, so what it shows is what the next run will write)."""
    outcome = Outcome(decision, "applied", None, doc["doc_id"])
    _decide(rows, decision, doc, corpus, outcome, path)
    return outcome


def review_positions(store: OutputStore, path: Path, targets: Mapping[str, str] | None,
                     corpus: Corpus, every: bool = True) -> Review:
    """The corrected positions of every document with positions (or, unless ``every``, only
    of those with decisions now or at the last apply), without writing anything.

    ``targets``: known target ids (None: any); ``corpus``: the store's documents and
    organisations (:class:`Corpus`).
    """
    effective, outcomes = _effective(read_decisions(path, targets))
    state = store.read_state(STATE).get("positions", {})
    per_doc: dict[str, list[tuple[Decision, Outcome]]] = defaultdict(list)
    for d in effective:
        outcome = _anchor(d, corpus, path)
        outcomes.append(outcome)
        if outcome.doc_id is not None:
            per_doc[outcome.doc_id].append((d, outcome))
            for copy in corpus.copies.get(outcome.doc_id, []):  # the same text, elsewhere
                per_doc[copy].append((d, Outcome(d, outcome.status, None, copy)))
    positions = {}
    present = store.part_keys("positions")
    for doc_id in present if every else present & (set(per_doc) | set(state)):
        doc = corpus.documents.get(doc_id)
        if doc is None:
            continue
        rows = [_machine_row(r, doc) for r in machine_positions(store, doc_id, state)]
        for d, outcome in per_doc.get(doc_id, []):
            _decide(rows, d, doc, corpus, outcome, path)
        positions[doc_id] = sorted(rows, key=lambda r: (r["holder"], r["target"]))
    for doc_id, pairs in per_doc.items():
        if doc_id not in positions:  # ingested, but stance has not run (or failed) on it
            for d, outcome in pairs:
                outcome.status, outcome.message = "unmatched", (
                    f"{path}:{d.line}: {d.source_path} has no positions (stance did not run)")
    outcomes.sort(key=lambda o: o.decision.line)
    return Review(positions, outcomes, {d for d, pairs in per_doc.items() if pairs})


def machine_positions(store: OutputStore, doc_id: str,
                      state: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The stance stage's own positions of ``doc_id``: the part on disk, unless it is one this
    module wrote (its token is in the review state), then the original kept beside it."""
    state = store.read_state(STATE).get("positions", {}) if state is None else state
    if doc_id in state and state[doc_id] == store.table_token("positions", doc_id):
        original = store.read_original("positions", doc_id)
        if original is not None:
            return list(original.to_pylist())
    return list(store.read_table("positions", {doc_id}).to_pylist())


def _public(rows: list[dict[str, Any]]) -> pa.Table:
    return to_table("positions", [{k: v for k, v in r.items() if not k.startswith("_")}
                                  for r in rows])


def apply_corrections(store: OutputStore, settings: Settings, path: Path) -> Review:
    """Apply the corrections file ``path`` to the positions in ``store`` (see the module
    docstring); write the ``corrections`` table; return what happened."""
    from pipeline.report import configured_targets

    targets = {t.id: t.label for t in configured_targets(settings)} or None
    corpus = Corpus(store, organisation_names(store, settings))
    review = review_positions(store, path, targets, corpus, every=False)
    state: dict[str, str] = dict(store.read_state(STATE).get("positions", {}))
    for doc_id, rows in review.positions.items():
        corrected = doc_id in review.decided
        if not corrected and doc_id not in state:
            continue  # machine output, never touched
        machine = machine_positions(store, doc_id, state)
        if corrected:
            store.save_original("positions", doc_id, to_table("positions", machine)
                                if machine else empty_table("positions"))
            table = _public(rows) if rows else empty_table("positions")
        else:  # its decisions are gone: back to the machine's own output
            table = to_table("positions", machine) if machine else empty_table("positions")
            store.delete_original("positions", doc_id)
        if not table.equals(store.read_table("positions", {doc_id})):
            store.write_part("positions", doc_id, table)
        if corrected:
            state[doc_id] = store.table_token("positions", doc_id)
        else:
            state.pop(doc_id, None)
    present = store.part_keys("positions")
    for doc_id in set(state) - present:
        state.pop(doc_id)
    for doc_id in store.original_keys("positions") - set(state):
        store.delete_original("positions", doc_id)
    comparison = _correct_comparison(store, review, store.read_state(STATE).get("comparison"))
    store.write_state(STATE, {"positions": state, "comparison": comparison})
    store.write_table("corrections", review.table())
    counts = review.counts()
    log.info("corrections %s: %s", path, dict(counts))
    return review


def corrections_path(out: str, settings: Settings, given: str | None, home: Path) -> Path:
    """The corrections file of the outputs ``out``: ``given`` (``--corrections``), else
    ``review.corrections`` of the settings, else :func:`default_path` of a local ``out``, or
    ``home/corrections/<hash of the URL>.corrections.csv`` for an fsspec URL."""
    from pipeline.io import is_remote, local_path

    if given:
        return Path(given).expanduser().resolve()
    if settings.review.corrections is not None:
        return settings.resolve(settings.review.corrections.expanduser())
    if is_remote(out):
        digest = hashlib.sha256(out.rstrip("/").encode("utf-8")).hexdigest()[:16]
        return home / "corrections" / f"{digest}.corrections.csv"
    return default_path(local_path(out))


# --- comparison rows ------------------------------------------------------------------------

NO_STANCE = "none"  # as pipeline.arguments: an argument with no stance


def _argument_changes(review: Review) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(doc_id, holder as the machine had it, target) -> the reviewed position; an added
    position is keyed by its evidence sentence instead (``("sentence", doc_id, text)``)."""
    changes: dict[tuple[str, str, str], dict[str, Any]] = {}
    for doc_id in review.decided:
        for row in review.positions.get(doc_id, []):
            if row["review"] in ("machine", "confirmed"):
                continue
            if row["review"] == "added":
                changes[("sentence", doc_id, normalise(row["evidence"]))] = row
            else:
                origin = row["_origin"]
                changes[(doc_id, normalise(origin["holder"]), row["target"])] = row
    return changes


def corrected_comparison(arguments: pa.Table, machine: pa.Table, review: Review) -> pa.Table:
    """The ``comparison`` rows (theme x holder x stance) recomputed from the machine's
    ``arguments`` with the reviewed holders and stances: a rejected position's arguments
    count as taking no stance. Each group's example is the machine's where it still belongs to
    the group, else its first argument."""
    changes = _argument_changes(review)
    examples = {(r["cluster_id"], r["holder"], r["stance"]): r["evidence"]
                for r in machine.to_pylist()}
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for arg in sorted(arguments.to_pylist(), key=lambda a: a["argument_id"]):
        if arg["cluster_id"] is None:
            continue
        holder, stance = arg["holder"], arg["stance"] or NO_STANCE
        row = changes.get((arg["doc_id"], normalise(holder), arg["target"] or "")) or \
            changes.get(("sentence", arg["doc_id"], normalise(arg["text"])))
        if row is not None:
            holder = row["holder"]
            stance = NO_STANCE if row["review"] == "rejected" else row["stance"]
        groups[(arg["cluster_id"], holder, stance)].append(arg)
    majority: dict[tuple[str, str], tuple[int, bool, str]] = {}
    for (cluster, holder, stance), members in groups.items():
        rank = (len(members), stance != NO_STANCE, stance)
        majority[(cluster, holder)] = max(majority.get((cluster, holder), rank), rank)
    out = []
    for (cluster, holder, stance), members in sorted(groups.items()):
        known = {(cluster, holder, stance), (cluster, members[0]["holder"],
                                             members[0]["stance"] or NO_STANCE)}
        wanted = {examples[k] for k in known if k in examples}
        best = next((m for m in members if m["text"] in wanted), members[0])
        out.append({"cluster_id": cluster, "holder": holder, "stance": stance,
                    "n_arguments": len(members),
                    "is_majority": majority[(cluster, holder)][2] == stance,
                    "evidence": best["text"], "doc_id": best["doc_id"], "page": best["page"]})
    return to_table("comparison", out) if out else empty_table("comparison")


def _correct_comparison(store: OutputStore, review: Review, token: str | None) -> str | None:
    """Rewrite ``comparison`` with the reviewed values (or restore the machine's rows when
    nothing is reviewed); return the token of what this wrote, None when nothing was."""
    if not store.exists("comparison"):
        return None
    ours = token is not None and token == store.table_token("comparison")
    original = store.read_original("comparison", "table") if ours else None
    machine = original if original is not None else store.read_table("comparison")
    if not _argument_changes(review):
        if original is not None:
            store.write_table("comparison", machine)
        store.delete_original("comparison", "table")
        return None
    store.save_original("comparison", "table", machine)
    table = corrected_comparison(store.read_table("arguments"), machine, review)
    if not table.equals(store.read_table("comparison")):
        store.write_table("comparison", table)
    return store.table_token("comparison")


def file_hash(path: Path) -> str:
    """sha256 of the corrections file ("absent" when there is none)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except FileNotFoundError:
        return "absent"


def file_hash_of_text(text: str) -> str:
    """sha256 of ``text`` (for keys made of many parts)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def summary(review: Review) -> dict[str, Any]:
    """Counts for the run summary and one note per problem."""
    counts = review.counts()
    return {"applied": counts["applied"] + counts["reanchored"],
            "reanchored": counts["reanchored"], "stale": counts["stale"],
            "unmatched": counts["unmatched"], "invalid": counts["invalid"],
            "problems": review.problems()}


def score_review(review: Review) -> dict[str, Any]:
    """The machine's own positions scored against the analyst's decisions that apply.

    A reviewed machine position is right when it was confirmed and its holder kept; it is
    wrong when its stance or holder was changed or it was rejected. ``precision`` is right /
    reviewed; positions the analyst added count as ``missed`` (recall the review can see, not
    precision). Per target too.
    """
    verdicts: dict[str, dict[str, Any]] = {}
    for o in review.outcomes:
        d = o.decision
        if o.status not in ("applied", "reanchored"):
            continue
        entry = verdicts.setdefault(d.key, {"target": d.target, "holder": False, "verdict": None})
        if d.action == "holder":
            entry["holder"] = d.new_value.casefold() != d.holder.casefold()
        elif d.action == "stance" and d.new_value.lower() == d.old_value.lower():
            entry["verdict"] = "confirm"
        else:
            entry["verdict"] = d.action
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for entry in verdicts.values():
        if entry["verdict"] == "add":
            outcome = "missed"
        elif entry["verdict"] == "reject":
            outcome = "rejected"
        elif entry["verdict"] == "stance":
            outcome = "wrong_stance"
        elif entry["holder"]:
            outcome = "wrong_holder"
        elif entry["verdict"] == "confirm":
            outcome = "right"
        else:
            continue  # a holder decision that kept the holder, and no verdict
        for group in ("overall", entry["target"]):
            groups[group][outcome] += 1
    scores = {}
    for group, counts in sorted(groups.items(), key=lambda kv: (kv[0] != "overall", kv[0])):
        reviewed = sum(counts[k] for k in ("right", "wrong_stance", "wrong_holder", "rejected"))
        scores[group] = {"reviewed": reviewed, "precision":
                         round(counts["right"] / reviewed, 4) if reviewed else None,
                         **{k: counts[k] for k in ("right", "wrong_stance", "wrong_holder",
                                                   "rejected", "missed")}}
    return scores
