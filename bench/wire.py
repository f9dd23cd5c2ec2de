"""A small HTTP/1.1 client over asyncio streams: keep-alive, JSON in and out, no dependency.

One :class:`Conn` is one TCP connection, one request at a time (as a browser's connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from harness.network import HOST

# gunicorn closes a keep-alive connection idle for 2 s (--keep-alive): reconnect before that.
IDLE_REOPEN = 1.5


class HTTPError(Exception):
    """A request that failed on the wire (no answer, a broken answer)."""


class Conn:
    """One keep-alive connection to the server under test."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_used = 0.0
        self.opened = 0
        self.headers: dict[str, str] = {}  # the last answer's headers, names in lower case

    @property
    def local_port(self) -> int | None:
        """The client's port of the open connection; None when it is closed."""
        return None if self.writer is None else self.writer.get_extra_info("sockname")[1]

    async def _open(self) -> None:
        await self.close()
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        self.opened += 1

    async def close(self) -> None:
        writer, self.writer, self.reader = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """Send one request; the status and the decoded JSON answer (None when empty).

        The answer's headers are in :attr:`headers` until the next request."""
        reused = self.writer is not None
        if reused and time.monotonic() - self.last_used > IDLE_REOPEN:
            reused = False
            await self._open()
        elif not reused:
            await self._open()
        try:
            return await self._exchange(method, path, body, headers)
        except HTTPError as exc:
            # A reused connection the server closed before reading us: send once more. (Only
            # an idle close does that, and then the server never saw the request.)
            if not (reused and getattr(exc, "nothing_read", False)):
                self._drop()
                raise
        except (OSError, asyncio.IncompleteReadError) as exc:
            self._drop()
            raise HTTPError(f"{method} {path}: {exc!r}") from exc
        except BaseException:
            self._drop()  # cancelled mid-answer: the connection is unusable
            raise
        await self._open()
        try:
            return await self._exchange(method, path, body, headers)
        except BaseException:
            self._drop()
            raise

    def _drop(self) -> None:
        writer, self.writer, self.reader = self.writer, None, None
        if writer is not None:
            writer.close()

    async def _exchange(
        self, method: str, path: str, body: Any, headers: dict[str, str] | None
    ) -> tuple[int, Any]:
        assert self.reader is not None and self.writer is not None
        data = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        if body is not None or method != "GET":
            head += f"Content-Length: {len(data)}\r\n"
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        self.writer.write(head.encode() + b"\r\n" + data)
        status_line = await self.reader.readline()
        if not status_line:
            exc = HTTPError(f"{method} {path}: connection closed before an answer")
            exc.nothing_read = True  # type: ignore[attr-defined]
            raise exc
        try:
            status = int(status_line.split(None, 2)[1])
        except (IndexError, ValueError):
            raise HTTPError(f"{method} {path}: bad status line {status_line!r}") from None
        self.headers = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            self.headers[name.strip().lower()] = value.strip()
        length = self.headers.get("content-length")
        length = None if length is None else int(length)
        chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        close = self.headers.get("connection", "").lower() == "close"
        if chunked:
            payload = b""
            while size := int((await self.reader.readline()).split(b";")[0], 16):
                payload += await self.reader.readexactly(size + 2)
                payload = payload[:-2]
            await self.reader.readline()
        elif length is not None:
            payload = await self.reader.readexactly(length)
        else:
            payload, close = await self.reader.read(), True
        self.last_used = time.monotonic()
        if close:
            await self.close()
        return status, json.loads(payload) if payload else None
