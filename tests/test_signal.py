"""The /signal HTTP API through Flask's test client: the seed's flow and its errors."""

from __future__ import annotations

import pytest

OFFER = {"type": "offer", "sdp": "v=0 offer"}
ANSWER = {"type": "answer", "sdp": "v=0 answer"}


def candidate(n: int) -> dict:
    return {"candidate": f"candidate:{n} 1 udp 1 127.0.0.1 {5000 + n} typ host", "sdpMid": "0"}


def test_seed_flow_without_peer_ids(client):
    """A client that sends exactly the seed's messages connects, then hangs up."""
    assert client.get("/signal?type=offer").json == {"type": "offer", "payload": None}
    resp = client.post("/signal", json={"room": "default-room", "type": "offer", "payload": OFFER})
    assert resp.status_code == 201
    assert resp.json == {"key": ["webrtc_signal", "default-room", "offer"]}

    assert client.get("/signal?room=default-room&type=offer").json["payload"] == OFFER
    resp = client.post("/signal", json={"type": "answer", "payload": ANSWER})
    assert resp.json == {"key": ["webrtc_signal", "default-room", "answer"]}
    assert client.delete("/signal?type=offer").json == {"deleted": 1}
    assert client.get("/signal?type=offer").json["payload"] is None

    for n in range(3):
        key = client.post(
            "/signal", json={"type": "candidate_initiator", "payload": candidate(n)}
        ).json["key"]
        assert key[:3] == ["webrtc_signal", "default-room", "candidates_for_receiver"]
    key = client.post("/signal", json={"type": "candidate_receiver", "payload": candidate(9)}).json[
        "key"
    ]
    assert key[:3] == ["webrtc_signal", "default-room", "candidates_for_initiator"]

    # The receiver reads what the initiator sent, oldest first, and deletes each by key.
    sent = client.get("/signal?type=candidate_initiator").json
    assert [c["payload"] for c in sent] == [candidate(0), candidate(1), candidate(2)]
    for c in sent:
        assert client.delete("/signal", json={"key": c["key"]}).json == {"deleted": 1}
    assert client.get("/signal?type=candidate_initiator").json == []
    # The initiator asks for the receiver's.
    assert [c["payload"] for c in client.get("/signal?type=candidate_receiver").json] == [
        candidate(9)
    ]
    assert client.get("/signal?type=answer").json["payload"] == ANSWER

    assert client.delete("/signal?room=default-room").json == {"deleted": 2}
    assert client.get("/signal?type=answer").json["payload"] is None
    assert client.get("/signal?type=candidate_receiver").json == []


def test_second_offer_is_refused_and_first_is_kept(client):
    first = {"type": "offer", "sdp": "first"}
    assert client.post("/signal", json={"type": "offer", "payload": first}).status_code == 201
    resp = client.post("/signal", json={"type": "offer", "payload": OFFER})
    assert resp.status_code == 409
    assert resp.json["error"] == "offer_exists"
    assert client.get("/signal?type=offer").json["payload"] == first


def test_rooms_are_separate(client):
    client.post("/signal", json={"room": "a", "type": "offer", "payload": OFFER})
    assert client.get("/signal?room=b&type=offer").json["payload"] is None
    client.delete("/signal?room=b")
    assert client.get("/signal?room=a&type=offer").json["payload"] == OFFER


def test_deleting_nothing_answers_zero(client):
    assert client.delete("/signal?type=answer").json == {"deleted": 0}
    key = ["webrtc_signal", "default-room", "candidates_for_receiver", "0" * 32]
    assert client.delete("/signal", json={"key": key}).json == {"deleted": 0}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("get", "/signal", None, 400, "invalid_request"),
        ("get", "/signal?type=bogus", None, 400, "invalid_request"),
        ("get", "/signal?type=offer&room=", None, 400, "invalid_request"),
        ("get", "/signal?type=offer&room=a/b", None, 400, "invalid_request"),
        ("get", "/signal?type=offer&room=" + "x" * 65, None, 400, "invalid_request"),
        ("get", "/signal?type=offer&peer=bad%20id", None, 400, "invalid_request"),
        ("post", "/signal", {"type": "bogus", "payload": {}}, 400, "invalid_request"),
        ("post", "/signal", {"type": "offer"}, 400, "invalid_request"),
        ("post", "/signal", {"type": "offer", "payload": "sdp"}, 400, "invalid_request"),
        ("post", "/signal", {"type": "offer", "payload": [1]}, 400, "invalid_request"),
        ("post", "/signal", {"type": "offer", "payload": {}, "room": 7}, 400, "invalid_request"),
        ("post", "/signal", [1, 2], 400, "invalid_request"),
        ("delete", "/signal?type=candidate_initiator", None, 400, "invalid_request"),
        ("delete", "/signal", {"key": ["webrtc_signal", "../x", "offer"]}, 400, "invalid_request"),
        ("delete", "/signal", {"key": ["other", "default-room", "offer"]}, 400, "invalid_request"),
        ("delete", "/signal", {"key": "webrtc_signal"}, 400, "invalid_request"),
        (
            "delete",
            "/signal",
            {"key": ["webrtc_signal", "r", "peers", "0"]},
            400,
            "invalid_request",
        ),
        ("put", "/signal", None, 405, "method_not_allowed"),
        ("get", "/nowhere/at/all", None, 404, "not_found"),
    ],
)
def test_bad_requests_get_json_errors_and_change_nothing(client, method, path, body, status, error):
    client.post("/signal", json={"type": "offer", "payload": OFFER})
    resp = getattr(client, method)(path, json=body)
    assert resp.status_code == status
    assert resp.is_json
    assert resp.json["error"] == error
    assert resp.json["message"]
    assert client.get("/signal?type=offer").json["payload"] == OFFER


