"""The push channel (``Signaling.events`` and ``GET /events``): one held request per peer."""

from __future__ import annotations

import threading
import time

import pytest

from webrtc_signal import InvalidRequest, MemoryStore, NotAMember, Signaling

OFFER = {"type": "offer", "sdp": "o"}
ANSWER = {"type": "answer", "sdp": "a"}


def cand(n: int) -> dict:
    return {"candidate": f"candidate:{n} 1 udp 1 127.0.0.1 {5000 + n} typ host"}


def enter(signaling: Signaling, peer: str, room: str = "r") -> dict[str, str]:
    return {"peer": peer, "token": signaling.enter(room, peer)}


@pytest.fixture
def signaling() -> Signaling:
    return Signaling(MemoryStore(), peer_timeout=10)


@pytest.fixture
def call(signaling):
    """Alice offered, Bob entered: the two members' credentials."""
    alice = enter(signaling, "alice")
    signaling.post("r", "offer", OFFER, **alice)
    return alice, enter(signaling, "bob")


def in_background(fn, *args, **kwargs) -> tuple[threading.Thread, list]:
    """Run ``fn`` on a thread of its own; the list gets its result or the error it raised."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(fn(*args, **kwargs))
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_events_bring_the_other_sides_answer_and_candidates_not_your_own(signaling, call):
    alice, bob = call
    signaling.post_candidates("r", "candidate_initiator", [cand(1)], **alice)
    signaling.post("r", "answer", ANSWER, **bob)
    signaling.post_candidates("r", "candidate_receiver", [cand(2), cand(3)], **bob)

    got = signaling.events("r", **alice)
    assert got["peers"] == 2
    assert got["answer"] == ANSWER
    assert [c["payload"] for c in got["candidates"]] == [cand(2), cand(3)]
    assert isinstance(got["cursor"], str)

    theirs = signaling.events("r", **bob)
    assert theirs["answer"] is None  # Bob's own answer is not for him
    assert [c["payload"] for c in theirs["candidates"]] == [cand(1)]


def test_the_cursor_acknowledges_and_deletes_what_was_delivered(signaling, call):
    alice, bob = call
    signaling.post("r", "answer", ANSWER, **bob)
    signaling.post_candidates("r", "candidate_receiver", [cand(2)], **bob)
    first = signaling.events("r", **alice)

    # Asked again without the cursor (the answer was lost on its way): the same again.
    again = signaling.events("r", **alice)
    assert again["answer"] == ANSWER
    assert again["candidates"] == first["candidates"]

    # A wrong cursor acknowledges nothing.
    signaling.events("r", cursor="not-the-cursor", **alice)
    assert signaling.room_state("r")["candidates_for_initiator"] == 1

    # The cursor of the last answer: those signals are gone, and nothing new is there.
    signaling.post_candidates("r", "candidate_receiver", [cand(4)], **bob)
    latest = signaling.events("r", **alice)
    assert [c["payload"] for c in latest["candidates"]] == [cand(2), cand(4)]
    after = signaling.events("r", cursor=latest["cursor"], peers=2, **alice)
    assert after == {"cursor": None, "peers": 2, "answer": None, "candidates": []}
    state = signaling.room_state("r")
    assert (state["answer"], state["candidates_for_initiator"], state["offer"]) == (0, 0, 1)


def test_a_candidate_posted_after_the_answer_is_not_acknowledged_unseen(signaling, call):
    alice, bob = call
    signaling.post_candidates("r", "candidate_receiver", [cand(1)], **bob)
    first = signaling.events("r", **alice)
    signaling.post_candidates("r", "candidate_receiver", [cand(2)], **bob)
    second = signaling.events("r", cursor=first["cursor"], peers=2, **alice)
    assert [c["payload"] for c in second["candidates"]] == [cand(2)]


def test_a_held_request_is_woken_by_a_post_to_its_room(signaling, call):
    alice, bob = call
    waiting, outcome = in_background(signaling.events, "r", peers=2, wait=10, **alice)
    time.sleep(0.1)
    started = time.monotonic()
    signaling.post("r", "candidate_receiver", cand(7), **bob)
    waiting.join()
    assert time.monotonic() - started < 2  # woken, not timed out
    assert [c["payload"] for c in outcome[0]["candidates"]] == [cand(7)]


def test_the_room_filling_and_the_other_leaving_wake_the_one_who_waits(signaling):
    alice = enter(signaling, "alice")
    signaling.post("r", "offer", OFFER, **alice)
    waiting, outcome = in_background(signaling.events, "r", peers=1, wait=10, **alice)
    time.sleep(0.1)
    bob = enter(signaling, "bob")
    waiting.join(timeout=2)
    assert outcome and outcome[0]["peers"] == 2

    waiting, outcome = in_background(signaling.events, "r", peers=2, wait=10, **alice)
    time.sleep(0.1)
    signaling.leave("r", **bob)
    waiting.join(timeout=2)
    assert outcome and outcome[0]["peers"] == 1


@pytest.mark.parametrize("ending", ["hang_up", "leave"])
def test_hanging_up_or_leaving_ends_the_leavers_held_request_at_once(signaling, call, ending):
    """Woken by its own hang-up, the held request re-checks membership: a 403 at once, not
    at the next timeout."""
    alice, _ = call
    waiting, outcome = in_background(signaling.events, "r", peers=2, wait=30, **alice)
    time.sleep(0.1)
    started = time.monotonic()
    getattr(signaling, ending)("r", **alice)
    waiting.join(timeout=5)
    assert time.monotonic() - started < 1
    assert isinstance(outcome[0], NotAMember)


def test_a_hold_lasts_at_most_half_the_peer_timeout():
    """So a page that asks again at once keeps its place with no heartbeat of its own."""
    signaling = Signaling(MemoryStore(), peer_timeout=0.4)
    alice = enter(signaling, "alice")
    for _ in range(4):  # 4 holds cover twice the peer timeout: alice is never dropped
        started = time.monotonic()
        got = signaling.events("r", peers=1, wait=30, **alice)
        assert got["peers"] == 1
        assert time.monotonic() - started < 0.4
    assert signaling.presence("r", **alice)["peers"] == 1


def test_a_closed_tab_frees_its_place_within_the_peer_timeout():
    signaling = Signaling(MemoryStore(), peer_timeout=0.3)
    alice, bob = enter(signaling, "alice"), enter(signaling, "bob")
    signaling.events("r", **alice)  # alice's last request; then her tab closes
    closed = time.monotonic()
    peers = 2
    while peers == 2 and time.monotonic() - closed < 3:  # bob asks again at once, as pages do
        peers = signaling.events("r", peers=2, wait=30, **bob)["peers"]
    assert peers == 1
    assert time.monotonic() - closed < 0.3 + 0.3
    assert signaling.room_state("r")["peers"] == 1


@pytest.mark.parametrize(
    ("who", "error"),
    [
        ({}, InvalidRequest),  # a room without members, and no peer id
        ({"peer": "mallory"}, NotAMember),
    ],
)
def test_events_are_for_members_only(signaling, who, error):
    if error is NotAMember:
        enter(signaling, "alice")
    with pytest.raises(error):
        signaling.events("r", **who)


@pytest.mark.parametrize("wait", [0, -1, 31])
def test_the_wait_is_bounded(signaling, call, wait):
    with pytest.raises(InvalidRequest, match="wait"):
        signaling.events("r", wait=wait, **call[0])


# -- over HTTP -------------------------------------------------------------------------------


def test_events_over_http_enter_the_room_and_deliver(client):
    first = client.get("/events?room=h&peer=alice")
    assert first.status_code == 200
    assert first.json == {"cursor": None, "peers": 1, "answer": None, "candidates": []}
    alice = {"X-Peer-Token": first.headers["X-Peer-Token"]}
    bob = client.get("/events?room=h&peer=bob").headers["X-Peer-Token"]
    posted = client.post(
        "/signal",
        json={"room": "h", "peer": "bob", "type": "candidate_receiver", "payload": cand(1)},
        headers={"X-Peer-Token": bob},
    )
    assert posted.status_code == 201
    got = client.get("/events?room=h&peer=alice&peers=1&wait=5", headers=alice).json
    assert got["peers"] == 2
    assert [c["payload"] for c in got["candidates"]] == [cand(1)]
    acked = client.get(f"/events?room=h&peer=alice&peers=2&cursor={got['cursor']}", headers=alice)
    assert acked.json["candidates"] == []


@pytest.mark.parametrize(
    "query", ["room=h&peer=alice&wait=x", "room=h&peer=alice&peers=3", "room=h&peer=alice&peers=a"]
)
def test_bad_events_parameters_are_400(client, query):
    resp = client.get(f"/events?{query}")
    assert resp.status_code == 400
    assert resp.json["error"] == "invalid_request"


def test_events_of_an_outsider_are_403(client):
    token = client.get("/events?room=h&peer=alice").headers["X-Peer-Token"]
    assert token
    resp = client.get("/events?room=h")
    assert resp.status_code == 403
    assert resp.json["error"] == "not_a_member"


def test_waiting_tells_the_count_and_nothing_else_without_a_place(client):
    assert client.get("/waiting?room=w").json == {"room": "w", "waiting": 0}
    token = client.get("/events?room=w&peer=alice").headers["X-Peer-Token"]
    client.post(
        "/signal",
        json={"room": "w", "peer": "alice", "type": "offer", "payload": OFFER},
        headers={"X-Peer-Token": token},
    )
    answer = client.get("/waiting?room=w")
    assert answer.json == {"room": "w", "waiting": 1}
    assert "X-Peer-Token" not in answer.headers
    client.get("/events?room=w&peer=bob")
    assert client.get("/waiting?room=w").json["waiting"] == 2
    # Asking took no place: a second person still gets in after the first left.
    client.delete("/room?room=w&peer=alice", headers={"X-Peer-Token": token})
    assert client.get("/waiting?room=w").json["waiting"] == 1
    assert client.get("/waiting?room=no%2Fslashes").status_code == 400
    # A name as typed, spaces and all, is told as the server knows it: normalised.
    assert client.get("/waiting?room=%20w%20").json == {"room": "w", "waiting": 1}
