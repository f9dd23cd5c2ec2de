"""A running server called over HTTP as a client would: JSON in, status and JSON out."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class Endpoint:
    """A running server at ``self.url``, called as a client would call it."""

    url: str

    def __init__(self, url: str) -> None:
        self.url = url

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
        content_type: str = "application/json",
    ) -> tuple[int, Any, Any]:
        """Like :meth:`request`, with the response headers too. A ``bytes`` body is sent as
        it is, with ``content_type``; anything else as JSON."""
        data = (
            None if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
        )
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
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
