"""The push channel (``Signaling.events`` and ``GET /events``): one held request per peer."""

from __future__ import annotations

import threading
import time

import pytest

from flask_app import create_app
from harness.clock import FakeClock
from harness.endpoint import Endpoint
from webrtc_signal import InvalidRequest, MemoryStore, NotAMember, Signaling, TooManySignals

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
    assert after == {
        "cursor": None,
        "peers": 2,
        "offer": None,
        "answer": None,
        "candidates": [],
        "descriptions": [],
    }
    state = signaling.room_state("r")
    # Bob's answer took the offer it answered along.
    assert (state["answer"], state["candidates_for_initiator"], state["offer"]) == (0, 0, 0)


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


# -- in-call descriptions --------------------------------------------------------------------


def reoffer(n: int) -> dict:
    return {"type": "offer", "sdp": f"v=0 re-offer {n}"}


def test_descriptions_go_to_the_other_member_only_in_posting_order(signaling, call):
    alice, bob = call
    posted = [signaling.post("r", "description", reoffer(n), **alice) for n in range(3)]
    assert all(key[:3] == ("webrtc_signal", "r", "descriptions") for key in posted)
    assert sorted(posted) == posted  # time-ordered ids: the key order is the posting order

    got = signaling.events("r", **bob)
    assert [d["payload"] for d in got["descriptions"]] == [reoffer(0), reoffer(1), reoffer(2)]
    assert [tuple(d["key"]) for d in got["descriptions"]] == posted
    assert signaling.events("r", **alice)["descriptions"] == []  # not its own


def test_descriptions_are_acknowledged_by_the_cursor_and_come_again_without_it(signaling, call):
    alice, bob = call
    signaling.post("r", "description", reoffer(1), **alice)
    first = signaling.events("r", **bob)
    again = signaling.events("r", **bob)  # the first answer was lost: the same again
    assert again["descriptions"] == first["descriptions"]
    assert signaling.room_state("r")["descriptions"] == 1

    answer = {"type": "answer", "sdp": "v=0 in-call answer"}
    signaling.post("r", "description", answer, **bob)  # bob's own does not count for bob
    done = signaling.events("r", cursor=again["cursor"], peers=2, **bob)
    assert (done["descriptions"], done["cursor"]) == ([], None)
    assert signaling.room_state("r")["descriptions"] == 1  # bob's answer, for alice
    assert [d["payload"] for d in signaling.events("r", **alice)["descriptions"]] == [answer]


def test_a_held_request_is_woken_by_a_description(signaling, call):
    alice, bob = call
    waiting, outcome = in_background(signaling.events, "r", peers=2, wait=10, **bob)
    time.sleep(0.1)
    started = time.monotonic()
    signaling.post("r", "description", reoffer(7), **alice)
    waiting.join()
    assert time.monotonic() - started < 2  # woken, not timed out
    assert [d["payload"] for d in outcome[0]["descriptions"]] == [reoffer(7)]


def test_at_most_twenty_unread_descriptions_of_one_member(signaling, call):
    alice, bob = call
    for n in range(20):
        signaling.post("r", "description", reoffer(n), **alice)
    with pytest.raises(TooManySignals):
        signaling.post("r", "description", reoffer(20), **alice)
    signaling.post("r", "description", {"type": "answer", "sdp": "a"}, **bob)  # bob's own count
    assert signaling.room_state("r")["descriptions"] == 21
    read = signaling.events("r", **bob)
    signaling.events("r", cursor=read["cursor"], **bob)  # read and acknowledged: room again
    signaling.post("r", "description", reoffer(20), **alice)


def test_hanging_up_clears_descriptions_and_leaving_takes_the_leavers(signaling, call):
    alice, bob = call
    signaling.post("r", "description", reoffer(1), **alice)
    signaling.post("r", "description", {"type": "answer", "sdp": "a"}, **bob)
    assert signaling.leave("r", **bob) == 1  # its answer went, alice's offer stays
    assert signaling.room_state("r")["descriptions"] == 1
    bob = enter(signaling, "bob")
    signaling.post("r", "description", reoffer(2), **bob)
    assert signaling.hang_up("r", **alice) >= 2
    assert signaling.room_state("r")["descriptions"] == 0


def test_a_dead_members_descriptions_go_with_it():
    clock = FakeClock(1000.0)
    signaling = Signaling(MemoryStore(clock=clock), peer_timeout=10, clock=clock)
    alice, bob = enter(signaling, "alice"), enter(signaling, "bob")
    signaling.post("r", "description", reoffer(1), **alice)
    signaling.post("r", "description", reoffer(2), **bob)
    clock.now += 6
    signaling.presence("r", **bob)
    clock.now += 6  # alice silent for more than the peer timeout; bob was not
    assert signaling.room_state("r") == {
        "peers": 1,
        "offer": 0,
        "answer": 0,
        "candidates_for_initiator": 0,
        "candidates_for_receiver": 0,
        "descriptions": 1,
    }


