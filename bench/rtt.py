"""A call over a slow link: set-up in round trips, requests per call, server CPU per call.

    .venv/bin/python -m bench.rtt [--rtt 50 --rtt 100 --rtt 200] [--calls 3] [--hello 3000]

The app runs as the production recipe (harness/servers.py's ``gevent`` mode) on a loopback
port. Each person's browser context reaches it only through a delaying proxy of its own
(bench/proxy.py: every byte waits RTT/2 each way, a new connection's first bytes 1.5 RTT):
the page is loaded from the proxy's port, so every request it makes crosses the slow link.
Media go browser to browser directly (ICE host candidates on the loopback).

For each RTT, calls as bench/call_setup.py places them: the first person clicks Join
and waits, the second clicks; set-up runs from the second click to both pages showing
``connected``, timed in the pages. Between calls, one run of call_setup's in-page floor
(two RTCPeerConnections signaled directly in JavaScript, in a third context that talks to
the server directly). What a slow link costs a call is ``(setup - floor) / RTT``: the round
trips on its critical path, which should not grow with the RTT.

Also counted: the requests both pages send for a call (entering to leaving, from the proxies'
logs), and the server's CPU over the calls (its processes' user + system time from each first
click to both pages' last request), priced in hello-world Flask requests served by the same
recipe in the same run (bench/call_cpu.py). The critical path at 100 ms is printed step by
step: every request of either page from the second click to ``connected``, when the page sent
it, when the server got and answered it, and when the answer was back.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass, field

from playwright.sync_api import expect, sync_playwright

from harness.browser import Person, launch_chromium, open_person
from harness.servers import Server
from harness.tables import Row, print_table

from . import call_cpu
from .call_setup import FLOOR_JS, TIMESTAMPS_JS, after, ice_servers, marks, unrouted
from .proxy import DelayProxy, Exchange, exchanges

ROOM = "bench-rtt"
FLOOR_ROOM = "bench-rtt-floor"
RTTS = (50, 100, 200)
CALLS = 3
PATH_RTT = 100  # the RTT whose critical path is printed
TARGET = 2.0  # (setup - floor) / RTT at 100 ms
CONNECTED_MS = 30_000
HEADER = ("RTT", "calls", "setup", "floor", "(setup - floor) / RTT", "requests per call")
PATH_HEADER = ("after the click", "page", "step", "at server", "answered", "back", "connection")
# Page marks (bench/call_setup.py's TIMESTAMPS_JS) shown in the critical path: (mark, label).
PATH_MARKS = (
    ("click", "clicks Join"),
    ("answer applied", "answer applied"),
    ("ice connected", "ICE connected"),
    ("state connected", "connected (chat channel open)"),
)


@dataclass
class Call:
    """One call over the slow link: its set-up (ms), the requests of both pages (by page),
    the marks of both pages (epoch ms) and the server's CPU seconds."""

    setup: float
    requests: dict[str, list[Exchange]]
    marks: dict[str, dict[str, list[float]]]
    cpu: float


@dataclass
class Link:
    """The calls and the floor's runs at one RTT."""

    rtt: int
    calls: list[Call] = field(default_factory=list)
    floors: list[float] = field(default_factory=list)

    def setup(self) -> float:
        return statistics.median(c.setup for c in self.calls)

    def floor(self) -> float:
        return statistics.median(self.floors)

    def round_trips(self) -> float:
        """(median set-up - median floor) / RTT."""
        return (self.setup() - self.floor()) / self.rtt

    def requests(self) -> float:
        return statistics.median(sum(map(len, c.requests.values())) for c in self.calls)


@dataclass
class Measurement:
    links: list[Link]
    hello_cpu: float  # seconds per hello-world request
    hello_requests: int

    def calls(self) -> list[Call]:
        return [call for link in self.links for call in link.calls]


