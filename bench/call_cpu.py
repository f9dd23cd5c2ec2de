"""The server's CPU per call, priced in hello-world Flask requests on the same recipe.

A call's CPU alone says little across machines; the same run's hello-world request (a JSON
GET or a JSON POST of harness/hello_app.py, served by the same gunicorn command) is the unit,
so the ratio is "a call costs the server as much as N of the smallest Flask requests".
bench/rtt.py measures the calls and prints the ratio; this module measures the unit.
"""

from __future__ import annotations

import http.client
import json

from harness.network import HOST
from harness.servers import Server
from harness.tables import Row, ms

HELLO_APP = "harness.hello_app:create_app()"
HELLO_REQUESTS = 3000
WARM_UP = 200  # requests before the count: imports and first-request set-up are not a request
TARGET = 25.0  # a call's server CPU <= 25 hello-world requests


def hello_server(mode: str = "gevent") -> Server:
    """The hello-world app under the same serving command as the app's ``mode``."""
    server = Server(mode)
    # The recipe's command with only its WSGI target replaced (the target comes last).
    server.argv[-1] = HELLO_APP
    return server


def hello_requests(port: int, count: int) -> None:
    """``count`` requests on one keep-alive connection (as a page holds one), alternately a
    JSON GET and a JSON POST; each must answer 200."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    body = json.dumps({"type": "hello", "payload": {"n": 1}})
    headers = {"Content-Type": "application/json"}
    try:
        for n in range(count):
            if n % 2:
                conn.request("POST", "/echo", body=body, headers=headers)
            else:
                conn.request("GET", "/hello")
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"hello-world answered {response.status}")
    finally:
        conn.close()


def hello_cpu(count: int = HELLO_REQUESTS, mode: str = "gevent") -> float:
    """The hello-world server's CPU seconds per request, over ``count`` requests."""
    with hello_server(mode) as server:
        hello_requests(server.port, WARM_UP)
        before = server.cpu_seconds()
        hello_requests(server.port, count)
        return (server.cpu_seconds() - before) / count


def rows(call_cpu: float, calls: int, hello: float, requests: int) -> list[Row]:
    """The table: a call's server CPU, a hello-world request's, and their ratio."""
    ratio = call_cpu / hello
    verdict = "met" if ratio <= TARGET else "not met"
    return [
        ("server CPU (user + system)", "runs", "each", ""),
        ("  a call, click to hang-up, both pages", str(calls), ms(call_cpu), ""),
        ("  a hello-world request, JSON GET or POST", str(requests), ms(hello), ""),
        ("  a call in hello-world requests", "", f"{ratio:.1f}", f"<= {TARGET:g}: {verdict}"),
    ]
