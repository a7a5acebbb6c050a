"""The review page: a small local web app where an analyst confirms and corrects positions.

``stancemap review --out OUT`` serves it on 127.0.0.1 only (Starlette under uvicorn). It reads
the outputs and the corrections file once, shows the positions least certain first (the stance
stage's ``needs_review`` ones first, where that column exists, then those nobody reviewed yet),
and appends every decision to the corrections file (:mod:`pipeline.corrections`), then shows
its effect. It writes nothing else: the next ``stancemap run`` applies the decisions to the
outputs.

Every request must carry the session's random token (``?token=`` on the page, the
``X-Review-Token`` header on the API), compared in constant time; others get 403. Only
``127.0.0.1``/``localhost`` hosts are served (no DNS rebinding). The page loads nothing from
elsewhere, its one script is allowed by hash in a Content-Security-Policy, and it puts every
text from the corpus on the page with ``textContent``, never as markup.
"""

from __future__ import annotations

import base64
import datetime as dt
import getpass
import hashlib
import itertools
import json
import logging
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from pipeline import corrections as corr
from pipeline.config import Settings
from pipeline.io import OutputStore
from pipeline.report import STANCE_STYLE, configured_targets
from pipeline.safety import printable_text

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).with_name("templates")
TOKEN_HEADER = "X-Review-Token"
CONTEXT = 2  # sentences shown before and after the evidence
MAX_BODY = 64 * 1024
MAX_TEXT = 500  # characters of a holder name or a note


class ReviewError(ValueError):
    """A decision the page sent cannot be used (a 400 with this message)."""


