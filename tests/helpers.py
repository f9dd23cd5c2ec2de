"""Test helpers: the app served in this process or in its own, calls at the same instant,
waiting for a condition, and a room's state as the store sees it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from werkzeug.serving import make_server

from harness.endpoint import Endpoint
from harness.network import HOST
from harness.servers import Server
from harness.waiting import Pause, wait_until

T = TypeVar("T")

__all__ = ["LiveServer", "app_process", "at_once", "room_is_clear", "room_state", "wait_until"]


class LiveServer(Endpoint):
    """The app served by werkzeug's threaded server on a free loopback port, in this process
    (so a test can look into its store)."""

    def __init__(self, app) -> None:
        self.app = app
        self._server = make_server(HOST, 0, app, threaded=True)
        self.url = f"http://{HOST}:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


def app_process(
    store_url: str, port: int | None = None, pause: Pause = time.sleep, **settings: str
) -> Server:
    """The app in its own process under `flask run`, started on ``store_url``, on a free
    loopback port or on ``port`` (to come back where a page knows it): the default rate
    limits and ``settings``, none from this process's environment. ``stop()`` ends it, as a
    restart or a crash would. ``pause``: how to wait for it to serve (a Person's, while a
    page is open)."""
    server = Server(
        "dev", settings, store=store_url, port=port, limits=True, inherit_settings=False
    )
    return server.start(pause=pause)


class AppProcess(Endpoint):
    """The app in its own process (`flask run`) that a test kills and starts again on the
    same port and the same store, as a crash and a restart would: the page keeps its address.
    ``settings`` (TURN_URLS, SIGNAL_PEER_TIMEOUT...) go to every start through the
    environment."""

    def __init__(self, store_url: str, **settings: str) -> None:
        self.store_url = store_url
        self.settings = settings
        self.port: int | None = None
        self.server: Server | None = None

    @property
    def url(self) -> str:  # type: ignore[override]
        return f"http://{HOST}:{self.port}"

    def start(self) -> AppProcess:
        """Serve (again) on the store, on the port of the first start."""
        self.server = app_process(self.store_url, self.port, **self.settings)
        self.port = self.server.port
        return self

    def kill(self) -> None:
        """SIGKILL: gone at once, its held requests cut off."""
        if self.server is not None:
            self.server.kill()
        self.server = None

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.server = None

    def waiting(self, room: str) -> int:
        """How many people hold a place in ``room`` (GET /waiting)."""
        status, body = self.request("GET", f"/waiting?room={room}")
        assert status == 200, body
        return body["waiting"]


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


def room_state(server: Any, room: str) -> dict[str, int]:
    """Live peers and stored signals of each kind in a live server's room, looked up in its
    store (rooms with members are private, so HTTP would not tell)."""
    return server.app.extensions["webrtc_signal"].room_state(room)


def room_is_clear(server: Any, room: str) -> bool:
    """No live peer and no signal left in the room."""
    return not any(room_state(server, room).values())
