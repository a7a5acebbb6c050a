"""The review app over HTTP (Starlette's test client): token, queue, decisions, escaping."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from pipeline import corrections as corr
from pipeline.io import OutputStore
from pipeline.review_app import MAX_BODY, TOKEN_HEADER, ReviewSession, create_app
from tests.fixtures.report.outputs import fixture_settings
from tests.fixtures.review import SENTENCES, build_review_store, doc_id

TOKEN = "secret-token"
HOSTILE = '<img src=x onerror="alert(1)">'


@pytest.fixture
def out(tmp_path: Path) -> Path:
    build_review_store(tmp_path / "out")
    return tmp_path / "out"


def _files(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


def _client(out: Path, tmp_path: Path) -> tuple[TestClient, ReviewSession]:
    session = ReviewSession(OutputStore(out), fixture_settings(tmp_path),
                            tmp_path / "out.corrections.csv", "tester")
    client = TestClient(create_app(session, TOKEN), base_url="http://127.0.0.1")
    client.headers[TOKEN_HEADER] = TOKEN
    return client, session


def test_every_request_needs_the_token(out: Path, tmp_path: Path) -> None:
    client, _ = _client(out, tmp_path)
    bare = TestClient(client.app, base_url="http://127.0.0.1")
    for path in ("/", "/api/queue", "/api/item/1", f"/api/document/{doc_id('a')}"):
        assert bare.get(path).status_code == 403
        assert bare.get(path, headers={TOKEN_HEADER: "wrong"}).status_code == 403
    assert bare.post("/api/decide", json={"action": "confirm", "id": "1"}).status_code == 403
    # The token in the URL opens the page, but a decision must send it as a header.
    assert bare.get(f"/?token={TOKEN}").status_code == 200
    refused = bare.post(f"/api/decide?token={TOKEN}", json={"action": "confirm", "id": "1"})
    assert refused.status_code == 400
    assert not (tmp_path / "out.corrections.csv").exists()
    other_host = TestClient(client.app, base_url="http://evil.example")
    assert other_host.get(f"/?token={TOKEN}").status_code == 400


def test_page_is_self_contained_and_escaped(out: Path, tmp_path: Path) -> None:
    path = tmp_path / "out.corrections.csv"
    corr.append_decision(path, corr.Decision(0, "reject", "gone.txt", "f" * 64, HOSTILE,
                                             "option_1", "Gone."))
    client, _ = _client(out, tmp_path)
    page = client.get("/")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'sha256-" in policy
    assert HOSTILE not in page.text
    assert "&lt;img src=x onerror=" in page.text
    assert "http://" not in page.text.replace("http://www.w3.org", "")
    assert client.get("/api/queue").json()["problems"][0].endswith(
        "the document is no longer in the corpus")


def test_queue_is_least_certain_first_and_decisions_append(out: Path, tmp_path: Path) -> None:
    client, session = _client(out, tmp_path)
    before = _files(out)
    queue = client.get("/api/queue").json()
    assert [(i["holder"], i["target"], i["confidence"]) for i in queue["items"]][:3] == [
        ("Exampleton Borough Council", "option_2", 0.3),
        ("Local Government Association", "option_1", 0.6),
        ("North Vale ICS", "q4_delegated_commissioning", 0.7)]
    assert "Westshire County Council" in queue["holders"]
    first = queue["items"][0]
    item = client.get(f"/api/item/{first['id']}").json()
    assert [s["text"] for s in item["context"]] == SENTENCES["a"][0:5]
    assert [s["is_evidence"] for s in item["context"]] == [False, False, True, False, False]
    assert item["evidence_sentences"][0]["text"] == SENTENCES["a"][2]

    changed = client.post("/api/decide", json={"action": "stance", "id": first["id"],
                                               "value": "oppose", "note": "reads as opposition"})
    assert changed.json()["item"]["review"] == "corrected"
    assert changed.json()["item"]["stance"] == "oppose"
    sentence = item["context"][4]["sentence_id"]
    added = client.post("/api/decide", json={
        "action": "add", "sentence_id": sentence, "holder": "Exampleton Borough Council",
        "target": "q1_statutory_footing", "stance": "support"}).json()["item"]
    assert (added["review"], added["evidence"]) == ("added", SENTENCES["a"][4])
    bad = client.post("/api/decide", json={"action": "stance", "id": first["id"],
                                           "value": "furious"})
    assert (bad.status_code, bad.json()) == (400, {"error": "unknown stance 'furious'"})
    unknown = client.post("/api/decide", json={"action": "confirm", "id": "999"})
    assert unknown.status_code == 400

    with open(tmp_path / "out.corrections.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["action"], r["holder"], r["old_value"], r["new_value"], r["who"], r["note"])
            for r in rows] == [
        ("stance", "Exampleton Borough Council", "support", "oppose", "tester",
         "reads as opposition"),
        ("add", "Exampleton Borough Council", "", "support", "tester", "")]
    assert _files(out) == before  # the app writes nothing but the corrections file
    # What the page shows is what a run will write.
    settings = session.settings
    corr.apply_corrections(OutputStore(out), settings, tmp_path / "out.corrections.csv")
    reviews = {(r["holder"], r["target"]): (r["stance"], r["review"])
               for r in OutputStore(out).read_table("positions", {doc_id("a")}).to_pylist()}
    assert reviews[("Exampleton Borough Council", "option_2")] == ("oppose", "corrected")
    assert reviews[("Exampleton Borough Council", "q1_statutory_footing")] == ("support",
                                                                                "added")


def test_deeply_nested_json_is_refused(out: Path, tmp_path: Path) -> None:
    client, _ = _client(out, tmp_path)
    body = '{"note":' * 5000 + '"Tangled."' + "}" * 5000  # 45 KB: under the size limit
    response = client.post("/api/decide", content=body,
                           headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()) == (400,
                                                       {"error": "not JSON: nested too deeply"})
    assert not (tmp_path / "out.corrections.csv").exists()


def test_an_oversized_body_is_refused_before_it_is_read_whole(out: Path, tmp_path: Path) -> None:
    client, _ = _client(out, tmp_path)
    chunk, sent, replies = b"x" * 1024, [], []  # 4 MB in 1 KB chunks

    async def receive() -> dict[str, Any]:
        sent.append(chunk)
        return {"type": "http.request", "body": chunk, "more_body": len(sent) < 4096}

    async def send(message: dict[str, Any]) -> None:
        replies.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/decide", "raw_path": b"/api/decide",
             "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000),
             "headers": [(b"host", b"127.0.0.1"), (TOKEN_HEADER.lower().encode(), TOKEN.encode()),
                         (b"content-type", b"application/json")]}
    asyncio.run(client.app(scope, receive, send))
    assert replies[0]["status"] == 400
    body = b"".join(m.get("body", b"") for m in replies[1:])
    assert json.loads(body) == {"error": "request too large"}
    assert len(sent) == MAX_BODY // len(chunk) + 1  # 65 of the 4,096 chunks were read


def test_control_characters_typed_in_the_page_are_escaped(out: Path, tmp_path: Path) -> None:
    client, _ = _client(out, tmp_path)
    first = client.get("/api/queue").json()["items"][0]
    changed = client.post("/api/decide", json={
        "action": "holder", "id": first["id"], "value": "Bramblewick\x1b]0;owned\x07 Council",
        "note": "line\none \u202eevil"}).json()
    assert changed["item"]["holder"] == "Bramblewick\\x1b]0;owned\\x07 Council"
    [row] = corr.read_decisions(tmp_path / "out.corrections.csv")
    assert (row.new_value, row.note) == ("Bramblewick\\x1b]0;owned\\x07 Council",
                                         "line one \\u202eevil")