@dataclass
class ReviewSession:
    """What one review session shows and the corrections file it appends to."""

    store: OutputStore
    settings: Settings
    path: Path
    who: str

    def __post_init__(self) -> None:
        self.targets = {t.id: t.label for t in configured_targets(self.settings)}
        self.corpus = corr.Corpus(self.store, corr.organisation_names(self.store, self.settings))
        review = corr.review_positions(self.store, self.path, self.targets or None, self.corpus)
        self.rows = review.positions
        self.problems = review.problems()
        self._ids = itertools.count(1)
        for rows in self.rows.values():
            for row in rows:
                row["_id"] = str(next(self._ids))
        self._stances: dict[str, list[dict[str, Any]]] = {}
        self.lock = threading.Lock()

    # --- reading --------------------------------------------------------------------------

    def _find(self, item_id: str) -> tuple[str, dict[str, Any]]:
        for doc_id, rows in self.rows.items():
            for row in rows:
                if row["_id"] == item_id:
                    return doc_id, row
        raise ReviewError(f"no position {item_id!r} in this session")

    def _summary(self, row: dict[str, Any]) -> dict[str, Any]:
        doc = self.corpus.documents.get(row["doc_id"], {})
        return {"id": row["_id"], "doc_id": row["doc_id"],
                "document": doc.get("title") or row["source_path"],
                "source_path": row["source_path"], "page": row["page"],
                "holder": row["holder"], "holder_is_author": row["holder_is_author"],
                "target": row["target"], "target_label": self.targets.get(row["target"],
                                                                          row["target"]),
                "stance": row["stance"], "confidence": round(float(row["confidence"]), 3),
                "review": row["review"], "needs_review": bool(row.get("needs_review")),
                "evidence": row["evidence"]}

    def queue(self) -> list[dict[str, Any]]:
        """Every position, least certain first: ``needs_review``, then not yet reviewed,
        then by confidence. Copies of another document (``documents.copy_of``) are left out:
        a decision on the original applies to them too."""
        copies = {d for ds in self.corpus.copies.values() for d in ds}
        rows = [r for doc_id, rows in self.rows.items() if doc_id not in copies for r in rows]
        rows.sort(key=lambda r: (not r.get("needs_review"), r["review"] != "machine",
                                 float(r["confidence"]), r["holder"], r["target"], r["_id"]))
        return [self._summary(r) for r in rows]

    def _evidence(self, doc_id: str, row: dict[str, Any]) -> list[dict[str, Any]]:
        if doc_id not in self._stances:
            self._stances[doc_id] = self.store.read_table("stances", {doc_id}).to_pylist()
        holder = corr.normalise(row["_origin"]["holder"])
        found = [{"text": s["evidence"], "page": s["page"], "stance": s["stance"],
                  "sentence_id": s["sentence_id"]}
                 for s in self._stances[doc_id]
                 if s["target"] == row["target"] and corr.normalise(s["holder"]) == holder]
        if row["review"] in ("corrected", "added") or not found:
            return [{"text": row["evidence"], "page": row["page"], "stance": row["stance"],
                     "sentence_id": None}]
        return sorted(found, key=lambda s: s["sentence_id"])

    def item(self, item_id: str) -> dict[str, Any]:
        """One position with its evidence sentences and the sentences around the best one."""
        doc_id, row = self._find(item_id)
        sentences = self.corpus.sentences(doc_id)
        anchor = self.corpus.find_sentence(doc_id, row["evidence"])
        at = anchor["idx"] if anchor else 0
        around = [s for s in sentences if abs(s["idx"] - at) <= CONTEXT]
        doc = self.corpus.documents.get(doc_id, {})
        return {**self._summary(row), "author": doc.get("author_org"),
                "evidence_sentences": self._evidence(doc_id, row),
                "context": [_sentence(s, anchor) for s in around]}

    def document(self, doc_id: str) -> list[dict[str, Any]]:
        """Every sentence of a document (to pick the evidence of a missed position)."""
        if doc_id not in self.corpus.documents:
            raise ReviewError(f"no document {doc_id!r}")
        return [_sentence(s, None) for s in self.corpus.sentences(doc_id)]

    def holders(self) -> list[str]:
        """Suggestions for a holder: the organisation register, the corpus's organisations
        and every holder and author seen."""
        names = {self.corpus.documents[d].get("author_org") for d in self.corpus.documents}
        names |= {r["holder"] for rows in self.rows.values() for r in rows}
        known = {name.casefold() for name in names if name}
        register = {n for n in self._register_names() if n.casefold() not in known}
        return sorted({n for n in names if n} | register, key=str.casefold)

    def _register_names(self) -> set[str]:
        found = {str(o["name"]) for o in self.store.read_table("organisations").to_pylist()}
        path = self.settings.resolve(self.settings.entities.patterns)
        try:
            import yaml

            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, ValueError):
            return found
        orgs = data.get("organisations", []) if isinstance(data, dict) else []
        return found | {str(o["name"]) for o in orgs if isinstance(o, dict) and o.get("name")}

    # --- deciding ---------------------------------------------------------------------------

    def decide(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Append one decision to the corrections file and apply it to what the page shows;
        return the item it produced."""
        action = str(payload.get("action") or "")
        note = _text(payload.get("note"), "note", required=False)
        with self.lock:
            if action == "add":
                decision, doc = self._addition(payload, note)
            else:
                decision, doc = self._verdict(action, payload, note)
            corr.append_decision(self.path, decision)
            rows = self.rows.setdefault(doc["doc_id"], [])
            outcome = corr.apply_one(rows, decision, doc, self.corpus, self.path)
            for each in rows:
                each.setdefault("_id", str(next(self._ids)))
            row = next(iter(r for r in rows if r.get("_key") == decision.key), None)
        log.info("review: %s %s on %s (%s)", action, decision.holder, decision.target,
                 outcome.status)
        return {"status": outcome.status, "message": outcome.message,
                "item": self._summary(row) if row else None}

    def _verdict(self, action: str, payload: dict[str, Any],
                 note: str) -> tuple[corr.Decision, dict[str, Any]]:
        if action not in ("confirm", "stance", "holder", "reject"):
            raise ReviewError(f"unknown action {action!r}")
        doc_id, row = self._find(str(payload.get("id") or ""))
        origin = row["_origin"]
        old = row["holder"] if action == "holder" else row["stance"]
        if action == "stance":
            new = _stance(payload.get("value"))
        elif action == "holder":
            new = _text(payload.get("value"), "holder")
        else:
            new = row["stance"] if action == "confirm" else ""
        decision = corr.Decision(
            0, action, origin["source_path"], origin["doc_sha256"], origin["holder"],
            origin["target"], origin["evidence"], origin["page"], old, new, note, self.who,
            _now())
        return decision, self.corpus.documents[doc_id]

    def _addition(self, payload: dict[str, Any],
                  note: str) -> tuple[corr.Decision, dict[str, Any]]:
        sentence_id = str(payload.get("sentence_id") or "")
        doc_id = sentence_id.rsplit("-", 1)[0]
        doc = self.corpus.documents.get(doc_id)
        sentence = next((s for s in self.corpus.sentences(doc_id)
                         if s["sentence_id"] == sentence_id), None) if doc else None
        if doc is None or sentence is None:
            raise ReviewError(f"no sentence {sentence_id!r}")
        target = str(payload.get("target") or "")
        if target not in self.targets:
            raise ReviewError(f"unknown target {target!r}")
        decision = corr.Decision(
            0, "add", doc["source_path"], doc["sha256"], _text(payload.get("holder"), "holder"),
            target, sentence["text"], sentence["page"], "", _stance(payload.get("stance")),
            note, self.who, _now())
        return decision, doc


def _sentence(s: dict[str, Any], anchor: dict[str, Any] | None) -> dict[str, Any]:
    return {"sentence_id": s["sentence_id"], "idx": s["idx"], "page": s["page"],
            "section": s["section"], "text": s["text"],
            "is_evidence": anchor is not None and s["sentence_id"] == anchor["sentence_id"]}


def _text(value: Any, what: str, required: bool = True) -> str:
    text = " ".join(printable_text(str(value or "")).split())
    if required and not text:
        raise ReviewError(f"the {what} is empty")
    if len(text) > MAX_TEXT:
        raise ReviewError(f"the {what} is longer than {MAX_TEXT} characters")
    return text


def _stance(value: Any) -> str:
    stance = str(value or "").lower()
    if stance not in corr.STANCES:
        raise ReviewError(f"unknown stance {stance!r}")
    return stance


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


# --- the web app ------------------------------------------------------------------------------


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def render_page(session: ReviewSession, token: str) -> tuple[str, str]:
    """The page's HTML and its Content-Security-Policy."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    script = (TEMPLATES / "review.js").read_text(encoding="utf-8")
    style = (TEMPLATES / "review.css").read_text(encoding="utf-8")
    config = {"targets": [{"id": k, "label": v} for k, v in session.targets.items()],
              "stances": list(corr.STANCES),
              "colours": {k: v[0] for k, v in STANCE_STYLE.items()}}
    html = env.get_template("review.html.j2").render(
        token=token, script=Markup(script), style=Markup(style),
        config=json.dumps(config), corrections=str(session.path), who=session.who,
        problems=session.problems)
    policy = (f"default-src 'none'; script-src '{_csp_hash(script)}'; "
              f"style-src '{_csp_hash(style)}'; connect-src 'self'; img-src 'self' data:; "
              "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return html, policy


async def _body(request: Request) -> bytes:
    """The request's body, refused as soon as it passes :data:`MAX_BODY` (an oversized body
    is never held whole)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ReviewError("request too large")
    return bytes(body)


def create_app(session: ReviewSession, token: str) -> Starlette:
    """The review app of ``session``; every request needs ``token``."""

    def allowed(request: Request) -> bool:
        given = request.headers.get(TOKEN_HEADER) or request.query_params.get("token") or ""
        return secrets.compare_digest(given.encode(), token.encode())

    def guarded(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            if not allowed(request):
                return JSONResponse({"error": "this review session needs its token"}, 403)
            try:
                result = await handler(request)
            except ReviewError as exc:
                return JSONResponse({"error": str(exc)}, 400)
            return result if isinstance(result, Response) else JSONResponse(result)
        return endpoint

    async def page(request: Request) -> Response:
        html, policy = render_page(session, token)
        return HTMLResponse(html, headers={"Content-Security-Policy": policy,
                                           "Referrer-Policy": "no-referrer",
                                           "X-Content-Type-Options": "nosniff",
                                           "Cache-Control": "no-store"})

    async def queue(request: Request) -> dict[str, Any]:
        return {"items": session.queue(), "holders": session.holders(),
                "problems": session.problems}

    async def item(request: Request) -> dict[str, Any]:
        return session.item(request.path_params["item_id"])

    async def document(request: Request) -> dict[str, Any]:
        return {"sentences": session.document(request.path_params["doc_id"])}

    async def decide(request: Request) -> dict[str, Any]:
        if request.headers.get(TOKEN_HEADER) is None:
            raise ReviewError("decisions must send the token header")
        body = await _body(request)
        try:
            payload = json.loads(body)
        except RecursionError:
            raise ReviewError("not JSON: nested too deeply") from None
        except ValueError as exc:
            raise ReviewError(f"not JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise ReviewError("expected a JSON object")
        return session.decide(payload)

    routes = [Route("/", guarded(page)), Route("/api/queue", guarded(queue)),
              Route("/api/item/{item_id}", guarded(item)),
              Route("/api/document/{doc_id}", guarded(document)),
              Route("/api/decide", guarded(decide), methods=["POST"])]
    hosts = Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"])
    return Starlette(routes=routes, middleware=[hosts])


@dataclass
class Served:
    """A review server bound to 127.0.0.1 (not yet running) and its URL."""

    server: Any
    sock: socket.socket
    url: str

    def run(self) -> None:
        """Serve until Ctrl-C (or ``server.should_exit``)."""
        self.server.run(sockets=[self.sock])


def make_server(store: OutputStore, settings: Settings, path: Path, port: int = 0,
                who: str | None = None) -> Served:
    """The review app for ``store`` on 127.0.0.1:``port`` (0: a free port) with a fresh token."""
    import uvicorn

    session = ReviewSession(store, settings, Path(path), who or _user())
    token = secrets.token_urlsafe(24)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    bound = sock.getsockname()[1]
    config = uvicorn.Config(create_app(session, token), log_level="warning", access_log=False,
                            lifespan="off")
    return Served(uvicorn.Server(config), sock, f"http://127.0.0.1:{bound}/?token={token}")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "analyst"
