"""Call set-up time in real Chromium: the second Start Session click to "connected" on both pages.

    .venv/bin/python bench/call_setup.py [--calls 10]

(`python -m bench` runs it too, through :func:`run`.)

The app runs in this process on a free loopback port (werkzeug's threaded server, a fresh
temporary sqlite store), as in the browser tests. Two people (two browser contexts, fake
camera and microphone) open one room; for each call the first clicks Start Session and waits,
then the second clicks it. A call's set-up time runs from the second click to the later of
the two pages showing ``#status[data-state=connected]`` (media connected and the chat channel
open). Both instants are taken inside the pages with ``performance.timeOrigin +
performance.now()``: one wall clock for both pages, read without Playwright's own latency.
The first person hangs up between calls, and the next call starts once both are idle again.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import expect, sync_playwright

from flask_app import create_app
from tests.browser import Person, launch_chromium, open_person
from tests.conftest import LiveServer

ROOM = "bench-call-setup"
CALLS = 10
QUICK_CALLS = 3
HEADER = ("calls", "median", "min", "max")

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


def measure(calls: int) -> list[float]:
    """Set-up times (ms) of ``calls`` calls between the same two pages."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SIGNAL_STORE": f"sqlite:///{Path(folder) / 'signal.sqlite'}"})
        server = LiveServer(app).start()
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                url = f"{server.url}/?room={ROOM}"
                first = open_person(browser, url, init_scripts=[TIMESTAMPS_JS])
                second = open_person(browser, url, init_scripts=[TIMESTAMPS_JS])
                times = [one_call(first, second) for _ in range(calls)]
                browser.close()
        finally:
            server.stop()
            app.extensions["webrtc_signal"].store.close()
    return times


def summary(times: list[float]) -> tuple[str, str, str, str]:
    """The row under HEADER: number of calls, median, min and max."""
    return (
        str(len(times)),
        f"{statistics.median(times):.0f} ms",
        f"{min(times):.0f} ms",
        f"{max(times):.0f} ms",
    )


def run(quick: bool = False) -> list[tuple[str, ...]]:
    """Rows for `python -m bench`'s table (header first): 10 calls, or 3 when quick."""
    quiet_logs()
    return [HEADER, summary(measure(QUICK_CALLS if quick else CALLS))]


def report(times: list[float]) -> str:
    """A small table: median, min, max and the number of calls, then every call."""
    row = summary(times)
    widths = [max(len(a), len(b)) for a, b in zip(HEADER, row, strict=True)]
    lines = [
        "Call set-up: second Start Session click -> both pages connected",
        "(timed in the pages: performance.timeOrigin + performance.now())",
        "  ".join(h.rjust(w) for h, w in zip(HEADER, widths, strict=True)),
        "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)),
        "each call: " + ", ".join(f"{t:.0f}" for t in times) + " ms",
    ]
    return "\n".join(lines)


def quiet_logs() -> None:
    """The server's request log and the "no Twilio credentials" warning are noise here."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("webrtc_signal").setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=CALLS, help=f"calls to time ({CALLS})")
    args = parser.parse_args(argv)
    quiet_logs()
    print(report(measure(args.calls)))


if __name__ == "__main__":
    main()
