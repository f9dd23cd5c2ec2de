"""Hostile input, generated: every endpoint answers a clear JSON error, never a 500, and
never changes a room it is not a member of (generated requests never carry a token)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_app import create_app

VICTIM = "victim"
OFFER = {"type": "offer", "sdp": "v=0 victim"}
CAND = {"candidate": "candidate:1 1 udp 1 10.0.0.1 9 typ host"}
EXPECTED = {200, 201, 400, 403, 404, 405, 409, 413, 415}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
rooms = st.one_of(
    st.sampled_from(
        ["default-room", "r", "a" * 64, "a" * 65, "", "../x", "é", "a b", "東京 会議", "..", "a%_"]
    ),
    st.just(f" {VICTIM}  "),
    st.just(VICTIM),
    st.text(max_size=70),
)
types = st.one_of(
    st.sampled_from(
        ["offer", "answer", "candidate_initiator", "candidate_receiver", "description"]
    ),
    st.text(max_size=20),
    json_values,
)
payloads = st.one_of(
    st.just({"type": "offer", "sdp": "v=0"}),
    st.just({"type": "answer", "sdp": "v=0"}),
    st.just(CAND),
    json_values,
)
keys = st.one_of(
    st.lists(st.text(max_size=40), max_size=5),
    st.just(["webrtc_signal", VICTIM, "peers", "0"]),
    st.just(["webrtc_signal", VICTIM, "offer"]),
    st.tuples(st.just("webrtc_signal"), rooms, st.sampled_from(["offer", "answer"])).map(list),
    json_values,
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "room": rooms | json_values,
        "type": types,
        "payload": payloads,
        "payloads": st.lists(payloads, max_size=60) | json_values,
        "peer": st.sampled_from(["v1", "v2", "mallory"]) | st.text(max_size=70) | json_values,
        "key": keys,
        "keys": st.lists(keys, max_size=3) | json_values,
    },
)
queries = st.dictionaries(
    st.sampled_from(["room", "type", "peer", "wait", "key", "x"]),
    st.text(max_size=40)
    | st.sampled_from(["0.01", "-1", "31", "nan", "1e309", "offer", VICTIM, "v1", "v2"]),
    max_size=4,
).filter(lambda q: float_or_none(q.get("wait")) in (None, 0.01))
methods = st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"])
paths = st.sampled_from(["/signal", "/room", "/api/ice-servers", "/healthz", "/", "/x"])


@pytest.fixture
def app(store_url):
    """The app with rate limits off: a thousand generated writes from one address in seconds
    would (rightly) be refused with 429 before reaching the code under test; the limits have
    tests of their own in test_security."""
    app = create_app({"TESTING": True, "SIGNAL_STORE": store_url, "SIGNAL_RATE_LIMIT": "off"})
    yield app
    app.extensions["webrtc_signal"].store.close()


def float_or_none(text):
    """Generated long-polls may only wait a moment: the value, or None when not a number."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if 0 < value <= 30 else None


def victim_state(client):
    """What the other room holds, as its members see it."""
    v1, v2 = client.victim_tokens
    return (
        client.get(f"/signal?room={VICTIM}&type=offer&peer=v1", headers=v1).json,
        client.get(f"/signal?room={VICTIM}&type=candidate_initiator&peer=v2", headers=v2).json,
        client.get(f"/room?room={VICTIM}&peer=v1", headers=v1).json,
    )


def check(resp) -> None:
    """An expected status; an error is JSON with a code and a message (HEAD has no body)."""
    assert resp.status_code in EXPECTED, (resp.status_code, resp.get_data(as_text=True)[:300])
    if resp.status_code >= 400 and resp.request.method != "HEAD":
        assert resp.is_json
        assert set(resp.json) == {"error", "message"}


HYPOTHESIS = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@HYPOTHESIS
@given(method=methods, path=paths, query=queries, body=bodies)
def test_json_requests(client, method, path, query, body):
    setup_victim(client)
    before = victim_state(client)
    url = path + ("?" + urlencode(query) if query else "")
    with client.open(url, method=method, json=body) as resp:
        check(resp)
    assert victim_state(client) == before


@HYPOTHESIS
@given(
    method=st.sampled_from(["POST", "DELETE"]),
    data=st.binary(max_size=300) | st.text(max_size=300).map(str.encode),
    content_type=st.sampled_from(["application/json", "text/plain", "", "application/x-www"]),
)
def test_raw_bodies(client, method, data, content_type):
    setup_victim(client)
    before = victim_state(client)
    resp = client.open("/signal", method=method, data=data, content_type=content_type)
    check(resp)
    assert victim_state(client) == before


def setup_victim(client) -> None:
    """Two members in the victim room, an offer and a candidate waiting (once per client)."""
    if hasattr(client, "victim_tokens"):
        return
    offer = {"room": VICTIM, "type": "offer", "payload": OFFER, "peer": "v1"}
    v1 = {"X-Peer-Token": client.post("/signal", json=offer).headers["X-Peer-Token"]}
    candidate = {"room": VICTIM, "type": "candidate_initiator", "payload": CAND, "peer": "v1"}
    assert client.post("/signal", json=candidate, headers=v1).status_code == 201
    v2 = {"X-Peer-Token": client.get(f"/room?room={VICTIM}&peer=v2").headers["X-Peer-Token"]}
    client.victim_tokens = (v1, v2)


def test_huge_and_deep_bodies(client):
    setup_victim(client)
    before = victim_state(client)
    cases = [
        b"[" * 30000 + b"]" * 30000,
        json.dumps({"type": "offer", "payload": {"type": "offer", "sdp": "x" * 70000}}).encode(),
        json.dumps(
            {"type": "offer", "payload": {"type": "offer", "sdp": "x", "d": [[[[[[[[[[1]]]]]]]]]]}}
        ).encode(),
        json.dumps({"room": "x" * 60000}).encode(),
        ("\ud800" * 10).encode("utf-8", "surrogatepass"),
    ]
    statuses = []
    for data in cases:
        resp = client.post("/signal", data=data, content_type="application/json")
        check(resp)
        statuses.append(resp.status_code)
    assert statuses == [400, 413, 400, 400, 400]
    assert victim_state(client) == before
