"""Call set-up time in real Chromium, through the server and against the in-page floor.

    .venv/bin/python -m bench.call_setup [--calls 10] [--mode gevent] [--tabs 5]

(`python -m bench` runs it too, through :func:`run`.)

The app runs as the production recipe (harness/servers.py's ``gevent`` mode: gunicorn with
gevent, one worker, a fresh temporary sqlite store) in its own process on a free loopback
port; ``--mode dev`` serves it with `flask run` instead. Not in this process: Playwright's
driver shares it, and the two taking turns at the GIL added milliseconds to every request.
Two people (two browser contexts, fake
camera and microphone) open one room; for each call the first clicks Join and waits,
then the second clicks it. A call's set-up time runs from the second click to the later of
the two pages showing ``#status[data-state=connected]`` (media connected and the chat channel
open). Both instants are taken inside the pages with ``performance.timeOrigin +
performance.now()``: one wall clock for both pages, read without Playwright's own latency.
The first person hangs up between calls, and the next call starts once both are idle again.

The floor (the target: call setup <= 1.25x the in-page floor) is the same call without the
signaling server: two RTCPeerConnections in one page of a third browser context on the same
origin, built and connected by :data:`FLOOR_JS` the way the two pages build theirs, with the
offer, the answer and every candidate handed over directly in JavaScript. Whatever the first
person has done before the second click (camera, connection, offer, candidates) is done
before the floor's clock starts; whatever the second person does after the click is timed.
The ratio of the two medians is what the target is about.

The second table is the second person's critical path, step by step, as medians from the
second click: so each millisecond has an owner. The third is the way most people first try
the app: two tabs of one browser profile (they share its six connections to the server) on
``flask run``: set-up, how soon the other tab notices a hang-up, and how soon Join
is clickable again after Leave and after a storm of Join/Leave clicks.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass, field

from playwright.sync_api import Browser, Page, expect, sync_playwright

from harness.browser import Person, launch_chromium, open_person
from harness.servers import MODES, Server
from harness.tables import Row, ms, print_table

ROOM = "bench-call-setup"
# The floor's page is the app's page too (same origin, same probes, same CSP), in a room of
# its own that it never joins: the page stays idle there.
FLOOR_ROOM = "bench-call-setup-floor"
CALLS = 10
QUICK_CALLS = 3
TARGET = 1.25  # call setup <= 1.25x the in-page floor
TABS_CALLS = 5
TABS_MODE = "dev"
STORM_CLICKS = 8
HEADER = ("", "calls", "median", "min", "max")
THROUGH_SERVER = "through the server (push channel)"
FLOOR = "floor: two RTCPeerConnections in one page"
RATIO = "ratio (median / floor median)"

# Timestamps in the page (ms since the epoch, one clock for every page): each click on Start
# Session, and each step a call goes through, from outside the page's own code.
TIMESTAMPS_JS = """
(() => {
  const now = () => performance.timeOrigin + performance.now();
  const marks = {};
  const mark = (name) => (marks[name] = marks[name] || []).push(now());
  window.__bench = { marks };
  document.addEventListener("click", (event) => {
    const target = event.target.closest && event.target;
    if (target && target.closest("#startButton")) mark("click");
    if (target && target.closest("#hangUpButton")) mark("hang up");
  }, true);
  const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const stream = await getUserMedia(constraints);
    mark("camera");
    return stream;
  };
  const nativeFetch = window.fetch;
  window.fetch = async (input, init = {}) => {
    const response = await nativeFetch(input, init);
    const url = String(input);
    const method = init.method || "GET";
    // Entering: the first GET /events, not held, brings the offer and what else waits.
    if (method === "GET" && url.includes("/events?") && !url.includes("wait=")) {
      mark("entered");
    }
    if (method === "POST" && String(init.body).includes('"type":"answer"')) mark("answer posted");
    return response;
  };
  const NativePC = window.RTCPeerConnection;
  const setRemote = NativePC.prototype.setRemoteDescription;
  NativePC.prototype.setRemoteDescription = function (description, ...rest) {
    if (description && description.type === "answer") mark("answer applied");
    return setRemote.call(this, description, ...rest);
  };
  window.RTCPeerConnection = class extends NativePC {
    constructor(config) {
      super(config);
      this.addEventListener("connectionstatechange", () => {
        if (this.connectionState === "connected") mark("ice connected");
      });
    }
  };
  document.addEventListener("DOMContentLoaded", () => {
    const status = document.getElementById("status");
    new MutationObserver(() => mark("state " + status.dataset.state)).observe(status, {
      attributes: true,
      attributeFilter: ["data-state"],
    });
  });
})();
"""

# Click Leave (or a storm of Join/Leave clicks), then the ms until Join is
# clickable again: 0 when it already is in the same task.
START_CLICKABLE_JS = """
(clicks) => new Promise((resolve) => {
  const start = document.getElementById("startButton");
  const hangUp = document.getElementById("hangUpButton");
  const began = performance.now();
  for (let i = 0; i < clicks; i++) {
    if (i > 0) start.click();
    hangUp.click();
  }
  const check = () => {
    if (!start.disabled) resolve(performance.now() - began);
    else requestAnimationFrame(check);
  };
  check();
})
"""

# One floor run: the call of public/client.js between two RTCPeerConnections in this page,
# signaled directly. Called with the iceServers the page gets from /api/ice-servers (fetched
# once, before any timing: the second person's fetch is signaling work, not the floor's).
# Returns the set-up time and what each side looked like when both were connected; rejects
# if the call fails or takes over 20 s. Why each step is what it is:
# - Caller = the first person, who before the second click has done start(): getUserMedia
#   ({video, audio}, openMedia's first attempt), showing it in a <video>, new
#   RTCPeerConnection({iceServers}) with no other option (createPeerConnection), addTrack of
#   every track with the stream, createDataChannel("chat") (actAsInitiator), createOffer and
#   setLocalDescription, the offer taken at once with toJSON (so it carries no candidates:
#   they trickle), and its candidates trickled to the server. The clock starts after all
#   that, once the caller's ICE gathering is complete: its host candidates are out within
#   ~10 ms; the rest (~120 ms) is spent failing to reach the public STUN server (no network
#   here), idle time the page's caller is partly through at the second click.
# - Callee = the second person, timed from its click: getUserMedia and the <video>, the same
#   RTCPeerConnection and addTrack, the channel taken from "datachannel", setRemoteDescription
#   of the offer, createAnswer and setLocalDescription (actAsReceiver). What the page does
#   over HTTP here (entering the room with its read of the offer, /api/ice-servers, reading
#   the candidates, posting the answer) is the signaling the floor leaves out.
# - The answer goes straight to the caller's setRemoteDescription (acceptAnswer); each side's
#   candidates go to the other's addIceCandidate as they trickle, held only until the other
#   has a remote description (the page's pendingCandidates / outgoing do the same).
# - Remote tracks are played in a <video> as the page's "track" handler does.
# - "Connected" is checkConnected's: connectionState "connected" and the chat channel open,
#   on both sides; the run's time is the later side's, as for the call through the server.
# - Afterwards, as Leave does, the channels and connections are closed and the tracks
#   stopped, so every run starts from scratch.
FLOOR_JS = """
async (iceServers) => {
  const now = () => performance.now();
  const media = { video: true, audio: true };
  const videos = [];
  const streams = [];
  const errors = [];

  function show(stream) {
    const video = document.createElement("video");
    video.muted = true;
    video.autoplay = true;
    video.playsInline = true;
    video.srcObject = stream;
    document.body.append(video);
    videos.push(video);
    video.play().catch(() => {});
  }

  async function camera() {
    const stream = await navigator.mediaDevices.getUserMedia(media);
    streams.push(stream);
    show(stream);
    return stream;
  }

  function connect(side, stream) {
    // side gets its RTCPeerConnection, and side.connected resolves once checkConnected's
    // condition holds for it.
    const pc = new RTCPeerConnection({ iceServers });
    Object.assign(side, { pc, dc: null, connectedAt: null, remote: null });
    side.connected = new Promise((resolve, reject) => {
      const check = () => {
        if (side.connectedAt !== null || pc.connectionState !== "connected") return;
        if (!side.dc || side.dc.readyState !== "open") return;
        side.connectedAt = now();
        resolve();
      };
      side.useChannel = (dc) => {
        side.dc = dc;
        dc.addEventListener("open", check);
      };
      pc.addEventListener("connectionstatechange", () => {
        if (pc.connectionState === "failed") reject(new Error(side.name + ": connection failed"));
        check();
      });
    });
    for (const track of stream.getTracks()) pc.addTrack(track, stream);
    pc.addEventListener("track", (event) => {
      if (!side.remote) {
        side.remote = new MediaStream();
        show(side.remote);
      }
      side.remote.addTrack(event.track);
    });
    pc.addEventListener("datachannel", (event) => side.useChannel(event.channel));
  }

  function add(side, candidate) {
    side.pc.addIceCandidate(candidate).catch((err) => errors.push(side.name + ": " + err.message));
  }

  function trickle(from, to) {
    // from's candidates to to's addIceCandidate, held until to has a remote description.
    from.pc.addEventListener("icecandidate", (event) => {
      if (!event.candidate) return;
      const candidate = event.candidate.toJSON();
      if (to.pc && to.pc.remoteDescription) add(to, candidate);
      else from.held.push(candidate);
    });
  }

  function release(from, to) {
    for (const candidate of from.held.splice(0)) add(to, candidate);
  }

  function state(side) {
    return {
      connectionState: side.pc.connectionState,
      iceConnectionState: side.pc.iceConnectionState,
      channel: side.dc ? side.dc.label : null,
      channelState: side.dc ? side.dc.readyState : null,
      remoteTracks: side.remote ? side.remote.getTracks().map((t) => t.kind).sort() : [],
    };
  }

  const caller = { name: "caller", pc: null, held: [] };
  const callee = { name: "callee", pc: null, held: [] };
  let timer = null;
  try {
    // Before the second click: the first person's start(), offer and candidates.
    connect(caller, await camera());
    trickle(caller, callee);
    caller.useChannel(caller.pc.createDataChannel("chat"));
    await caller.pc.setLocalDescription(await caller.pc.createOffer());
    const offer = caller.pc.localDescription.toJSON();
    if (caller.pc.iceGatheringState !== "complete") {
      await new Promise((resolve) => {
        caller.pc.addEventListener("icegatheringstatechange", () => {
          if (caller.pc.iceGatheringState === "complete") resolve();
        });
        setTimeout(resolve, 2000);
      });
    }

    // The second click: from here on, the clock runs.
    const start = now();
    connect(callee, await camera());
    trickle(callee, caller);
    await callee.pc.setRemoteDescription(offer);
    release(caller, callee);
    await callee.pc.setLocalDescription(await callee.pc.createAnswer());
    const answer = callee.pc.localDescription.toJSON();
    await caller.pc.setRemoteDescription(answer);
    release(callee, caller);
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error("not connected after 20 s")), 20000);
    });
    await Promise.race([Promise.all([caller.connected, callee.connected]), late]);
    return {
      ms: Math.max(caller.connectedAt, callee.connectedAt) - start,
      caller: state(caller),
      callee: state(callee),
      errors,
    };
  } catch (err) {
    const states = [caller, callee].filter((side) => side.pc).map((side) =>
      side.name + " " + JSON.stringify(state(side)));
    throw new Error(err.message + "; " + states.join("; "));
  } finally {
    clearTimeout(timer);
    for (const side of [caller, callee]) {
      if (side.dc) side.dc.close();
      if (side.pc) side.pc.close();
    }
    for (const stream of streams) for (const track of stream.getTracks()) track.stop();
    for (const video of videos) {
      video.srcObject = null;
      video.remove();
    }
  }
}
"""


# The second person's critical path: (label, whose page, mark), in the order a call goes. The
# camera is not a step: the lobby's preview opened it before the click.
STEPS = (
    ("room entered: offer and candidates read", "second", "entered"),
    ("answer posted", "second", "answer posted"),
    ("answer applied at the caller", "first", "answer applied"),
    ("ICE connected (both)", "both", "ice connected"),
    ("chat channel open: connected (both)", "both", "state connected"),
)


@dataclass
class Measurement:
    """Set-up times (ms) of the calls through the server and of the floor's runs, and each
    call's steps (ms after the second click, by step label)."""

    calls: list[float]
    floors: list[float]
    steps: list[dict[str, float]] = field(default_factory=list)

    def ratio(self) -> float:
        """The calls' median over the floor's median."""
        return statistics.median(self.calls) / statistics.median(self.floors)


