"""bench/rtt.py still measures what it says: a slow link that really delays, and its tables.

A behaviour check, not a timing one: the proxy holds a request at least a round trip (a new
connection's at least two), its log tells each request and its answer, and one call at one
RTT gives every table with its rows.
"""

from __future__ import annotations

import http.client
import json
import time

import pytest

from bench import call_cpu, rtt
from bench.proxy import DelayProxy, exchanges
from harness.network import HOST

RTT_MS = 200


def timed_request(conn: http.client.HTTPConnection, method: str, path: str, body=None):
    """One request on ``conn``: its status and the seconds until its answer was read."""
    start = time.monotonic()
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status, time.monotonic() - start


def test_the_proxy_delays_each_request_a_round_trip_and_a_new_connection_two():
    # The hello-world app on the recipe: it keeps connections open, as the app's does.
    with call_cpu.hello_server() as server, DelayProxy(server.port, RTT_MS) as proxy:
        conn = http.client.HTTPConnection(HOST, proxy.port, timeout=10)
        try:
            status, first = timed_request(conn, "GET", "/hello")
            assert status == 200
            body = json.dumps({"type": "answer", "payload": {"sdp": "x" * 2000}})
            status, kept = timed_request(conn, "POST", "/echo", body)
            assert status == 200
        finally:
            conn.close()
        # The handshake's round trip, then the request's and the answer's halves.
        assert first >= 2 * RTT_MS / 1e3
        assert kept >= RTT_MS / 1e3
        found = exchanges(proxy.chunks())
    assert [(e.label(), e.new_connection, e.status) for e in found] == [
        ("GET /hello", True, "200"),
        ("POST /echo answer", False, "200"),
    ]
    for e in found:
        assert e.at_server - e.browser_sent >= RTT_MS / 2 - 1
        assert e.at_browser - e.answered >= RTT_MS / 2 - 1
    assert found[0].at_server - found[0].browser_sent >= 1.5 * RTT_MS - 1


@pytest.mark.browser
def test_one_call_at_one_rtt_gives_every_table():
    result = rtt.measure((rtt.PATH_RTT,), calls=1, hello=200)
    titles = [title for title, _ in rtt.sections(result)]
    assert len(titles) == 3 and "critical path" in titles[1]
    table = rtt.link_rows(result)
    assert table[0][: len(rtt.HEADER)] == rtt.HEADER
    assert len(table) == 2
    label, calls, setup, floor, trips, requests, verdict = table[1]
    assert (label, calls) == (f"{rtt.PATH_RTT} ms", "1")
    assert verdict.startswith(f"target <= {rtt.TARGET:g}: ")
    setup_ms, floor_ms = float(setup.removesuffix(" ms")), float(floor.removesuffix(" ms"))
    assert setup_ms > floor_ms > 0
    assert float(trips) == pytest.approx((setup_ms - floor_ms) / rtt.PATH_RTT, abs=0.02)
    # Entering the room, and the answer on its way to the first person: a round trip each.
    assert float(trips) >= 1.5

    call = result.links[0].calls[0]
    assert int(requests) == sum(len(found) for found in call.requests.values())
    for page in ("first", "second"):
        labels = [e.label() for e in call.requests[page]]
        assert labels[0] == "GET /events" and labels[-1].startswith("DELETE ")
        assert all(e.answered is not None for e in call.requests[page][:-1] if e.path != "/events")

    path = rtt.path_rows(call)
    assert path[0] == rtt.PATH_HEADER
    # Requests held since before the click (the first's push channel) say so.
    after_click = [float(row[0]) for row in path[1:] if row[0] != "before"]
    assert after_click == sorted(after_click) and after_click[0] >= 0
    steps = [(row[1], row[2]) for row in path[1:]]
    assert next(s for s in steps if not s[1].startswith("held ")) == (
        "second",
        "clicks Join",
    )
    assert ("second", "sends GET /events") in steps
    assert ("second", "sends POST /signal answer") in steps
    assert ("first", "answer applied") in steps
    assert path[-1][2] == "connected (chat channel open)"
    assert after_click[-1] == pytest.approx(call.setup, abs=1)

    cpu = rtt.sections(result)[-1][1]
    assert [row[0] for row in cpu] == [row[0] for row in call_cpu.rows(1, 1, 1, 1)]
    assert cpu[1][1] == "1" and cpu[2][1] == "200"
    assert call.cpu > 0 and result.hello_cpu > 0
