"""Call set-up time in real Chromium, through the server and against the in-page floor.

    .venv/bin/python bench/call_setup.py [--calls 10] [--mode gevent]

(`python -m bench` runs it too, through :func:`run`.)

The app runs as the production recipe (bench/servers.py's ``gevent`` mode: gunicorn with
gevent, one worker, a fresh temporary sqlite store) in its own process on a free loopback
port; ``--mode dev`` serves it with `flask run` instead. Not in this process: Playwright's
driver shares it, and the two taking turns at the GIL added milliseconds to every request.
Two people (two browser contexts, fake
camera and microphone) open one room; for each call the first clicks Start Session and waits,
then the second clicks it. A call's set-up time runs from the second click to the later of
the two pages showing ``#status[data-state=connected]`` (media connected and the chat channel
open). Both instants are taken inside the pages with ``performance.timeOrigin +
performance.now()``: one wall clock for both pages, read without Playwright's own latency.
The first person hangs up between calls, and the next call starts once both are idle again.

The floor (issue #4: "call setup <= 1.25x the in-page floor") is the same call without the
signaling server: two RTCPeerConnections in one page of a third browser context on the same
origin, built and connected by :data:`FLOOR_JS` the way the two pages build theirs, with the
offer, the answer and every candidate handed over directly in JavaScript. Whatever the first
person has done before the second click (camera, connection, offer, candidates) is done
before the floor's clock starts; whatever the second person does after the click is timed.
The ratio of the two medians is what the target is about.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import Page, expect, sync_playwright

from bench.common import Row, ms, print_table
from bench.servers import MODES, Server
from tests.browser import Person, launch_chromium, open_person

ROOM = "bench-call-setup"
# The floor's page is the app's page too (same origin, same probes, same CSP), in a room of
# its own that it never joins: client.js stays idle there.
FLOOR_ROOM = "bench-call-setup-floor"
CALLS = 10
QUICK_CALLS = 3
TARGET = 1.25  # issue #4: call setup <= 1.25x the in-page floor
HEADER = ("", "calls", "median", "min", "max")
THROUGH_SERVER = "through the server (long-poll)"
FLOOR = "floor: two RTCPeerConnections in one page"
RATIO = "ratio (median / floor median)"

# Timestamps in the page: every click on Start Session, every time #status turns connected.
TIMESTAMPS_JS = """
(() => {
  const now = () => performance.timeOrigin + performance.now();
  window.__bench = { clicks: [], connected: [] };
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("#startButton");
    if (button) window.__bench.clicks.push(now());
  }, true);
  document.addEventListener("DOMContentLoaded", () => {
    const status = document.getElementById("status");
    new MutationObserver(() => {
      if (status.dataset.state === "connected") window.__bench.connected.push(now());
    }).observe(status, { attributes: true, attributeFilter: ["data-state"] });
  });
})();
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
# - Afterwards, as Hang Up does, the channels and connections are closed and the tracks
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


@dataclass
class Measurement:
    """Set-up times (ms) of the calls through the server and of the floor's runs."""

    calls: list[float]
    floors: list[float]

    def ratio(self) -> float:
        """The calls' median over the floor's median."""
        return statistics.median(self.calls) / statistics.median(self.floors)


def last(person: Person, name: str) -> float:
    """The latest timestamp (ms since the epoch) of ``clicks`` or ``connected`` in the page."""
    return person.page.evaluate(f"window.__bench.{name}.at(-1)")


def one_call(first: Person, second: Person) -> float:
    """Set up one call and hang it up; its set-up time in milliseconds."""
    first.start()
    first.expect_state("waiting")
    second.start()
    first.expect_state("connected", timeout=20_000)
    second.expect_state("connected", timeout=20_000)
    setup = max(last(first, "connected"), last(second, "connected")) - last(second, "clicks")
    first.hang_up()
    second.expect_state("left")
    first.expect_state("idle")
    for person in (first, second):
        expect(person.button("Start Session")).to_be_enabled()
    return setup


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
    """``calls`` calls between the same two pages, and as many floor runs in a third."""
    with Server(mode) as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        url = f"{server.url}/?room={ROOM}"
        first = unrouted(open_person(browser, url, init_scripts=[TIMESTAMPS_JS]))
        second = unrouted(open_person(browser, url, init_scripts=[TIMESTAMPS_JS]))
        floor = unrouted(open_person(browser, f"{server.url}/?room={FLOOR_ROOM}"))
        servers = ice_servers(floor.page)
        result = Measurement(calls=[], floors=[])
        # Alternate a floor run and a call, in the same browser: a burst of other
        # work on the machine then slows both alike instead of one of them.
        for _ in range(calls):
            result.floors.append(one_floor(floor.page, servers)["ms"])
            result.calls.append(one_call(first, second))
        browser.close()
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


def run(quick: bool = False) -> list[Row]:
    """Rows for `python -m bench`'s table (header first): 10 calls, or 3 when quick."""
    return rows(measure(QUICK_CALLS if quick else CALLS))


def report(result: Measurement) -> None:
    """Print the table, then every call's and every floor run's time."""
    title = "Call set-up: second Start Session click -> both sides connected (timed in the pages)"
    print_table([(title, rows(result))])
    print("each call:      " + ", ".join(f"{t:.0f}" for t in result.calls) + " ms")
    print("each floor run: " + ", ".join(f"{t:.0f}" for t in result.floors) + " ms")


def main(argv: list[str] | None = None) -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=CALLS, help=f"calls to time ({CALLS})")
    parser.add_argument(
        "--mode", choices=list(MODES), default="gevent", help="serving mode (gevent)"
    )
    args = parser.parse_args(argv)
    report(measure(args.calls, args.mode))


if __name__ == "__main__":
    main()
