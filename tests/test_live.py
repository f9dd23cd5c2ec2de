"""The API against a real threaded server on a free loopback port."""

from __future__ import annotations

import http.client
import time

import pytest

from flask_app import create_app
from tests.helpers import LiveServer, at_once

OFFER = {"type": "offer", "sdp": "v=0"}


@pytest.fixture
def app(store_url):
    """The app with rate limits off: the concurrency tests send hundreds of writes a second
    from one address, which the limits (tested in test_security) would rightly refuse."""
    app = create_app({"TESTING": True, "SIGNAL_STORE": store_url, "SIGNAL_RATE_LIMIT": "off"})
    yield app
    app.extensions["webrtc_signal"].store.close()


def test_seed_flow_over_http(live_server):
    ask = live_server.request
    assert ask("GET", "/signal?room=live&type=offer") == (200, {"type": "offer", "payload": None})
    status, body = ask("POST", "/signal", {"room": "live", "type": "offer", "payload": OFFER})
    assert (status, body) == (201, {"key": ["webrtc_signal", "live", "offer"]})
    assert ask("GET", "/signal?room=live&type=offer")[1]["payload"] == OFFER
    assert (
        ask(
            "POST",
            "/signal",
            {"room": "live", "type": "answer", "payload": {"type": "answer", "sdp": "a"}},
        )[0]
        == 201
    )
    assert ask("DELETE", "/signal?room=live&type=offer") == (200, {"deleted": 1})
    ask(
        "POST",
        "/signal",
        {"room": "live", "type": "candidate_receiver", "payload": {"candidate": "c"}},
    )
    [cand] = ask("GET", "/signal?room=live&type=candidate_receiver")[1]
    assert ask("DELETE", "/signal", {"key": cand["key"]}) == (200, {"deleted": 1})
    assert ask("DELETE", "/signal?room=live") == (200, {"deleted": 1})
    assert ask("GET", "/signal?room=live&type=answer")[1]["payload"] is None


@pytest.mark.parametrize("with_peer_ids", [False, True])
def test_concurrent_offers_exactly_one_wins(live_server, with_peer_ids):
    """Two clients post an offer to one room at the same instant, 40 rounds: one 201, one 409."""
    for n in range(40):
        room = f"race-{with_peer_ids}-{n}"

        tokens = (
            {who: live_server.enter(room, who) for who in ("alice", "bob")} if with_peer_ids else {}
        )

        def post(who: str, room: str = room, tokens: dict = tokens) -> tuple[int, dict]:
            body = {"room": room, "type": "offer", "payload": {"type": "offer", "sdp": who}}
            if tokens:
                body["peer"] = who
            return live_server.request("POST", "/signal", body, token=tokens.get(who))

        (a, a_body), (b, b_body) = at_once([lambda: post("alice"), lambda: post("bob")])
        assert sorted([a, b]) == [201, 409]
        loser = a_body if a == 409 else b_body
        assert loser["error"] == "offer_exists"
        winner = "alice" if a == 201 else "bob"
        path = f"/signal?room={room}&type=offer" + ("&peer=alice" if tokens else "")
        stored = live_server.request("GET", path, token=tokens.get("alice"))[1]["payload"]
        assert stored == {"type": "offer", "sdp": winner}


def test_concurrent_joins_admit_exactly_two(live_server):
    """Six peers knock on one room at once, 20 rounds: exactly two get in."""
    for n in range(20):
        statuses = at_once(
            [
                lambda i=i, n=n: live_server.request("GET", f"/room?room=join-{n}&peer=peer{i}")[0]
                for i in range(6)
            ]
        )
        assert sorted(statuses) == [200, 200, 409, 409, 409, 409]


def raw_get(live_server, path: str) -> int:
    """GET a path exactly as written (no client-side normalisation); the status."""
    conn = http.client.HTTPConnection(live_server.url.removeprefix("http://"), timeout=5)
    conn.request("GET", path)
    with conn.getresponse() as resp:
        resp.read()  # the whole answer, so the server finishes (and closes its file) first
        status = resp.status
    conn.close()
    return status