def test_descriptions_are_for_members_only(signaling):
    with pytest.raises(InvalidRequest, match="members"):
        signaling.post("r", "description", reoffer(1))  # a room without members
    enter(signaling, "alice")
    with pytest.raises(NotAMember):
        signaling.post("r", "description", reoffer(1), peer="mallory")
    open_room = Signaling(MemoryStore(), open_rooms=True)
    enter(open_room, "alice")
    with pytest.raises(InvalidRequest, match="members"):
        open_room.post("r", "description", reoffer(1))  # open rooms do not change this
    assert signaling.room_state("r")["descriptions"] == 0


def test_a_seed_client_in_an_open_room_sees_no_change():
    """A client without a peer id in an open room reads and posts as before, and the
    members' in-call descriptions never reach its reads."""
    signaling = Signaling(MemoryStore(), open_rooms=True)
    alice = enter(signaling, "alice")
    signaling.post("r", "offer", OFFER, **alice)
    assert signaling.read("r", "offer") == OFFER  # the seed client answers it
    signaling.post("r", "answer", ANSWER)
    signaling.post("r", "candidate_receiver", cand(1))
    signaling.post("r", "description", reoffer(1), **alice)
    assert signaling.read("r", "answer") == ANSWER
    assert signaling.read("r", "candidate_initiator") == []
    assert [c["payload"] for c in signaling.read("r", "candidate_receiver")] == [cand(1)]
    with pytest.raises(InvalidRequest, match="/events"):
        signaling.read("r", "description")


# -- over HTTP -------------------------------------------------------------------------------


def test_events_over_http_enter_the_room_and_deliver(client):
    first = client.get("/events?room=h&peer=alice")
    assert first.status_code == 200
    assert first.json == {
        "cursor": None,
        "peers": 1,
        "offer": None,
        "answer": None,
        "candidates": [],
        "descriptions": [],
    }
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


def test_descriptions_over_http(client):
    alice = client.get("/events?room=d&peer=alice").headers["X-Peer-Token"]
    bob = client.get("/events?room=d&peer=bob").headers["X-Peer-Token"]
    body = {"room": "d", "peer": "alice", "type": "description", "payload": reoffer(1)}
    posted = client.post("/signal", json=body, headers={"X-Peer-Token": alice})
    assert posted.status_code == 201
    key = posted.json["key"]
    assert key[:3] == ["webrtc_signal", "d", "descriptions"]
    assert len(key[3]) == 32 and set(key[3]) <= set("0123456789abcdef")
    got = client.get("/events?room=d&peer=bob&peers=2", headers={"X-Peer-Token": bob}).json
    assert got["descriptions"] == [{"key": key, "payload": reoffer(1)}]
    acked = client.get(
        f"/events?room=d&peer=bob&peers=2&cursor={got['cursor']}", headers={"X-Peer-Token": bob}
    )
    assert acked.json["descriptions"] == []
    # A description's key is a signal key: its sender may take it back.
    again = client.post("/signal", json=body, headers={"X-Peer-Token": alice}).json["key"]
    gone = client.delete(
        "/signal", json={"peer": "alice", "key": again}, headers={"X-Peer-Token": alice}
    )
    assert gone.json == {"deleted": 1}


@pytest.mark.parametrize(
    ("who", "body", "status", "error"),
    [
        (None, {"payload": {"type": "offer", "sdp": "x"}}, 400, "invalid_request"),
        ("alice", {"payload": {"type": "pranswer", "sdp": "x"}}, 400, "invalid_request"),
        ("alice", {"payload": {"type": "rollback", "sdp": ""}}, 400, "invalid_request"),
        ("alice", {"payload": {"type": "offer"}}, 400, "invalid_request"),
        ("alice", {"payload": {"type": "offer", "sdp": 5}}, 400, "invalid_request"),
        ("alice", {"payload": "v=0"}, 400, "invalid_request"),
        ("alice", {"payloads": [{"type": "offer", "sdp": "x"}]}, 400, "invalid_request"),
        ("mallory", {"payload": {"type": "offer", "sdp": "x"}}, 403, "not_a_member"),
    ],
)
def test_bad_descriptions_are_refused_and_store_nothing(app, client, who, body, status, error):
    tokens = {
        name: client.get(f"/room?room=d&peer={name}").headers["X-Peer-Token"]
        for name in ("alice", "bob")
    }
    headers = {"X-Peer-Token": tokens.get(who) or "not-a-token"}
    sent = {"room": "d", "type": "description", **body}
    if who is not None:
        sent["peer"] = who
    resp = client.post("/signal", json=sent, headers=headers)
    assert (resp.status_code, resp.json["error"]) == (status, error)
    assert resp.json["message"]
    assert app.extensions["webrtc_signal"].room_state("d")["descriptions"] == 0