@dataclass
class Tabs:
    """Two tabs of one profile: set-up, hang-up noticed, Join clickable (ms)."""

    setups: list[float] = field(default_factory=list)
    noticed: list[float] = field(default_factory=list)
    clickable: list[float] = field(default_factory=list)
    after_storm: list[float] = field(default_factory=list)


def marks(person: Person) -> dict[str, list[float]]:
    """Every timestamp the page recorded, by mark."""
    return person.page.evaluate("window.__bench.marks")


def after(times: list[float], instant: float) -> float:
    """The first of ``times`` at or after ``instant``."""
    return min(t for t in times if t >= instant)


def one_call(first: Person, second: Person, steps: list[dict[str, float]] | None = None) -> float:
    """Set up one call (its steps into ``steps``) and hang it up; its set-up time in ms."""
    first.start()
    first.expect_state("waiting")
    second.start()
    first.expect_state("connected", timeout=20_000)
    second.expect_state("connected", timeout=20_000)
    pages = {"first": marks(first), "second": marks(second)}
    click = pages["second"]["click"][-1]
    step = {}
    for label, whose, name in STEPS:
        sides = ("first", "second") if whose == "both" else (whose,)
        step[label] = max(after(pages[side][name], click) for side in sides) - click
    if steps is not None:
        steps.append(step)
    first.hang_up()
    second.expect_state("left")
    first.expect_state("idle")
    for person in (first, second):
        expect(person.button("Join")).to_be_enabled()
    return step[STEPS[-1][0]]