def test_too_many_candidates_is_a_clear_409(client):
    for _ in range(2):
        client.post(
            "/signal", json={"type": "candidate_initiator", "payloads": [candidate(1)] * 50}
        )
    resp = client.post("/signal", json={"type": "candidate_initiator", "payload": candidate(2)})
    assert resp.status_code == 409
    assert resp.json["error"] == "too_many_signals"
    assert len(client.get("/signal?type=candidate_initiator").json) == 100


def test_bad_json_is_400(client):
    resp = client.post("/signal", data="{not json", content_type="application/json")
    assert resp.status_code == 400
    assert resp.json == {
        "error": "invalid_request",
        "message": "the request body is not valid JSON",
    }


@pytest.mark.parametrize("content_type", ["text/plain;charset=UTF-8", None])
def test_json_body_without_the_json_type_is_read_as_json(client, content_type):
    """fetch(url, {method: "POST", body: JSON.stringify(x)}) sends text/plain; others none."""
    body = '{"type": "offer", "payload": {"type": "offer", "sdp": "v=0"}}'
    resp = client.post("/signal", data=body, content_type=content_type)
    assert resp.status_code == 201, resp.json
    assert client.get("/signal?type=offer").json["payload"] == {"type": "offer", "sdp": "v=0"}
    gone = client.delete("/signal", data='{"room": "default-room"}', content_type=content_type)
    assert gone.json == {"deleted": 1}


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("type=offer", "text/plain", 400),
        ("[1, 2]", "text/plain", 400),
        ("type=offer", "application/x-www-form-urlencoded", 415),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(client, data, content_type, status):
    resp = client.post("/signal", data=data, content_type=content_type)
    assert resp.status_code == status
    assert resp.is_json
    assert client.get("/signal?type=offer").json["payload"] is None


def test_body_over_64_kib_is_413_and_stores_nothing(client):
    payload = {"type": "offer", "sdp": "x" * (64 * 1024)}
    resp = client.post("/signal", json={"type": "offer", "payload": payload})
    assert resp.status_code == 413
    assert resp.json["error"] == "request_entity_too_large"
    assert client.get("/signal?type=offer").json["payload"] is None


def test_an_unexpected_failure_is_a_json_500(app, client, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError

    monkeypatch.setattr(app.extensions["webrtc_signal"], "read", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    resp = client.get("/signal?type=offer")
    assert resp.status_code == 500
    assert resp.json["error"] == "internal_server_error"


def test_candidates_in_batches(client):
    payloads = [candidate(1), candidate(2), candidate(3)]
    resp = client.post("/signal", json={"type": "candidate_receiver", "payloads": payloads})
    assert resp.status_code == 201
    stored = resp.json["keys"]
    assert [key[2] for key in stored] == ["candidates_for_initiator"] * 3
    got = client.get("/signal?type=candidate_receiver").json
    assert [c["payload"] for c in got] == payloads
    assert client.delete("/signal", json={"keys": stored[:2]}).json == {"deleted": 2}
    assert [c["key"] for c in client.get("/signal?type=candidate_receiver").json] == stored[2:]


@pytest.mark.parametrize("wait", ["0", "-1", "31", "soon", "nan", "inf"])
def test_bad_wait_is_400(client, wait):
    resp = client.get(f"/signal?type=offer&wait={wait}")
    assert resp.status_code == 400
    assert "wait" in resp.json["message"]


def test_wait_answers_as_without_wait(client):
    assert client.get("/signal?type=offer&wait=0.05").json == {"type": "offer", "payload": None}
    assert client.get("/signal?type=candidate_initiator&wait=0.05").json == []
    client.post("/signal", json={"type": "offer", "payload": OFFER})
    assert client.get("/signal?type=offer&wait=30").json == {"type": "offer", "payload": OFFER}


def test_tokens_over_http(client):
    """Entering hands out a token in a header; the room is then private to its members."""
    resp = client.get("/room?room=p&peer=alice")
    token = resp.headers["X-Peer-Token"]
    assert resp.headers["Cache-Control"] == "no-store"
    alice = {"X-Peer-Token": token}
    offer = {"room": "p", "type": "offer", "payload": OFFER, "peer": "alice"}
    assert client.post("/signal", json=offer, headers=alice).status_code == 201
    assert "X-Peer-Token" not in client.get("/room?room=p&peer=alice", headers=alice).headers
    for outsider in ("/signal?room=p&type=offer", "/signal?room=p&type=offer&peer=alice"):
        resp = client.get(outsider)
        assert (resp.status_code, resp.json["error"]) == (403, "not_a_member")
    wrong = client.get("/signal?room=p&type=offer&peer=alice", headers={"X-Peer-Token": "x"})
    assert wrong.status_code == 403
    assert client.delete("/room?room=p&peer=alice").status_code == 403
    assert client.delete("/room?room=p&peer=alice", headers=alice).json == {"deleted": 1}
    assert client.get("/signal?room=p&type=offer").json["payload"] is None  # empty room again
