"""1. Relay latency at light load: from just before a POST to a waiting reader having it.

    .venv/bin/python -m bench --only relay

One writer posts a candidate; one reader, in the same process (same clock), waits for it:
- long-poll: the reader's `GET ...&wait=10` is already waiting when the POST is sent;
- interval polling (the seed's way): the reader GETs without `wait` and sleeps 500 ms between
  polls; the writer posts at a random moment. Ten rooms run side by side so it takes seconds.
Each reader deletes what it read (`DELETE` with the keys), as the page does.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from .common import Row, candidate, ms, pct, peer_id, print_table, tag_of
from .servers import REDIS_MODES, Server
from .wire import Conn

INTERVAL = 0.5
WAIT = 10
WARMUP = 5
MAX_ERRORS = 10  # a relay that fails this often stops: the row shows the errors


class Relay:
    """One room: a writer (the initiator) posting candidates to a reader (the receiver)."""

    def __init__(self, port: int, room: str) -> None:
        self.room = room
        self.reader, self.writer = Conn(port), Conn(port)
        self.reader_id, self.writer_id = peer_id(), peer_id()
        self.tokens: dict[str, dict[str, str]] = {}  # X-Peer-Token header of each peer
        self.latencies: list[float] = []
        self.errors: list[str] = []

    async def enter(self) -> None:
        """Both peers take their place in the room (GET /room, as the page does first)."""
        for conn, peer in ((self.reader, self.reader_id), (self.writer, self.writer_id)):
            status, answer = await conn.request("GET", f"/room?room={self.room}&peer={peer}")
            token = conn.headers.get("x-peer-token")
            if status != 200 or not token:
                raise RuntimeError(f"entering {self.room}: {status} {answer}")
            self.tokens[peer] = {"X-Peer-Token": token}

    async def read(self, wait: float | None) -> tuple[int, list]:
        """The reader's read of what the writer sent."""
        return await self.reader.request("GET", self.read_path(wait), None, self.reader_auth)

    @property
    def reader_auth(self) -> dict[str, str]:
        return self.tokens.get(self.reader_id, {})

    def read_path(self, wait: float | None) -> str:
        path = f"/signal?room={self.room}&type=candidate_initiator&peer={self.reader_id}"
        return path if wait is None else f"{path}&wait={wait:g}"

    async def post(self, tag: str) -> float:
        """Post one candidate; the time just before it was sent."""
        body = {
            "room": self.room,
            "type": "candidate_initiator",
            "payload": candidate(tag),
            "peer": self.writer_id,
        }
        sent = time.perf_counter()
        auth = self.tokens.get(self.writer_id, {})
        status, answer = await self.writer.request("POST", "/signal", body, auth)
        if status != 201:
            self.errors.append(f"POST {status} {answer}")
        return sent

    async def take(self, items: list) -> None:
        """Delete what was read, by key."""
        body = {"keys": [item["key"] for item in items], "peer": self.reader_id}
        status, answer = await self.reader.request("DELETE", "/signal", body, self.reader_auth)
        if status != 200:
            self.errors.append(f"DELETE {status} {answer}")

    async def long_poll(
        self, samples: int, warmup: int = WARMUP, pause: float = 0.0, apart: Server | None = None
    ) -> None:
        """Relay ``warmup`` + ``samples`` messages, one at a time, ``pause`` s apart; with
        ``apart`` (a server of several processes), from a writer served by another process
        than the reader, so that each wake-up crosses processes."""
        await self.enter()
        if apart is not None:
            await self.place_apart(apart)
        for n in range(warmup + samples):
            await asyncio.sleep(pause)
            waiting = asyncio.create_task(self.read(WAIT))
            await asyncio.sleep(0.005)  # let the read reach the server and wait there
            failed = len(self.errors)
            sent = await self.post(f"lp{n}")
            if len(self.errors) > failed:  # the post failed: nothing will come
                waiting.cancel()
                await asyncio.gather(waiting, return_exceptions=True)
                await self.reader.close()
                if len(self.errors) >= MAX_ERRORS:
                    return
                continue
            status, items = await waiting
            received = time.perf_counter()
            if status != 200 or [tag_of(i["payload"]) for i in items or []] != [f"lp{n}"]:
                self.errors.append(f"GET {status} {items}")
                if len(self.errors) >= MAX_ERRORS:
                    return
                continue
            if n >= warmup:
                self.latencies.append(received - sent)
            await self.take(items)
        if apart is not None and not self.served_apart(apart):
            self.errors.append("the reader and the writer ended up in one process")

    def served_apart(self, server: Server) -> bool:
        """Whether the reader's and the writer's connections are held by different
        processes of ``server`` (gunicorn workers share the listening socket, and a
        keep-alive connection stays with the worker that accepted it)."""
        held = [server.process_of(conn.local_port) for conn in (self.reader, self.writer)]
        return None not in held and held[0] != held[1]

    async def place_apart(self, server: Server, tries: int = 50) -> None:
        """Reconnect the writer until another process than the reader's serves it."""
        for _ in range(tries):
            if self.served_apart(server):
                return
            await self.writer.close()
            auth = self.tokens[self.writer_id]
            path = f"/room?room={self.room}&peer={self.writer_id}"  # the page's heartbeat
            status, answer = await self.writer.request("GET", path, None, auth)
            if status != 200:
                raise RuntimeError(f"heartbeat in {self.room}: {status} {answer}")
        raise RuntimeError(f"the writer's {tries} connections all went to the reader's process")

    async def interval(self, samples: int) -> None:
        sent: dict[str, float] = {}
        arrived: dict[str, asyncio.Event] = {}

        await self.enter()

        async def poll() -> None:
            while True:
                status, items = await self.read(None)
                received = time.perf_counter()
                if status != 200:
                    self.errors.append(f"GET {status} {items}")
                    if len(self.errors) >= MAX_ERRORS:
                        return
                elif items:
                    for item in items:
                        tag = tag_of(item["payload"])
                        if tag in arrived:
                            self.latencies.append(received - sent[tag])
                            arrived[tag].set()
                    await self.take(items)
                await asyncio.sleep(INTERVAL)

        poller = asyncio.create_task(poll())
        try:
            for n in range(samples):
                if len(self.errors) >= MAX_ERRORS:
                    break
                await asyncio.sleep(random.uniform(0, INTERVAL))
                tag = f"iv{n}"
                arrived[tag] = asyncio.Event()
                sent[tag] = await self.post(tag)
                try:
                    await asyncio.wait_for(arrived[tag].wait(), WAIT)
                except TimeoutError:
                    self.errors.append(f"{tag} not read within {WAIT} s")
        finally:
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)

    async def close(self) -> None:
        await self.reader.close()
        await self.writer.close()


