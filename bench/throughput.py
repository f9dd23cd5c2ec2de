"""2. Throughput with 200 clients in 100 rooms, and 5. the server's memory, idle and under it.

    .venv/bin/python -m bench --only throughput

Each room holds a pair that places calls for a fixed time, each call the seed's flow with a
call's worth of signals:
- the initiator posts an offer, then trickles 12 candidates as 3 posts of 4 (`payloads`);
- the receiver waits for the offer, posts its answer, deletes the offer, and trickles its
  12 candidates the same way;
- each side waits for the other's candidates and deletes each batch it applies (`keys`);
  the initiator waits for the answer and deletes it.
So a call delivers 26 messages. Every peer enters its room with a peer id (`GET /room`, which
hands it its token), sends `GET /room` every 2 s as the page does (a held long-poll is no
sign of life), and keeps up to four keep-alive connections, as a browser tab would: one for
posts, one per thing it waits for, one for the heartbeat.
Waiting is either long-poll (`wait=10`) or the seed's interval polling (GET, then 500 ms of
sleep when nothing new came). Calls run back to back (the server's capacity: it is saturated,
so latency is queueing) or paced: each pair starts a call every 100 x 26 / 1,000 = 2.6 s, for
1,000 messages/s offered in all.
Latency is from just before the POST that carried a message to its reader having it; the
rate counts messages delivered (each once) from 2 s into the run's window to its end. No
call starts after the window; calls in flight finish (each within CALL_TIMEOUT), so a run is
bounded. A wrong status, a lost, stray or repeated message or a timed-out call is an error.
On the redisN modes (N processes sharing one listening socket) each connection stays with
the process that accepted it: the rows show how many each process held once the clients
joined, and how much of the server's cpu the redis-server used.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

from . import servers
from .common import Row, candidate, description, mib, ms, pct, peer_id, print_table, tag_of
from .servers import REDIS_MODES, Memory, Server, busy_seconds
from .wire import Conn

PAIRS = 100
DURATION = 12.0
# The Redis rows' window is shorter, so that their six runs add about 75 s to a full run.
REDIS_DURATION = 8.0
CALL_TIMEOUT = 20.0
BATCHES, PER_BATCH = 3, 4
CANDIDATES = BATCHES * PER_BATCH
MESSAGES_PER_CALL = 2 + 2 * CANDIDATES
OFFERED = 1000.0  # msg/s, the target's rate, for the paced runs
INTERVAL = 0.5
WAIT = 10
HEARTBEAT = 2.0
DISTURBED, RETRIES = 0.15, 2  # other work above 15 % of a core reruns a run (with --settle)


class CallFailed(Exception):
    pass


async def together(*jobs) -> None:
    """Run the jobs at once; the first failure cancels the rest (no job outlives a call)."""
    async with asyncio.TaskGroup() as group:
        for job in jobs:
            group.create_task(job)


def leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc]


@dataclass
class Totals:
    latencies: list[float] = field(default_factory=list)
    delivered_at: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    calls: int = 0
    requests: int = 0
    opened: int = 0


class Peer:
    """One client: a peer id, its token and its connections (a browser keeps up to 6)."""

    def __init__(self, port: int) -> None:
        self.id = peer_id()
        self.auth: dict[str, str] = {}  # {"X-Peer-Token": ...} once it entered its room
        self.send, self.wait_description, self.wait_candidates, self.heartbeat = (
            Conn(port) for _ in range(4)
        )

    @property
    def conns(self) -> tuple[Conn, ...]:
        return self.send, self.wait_description, self.wait_candidates, self.heartbeat


class Pair:
    """A room and its two peers placing calls."""

    def __init__(self, port: int, room: str, long_poll: bool, totals: Totals) -> None:
        self.room = room
        self.long_poll = long_poll
        self.totals = totals
        self.initiator, self.receiver = Peer(port), Peer(port)
        self.sent: dict[str, float] = {}

    async def request(self, peer: Peer, conn: Conn, method: str, path: str, body=None, ok=200):
        """One request of ``peer`` on one of its connections; the decoded answer."""
        self.totals.requests += 1
        try:
            status, answer = await conn.request(method, path, body, peer.auth)
        except Exception as exc:
            raise CallFailed(f"{method} {path.split('&peer')[0]}: {exc!r}") from exc
        if status != ok:
            raise CallFailed(f"{method} {path.split('&peer')[0]}: {status} {answer}")
        return answer

    def path(self, peer: Peer, **query: str) -> str:
        extra = "".join(f"&{k}={v}" for k, v in query.items())
        return f"/signal?room={self.room}&peer={peer.id}{extra}"

    async def post(self, peer: Peer, kind: str, tags: list[str]) -> None:
        """Post one description, or one batch of candidates; note when each was sent."""
        body: dict = {"room": self.room, "type": kind, "peer": peer.id}
        if kind in ("offer", "answer"):
            body["payload"] = description(kind, tags[0])
        else:
            body["payloads"] = [candidate(tag) for tag in tags]
        now = time.perf_counter()
        self.sent.update(dict.fromkeys(tags, now))
        await self.request(peer, peer.send, "POST", "/signal", body, ok=201)

    def delivered(self, tag: str, received: float) -> None:
        sent = self.sent.pop(tag, None)
        if sent is None:
            raise CallFailed(f"room {self.room}: {tag} read but not sent (or read twice)")
        self.totals.latencies.append(received - sent)
        self.totals.delivered_at.append(received)

    async def take_description(self, peer: Peer, kind: str, tag: str, delete: bool) -> None:
        """Wait for the offer or answer tagged ``tag``; delete it after when asked."""
        conn = peer.wait_description
        query = {"type": kind, "wait": str(WAIT)} if self.long_poll else {"type": kind}
        while True:
            answer = await self.request(peer, conn, "GET", self.path(peer, **query))
            received = time.perf_counter()
            if answer["payload"] is not None:
                break
            if not self.long_poll:
                await asyncio.sleep(INTERVAL)
        if tag_of(answer["payload"]) != tag:
            raise CallFailed(f"room {self.room}: {kind} {tag_of(answer['payload'])}, not {tag}")
        self.delivered(tag, received)
        if delete:
            await self.request(peer, conn, "DELETE", self.path(peer, type=kind))

    async def take_candidates(self, peer: Peer, kind: str, tags: list[str]) -> None:
        """Wait until every candidate in ``tags`` came; delete each batch read."""
        conn, missing = peer.wait_candidates, set(tags)
        query = {"type": kind, "wait": str(WAIT)} if self.long_poll else {"type": kind}
        while missing:
            items = await self.request(peer, conn, "GET", self.path(peer, **query))
            received = time.perf_counter()
            for item in items:
                tag = tag_of(item["payload"])
                if tag not in missing:
                    raise CallFailed(f"room {self.room}: stray candidate {tag}")
                missing.discard(tag)
                self.delivered(tag, received)
            if items:
                keys = {"keys": [item["key"] for item in items], "peer": peer.id}
                await self.request(peer, conn, "DELETE", "/signal", keys)
            if missing and not self.long_poll:
                await asyncio.sleep(INTERVAL)

    async def trickle(self, peer: Peer, kind: str, tags: list[str]) -> None:
        for b in range(BATCHES):
            await self.post(peer, kind, tags[b * PER_BATCH : (b + 1) * PER_BATCH])

    async def initiate(self, n: int) -> None:
        me = self.initiator
        await self.post(me, "offer", [f"c{n}o"])
        await together(
            self.trickle(me, "candidate_initiator", [f"c{n}i{k}" for k in range(CANDIDATES)]),
            self.take_description(me, "answer", f"c{n}a", delete=True),
            self.take_candidates(
                me, "candidate_receiver", [f"c{n}r{k}" for k in range(CANDIDATES)]
            ),
        )

    async def answer(self, n: int) -> None:
        me = self.receiver
        await self.take_description(me, "offer", f"c{n}o", delete=False)
        await self.post(me, "answer", [f"c{n}a"])
        await self.request(me, me.send, "DELETE", self.path(me, type="offer"))
        await together(
            self.trickle(me, "candidate_receiver", [f"c{n}r{k}" for k in range(CANDIDATES)]),
            self.take_candidates(
                me, "candidate_initiator", [f"c{n}i{k}" for k in range(CANDIDATES)]
            ),
        )

    async def join(self) -> None:
        """Both peers enter the room (GET /room, as the page does first, which hands each its
        token) and open their connections, before the clock starts."""
        for peer in (self.initiator, self.receiver):
            for conn in peer.conns:
                await self.request(peer, conn, "GET", f"/room?room={self.room}&peer={peer.id}")
                if not peer.auth:
                    token = conn.headers.get("x-peer-token")
                    if not token:
                        raise CallFailed(f"room {self.room}: no X-Peer-Token on entering")
                    peer.auth = {"X-Peer-Token": token}

    async def heartbeats(self) -> None:
        """`GET /room` every HEARTBEAT seconds for each peer, as the page does in a session (a
        held long-poll is no sign of life)."""
        await asyncio.sleep(random.uniform(0, HEARTBEAT))  # tabs are not in step
        while True:
            for peer in (self.initiator, self.receiver):
                try:
                    await self.request(
                        peer, peer.heartbeat, "GET", f"/room?room={self.room}&peer={peer.id}"
                    )
                except CallFailed as exc:
                    self.totals.errors.append(f"heartbeat: {exc}")
            await asyncio.sleep(HEARTBEAT)

    async def place_calls(
        self, start: asyncio.Event, until: float, every: float | None, offset: float
    ) -> None:
        """Calls back to back (``every`` None), or one call starting every ``every`` seconds,
        the first ``offset`` seconds after the start, until ``until``; a call that fails ends
        the pair's run."""
        await start.wait()
        await asyncio.sleep(offset)
        n, next_start = 0, time.monotonic()
        while time.monotonic() < until:
            try:
                await asyncio.wait_for(together(self.initiate(n), self.answer(n)), CALL_TIMEOUT)
            except Exception as exc:
                if isinstance(exc, TimeoutError):
                    self.totals.errors.append(f"room {self.room}: call {n} over {CALL_TIMEOUT} s")
                else:
                    self.totals.errors += [f"call {n}: {leaf!r}" for leaf in leaves(exc)]
                return
            self.totals.calls += 1
            n += 1
            if every is not None:
                next_start = max(next_start + every, time.monotonic())
                if next_start >= until:
                    return  # no call would start: do not wait for nothing
                await asyncio.sleep(next_start - time.monotonic())

    async def leave(self) -> None:
        """Hang up (both slots freed) and close the connections."""
        for peer in (self.initiator, self.receiver):
            try:
                await self.request(peer, peer.send, "DELETE", self.path(peer))
            except CallFailed as exc:
                self.totals.errors.append(f"hang-up: {exc}")
            for conn in peer.conns:
                self.totals.opened += conn.opened
                await conn.close()


