"""1. Relay latency at light load: from just before a POST to a waiting reader having it.

    .venv/bin/python -m bench --only relay
    .venv/bin/python -m bench.relay    # this section alone

One writer posts a candidate; one reader, in the same process (same clock), waits for it:
- events (the page's way): the reader's push channel, `GET /events?...&peers=2&wait=20` with
  the last answer's cursor, is already held when the POST of one candidate is sent; having
  it, the reader asks again at once with the new cursor, which acknowledges (deletes) what
  came, and that request is held for the next one;
- interval polling (the seed's way): the reader GETs `/signal` without `wait` and sleeps
  500 ms between polls, deleting what it read by key; the writer posts at a random moment.
  Ten rooms run side by side so it takes seconds.
Both peers enter as the page does, with the read of the room's offer that takes a place.
`server cpu / msg` is the server's cpu time (its processes' utime + stime, redis-server's
included) over the row's run, divided by the messages it relayed.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from dataclasses import dataclass
from typing import Any

from harness.servers import REDIS_MODES, Server
from harness.tables import Row, ms, pct, print_table

from .signals import candidate, peer_id, tag_of
from .wire import Conn

INTERVAL = 0.5
WAIT = 10  # the interval reader's patience for one message
EVENTS_WAIT = 20  # what the page asks its held events request for (the server holds 5 s)
WARMUP = 5
# Targets at light load: the relay's p50 on the production recipe and on flask run.
TARGET_P50 = {"gevent": 2e-3, "dev": 3e-3}
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
        self.server_cpu = 0.0  # server cpu seconds over the run (set by measure)

    async def enter(self) -> None:
        """Both peers take their place as the page does: its first request reads the room's
        offer, and a peer id without a token takes a place (the token comes in a header)."""
        for conn, peer in ((self.reader, self.reader_id), (self.writer, self.writer_id)):
            path = f"/signal?room={self.room}&type=offer&peer={peer}"
            status, answer = await conn.request("GET", path)
            token = conn.headers.get("x-peer-token")
            if status != 200 or not token:
                raise RuntimeError(f"entering {self.room}: {status} {answer}")
            self.tokens[peer] = {"X-Peer-Token": token}

    async def read(self, wait: float | None) -> tuple[int, list]:
        """The reader's read of what the writer sent (GET /signal, the seed's read)."""
        return await self.reader.request("GET", self.read_path(wait), None, self.reader_auth)

    @property
    def reader_auth(self) -> dict[str, str]:
        return self.tokens.get(self.reader_id, {})

    def read_path(self, wait: float | None) -> str:
        path = f"/signal?room={self.room}&type=candidate_initiator&peer={self.reader_id}"
        return path if wait is None else f"{path}&wait={wait:g}"

    async def events(
        self, cursor: str | None = None, peers: int | None = None, wait: float | None = None
    ) -> tuple[int, dict]:
        """The reader's push channel request, as the page builds it: the last answer's
        cursor (acknowledging what it brought) and peer count, and the wait."""
        path = f"/events?room={self.room}&peer={self.reader_id}"
        path += "".join(
            f"&{name}={value}"
            for name, value in (("wait", wait), ("cursor", cursor), ("peers", peers))
            if value is not None
        )
        return await self.reader.request("GET", path, None, self.reader_auth)

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
        """Delete what was read, by key (the seed's way; the push channel acknowledges)."""
        body = {"keys": [item["key"] for item in items], "peer": self.reader_id}
        status, answer = await self.reader.request("DELETE", "/signal", body, self.reader_auth)
        if status != 200:
            self.errors.append(f"DELETE {status} {answer}")

    def failed(self, error: str) -> bool:
        """Note an error; whether the run should stop (MAX_ERRORS reached)."""
        self.errors.append(error)
        return len(self.errors) >= MAX_ERRORS

    async def push(
        self, samples: int, warmup: int = WARMUP, pause: float = 0.0, apart: Server | None = None
    ) -> None:
        """Relay ``warmup`` + ``samples`` messages over the push channel, one at a time,
        ``pause`` s apart; with ``apart`` (a server of several processes), from a writer
        served by another process than the reader, so that each wake-up crosses processes."""
        await self.enter()
        if apart is not None:
            await self.place_apart(apart)
        # The page's first request has no peer count: it is answered at once, with the room's.
        status, first = await self.events(wait=EVENTS_WAIT)
        if status != 200:
            raise RuntimeError(f"events in {self.room}: {status} {first}")
        last = {"cursor": first["cursor"], "peers": first["peers"]}
        for n in range(warmup + samples):
            await asyncio.sleep(pause)
            waiting = asyncio.create_task(self.events(wait=EVENTS_WAIT, **last))
            await asyncio.sleep(0.005)  # let the request reach the server and be held there
            failed = len(self.errors)
            sent = await self.post(f"ev{n}")
            if len(self.errors) > failed:  # the post failed: nothing will come
                waiting.cancel()
                await asyncio.gather(waiting, return_exceptions=True)
                await self.reader.close()
                if len(self.errors) >= MAX_ERRORS:
                    return
                continue
            got = await self.delivery(waiting)
            received = time.perf_counter()
            if got is None:
                if len(self.errors) >= MAX_ERRORS:
                    return
                continue
            tags = [tag_of(item["payload"]) for item in got["candidates"]]
            if tags != [f"ev{n}"] and self.failed(f"events brought {tags}, not ev{n}"):
                return
            if tags == [f"ev{n}"] and n >= warmup:
                self.latencies.append(received - sent)
            # The next request carries this answer's cursor: it acknowledges (deletes) what
            # came, and is the one held for the next message.
            last = {"cursor": got["cursor"], "peers": got["peers"]}
        if apart is not None and not self.served_apart(apart):
            self.errors.append("the reader and the writer ended up in one process")

    async def delivery(self, waiting: asyncio.Task) -> dict | None:
        """The held request's answer with something in it; None (an error noted) when it
        failed. A hold that ended with nothing new (at most every 5 s) is asked again, as
        the page does."""
        while True:
            status, got = await waiting
            if status != 200:
                self.failed(f"events {status} {got}")
                return None
            if got["candidates"] or got["answer"] or got["peers"] != 2:
                return got
            waiting = asyncio.create_task(self.events(got["cursor"], got["peers"], EVENTS_WAIT))

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
            path = f"/signal?room={self.room}&type=offer&peer={self.writer_id}"  # a read
            status, answer = await self.writer.request("GET", path, None, auth)
            if status != 200:
                raise RuntimeError(f"reading the offer in {self.room}: {status} {answer}")
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


async def measure(port: int, polling: str, samples: int, rooms: int = 10, **push: Any) -> Relay:
    """Relay ``samples`` messages; the latencies and errors, gathered in one Relay.
    ``push`` passes ``warmup``, ``pause`` and ``apart`` on to :meth:`Relay.push`."""
    run_id = peer_id()[:8]  # fresh rooms: an earlier run's peers still hold theirs
    if polling == "events":
        relays = [Relay(port, f"relay-ev-{run_id}")]
        jobs = [relays[0].push(samples, **push)]
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
    return "events, held" if polling == "events" else "interval 500 ms"


@dataclass
class Result:
    """One row of the table: a serving mode (and store), a way of reading, what it gave."""

    mode: str
    label: str
    polling: str
    relay: Relay | None = None
    failure: str | None = None

    @property
    def cpu_per_message(self) -> float:
        """Server cpu seconds per message relayed (nan when none was)."""
        lat = [] if self.relay is None else self.relay.latencies
        return self.relay.server_cpu / len(lat) if lat else math.nan


def row(result: Result) -> Row:
    head = (f"  {result.label}", polling_name(result.polling))
    if result.relay is None:
        return (*head, f"FAILED: {result.failure}")
    lat = result.relay.latencies
    return (
        *head,
        f"{len(lat)} msgs",
        f"p50 {ms(pct(lat, 50))}",
        f"p95 {ms(pct(lat, 95))}",
        f"p99 {ms(pct(lat, 99))}",
        f"errors {len(result.relay.errors)}",
        f"{ms(result.cpu_per_message)} / msg",
    )


HEADER: Row = ("relay, light load", "reader", "sent", "p50", "p95", "p99", "errors", "server cpu")

# (mode, polling, store): the page's push channel on every serving mode; the seed's interval
# polling on the dev server (the seed's setup) and on the chosen recipe, so the gain shows in
# one run; the recipe on the in-process memory:// store, to show what the sqlite store's hops
# cost; and the recipe with 1, 2 and 4 processes on Redis (with several, reader and writer in
# two of them).
PLAN: list[tuple[str, str, str | None]] = [
    ("dev", "interval", None),
    ("dev", "events", None),
    ("gthread", "events", None),
    ("gevent", "interval", None),
    ("gevent", "events", None),
    ("gevent", "events", "memory://"),
    *((mode, "events", None) for mode in REDIS_MODES),
]
QUICK_PLAN = [
    ("dev", "interval", None),
    ("gevent", "events", None),
    ("redis2", "events", None),
]


def run_results(
    quick: bool = False, modes: list[str] | None = None, samples: int | None = None
) -> list[Result]:
    """The plan's runs (``quick``: a short one), on ``modes`` only when given."""
    ev_samples = samples or (50 if quick else 300)
    iv_samples = samples or (20 if quick else 100)
    plan = QUICK_PLAN if quick and modes is None else PLAN
    plan = [step for step in plan if modes is None or step[0] in modes]
    if quick:
        plan = [step for step in plan if step[2] is None]
    results: list[Result] = []
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
                    n = ev_samples if polling == "events" else iv_samples
                    options = {"apart": apart} if polling == "events" else {}
                    # The cpu of the whole run (entering, warm-up, the reads' waits) is
                    # charged to the messages: what relaying them cost the server.
                    before = server.cpu_seconds()
                    relay = asyncio.run(measure(server.port, polling, n, **options))
                    relay.server_cpu = server.cpu_seconds() - before
                    results.append(Result(mode, label, polling, relay))
        except Exception as exc:  # a server that cannot start: its rows say so, the rest run
            done = {r.polling for r in results if (r.mode, r.label) == (mode, label)}
            results += [Result(mode, label, p, failure=str(exc)) for p in pollings if p not in done]
    return results


def errors_of(results: list[Result]) -> list[str]:
    """Every failure of the runs, one line each."""
    found = []
    for result in results:
        name = f"relay {result.label} {result.polling}"
        if result.relay is None:
            found.append(f"{name}: {result.failure}")
        else:
            found += [f"{name}: {e}" for e in result.relay.errors]
    return found


def target_rows(results: list[Result]) -> list[Row]:
    """The light-load targets, checked against the push channel's rows on the sqlite store."""
    rows: list[Row] = []
    for result in results:
        target = TARGET_P50.get(result.mode)
        if result.relay is None or result.polling != "events" or target is None:
            continue
        if "memory://" in result.label:
            continue
        p50 = pct(result.relay.latencies, 50)
        rows.append(
            (
                f"  relay p50, {result.label}",
                f"<= {ms(target)}",
                ms(p50),
                "met" if p50 <= target and not result.relay.errors else "missed",
            )
        )
    return rows


def run(
    quick: bool = False,
    modes: list[str] | None = None,
    samples: int | None = None,
    errors: list[str] | None = None,
) -> list[Row]:
    """The table's rows; failures are appended to ``errors`` when it is given."""
    results = run_results(quick, modes, samples)
    if errors is not None:
        errors += errors_of(results)
    return [HEADER, *(row(r) for r in results)]


if __name__ == "__main__":
    print_table([("1. relay latency", run())])