def unrouted(person: Person) -> Person:
    """``person`` with its page loaded and Playwright's request routing taken off.

    open_person routes requests to put the strict CSP on the page; its route is a Python
    predicate, so while it is on, every fetch the page makes waits for a round trip through
    Playwright to this process (~5-10 ms here): harness time, not the app's. The page keeps
    the CSP it was served with.
    """
    person.context.unroute_all()
    return person


def ice_servers(page: Page) -> list[dict]:
    """The iceServers the page gets from /api/ice-servers (the public STUN fallback here)."""
    return page.evaluate("fetch('/api/ice-servers').then((r) => r.json())")["iceServers"]


def one_floor(page: Page, servers: list[dict]) -> dict:
    """One floor run in ``page``: ``ms``, and each side's states once both were connected."""
    return page.evaluate(FLOOR_JS, servers)


def measure(calls: int, mode: str = "gevent") -> Measurement:
    """``calls`` calls between the same two pages, and as many floor runs in a third, on a
    server of its own in ``mode`` and a Chromium of its own."""
    with Server(mode) as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        result = measure_in(browser, server.url, calls)
        browser.close()
    return result


def measure_in(browser: Browser, base_url: str, calls: int) -> Measurement:
    """:func:`measure` in ``browser`` on the server at ``base_url`` (the tests share both
    between their checks); its browser contexts are closed after."""
    url = f"{base_url}/?room={ROOM}"
    first = unrouted(open_person(browser, url, init_scripts=[TIMESTAMPS_JS]))
    second = unrouted(open_person(browser, url, init_scripts=[TIMESTAMPS_JS]))
    floor = unrouted(open_person(browser, f"{base_url}/?room={FLOOR_ROOM}"))
    try:
        servers = ice_servers(floor.page)
        result = Measurement(calls=[], floors=[])
        # Alternate a floor run and a call, in the same browser: a burst of other
        # work on the machine then slows both alike instead of one of them.
        for _ in range(calls):
            result.floors.append(one_floor(floor.page, servers)["ms"])
            result.calls.append(one_call(first, second, result.steps))
    finally:
        for person in (first, second, floor):
            person.close()
    return result