@dataclass
class Result:
    mode: str
    long_poll: bool
    pairs: int
    offered: float | None  # messages/s the calls were paced at; None: back to back
    totals: Totals
    window: float  # seconds during which calls were started
    started: float  # perf_counter when they started
    idle: Memory
    peak: Memory
    server_cpu: float  # cores the server used on average while calls ran (1.0 = one core)
    client_cpu: float  # the same for this process, the clients
    other_cpu: float  # the same for everything else on the machine
    redis_cpu: float = 0.0  # the share of server_cpu its redis-server used (redisN modes)
    connections: list[int] = field(default_factory=list)  # held by each serving process
    store: str | None = None  # None: a fresh sqlite store, or the redisN modes' Redis
    failure: str | None = None  # why the run could not be made (its server did not start)

    @classmethod
    def failed(
        cls, mode: str, long_poll: bool, pairs: int, step: tuple[float | None, str | None], why: str
    ) -> Result:
        """A run that could not be made (``step``: offered, store): its row says why, and it
        counts as an error."""
        nothing = Memory(0, 0, 0)
        offered, store = step
        totals = Totals(errors=[why])
        return cls(
            mode,
            long_poll,
            pairs,
            offered,
            totals,
            0,
            0,
            nothing,
            nothing,
            0,
            0,
            0,
            store=store,
            failure=why,
        )

    @property
    def rate(self) -> float:
        """Messages delivered per second in the steady part of the run's window: from its
        first sixth (at most 2 s: the first calls' messages are still on their way) to its
        end (after which calls in flight finish, not counted)."""
        warm = min(2.0, self.window / 6)
        begin, end = self.started + warm, self.started + self.window
        delivered = sum(begin <= t <= end for t in self.totals.delivered_at)
        return delivered / (self.window - warm)


