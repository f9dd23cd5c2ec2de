"""One room's candidate poll with 10 and with 10,000 rooms in the sqlite store.

    .venv/bin/python bench/poll_scaling.py

Each room holds what a call in progress holds: an offer, an answer, two peer slots and six
candidates each way. The poll is the initiator's `GET /signal?type=candidate_receiver`,
timed through the core and through the Flask app (test client, no network).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_app import create_app
from webrtc_signal import keys

CANDIDATES = 6
SAMPLES = 2000


def fill(store, rooms: int) -> None:
    """Write `rooms` rooms' worth of a call in progress straight into the store."""
    now = time.time()
    for n in range(rooms):
        room = f"room-{n}"
        for slot, peer in enumerate(("init", "recv")):
            store.set(keys.peer_key(room, slot), {"peer": f"{peer}-{n}", "seen": now}, 300)
        for kind in keys.DESCRIPTION_TYPES:
            store.set(keys.description_key(room, kind), {"payload": {"sdp": "x" * 2000}}, 300)
        for sent_as in keys.CANDIDATES_FOR:
            for _ in range(CANDIDATES):
                record = {"payload": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}}
                store.set(keys.new_candidate_key(room, sent_as), record, 300)


def timed(call, samples: int = SAMPLES) -> float:
    """Median seconds of `call()` over `samples` runs."""
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(rooms: int, folder: Path) -> dict[str, float]:
    app = create_app({"SIGNAL_STORE": f"sqlite:///{folder / f'{rooms}.sqlite'}"})
    signaling = app.extensions["webrtc_signal"]
    start = time.perf_counter()
    fill(signaling.store, rooms)
    filled = time.perf_counter() - start
    room, peer = f"room-{rooms // 2}", f"init-{rooms // 2}"
    client = app.test_client()
    url = f"/signal?room={room}&type=candidate_receiver&peer={peer}"
    assert len(client.get(url).json) == CANDIDATES
    result = {
        "core": timed(lambda: signaling.read(room, "candidate_receiver", peer)),
        "http": timed(lambda: client.get(url)),
        "fill": filled,
    }
    signaling.store.close()
    return result


def run() -> list[tuple[str, ...]]:
    """The table's rows."""
    with tempfile.TemporaryDirectory() as tmp:
        small, large = measure(10, Path(tmp)), measure(10_000, Path(tmp))
    rows = [("poll of one room (sqlite)", "10 rooms", "10,000 rooms", "ratio")]
    for name in ("core", "http"):
        rows.append(
            (
                f"  median {name}",
                f"{small[name] * 1e3:.3f} ms",
                f"{large[name] * 1e3:.3f} ms",
                f"{large[name] / small[name]:.2f}x",
            )
        )
    return rows


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    print_table(run())
