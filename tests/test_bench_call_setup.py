"""bench/call_setup.py still measures what it says: the call, the in-page floor, the ratio.

A behaviour check, not a timing one: the rows have their labels, every call and floor run
counts, the times are real, the ratio is the medians' ratio, and the floor's two
RTCPeerConnections really connect the way the page's do.

One server per serving mode and one Chromium (conftest's `browser`) for the whole module:
the calls are measured once, and the checks of the table and of the critical path both
read that measurement.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator

import pytest

from bench import call_setup
from harness.servers import Server

pytestmark = pytest.mark.browser


def milliseconds(cell: str) -> float:
    """A time cell of the table ("171 ms", "56.1 ms") as a number."""
    value = float(cell.removesuffix(" ms"))
    assert cell.endswith(" ms") and math.isfinite(value) and value > 0, cell
    return value


@pytest.fixture(scope="module")
def measured(browser) -> Iterator[call_setup.Measurement]:
    """The quick run's calls and floor runs, measured once for the module, on the
    production recipe as `python -m bench.call_setup` serves it."""
    with Server("gevent") as server:
        yield call_setup.measure_in(browser, server.url, call_setup.QUICK_CALLS)


@pytest.fixture(scope="module")
def tabs(browser) -> Iterator[call_setup.Tabs]:
    """Two calls between two tabs of one profile, on the two-tab table's serving mode."""
    with Server(call_setup.TABS_MODE) as server:
        yield call_setup.measure_tabs_in(browser, server.url, calls=2)


def test_run_gives_the_call_the_floor_and_their_ratio(measured, monkeypatch):
    asked = []

    def measure(calls: int) -> call_setup.Measurement:
        asked.append(calls)
        return measured

    monkeypatch.setattr(call_setup, "measure", measure)  # the module's measurement
    header, through_server, floor, ratio = call_setup.run(quick=True)
    assert asked == [call_setup.QUICK_CALLS]

    assert header == ("", "calls", "median", "min", "max")
    assert through_server[:2] == (call_setup.THROUGH_SERVER, str(call_setup.QUICK_CALLS))
    assert floor[:2] == (call_setup.FLOOR, str(call_setup.QUICK_CALLS))
    for row in (through_server, floor):
        median, low, high = (milliseconds(cell) for cell in row[2:])
        assert low <= median <= high

    label, empty, shown, *_, verdict = ratio
    assert (label, empty) == (call_setup.RATIO, "")
    value = float(shown.removesuffix("x"))
    medians = milliseconds(through_server[2]) / milliseconds(floor[2])
    # The medians in the rows are rounded (to 1 ms, or 0.1 ms under 100 ms), the ratio to 0.01.
    assert value == pytest.approx(medians, rel=0.01, abs=0.005)
    met = "met" if value <= call_setup.TARGET else "not met"
    assert verdict == f"target <= {call_setup.TARGET:.2f}x: {met}"


def test_the_critical_path_and_the_two_tabs_table_come_from_real_calls(measured, tabs):
    result = measured
    table = call_setup.step_rows(result)
    assert [row[0] for row in table[1:]] == [label for label, _, _ in call_setup.STEPS]
    after_click = [milliseconds(row[1]) for row in table[1:]]
    assert after_click == sorted(after_click)  # each step comes after the one before
    assert after_click[-1] == pytest.approx(statistics.median(result.calls), rel=0.02)

    rows = call_setup.tabs_rows(tabs)
    assert len(rows) == 5
    for row in rows[1:]:
        assert row[1] == "2"
        assert row[-1].startswith("<= ")
    assert all(0 <= t < 5000 for t in tabs.noticed + tabs.clickable + tabs.after_storm)


def test_the_floor_connects_both_sides_as_the_page_does(live_server, people):
    person = people(f"{live_server.url}/?room={call_setup.FLOOR_ROOM}")
    servers = call_setup.ice_servers(person.page)
    assert servers  # the public STUN fallback, as the page gets it

    for _ in range(2):  # the second run starts from a clean page
        result = call_setup.one_floor(person.page, servers)
        assert math.isfinite(result["ms"]) and result["ms"] > 0
        assert result["errors"] == []
        for side in ("caller", "callee"):
            assert result[side] == {
                "connectionState": "connected",
                "iceConnectionState": result[side]["iceConnectionState"],
                "channel": "chat",
                "channelState": "open",
                "remoteTracks": ["audio", "video"],
            }
            assert result[side]["iceConnectionState"] in ("connected", "completed")

    # The same configuration as the page's RTCPeerConnection, and nothing left running.
    assert person.probe("configs") == [{"iceServers": servers}] * 4
    ended = "window.__probe.streams.flatMap((s) => s.getTracks()).map((t) => t.readyState)"
    # The floor's two runs opened 8 tracks, after the lobby's preview (which stays on).
    assert person.page.evaluate(ended)[-8:] == ["ended"] * 8
    assert person.page.locator("video").count() == 2  # the page's own two