async def load(
    server: Server, long_poll: bool, pairs: int, duration: float, offered: float | None
) -> Result:
    """``pairs`` rooms placing calls for ``duration`` seconds, back to back or paced so that
    all of them together offer ``offered`` messages a second."""
    totals = Totals()
    run_id = peer_id()[:6]
    rooms = [Pair(server.port, f"tp-{run_id}-{k}", long_poll, totals) for k in range(pairs)]
    idle = server.memory()
    peak = [idle]
    every = None if offered is None else pairs * MESSAGES_PER_CALL / offered

    for k in range(0, pairs, 25):  # join in groups: the dev server's accept queue is 128
        await asyncio.gather(*(pair.join() for pair in rooms[k : k + 25]))
    # Where the clients' connections landed: gunicorn's workers share the listening socket,
    # each connection stays with the worker that accepted it (reopened ones may move).
    connections = server.connections()
    start = asyncio.Event()
    until = time.monotonic() + duration
    # People do not all click at the same instant: the first calls are spread out, so that
    # interval polls are not all in step. Paced, the pairs' calls are evenly spread over the
    # period, so exactly the offered rate starts.
    offsets = [
        random.uniform(0, INTERVAL) if every is None else every * k / pairs for k in range(pairs)
    ]
    callers = [
        asyncio.create_task(pair.place_calls(start, until, every, offset))
        for pair, offset in zip(rooms, offsets, strict=True)
    ]
    heartbeats = [asyncio.create_task(p.heartbeats()) for p in rooms]

    async def sample() -> None:
        while True:
            peak[0] = peak[0].max(server.memory())
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample())
    started = time.perf_counter()
    cpu = server.cpu_seconds(), time.process_time(), busy_seconds(), server.redis_cpu_seconds()
    start.set()
    await asyncio.gather(*callers)
    took = time.perf_counter() - started
    server_cpu = (server.cpu_seconds() - cpu[0]) / took
    redis_cpu = (server.redis_cpu_seconds() - cpu[3]) / took
    client_cpu = (time.process_time() - cpu[1]) / took
    other_cpu = max(0.0, (busy_seconds() - cpu[2]) / took - server_cpu - client_cpu)
    sampler.cancel()
    await asyncio.gather(sampler, return_exceptions=True)
    for task in heartbeats:
        task.cancel()
    await asyncio.gather(*heartbeats, return_exceptions=True)
    await asyncio.gather(*(pair.leave() for pair in rooms))
    return Result(
        server.mode,
        long_poll,
        pairs,
        offered,
        totals,
        duration,
        started,
        idle,
        peak[0],
        server_cpu,
        client_cpu,
        other_cpu,
        redis_cpu,
        connections,
    )


