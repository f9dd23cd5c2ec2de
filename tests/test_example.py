"""examples/stdlib_server.py: the protocol served without Flask, driven over HTTP."""

from __future__ import annotations

import importlib.util
import json
import re
import threading
from pathlib import Path

import pytest

from harness.endpoint import Endpoint

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "stdlib_server.py"


@pytest.fixture
def example_url(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNAL_STORE", f"sqlite:///{tmp_path / 'ex.sqlite'}")
    spec = importlib.util.spec_from_file_location("stdlib_server", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = module.serve(port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def call(url: str, method: str, path: str, body=None, token=None, content_type=None):
    """One request; status, JSON answer and the token header (if any)."""
    status, answer, headers = Endpoint(url).exchange(
        method, path, body, token=token, content_type=content_type or "application/json"
    )
    return status, answer, headers.get("X-Peer-Token")


def test_example_speaks_the_protocol(example_url):
    offer = {"type": "offer", "sdp": "x"}
    assert call(example_url, "GET", "/signal?type=offer")[:2] == (
        200,
        {"type": "offer", "payload": None},
    )
    post = {"room": "ex", "type": "offer", "payload": offer, "peer": "alice"}
    status, _, alice = call(example_url, "POST", "/signal", post)
    assert status == 201
    assert alice
    status, body, bob = call(example_url, "POST", "/signal", {**post, "peer": "bob"})
    assert (status, body["error"]) == (409, "offer_exists")
    assert call(example_url, "GET", "/room?room=ex&peer=carol")[:2] == (
        409,
        {"error": "room_full", "message": "two people are already in this room"},
    )
    assert call(example_url, "GET", "/signal?room=ex&type=offer")[1]["error"] == "not_a_member"
    path = "/signal?room=ex&type=offer&peer=bob"
    assert call(example_url, "GET", path, token=bob)[1]["payload"] == offer
    assert call(example_url, "DELETE", "/signal?room=ex&peer=bob", token=bob)[:2] == (
        200,
        {"deleted": 1},
    )
    assert call(example_url, "GET", "/signal?room=bad/room&type=offer")[0] == 400


OFFER = {"type": "offer", "sdp": "v=0 offer"}
ANSWER = {"type": "answer", "sdp": "v=0 answer"}
CAND = {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdpMid": "0"}


def conversation(url: str) -> list:
    """Every request of the API, the way a call and its mistakes go; what each answered,
    with the random parts (keys' ids, cursors) made comparable."""
    seen = []

    def ask(method, path, body=None, who=None, content_type=None):
        token = tokens.get(who)
        status, answer, issued = call(url, method, path, body, token, content_type)
        if issued:
            tokens[who] = issued
        asked = re.sub(r"cursor=[^&]+", "cursor=<cursor>", path)
        seen.append((method, asked, status, _plain(answer), bool(issued)))
        return answer

    tokens: dict[str, str] = {}
    ask("GET", "/waiting?room=c")
    ask("GET", "/signal?room=c&type=offer&peer=alice", who="alice")
    ask(
        "POST",
        "/signal",
        {"room": "c", "peer": "alice", "type": "offer", "payload": OFFER},
        "alice",
    )
    ask("GET", "/events?room=c&peer=alice&peers=1&wait=0.2", who="alice")
    ask("GET", "/events?room=c&peer=bob", who="bob")
    ask("GET", "/signal?room=c&type=offer&peer=bob", who="bob")
    # fetch's default body type for a string: text/plain.
    ask(
        "POST",
        "/signal",
        json.dumps({"room": "c", "peer": "bob", "type": "answer", "payload": ANSWER}).encode(),
        "bob",
        "text/plain;charset=UTF-8",
    )
    ask(
        "POST",
        "/signal",
        {"room": "c", "peer": "bob", "type": "candidate_receiver", "payloads": [CAND, CAND]},
        "bob",
    )
    ask("DELETE", "/signal?room=c&type=offer&peer=bob", who="bob")
    got = ask("GET", "/events?room=c&peer=alice&peers=1&wait=1", who="alice")
    ask("GET", f"/events?room=c&peer=alice&peers=2&cursor={got['cursor']}&wait=0.2", who="alice")
    ask(
        "POST",
        "/signal",
        {"room": "c", "peer": "alice", "type": "candidate_initiator", "payload": CAND},
        "alice",
    )
    read = ask("GET", "/signal?room=c&type=candidate_initiator&peer=bob&wait=1", who="bob")
    ask("DELETE", "/signal", {"peer": "bob", "keys": [item["key"] for item in read]}, "bob")
    # In-call negotiation: a re-offer through /events, never through a read.
    reoffer = {"type": "offer", "sdp": "v=0 re-offer"}
    body = {"room": "c", "peer": "alice", "type": "description", "payload": reoffer}
    ask("POST", "/signal", body, "alice")
    got = ask("GET", "/events?room=c&peer=bob&peers=2&wait=1", who="bob")
    ask("GET", f"/events?room=c&peer=bob&peers=2&cursor={got['cursor']}&wait=0.2", who="bob")
    ask("GET", "/signal?room=c&type=description&peer=bob", who="bob")
    ask("POST", "/signal", {"room": "c", "type": "description", "payload": reoffer})
    ask("POST", "/signal", {**body, "payload": {"type": "offer"}}, "alice")
    ask("GET", "/room?room=c&peer=bob", who="bob")
    ask("GET", "/room?room=c&peer=carol", who="carol")
    ask("GET", "/signal?room=c&type=offer")
    ask("POST", "/signal", b"type=offer", content_type="application/x-www-form-urlencoded")
    ask("POST", "/signal", b"not json", content_type="text/plain")
    ask("POST", "/signal", {"room": "c", "type": "offer", "payload": {"sdp": "x" * 70_000}})
    ask("GET", "/nowhere")
    ask("PUT", "/signal")
    ask("DELETE", "/room?room=c&peer=alice", who="alice")
    ask("DELETE", "/signal?room=c&peer=bob", who="bob")
    ask("GET", "/waiting?room=c")
    return seen


def _api_part(row: tuple) -> tuple:
    method, path, status, answer, _issued = row
    if status in (404, 405):
        return method, path, status, answer["error"]
    return row


def _plain(answer):
    """``answer`` with keys' random ids and cursors replaced by placeholders."""
    text = json.dumps(answer, sort_keys=True)
    text = re.sub(r'"[0-9a-f]{32}"', '"<id>"', text)
    text = re.sub(r'"cursor": "[^"]+"', '"cursor": "<cursor>"', text)
    return json.loads(text)


def test_the_example_answers_every_request_as_the_flask_app(example_url, live_server):
    """The example serves the whole API: the same requests get the same answers."""
    theirs = conversation(live_server.url)
    ours = conversation(example_url)
    assert [row[:3] for row in ours] == [row[:3] for row in theirs]
    # Outside the API (404, 405) each server words its refusal its own way: same code.
    assert [_api_part(row) for row in ours] == [_api_part(row) for row in theirs]
    statuses = [row[2] for row in ours]
    assert {200, 201, 400, 403, 404, 405, 409, 413, 415} <= set(statuses)