async def measure(
    port: int, polling: str, samples: int, rooms: int = 10, **long_poll: Any
) -> Relay:
    """Relay ``samples`` messages; the latencies and errors, gathered in one Relay.
    ``long_poll`` passes ``warmup``, ``pause`` and ``apart`` on to :meth:`Relay.long_poll`."""
    run_id = peer_id()[:8]  # fresh rooms: an earlier run's peers still hold theirs
    if polling == "long-poll":
        relays = [Relay(port, f"relay-lp-{run_id}")]
        jobs = [relays[0].long_poll(samples, **long_poll)]
    else:
        relays = [Relay(port, f"relay-iv-{run_id}-{k}") for k in range(rooms)]
        per_room = -(-samples // rooms)
        jobs = [relay.interval(per_room) for relay in relays]
    try:
        await asyncio.gather(*jobs)
    finally:
        for relay in relays:
            await relay.close()
    total = relays[0]
    for relay in relays[1:]:
        total.latencies += relay.latencies
        total.errors += relay.errors
    return total


def polling_name(polling: str) -> str:
    return "long-poll wait=10" if polling == "long-poll" else "interval 500 ms"


def row(label: str, polling: str, relay: Relay) -> Row:
    lat = relay.latencies
    return (
        f"  {label}",
        polling_name(polling),
        f"{len(lat)} msgs",
        f"p50 {ms(pct(lat, 50))}",
        f"p95 {ms(pct(lat, 95))}",
        f"p99 {ms(pct(lat, 99))}",
        f"errors {len(relay.errors)}",
    )


# (mode, polling, store): long-poll on every serving mode; the seed's interval polling on the
# dev server (the seed's setup) and on the chosen recipe, so the gain shows in one run; the
# recipe on the in-process memory:// store, to show what the sqlite store's hops cost; and the
# recipe with 1, 2 and 4 processes on Redis (with several, reader and writer in two of them).
PLAN: list[tuple[str, str, str | None]] = [
    ("dev", "interval", None),
    ("dev", "long-poll", None),
    ("gthread", "long-poll", None),
    ("gevent", "interval", None),
    ("gevent", "long-poll", None),
    ("gevent", "long-poll", "memory://"),
    *((mode, "long-poll", None) for mode in REDIS_MODES),
]
QUICK_PLAN = [
    ("dev", "interval", None),
    ("gevent", "long-poll", None),
    ("redis2", "long-poll", None),
]


def run(
    quick: bool = False,
    modes: list[str] | None = None,
    samples: int | None = None,
    errors: list[str] | None = None,
) -> list[Row]:
    """The table's rows; failures are appended to ``errors`` when it is given."""
    lp_samples = samples or (50 if quick else 300)
    iv_samples = samples or (20 if quick else 100)
    plan = QUICK_PLAN if quick and modes is None else PLAN
    plan = [step for step in plan if modes is None or step[0] in modes]
    if quick:
        plan = [step for step in plan if step[2] is None]
    rows: list[Row] = [("relay, light load", "reader", "sent", "p50", "p95", "p99", "errors")]
    servers = list(dict.fromkeys((mode, store) for mode, _, store in plan))
    for mode, store in servers:
        env = None if store is None else {"SIGNAL_STORE": store}
        label = mode if store is None else f"{mode}, {store} store"
        pollings = [p for m, p, s in plan if (m, s) == (mode, store)]
        try:
            with Server(mode, env) as server:
                apart = server if server.worker_count > 1 else None
                if apart is not None:
                    label += ", across processes"
                for polling in pollings:
                    n = lp_samples if polling == "long-poll" else iv_samples
                    options = {"apart": apart} if polling == "long-poll" else {}
                    relay = asyncio.run(measure(server.port, polling, n, **options))
                    rows.append(row(label, polling, relay))
                    if errors is not None:
                        errors += [f"relay {label} {polling}: {e}" for e in relay.errors]
        except Exception as exc:  # a server that cannot start: its rows say so, the rest run
            rows += [(f"  {label}", polling_name(p), f"FAILED: {exc}") for p in pollings]
            if errors is not None:
                errors.append(f"relay {label}: {exc!r}")
    return rows


if __name__ == "__main__":
    print_table([("1. relay latency", run())])
