"""Rooms people type, over HTTP: the seed's whole flow in rooms named in any script, the room
sent in the query string and in the JSON body, through the Flask test client and a live
server. Two spellings of one name (NFC or not, spaces trimmed) reach the same room."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest

from webrtc_signal.names import ROOM_RULE

OFFER = {"type": "offer", "sdp": "v=0 seed offer"}
ANSWER = {"type": "answer", "sdp": "v=0 seed answer"}
CAND = {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host"}

# (as the JSON bodies spell it, as the query strings spell it, the room the server names)
ROOMS = [
    ("café", "cafe\u0301", "café"),
    ("東京 会議", " 東京\u3000会議 ", "東京 会議"),
    ("my room.2", "my  room.2", "my room.2"),
]

Ask = Callable[[str, str, Any], tuple[int, Any]]


@pytest.fixture(params=["flask-client", "live-server"])
def ask(request, client) -> Ask:
    """One request, answered as (status, JSON): by the test client or by a real server."""
    if request.param == "live-server":
        return request.getfixturevalue("live_server").request

    def through_client(method: str, path: str, body: Any = None) -> tuple[int, Any]:
        resp = client.open(path, method=method, json=body)
        return resp.status_code, resp.json

    return through_client


def query(**params: str) -> str:
    """A query string, percent-encoded as a browser or the seed client sends it."""
    return urlencode(params)


@pytest.mark.parametrize(("in_body", "in_query", "room"), ROOMS, ids=["latin", "cjk", "dots"])
def test_the_seed_flow_in_a_typed_room(ask, in_body, in_query, room):
    key = ["webrtc_signal", room, "offer"]
    assert ask("GET", f"/signal?{query(room=in_query, type='offer')}", None) == (
        200,
        {"type": "offer", "payload": None},
    )
    assert ask("POST", "/signal", {"room": in_body, "type": "offer", "payload": OFFER}) == (
        201,
        {"key": key},
    )
    assert ask("GET", f"/signal?{query(room=in_query, type='offer')}", None)[1]["payload"] == OFFER
    assert ask("GET", f"/waiting?{query(room=in_query)}", None) == (
        200,
        {"room": room, "waiting": 0},
    )
    status, _ = ask("POST", "/signal", {"room": in_query, "type": "answer", "payload": ANSWER})
    assert status == 201
    status, _ = ask(
        "POST", "/signal", {"room": in_body, "type": "candidate_receiver", "payload": CAND}
    )
    assert status == 201
    [cand] = ask("GET", f"/signal?{query(room=in_query, type='candidate_receiver')}", None)[1]
    assert cand["payload"] == CAND
    assert cand["key"][:3] == ["webrtc_signal", room, "candidates_for_initiator"]
    assert ask("DELETE", "/signal", {"key": cand["key"]}) == (200, {"deleted": 1})
    # The offer, by a key that spells its room the other way: the same signal.
    assert ask("DELETE", "/signal", {"key": [key[0], in_query, "offer"]}) == (200, {"deleted": 1})
    assert ask("GET", f"/signal?{query(room=in_body, type='answer')}", None)[1]["payload"] == ANSWER
    # Hang up with the room in the JSON body: the answer goes, and the room is empty.
    assert ask("DELETE", "/signal", {"room": in_query}) == (200, {"deleted": 1})
    assert ask("GET", f"/signal?{query(room=in_body, type='answer')}", None)[1]["payload"] is None


def test_a_typed_room_is_not_the_room_its_name_starts(ask):
    """ "my room.2" and "my room" and "my" are three rooms, in every store's key layout."""
    for room in ("my", "my room", "my room.2"):
        body = {"room": room, "type": "offer", "payload": {**OFFER, "sdp": room}}
        assert ask("POST", "/signal", body)[0] == 201
    assert ask("DELETE", f"/signal?{query(room='my room')}", None) == (200, {"deleted": 1})
    for room in ("my", "my room.2"):
        got = ask("GET", f"/signal?{query(room=room, type='offer')}", None)[1]["payload"]
        assert got == {**OFFER, "sdp": room}


@pytest.mark.parametrize("room", ["a_b%", "..", "a/b", " ", "x" * 65])
def test_a_room_outside_the_rule_is_a_clear_400(ask, room):
    for method, path, body in [
        ("GET", f"/signal?{query(room=room, type='offer')}", None),
        ("POST", "/signal", {"room": room, "type": "offer", "payload": OFFER}),
        ("DELETE", "/signal", {"room": room}),
    ]:
        status, answer = ask(method, path, body)
        assert status == 400, (method, path, answer)
        assert answer["error"] == "invalid_request"
        assert answer["message"] == ROOM_RULE


def test_no_room_is_the_default_room(ask):
    assert ask("POST", "/signal", {"type": "offer", "payload": OFFER}) == (
        201,
        {"key": ["webrtc_signal", "default-room", "offer"]},
    )
    assert ask("GET", "/signal?room=default-room&type=offer", None)[1]["payload"] == OFFER