def measure_tabs(calls: int = TABS_CALLS, mode: str = TABS_MODE) -> Tabs:
    """``calls`` calls between two tabs of one browser profile, each hung up by the first, on
    a server of its own in ``mode`` and a Chromium of its own."""
    with Server(mode) as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        result = measure_tabs_in(browser, server.url, calls)
        browser.close()
    return result


def measure_tabs_in(browser: Browser, base_url: str, calls: int = TABS_CALLS) -> Tabs:
    """:func:`measure_tabs` in ``browser`` on the server at ``base_url``; its browser
    context is closed after."""
    url = f"{base_url}/?room={ROOM}-tabs"
    first = unrouted(open_person(browser, url, init_scripts=[TIMESTAMPS_JS]))
    second = first.open_tab(url)
    try:
        result = Tabs()
        for n in range(calls):
            caller, callee = (first, second) if n % 2 == 0 else (second, first)
            caller.start()
            caller.expect_state("waiting")
            callee.start()
            caller.expect_state("connected", timeout=20_000)
            callee.expect_state("connected", timeout=20_000)
            click = marks(callee)["click"][-1]
            connected = [after(marks(p)["state connected"], click) for p in (caller, callee)]
            result.setups.append(max(connected) - click)
            result.clickable.append(caller.page.evaluate(START_CLICKABLE_JS, 1))
            callee.expect_state("left", timeout=5_000)
            hung_up = marks(caller)["hang up"][-1]
            result.noticed.append(after(marks(callee)["state left"], hung_up) - hung_up)
            expect(callee.button("Join")).to_be_enabled()
            result.after_storm.append(callee.page.evaluate(START_CLICKABLE_JS, STORM_CLICKS))
            caller.expect_state("idle")
            callee.expect_state("idle")
    finally:
        first.close()
    return result


