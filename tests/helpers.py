"""Shared test helpers: an HTTP endpoint to call, calls at the same instant, a free port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Run every call on its own thread, released together by a barrier; their results."""
    barrier = threading.Barrier(len(calls))
    results: list[T] = [None] * len(calls)  # type: ignore[list-item]

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Endpoint:
    """A running server at ``self.url``, called as a client would call it."""

    url: str

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        timeout: float = 10,
        token: str | None = None,
    ) -> tuple[int, Any]:
        """Send one request (as a member, given its token); the status and the JSON answer."""
        return self.exchange(method, path, body, timeout, token)[:2]

    def exchange(
        self,
        method: str,
        path: str,
        body: Any = None,
        timeout: float = 10,
        token: str | None = None,
    ) -> tuple[int, Any, Any]:
        """Like :meth:`request`, with the response headers too."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("X-Peer-Token", token)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, json.loads(resp.read() or b"null"), resp.headers
        except urllib.error.HTTPError as err:
            with err:
                return err.code, json.loads(err.read() or b"null"), err.headers

    def enter(self, room: str, peer: str) -> str:
        """Make ``peer`` a member of ``room``; its token."""
        status, body, headers = self.exchange("GET", f"/room?room={room}&peer={peer}")
        assert status == 200, body
        return headers["X-Peer-Token"]


class AppProcess(Endpoint):
    """The app in its own process (`flask run`) on a loopback port: a free one, or ``port``."""

    def __init__(self, store_url: str, port: int | None = None, **settings: str) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "SIGNAL_"))}
        env.update(SIGNAL_STORE=store_url, FLASK_APP="flask_app", **settings)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "run", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.request("GET", "/healthz")
                return
            except OSError:
                assert self.process.poll() is None, "the app process exited"
                assert time.monotonic() < deadline, "the app process did not start"
                time.sleep(0.1)

    def stop(self) -> None:
        """End the process (as a restart or a crash would)."""
        self.process.terminate()
        self.process.wait(10)


def wait_until(check: Callable[[], bool], timeout: float, message: str) -> None:
    """Poll ``check`` until it holds; fail with ``message`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


def room_state(server: Any, room: str) -> dict[str, int]:
    """Live peers and stored signals of each kind in a live server's room, looked up in its
    store (rooms with members are private, so HTTP would not tell)."""
    return server.app.extensions["webrtc_signal"].room_state(room)


def room_is_clear(server: Any, room: str) -> bool:
    """No live peer and no signal left in the room."""
    return not any(room_state(server, room).values())
