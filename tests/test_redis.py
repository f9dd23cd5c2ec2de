"""The Redis store as deployments use it: several app processes on one real redis-server."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlencode

import pytest
import redis

from harness.network import free_port
from tests.helpers import app_process, at_once, wait_until
from webrtc_signal import MemoryStore, Signaling, StoreUnavailable
from webrtc_signal.store.redis import RedisStore

OFFER = {"type": "offer", "sdp": "v=0"}
ANSWER = {"type": "answer", "sdp": "v=0 answer"}


@pytest.fixture
def two_apps(redis_url):
    # Limits off: the concurrency test writes faster than one address may.
    apps = [app_process(redis_url, SIGNAL_RATE_LIMIT="off") for _ in range(2)]
    yield apps
    for app in apps:
        app.stop()


def test_the_seed_flow_across_two_processes(two_apps):
    """Every request of a call goes to the other process than the one before."""
    a, b = two_apps
    alice = a.enter("x", "alice")
    assert b.request("GET", "/signal?room=x&type=offer&peer=alice", token=alice)[1] == {
        "type": "offer",
        "payload": None,
    }
    offer = {"room": "x", "type": "offer", "payload": OFFER, "peer": "alice"}
    assert a.request("POST", "/signal", offer, token=alice)[0] == 201
    bob = b.enter("x", "bob")
    assert a.request("POST", "/signal", {**offer, "peer": "bob"}, token=bob)[1]["error"] == (
        "offer_exists"
    )
    assert a.request("GET", "/room?room=x&peer=carol")[1]["error"] == "room_full"
    assert b.request("GET", "/signal?room=x&type=offer")[1]["error"] == "not_a_member"
    assert a.request("GET", "/signal?room=x&type=offer&peer=bob", token=bob)[1]["payload"] == OFFER
    answer = {"room": "x", "type": "answer", "payload": ANSWER, "peer": "bob"}
    assert b.request("POST", "/signal", answer, token=bob)[0] == 201
    # A member's answer took the answered offer along: the seed's DELETE finds none.
    delete = "/signal?room=x&type=offer&peer=bob"
    assert a.request("DELETE", delete, token=bob) == (200, {"deleted": 0})
    batch = {
        "room": "x",
        "type": "candidate_initiator",
        "peer": "alice",
        "payloads": [{"candidate": "1"}, {"candidate": "2"}],
    }
    keys = b.request("POST", "/signal", batch, token=alice)[1]["keys"]
    got = a.request("GET", "/signal?room=x&type=candidate_initiator&peer=bob", token=bob)[1]
    assert [c["key"] for c in got] == keys
    assert b.request("DELETE", "/signal", {"keys": keys, "peer": "bob"}, token=bob) == (
        200,
        {"deleted": 2},
    )
    read = "/signal?room=x&type=answer&peer=alice"
    assert a.request("GET", read, token=alice)[1]["payload"] == ANSWER
    assert b.request("DELETE", "/signal?room=x&peer=alice", token=alice) == (200, {"deleted": 1})
    assert a.request("GET", "/room?room=x&peer=bob", token=bob)[1]["peers"] == 1


@pytest.mark.parametrize("room", ["w", "東京 会議"])  # the wake-up names the room in UTF-8
def test_a_post_to_one_process_wakes_a_reader_on_the_other(two_apps, room):
    a, b = two_apps

    def wait_on_a():
        start = time.monotonic()
        query = urlencode({"room": room, "type": "answer", "wait": 20})
        result = a.request("GET", f"/signal?{query}", timeout=30)
        return time.monotonic() - start, result

    def post_to_b():
        time.sleep(0.5)
        return b.request(
            "POST",
            "/signal",
            {"room": room, "type": "answer", "payload": {"type": "answer", "sdp": "n1"}},
        )

    (elapsed, (status, body)), (posted, _) = at_once([wait_on_a, post_to_b])
    assert posted == 201
    assert (status, body["payload"]) == (200, {"type": "answer", "sdp": "n1"})
    assert elapsed < 10  # woken through Redis, not by the 20 s timeout


def test_an_in_call_description_posted_on_one_process_wakes_events_on_the_other(two_apps):
    a, b = two_apps
    alice, bob = a.enter("d", "alice"), b.enter("d", "bob")
    reoffer = {"type": "offer", "sdp": "v=0 re-offer"}

    def events_on_a():
        start = time.monotonic()
        path = "/events?room=d&peer=alice&peers=2&wait=20"
        return time.monotonic() - start, a.request("GET", path, timeout=30, token=alice)

    def post_to_b():
        time.sleep(0.5)
        body = {"room": "d", "peer": "bob", "type": "description", "payload": reoffer}
        return b.request("POST", "/signal", body, token=bob)

    (elapsed, (status, body)), (posted, _) = at_once([events_on_a, post_to_b])
    assert posted == 201
    assert status == 200
    assert [d["payload"] for d in body["descriptions"]] == [reoffer]
    assert elapsed < 3  # woken through Redis, not by the hold's 5 s timeout


def test_concurrent_offers_across_processes(two_apps):
    a, b = two_apps
    for n in range(20):
        body = {"room": f"race{n}", "type": "offer", "payload": OFFER}
        statuses = at_once(
            [
                lambda body=body: a.request("POST", "/signal", body)[0],
                lambda body=body: b.request("POST", "/signal", body)[0],
            ]
        )
        assert sorted(statuses) == [201, 409]


def test_redis_down_gives_503_fast_and_comes_back(redis_server, redis_url):
    app = app_process(redis_url)
    try:
        app.request("POST", "/signal", {"room": "k", "type": "offer", "payload": OFFER})
        redis_server.stop()
        for path in ("/healthz", "/signal?room=k&type=offer", "/signal?room=k&type=answer&wait=5"):
            start = time.monotonic()
            status, body = app.request("GET", path)
            assert status == 503, (path, body)
            assert body["error"] == "store_unavailable"
            assert time.monotonic() - start < 8  # bounded by the socket timeouts
        status, body = app.request(
            "POST",
            "/signal",
            {"room": "k", "type": "answer", "payload": {"type": "answer", "sdp": "a"}},
        )
        assert (status, body["error"]) == (503, "store_unavailable")

        redis_server.start()  # a fresh, empty Redis on the same port
        deadline = time.monotonic() + 15
        while app.request("GET", "/healthz")[0] != 200:
            assert time.monotonic() < deadline, "the app did not reconnect"
            time.sleep(0.2)
        assert (
            app.request("POST", "/signal", {"room": "k", "type": "offer", "payload": OFFER})[0]
            == 201
        )
        assert app.request("GET", "/signal?room=k&type=offer")[1]["payload"] == OFFER
    finally:
        app.stop()
        if redis_server.proc is None:
            redis_server.start()


# Keeps Redis busy (it runs one command at a time) for ARGV[1] milliseconds.
BUSY = """
local start = redis.call("TIME")
local function ms()
  local now = redis.call("TIME")
  return (now[1] - start[1]) * 1000 + (now[2] - start[2]) / 1000