def summary(label: str, times: list[float]) -> Row:
    """A row under HEADER: the label, number of runs, median, min and max."""
    seconds = [t / 1e3 for t in times]
    return (
        label,
        str(len(times)),
        ms(statistics.median(seconds)),
        ms(min(seconds)),
        ms(max(seconds)),
    )


def rows(result: Measurement) -> list[Row]:
    """The table, header first: the calls, the floor, and their ratio against the target."""
    ratio = result.ratio()
    verdict = "met" if ratio <= TARGET else "not met"
    return [
        HEADER,
        summary(THROUGH_SERVER, result.calls),
        summary(FLOOR, result.floors),
        (RATIO, "", f"{ratio:.2f}x", "", "", f"target <= {TARGET:.2f}x: {verdict}"),
    ]


def step_rows(result: Measurement) -> list[Row]:
    """The second person's critical path: each step's median time after the second click,
    and the median time the step itself took."""
    rows_: list[Row] = [("step (median over calls)", "after the click", "this step")]
    previous = [0.0] * len(result.steps)
    for label, _, _ in STEPS:
        at = [step[label] for step in result.steps]
        took = [now - before for now, before in zip(at, previous, strict=True)]
        rows_.append((label, ms(statistics.median(at) / 1e3), ms(statistics.median(took) / 1e3)))
        previous = at
    return rows_


def tabs_rows(result: Tabs) -> list[Row]:
    """Two tabs of one profile, against their targets."""
    targets = (
        ("second click -> both connected", result.setups, 1000),
        ("Leave -> the other tab shows 'left'", result.noticed, 500),
        ("Leave -> Join clickable", result.clickable, 300),
        (f"{STORM_CLICKS} Join/Leave clicks -> Join clickable", result.after_storm, 300),
    )
    table: list[Row] = [(*HEADER, "target")]
    for label, times, target in targets:
        median = statistics.median(times)
        verdict = "met" if median <= target else "not met"
        table.append((*summary(label, times), f"<= {target} ms: {verdict}"))
    return table


def run(quick: bool = False) -> list[Row]:
    """Rows for `python -m bench`'s table (header first): 10 calls, or 3 when quick."""
    return rows(measure(QUICK_CALLS if quick else CALLS))


def report(result: Measurement, tabs: Tabs | None) -> None:
    """Print the tables, then every call's and every floor run's time."""
    title = "Call set-up: second Join click -> both sides connected (timed in the pages)"
    sections = [(title, rows(result)), ("The second person's critical path", step_rows(result))]
    if tabs is not None:
        title = f"Two tabs of one browser profile, {MODES[TABS_MODE][0]}"
        sections.append((title, tabs_rows(tabs)))
    print_table(sections)
    print("each call:      " + ", ".join(f"{t:.0f}" for t in result.calls) + " ms")
    print("each floor run: " + ", ".join(f"{t:.0f}" for t in result.floors) + " ms")


def main(argv: list[str] | None = None) -> None:
    """Measure and print the tables."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.call_setup", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--calls", type=int, default=CALLS, help=f"calls to time ({CALLS})")
    parser.add_argument(
        "--mode", choices=list(MODES), default="gevent", help="serving mode (gevent)"
    )
    parser.add_argument(
        "--tabs",
        type=int,
        default=TABS_CALLS,
        help=f"calls between two tabs ({TABS_CALLS}; 0: none)",
    )
    args = parser.parse_args(argv)
    result = measure(args.calls, args.mode)
    report(result, measure_tabs(args.tabs) if args.tabs else None)


if __name__ == "__main__":
    main()