def call_requests(found: list[Exchange], click: float) -> list[Exchange]:
    """A page's requests for the call it started at ``click`` (epoch ms): from entering the
    room (the first GET /events that does not wait) to the DELETE that hangs up or leaves."""
    call: list[Exchange] = []
    for exchange in found:
        if exchange.path.startswith("/favicon."):
            continue  # the browser's own, when the page's state changes its icon
        entering = exchange.label() == "GET /events"
        # The page's clock and the proxy's may differ by a few ms: the click comes first.
        if not call and not (entering and exchange.browser_sent >= click - 50):
            continue
        call.append(exchange)
        if exchange.method == "DELETE" and exchange.path in ("/signal", "/room"):
            return call if exchange.answered is not None else []
    return []  # not over yet


def settled(page_proxy: list[tuple[Person, DelayProxy]], clicks: dict[str, float]):
    """Each page's requests for the call, once both have sent their last one (5 s at most)."""
    first = page_proxy[0][0]
    for _ in range(100):
        found = {
            name: call_requests(exchanges(proxy.chunks()), clicks[name])
            for name, (_, proxy) in zip(("first", "second"), page_proxy, strict=True)
        }
        if all(found.values()):
            return found
        first.page.wait_for_timeout(50)
    raise RuntimeError(f"a page did not leave the room: {found}")


def one_call(server: Server, people: list[tuple[Person, DelayProxy]]) -> Call:
    """Set up one call between the two people, hang it up, and tell what it took."""
    (first, _), (second, _) = people
    cpu = server.cpu_seconds()
    first.start()
    first.expect_state("waiting", timeout=CONNECTED_MS)
    second.start()
    first.expect_state("connected", timeout=CONNECTED_MS)
    second.expect_state("connected", timeout=CONNECTED_MS)
    pages = {"first": marks(first), "second": marks(second)}
    click = pages["second"]["click"][-1]
    setup = max(after(pages[p]["state connected"], click) for p in pages) - click
    first.hang_up()
    second.expect_state("left", timeout=CONNECTED_MS)
    clicks = {name: page["click"][-1] for name, page in pages.items()}
    requests = settled(people, clicks)
    cpu = server.cpu_seconds() - cpu
    first.expect_state("idle")
    for person in (first, second):
        expect(person.button("Join")).to_be_enabled(timeout=CONNECTED_MS)
    return Call(setup, requests, pages, cpu)


def measure_link(server: Server, browser, floor: Person, servers: list[dict], rtt: int, calls: int):
    """``calls`` calls (and as many floor runs) with each person behind a proxy of ``rtt``."""
    link = Link(rtt)
    with DelayProxy(server.port, rtt) as one, DelayProxy(server.port, rtt) as two:
        people = []
        for proxy in (one, two):
            url = f"{proxy.url}/?room={ROOM}-{rtt}"
            person = open_person(browser, url, init_scripts=[TIMESTAMPS_JS])
            people.append((unrouted(person), proxy))
        try:
            # Alternate a floor run and a call: a burst of other work slows both alike.
            for _ in range(calls):
                link.floors.append(floor.page.evaluate(FLOOR_JS, servers)["ms"])
                link.calls.append(one_call(server, people))
        finally:
            for person, _ in people:
                person.close()
    return link


def measure(
    rtts: tuple[int, ...] = RTTS,
    calls: int = CALLS,
    hello: int = call_cpu.HELLO_REQUESTS,
    mode: str = "gevent",
) -> Measurement:
    """Calls at each RTT on one server, then the hello-world unit on the same recipe."""
    with Server(mode) as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        floor = unrouted(open_person(browser, f"{server.url}/?room={FLOOR_ROOM}"))
        servers = ice_servers(floor.page)
        links = [measure_link(server, browser, floor, servers, rtt, calls) for rtt in rtts]
        browser.close()
    return Measurement(links, call_cpu.hello_cpu(hello, mode), hello)