end
while ms() < tonumber(ARGV[1]) do end
return 1
"""


def test_more_requests_at_once_than_connections_wait_for_one(redis_url):
    """A gevent worker may have hundreds of requests in Redis at once: those beyond the
    process's pool of connections wait for one (up to the timeout) instead of failing."""
    store = RedisStore.from_url(redis_url)
    store.set(("ns", "r", "k"), "v", ttl=60)
    blocker = redis.Redis.from_url(redis_url)
    try:
        # While Redis is busy, every request holds its connection until Redis answers.
        busy = threading.Thread(target=blocker.eval, args=(BUSY, 0, 400))
        busy.start()
        time.sleep(0.05)
        results = at_once([lambda: store.get(("ns", "r", "k")) for _ in range(120)])
        busy.join()
    finally:
        blocker.close()
        store.close()
    assert results == ["v"] * 120


def test_closing_the_store_closes_its_connections(redis_url):
    watcher = redis.Redis.from_url(redis_url)
    before = len(watcher.client_list())
    store = RedisStore.from_url(redis_url)
    store.notifier()  # its subscriber holds a connection of its own
    at_once([lambda: store.get(("ns", "r", "k")) for _ in range(5)])
    assert len(watcher.client_list()) > before
    store.close()
    wait_until(lambda: len(watcher.client_list()) == before, 5, "connections left open")
    watcher.close()


def test_a_rooms_poll_uses_no_keyspace_scan(redis_url):
    store = RedisStore.from_url(redis_url)
    signaling = Signaling(store)
    for n in range(50):
        token = signaling.enter(f"room{n}", f"p{n}")
        signaling.post(f"room{n}", "candidate_initiator", {"candidate": str(n)}, f"p{n}", token)
    client = redis.Redis.from_url(redis_url)
    client.config_resetstat()
    q7 = signaling.enter("room7", "q7")
    signaling.read("room7", "candidate_initiator", peer="q7", token=q7)
    key = ["webrtc_signal", "room7", "candidates_for_receiver", "0" * 32]
    signaling.delete_keys([key], peer="q7", token=q7)
    stats = client.info("commandstats")
    assert stats, "Redis reported no commands"
    assert not {"cmdstat_keys", "cmdstat_scan"} & set(stats)
    client.close()
    store.close()


def test_a_redis_failure_inside_the_core_is_store_unavailable():
    store = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    with pytest.raises(StoreUnavailable, match="redis store failed"):
        store.get(("k", "x"))
    store.close()


def test_only_the_redis_store_crosses_processes(redis_url):
    """Two Signaling objects on one Redis share wake-ups; a memory store keeps its own."""
    store_a, store_b = RedisStore.from_url(redis_url), RedisStore.from_url(redis_url)
    a, b = Signaling(store_a), Signaling(store_b)
    time.sleep(0.3)  # let both subscribers connect

    def post_on_b():
        time.sleep(0.3)
        b.post("r", "answer", {"type": "answer", "sdp": "x"})

    (answer, _) = at_once([lambda: a.read("r", "answer", wait=10), post_on_b])
    assert answer == {"type": "answer", "sdp": "x"}
    assert type(MemoryStore().notifier()).__name__ == "Notifier"
    store_a.close()
    store_b.close()


@pytest.mark.browser
def test_a_browser_call_with_each_person_on_another_process(two_apps, people):
    """Alice's page and requests go to one process, Bob's to the other; Redis joins them."""
    a, b = two_apps
    alice = people(f"{a.url}/?room=split")
    bob = people(f"{b.url}/?room=split")
    alice.start()
    alice.expect_state("waiting")
    bob.start()
    alice.expect_state("connected")
    bob.expect_state("connected")
    bob.expect_remote_video_playing()
    alice.send("across processes")
    bob.expect_chat("across processes")
    bob.hang_up()
    alice.expect_state("left")
