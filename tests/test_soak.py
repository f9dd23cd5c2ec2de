"""A bounded soak on loopback: many rooms open, call and close (some are abandoned mid-call)
for a while; afterwards the store holds nothing but live rooms and memory is back in bounds.

SOAK_SECONDS sets how long the load runs (default 90). The load is paced: a few callers, each
placing a call every CALL_EVERY_S at most, so the soak runs its whole duration without taking
both cores from the rest of the suite (`make test` runs another module beside it)."""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time

from harness.servers import Server
from tests.helpers import app_process

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "90"))
# 4 callers at one call each per 0.25 s at most: up to 16 calls a second, about 1,400 in
# the 90 s (well over the 100 it needs to mean anything), at a fraction of the server's
# capacity, where 12 callers back to back kept both cores busy.
WORKERS = 4
CALL_EVERY_S = 0.25
TTL = 8
PEER_TIMEOUT = 2
RSS_GROWTH_BOUND_MIB = 40


def rss_mib(server: Server) -> float:
    """The app process's VmRSS now, in MiB."""
    rss = server.memory().serving_rss
    assert rss > 0, "the app process is gone"
    return rss / 1024


def one_call(server: Server, room: str, abandon: bool) -> None:
    """Two peers meet, swap offer, answer and candidates; then hang up (or just vanish)."""
    ask = server.request
    alice, bob = server.enter(room, "alice"), server.enter(room, "bob")
    offer = {"room": room, "type": "offer", "payload": {"type": "offer", "sdp": "v=0 " * 200}}
    assert ask("POST", "/signal", {**offer, "peer": "alice"}, token=alice)[0] == 201
    got = ask("GET", f"/signal?room={room}&type=offer&peer=bob&wait=5", token=bob)[1]
    assert got["payload"]["type"] == "offer"
    answer = {
        "room": room,
        "type": "answer",
        "peer": "bob",
        "payload": {"type": "answer", "sdp": "a"},
    }
    assert ask("POST", "/signal", answer, token=bob)[0] == 201
    ask("DELETE", f"/signal?room={room}&type=offer&peer=bob", token=bob)
    for peer, token, kind in (
        ("alice", alice, "candidate_initiator"),
        ("bob", bob, "candidate_receiver"),
    ):
        batch = [
            {"candidate": f"candidate:{n} 1 udp 1 127.0.0.1 {9000 + n} typ host"} for n in range(4)
        ]
        body = {"room": room, "type": kind, "peer": peer, "payloads": batch}
        assert ask("POST", "/signal", body, token=token)[0] == 201
    if abandon:
        return  # both tabs closed mid-call: the server must clean up by itself
    for peer, token, kind in (
        ("alice", alice, "candidate_receiver"),
        ("bob", bob, "candidate_initiator"),
    ):
        items = ask("GET", f"/signal?room={room}&type={kind}&peer={peer}&wait=5", token=token)[1]
        assert len(items) == 4
        ask("DELETE", "/signal", {"keys": [i["key"] for i in items], "peer": peer}, token=token)
    assert ask("GET", f"/signal?room={room}&type=answer&peer=alice", token=alice)[1]["payload"]
    ask("DELETE", f"/signal?room={room}&peer=alice", token=alice)
    ask("DELETE", f"/room?room={room}&peer=bob", token=bob)


def test_soak(tmp_path):
    path = tmp_path / "soak.sqlite"
    server = app_process(
        f"sqlite:///{path}",
        SIGNAL_TTL=str(TTL),
        SIGNAL_PEER_TIMEOUT=str(PEER_TIMEOUT),
        SIGNAL_RATE_LIMIT="off",
    )
    try:
        for n in range(20):  # warm up: imports, caches and the store's first pages
            one_call(server, f"warm-{n}", abandon=False)
        warm = rss_mib(server)
        calls, errors = [], []
        stop_at = time.monotonic() + SOAK_SECONDS

        def worker(w: int) -> None:
            rng = random.Random(w)
            n = 0
            while time.monotonic() < stop_at and not errors:
                started = time.monotonic()
                try:
                    one_call(server, f"soak-{w}-{n}", abandon=rng.random() < 0.2)
                    calls.append(1)
                except Exception as exc:  # any failure: collected, reported below
                    errors.append(repr(exc))
                n += 1
                time.sleep(max(0.0, started + CALL_EVERY_S - time.monotonic()))

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(WORKERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        loaded = rss_mib(server)
        assert errors == []
        assert len(calls) > 100, "the soak ran too few calls to mean anything"

        time.sleep(TTL + 1)  # every abandoned signal and slot has expired
        one_call(server, "after", abandon=False)  # a write: the purge runs
        conn = sqlite3.connect(path)
        rows = conn.execute("SELECT key FROM signals").fetchall()
        conn.close()
        assert rows == [], f"{len(rows)} entries left, e.g. {rows[:3]}"
        after = rss_mib(server)
        print(
            f"\nsoak: {len(calls)} calls in {SOAK_SECONDS:.0f} s; RSS warm {warm:.1f} MiB, "
            f"loaded {loaded:.1f} MiB, after {after:.1f} MiB"
        )
        assert after - warm < RSS_GROWTH_BOUND_MIB
    finally:
        server.stop()