def measure(
    mode: str,
    long_poll: bool,
    pairs: int,
    duration: float,
    offered: float | None = None,
    store: str | None = None,
) -> Result:
    """One run on a fresh server; ``store`` replaces the mode's own (a fresh sqlite store, or
    the run's redis-server flushed)."""
    with Server(mode, None if store is None else {"SIGNAL_STORE": store}) as server:
        server.get("/")  # the page, as a visitor's first request
        time.sleep(1.0)
        result = asyncio.run(load(server, long_poll, pairs, duration, offered))
    result.store = store
    return result


def label(result: Result) -> str:
    return result.mode if result.store is None else f"{result.mode}, {result.store} store"


def row(result: Result) -> Row:
    t = result.totals
    head = (
        f"  {label(result)}",
        "long-poll wait=10" if result.long_poll else "interval 500 ms",
        f"{result.pairs * 2} clients",
        "back to back" if result.offered is None else f"paced {result.offered:,.0f} msg/s",
    )
    if result.failure is not None:
        return (*head, f"FAILED: {result.failure}")
    return (
        *head,
        f"{t.calls} calls",
        f"{len(t.latencies)} msgs",
        f"{result.rate:,.0f} msg/s",
        f"p50 {ms(pct(t.latencies, 50))}",
        f"p99 {ms(pct(t.latencies, 99))}",
        f"errors {len(t.errors)}",
        f"{result.server_cpu:.0%} / {result.client_cpu:.0%} / {result.other_cpu:.0%}",
        f"{result.redis_cpu:.0%}" if result.mode in REDIS_MODES else "",
        " + ".join(str(n) for n in result.connections),
    )


