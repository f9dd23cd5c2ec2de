"""One room's candidate poll with 10 and with 10,000 rooms in the sqlite store.

    .venv/bin/python -m bench.poll_scaling

Each room holds what a call in progress holds: an offer, an answer, two peer slots and six
candidates each way. The poll is the initiator's `GET /signal?type=candidate_receiver`,
timed through the core and through the Flask app (test client, no network).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from flask_app import create_app
from harness.tables import Row, print_table
from webrtc_signal import keys, protocol

CANDIDATES = 6
SAMPLES = 2000
ROUNDS = 10


def signals(n: int) -> list[tuple[str, dict]]:
    """Room `n`'s offer, answer and candidates, each as the core stores it: with its sender."""
    room = f"room-{n}"
    senders = (f"init-{n}", f"recv-{n}")
    items = [
        (keys.description_key(room, kind), {"payload": {"sdp": "x" * 2000}, "peer": sender})
        for kind, sender in zip(protocol.DESCRIPTION_TYPES, senders, strict=True)
    ]
    candidate = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}
    return items + [
        (keys.new_candidate_key(room, sent_as), {"payload": candidate, "peer": sender})
        for sent_as, sender in zip(protocol.CANDIDATES_FOR, senders, strict=True)
        for _ in range(CANDIDATES)
    ]


def fill(store, rooms: int) -> None:
    """Write `rooms` rooms' worth of a call in progress straight into the store.

    One `set_many` per room (one statement): the same rows as one `set` each, 16x faster.
    """
    now = time.time()
    for n in range(rooms):
        room = f"room-{n}"
        members = [
            (keys.peer_key(room, slot), {"peer": f"{peer}-{n}", "seen": now})
            for slot, peer in enumerate(("init", "recv"))
        ]
        store.set_many(members + signals(n), 300)


def timed(call, samples: int = SAMPLES) -> list[float]:
    """Seconds of each of `samples` runs of `call()`."""
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def setup(rooms: int, folder: Path) -> dict:
    """An app on a store of `rooms` rooms, and the two polls to time on it."""
    app = create_app({"SIGNAL_STORE": f"sqlite:///{folder / f'{rooms}.sqlite'}"})
    signaling = app.extensions["webrtc_signal"]
    start = time.perf_counter()
    fill(signaling.store, rooms)
    filled = time.perf_counter() - start
    n = rooms // 2
    room, peer = f"room-{n}", f"init-{n}"
    # The polled room's members enter for real, so the poll shows a real token.
    for slot in (0, 1):
        signaling.store.delete(keys.peer_key(room, slot))
    token = signaling.enter(room, peer)
    signaling.enter(room, f"recv-{n}")
    # Entering clears what senders without a place left behind, so the signals come after.
    signaling.store.set_many(signals(n), 300)
    client = app.test_client()
    url = f"/signal?room={room}&type=candidate_receiver&peer={peer}"
    headers = {"X-Peer-Token": token}
    assert len(client.get(url, headers=headers).json) == CANDIDATES
    return {
        "store": signaling.store,
        "fill": filled,
        "core": lambda: signaling.read(room, "candidate_receiver", peer, token=token),
        "http": lambda: client.get(url, headers=headers),
    }


def measure(sizes: tuple[int, ...], folder: Path, samples: int = SAMPLES) -> dict:
    """Median seconds of each poll on each store size.

    The sizes take turns, in ROUNDS blocks, so that a slow spell of the machine (the other
    core is busy, say) falls on both and not on one size only.
    """
    # The largest store first: filling it takes seconds (over the 10 s peer timeout on a busy
    # machine), and the members of a store set up before it would be gone by the first poll.
    setups = {rooms: setup(rooms, folder) for rooms in sorted(sizes, reverse=True)}
    times: dict = {(rooms, name): [] for rooms in sizes for name in ("core", "http")}
    for _ in range(ROUNDS):
        for rooms in sizes:
            for name in ("core", "http"):
                times[rooms, name] += timed(setups[rooms][name], max(1, samples // ROUNDS))
    for entry in setups.values():
        entry["store"].close()
    return {key: statistics.median(values) for key, values in times.items()}


def run(samples: int = SAMPLES) -> list[Row]:
    """The table's rows."""
    small, large = 10, 10_000
    with tempfile.TemporaryDirectory() as tmp:
        median = measure((small, large), Path(tmp), samples)
    rows = [("poll of one room (sqlite)", "10 rooms", "10,000 rooms", "ratio")]
    for name in ("core", "http"):
        rows.append(
            (
                f"  median {name}",
                f"{median[small, name] * 1e3:.3f} ms",
                f"{median[large, name] * 1e3:.3f} ms",
                f"{median[large, name] / median[small, name]:.2f}x",
            )
        )
    return rows


if __name__ == "__main__":
    print_table([(__doc__.splitlines()[0], run())])
