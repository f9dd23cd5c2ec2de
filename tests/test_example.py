"""examples/stdlib_server.py: the protocol served without Flask, driven over HTTP."""

from __future__ import annotations

import importlib.util
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

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


def call(url: str, method: str, path: str, body=None, token=None):
    """One request; status, JSON answer and the token header (if any)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method)
    if token:
        req.add_header("X-Peer-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.load(resp), resp.headers.get("X-Peer-Token")
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.load(err), err.headers.get("X-Peer-Token")


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