def memory_row(result: Result) -> Row:
    idle, peak = result.idle, result.peak
    return (
        f"  {label(result)}",
        "long-poll wait=10" if result.long_poll else "interval 500 ms",
        mib(idle.serving_rss),
        mib(idle.all_rss),
        mib(idle.all_pss),
        mib(peak.serving_rss),
        mib(peak.all_rss),
        mib(peak.all_pss),
    )


# (mode, long-poll?, offered msg/s or None for back to back, store or None for the mode's own).
# Back to back finds each mode's capacity; paced at the target's 1,000 msg/s shows the latency
# at that rate. Interval polling (the seed's way) runs on the dev server (the seed's setup) and
# on the chosen recipe; the recipe on the memory:// store shows what the sqlite store costs;
# the recipe with 1, 2 and 4 processes on Redis shows how capacity grows with processes.
Step = tuple[str, bool, float | None, str | None]
PLAN: list[Step] = [
    ("dev", False, None, None),
    ("dev", True, None, None),
    ("gthread", True, None, None),
    ("gevent", False, None, None),
    ("gevent", True, None, None),
    ("gevent", True, None, "memory://"),
    *((mode, True, None, None) for mode in REDIS_MODES),
    ("dev", False, OFFERED, None),
    ("gthread", True, OFFERED, None),
    ("gevent", False, OFFERED, None),
    ("gevent", True, OFFERED, None),
    *((mode, True, OFFERED, None) for mode in REDIS_MODES),
]
QUICK_PLAN: list[Step] = [
    ("dev", False, OFFERED, None),
    ("gevent", True, OFFERED, None),
    ("redis2", True, OFFERED, None),
]


def run_results(
    quick: bool = False,
    modes: list[str] | None = None,
    pairs: int | None = None,
    duration: float | None = None,
) -> list[Result]:
    """The runs of the plan (``quick``: a short one), on ``modes`` only when given; ``pairs``
    and ``duration`` replace the default load and window."""
    plan = QUICK_PLAN if quick and modes is None else PLAN
    if quick and modes is not None:
        plan = [step for step in plan if step[2] is not None and step[3] is None]
    plan = [step for step in plan if modes is None or step[0] in modes]
    pairs = pairs or PAIRS
    results = []
    for mode, lp, offered, store in plan:
        window = duration or (4.0 if quick else REDIS_DURATION if mode in REDIS_MODES else DURATION)
        try:
            result = measure(mode, lp, pairs, window, offered, store)
            # With --settle (a shared machine), a run that other work disturbed runs again,
            # up to twice more; the least disturbed one counts.
            for _ in range(RETRIES if servers.SETTLE else 0):
                if result.other_cpu <= DISTURBED:
                    break
                again = measure(mode, lp, pairs, window, offered, store)
                result = min(result, again, key=lambda r: r.other_cpu)
        except Exception as exc:  # its server could not start: the row says so, the rest run
            result = Result.failed(mode, lp, pairs, (offered, store), str(exc))
        results.append(result)
    return results


HEADER: Row = (
    "throughput",
    "reader",
    "clients",
    "calls placed",
    "calls",
    "delivered",
    "rate",
    "p50",
    "p99",
    "errors",
    "cpu: server / clients / other",
    "of it redis",
    "connections per process",
)
MEMORY_HEADER: Row = (
    "server memory",
    "reader",
    "idle: RSS",
    "all RSS",
    "all PSS",
    "peak in 2: RSS",
    "all RSS",
    "all PSS",
)


def run(**kwargs) -> list[Row]:
    """The throughput table's rows (memory: :func:`memory_rows` of the same results)."""
    return [HEADER, *(row(r) for r in run_results(**kwargs))]


def memory_rows(results: list[Result]) -> list[Row]:
    """Memory under each mode's heaviest load: the back-to-back runs on the sqlite store (all
    runs when there are none)."""
    made = [r for r in results if r.failure is None]
    heaviest = [r for r in made if r.offered is None and r.store is None] or made
    return [MEMORY_HEADER, *(memory_row(r) for r in heaviest)]


if __name__ == "__main__":
    results = run_results()
    print_table(
        [
            ("2. throughput", [HEADER, *(row(r) for r in results)]),
            ("5. memory", memory_rows(results)),
        ]
    )