@pytest.mark.parametrize(
    "path",
    [
        "/.env",
        "/../setup.cfg",
        "/%2e%2e/setup.cfg",
        "/%2E%2E%2Fsetup.cfg",
        "/..%2fsetup.cfg",
        "/public/../setup.cfg",
        "/flask_app/__init__.py",
        "/.git/config",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
    ],
)
def test_nothing_outside_public_is_served(live_server, path, tmp_path):
    assert raw_get(live_server, path) == 404


def test_the_page_and_its_files_are_served(live_server):
    assert raw_get(live_server, "/") == 200
    assert raw_get(live_server, "/index.html") == 200


def test_a_silent_peer_is_dropped_within_the_peer_timeout(store_url):
    """A tab that posted an offer and went away: after the timeout the room is free again."""
    app = create_app({"SIGNAL_STORE": store_url, "SIGNAL_PEER_TIMEOUT": "1"})
    server = LiveServer(app).start()
    try:
        ask = server.request
        ask("POST", "/signal", {"room": "r", "type": "offer", "payload": OFFER, "peer": "gone"})
        bob = server.enter("r", "bob")
        assert ask("GET", "/room?room=r&peer=carol")[1]["error"] == "room_full"
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:  # bob keeps calling, "gone" stays silent
            ask("GET", "/signal?room=r&type=answer&peer=bob", token=bob)
            time.sleep(0.2)
        assert ask("GET", "/signal?room=r&type=offer&peer=bob", token=bob)[1]["payload"] is None
        carol = server.enter("r", "carol")
        assert ask("GET", "/room?room=r&peer=carol", token=carol) == (
            200,
            {"room": "r", "peers": 2},
        )
    finally:
        server.stop()
        app.extensions["webrtc_signal"].store.close()


def test_long_poll_is_woken_by_a_post(live_server):
    """A reader waiting up to 20 s gets the answer as soon as it is posted."""
    ask = live_server.request
    alice, bob = live_server.enter("lp", "alice"), live_server.enter("lp", "bob")
    ask(
        "POST",
        "/signal",
        {"room": "lp", "type": "offer", "payload": OFFER, "peer": "alice"},
        token=alice,
    )

    def answer_later() -> tuple[int, dict]:
        time.sleep(0.3)
        body = {
            "room": "lp",
            "type": "answer",
            "payload": {"type": "answer", "sdp": "a"},
            "peer": "bob",
        }
        return ask("POST", "/signal", body, token=bob)

    def wait_for_answer() -> tuple[float, tuple[int, dict]]:
        start = time.monotonic()
        path = "/signal?room=lp&type=answer&peer=alice&wait=20"
        result = ask("GET", path, timeout=30, token=alice)
        return time.monotonic() - start, result

    (elapsed, (status, body)), (posted, _) = at_once([wait_for_answer, answer_later])
    assert posted == 201
    assert (status, body) == (200, {"type": "answer", "payload": {"type": "answer", "sdp": "a"}})
    assert elapsed < 10  # woken by the post, long before the 20 s wait


def test_many_waiting_readers_do_not_block_others(live_server):
    """Forty readers wait on forty rooms; a post to one room still answers and wakes its reader."""

    def wait_in(n: int) -> int:
        path = f"/signal?room=w{n}&type=candidate_initiator&wait=3"
        return len(live_server.request("GET", path, timeout=30)[1])

    def post_to_w7() -> int:
        time.sleep(0.5)
        body = {"room": "w7", "type": "candidate_initiator", "payloads": [{"candidate": "c"}]}
        return live_server.request("POST", "/signal", body)[0]

    results = at_once([lambda n=n: wait_in(n) for n in range(40)] + [post_to_w7])
    assert results[-1] == 201
    assert results[7] == 1
    assert sum(results[:40]) == 1