def link_rows(result: Measurement) -> list[Row]:
    """Set-up, floor, round trips and requests per call at each RTT (medians)."""
    table: list[Row] = [(*HEADER, "")]
    for link in result.links:
        trips = link.round_trips()
        verdict = ""
        if link.rtt == PATH_RTT:
            verdict = f"target <= {TARGET:g}: {'met' if trips <= TARGET else 'not met'}"
        table.append(
            (
                f"{link.rtt} ms",
                str(len(link.calls)),
                f"{link.setup():.0f} ms",
                f"{link.floor():.0f} ms",
                f"{trips:.2f}",
                f"{link.requests():g}",
                verdict,
            )
        )
    return table


def median_call(link: Link) -> Call:
    """The call whose set-up is the median (the lower middle one of an even count)."""
    ordered = sorted(link.calls, key=lambda c: c.setup)
    return ordered[(len(ordered) - 1) // 2]


def path_rows(call: Call) -> list[Row]:
    """Every request and page step of ``call`` from the second click to both connected:
    times in ms after the click, in the order the page sent them or reached them."""
    click = call.marks["second"]["click"][-1]
    end = click + call.setup + 1

    def at(instant: float | None) -> str:
        return "" if instant is None else f"{instant - click:.0f}"

    steps: list[tuple[float, Row]] = []
    for page, found in call.requests.items():
        for e in found:
            times = (e.browser_sent, e.at_server, e.answered, e.at_browser)
            if not any(t is not None and click <= t <= end for t in times):
                continue
            new = "new" if e.new_connection else f"#{e.conn} kept"
            answer = (at(e.answered), at(e.at_browser), new)
            if e.browser_sent < click:  # held since before the click: shown when answered
                row = ("before", page, f"held {e.label()}", "before", *answer)
                steps.append((e.answered or end, row))
            else:
                row = (at(e.browser_sent), page, f"sends {e.label()}", at(e.at_server))
                steps.append((e.browser_sent, (*row, *answer)))
    for page, page_marks in call.marks.items():
        for mark, label in PATH_MARKS:
            within = [t for t in page_marks.get(mark, []) if click <= t <= end]
            if within:
                steps.append((within[0], (at(within[0]), page, label)))
    return [PATH_HEADER, *(row for _, row in sorted(steps, key=lambda s: s[0]))]


def sections(result: Measurement) -> list[tuple[str, list[Row]]]:
    """The tables: per RTT; the critical path at PATH_RTT (if measured); the CPU per call."""
    title = "A call over a slow link: second click -> both connected, less the in-page floor"
    found = [(title, link_rows(result))]
    for link in result.links:
        if link.rtt == PATH_RTT:
            title = f"The critical path at {PATH_RTT} ms (the median call; ms after the click)"
            found.append((title, path_rows(median_call(link))))
    calls = result.calls()
    per_call = sum(c.cpu for c in calls) / len(calls)
    title = "Server CPU per call, in hello-world Flask requests on the same recipe"
    found.append(
        (title, call_cpu.rows(per_call, len(calls), result.hello_cpu, result.hello_requests))
    )
    return found


def run(quick: bool = False) -> list[tuple[str, list[Row]]]:
    """The tables for `python -m bench`: 3 calls at each RTT, or one call at 100 ms."""
    if quick:
        return sections(measure((PATH_RTT,), 1, hello=1000))
    return sections(measure())


def main(argv: list[str] | None = None) -> None:
    """Measure and print the tables, then every call's set-up and floor run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rtt", type=int, action="append", metavar="MS", help=f"round trip (repeat; {RTTS})"
    )
    parser.add_argument("--calls", type=int, default=CALLS, help=f"calls per RTT ({CALLS})")
    parser.add_argument(
        "--hello",
        type=int,
        default=call_cpu.HELLO_REQUESTS,
        help=f"hello-world requests ({call_cpu.HELLO_REQUESTS})",
    )
    args = parser.parse_args(argv)
    result = measure(tuple(args.rtt or RTTS), args.calls, args.hello)
    print_table(sections(result))
    for link in result.links:
        setups = ", ".join(f"{c.setup:.0f}" for c in link.calls)
        floors = ", ".join(f"{t:.0f}" for t in link.floors)
        print(f"{link.rtt} ms: calls {setups} ms; floor runs {floors} ms")


if __name__ == "__main__":
    main()