@pytest.fixture
def open_client(tmp_path):
    """A test client of an app with SIGNAL_OPEN_ROOMS on."""
    app = create_app(
        {
            "TESTING": True,
            "SIGNAL_STORE": f"sqlite:///{tmp_path / 'open.sqlite'}",
            "SIGNAL_OPEN_ROOMS": "1",
        }
    )
    yield app.test_client()
    app.extensions["webrtc_signal"].store.close()


def test_a_seed_client_in_an_open_room_over_http_is_unaffected(open_client):
    """Our member offers and posts an in-call description; a client without a peer id reads
    and answers as the seed did, sees no description anywhere, and may post none."""
    client = open_client
    alice = {"X-Peer-Token": client.get("/room?room=o&peer=alice").headers["X-Peer-Token"]}
    member = {"room": "o", "peer": "alice"}
    client.post("/signal", json={**member, "type": "offer", "payload": OFFER}, headers=alice)
    client.post(
        "/signal", json={**member, "type": "description", "payload": reoffer(1)}, headers=alice
    )

    assert client.get("/signal?room=o&type=offer").json == {"type": "offer", "payload": OFFER}
    assert (
        client.post("/signal", json={"room": "o", "type": "answer", "payload": ANSWER}).status_code
        == 201
    )
    posted = client.post(
        "/signal", json={"room": "o", "type": "candidate_receiver", "payload": cand(1)}
    )
    assert posted.status_code == 201
    assert client.get("/signal?room=o&type=candidate_initiator").json == []
    assert [c["payload"] for c in client.get("/signal?room=o&type=candidate_receiver").json] == [
        cand(1)
    ]
    refused = client.post(
        "/signal", json={"room": "o", "type": "description", "payload": reoffer(2)}
    )
    assert refused.status_code == 400
    assert refused.json["message"] == (
        "in-call descriptions are for members: send your peer id and token"
    )
    assert client.get("/signal?room=o&type=description").status_code == 400
    # The member's own events carry the seed client's answer and candidate, not its own
    # description.
    got = client.get("/events?room=o&peer=alice", headers=alice).json
    assert (got["answer"], got["descriptions"]) == (ANSWER, [])
    assert [c["payload"] for c in got["candidates"]] == [cand(1)]
    assert client.delete("/signal?room=o").json == {"deleted": 4}  # the seed client hangs up


def test_descriptions_are_not_read_through_signal(client):
    token = client.get("/room?room=d&peer=alice").headers["X-Peer-Token"]
    for query in ("room=d&type=description&peer=alice", "room=e&type=description"):
        resp = client.get(f"/signal?{query}", headers={"X-Peer-Token": token})
        assert resp.status_code == 400
        assert resp.json == {
            "error": "invalid_request",
            "message": "descriptions come through /events",
        }


def test_too_many_descriptions_is_a_clear_409(client):
    token = {"X-Peer-Token": client.get("/room?room=d&peer=alice").headers["X-Peer-Token"]}
    client.get("/room?room=d&peer=bob")
    body = {"room": "d", "peer": "alice", "type": "description", "payload": reoffer(1)}
    for _ in range(20):
        assert client.post("/signal", json=body, headers=token).status_code == 201
    resp = client.post("/signal", json=body, headers=token)
    assert (resp.status_code, resp.json["error"]) == (409, "too_many_signals")


def test_a_held_events_request_over_http_wakes_on_a_description(live_server):
    server = Endpoint(live_server.url)
    alice, bob = server.enter("h", "alice"), server.enter("h", "bob")
    body = {"room": "h", "peer": "alice", "type": "description", "payload": reoffer(3)}
    thread, outcome = in_background(
        server.exchange, "GET", "/events?room=h&peer=bob&peers=2&wait=20", token=bob
    )
    time.sleep(0.3)
    started = time.monotonic()
    assert server.exchange("POST", "/signal", body, token=alice)[0] == 201
    thread.join(timeout=10)
    assert time.monotonic() - started < 3
    status, answer, _ = outcome[0]
    assert status == 200
    assert [d["payload"] for d in answer["descriptions"]] == [reoffer(3)]
