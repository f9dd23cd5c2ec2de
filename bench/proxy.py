"""A slow link: a TCP proxy that holds every byte half a round trip in each direction.

    .venv/bin/python -m bench.proxy --to 127.0.0.1:8000 --rtt 100 [--port 8100] [--log FILE]

Everything the browser sends reaches the server RTT/2 after it was written, and everything
the server answers reaches the browser RTT/2 later, in order. A new connection's first bytes
wait 1.5 RTT from the connection's opening instead: the TCP handshake's round trip, then the
bytes' half (loopback completes the real handshake at once). Bytes are never merged or split
differently than they came, so a request and its answer cross the link as they would.

The log (``--log``) has one JSON line per chunk forwarded: the connection's number, its
direction ("up": browser to server; "down"), when the proxy read it and when it passed it on
(ms since the epoch, the clock ``performance.timeOrigin + performance.now()`` uses in the
pages) and the chunk's first bytes. :func:`exchanges` turns it into HTTP requests and their
answers. :class:`DelayProxy` runs the proxy in a process of its own (not in the bench's:
Playwright's driver shares that one) for the length of a ``with`` block.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from harness.network import HOST, free_port

HANDSHAKE_RTTS = 1.0  # a new connection's first bytes wait this many round trips more
HEAD_BYTES = 2000  # how much of each chunk the log keeps: headers and a body's "type"
METHODS = (b"GET ", b"POST ", b"PUT ", b"DELETE ", b"HEAD ", b"OPTIONS ", b"PATCH ")


def now_ms() -> float:
    """Wall-clock ms since the epoch, as the pages' performance.timeOrigin + now() tell it."""
    return time.time() * 1e3


class Link:
    """The proxy: every connection it accepts is piped to ``target`` through the delays."""

    def __init__(self, target: tuple[str, int], rtt_ms: float, log: IO[str] | None) -> None:
        self.target = target
        self.half = rtt_ms / 2e3  # seconds each way
        self.handshake = rtt_ms * HANDSHAKE_RTTS / 1e3
        self.log = log
        self.connections = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One browser connection: a connection to the server, and a pipe each way."""
        loop = asyncio.get_running_loop()
        opened = loop.time()
        self.connections += 1
        number = self.connections
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            self.pipe(number, "up", reader, up_writer, not_before=opened + self.handshake),
            self.pipe(number, "down", up_reader, writer, not_before=opened),
        )

    async def pipe(
        self,
        number: int,
        direction: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        not_before: float,
    ) -> None:
        """Copy ``reader`` to ``writer``, each chunk RTT/2 after it came (and in order)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, float, bytes]] = asyncio.Queue()

        async def read() -> None:
            while True:
                try:
                    chunk = await reader.read(65536)
                except OSError:
                    chunk = b""
                await queue.put((max(loop.time(), not_before) + self.half, now_ms(), chunk))
                if not chunk:
                    return

        reading = asyncio.create_task(read())
        try:
            while True:
                due, read_at, chunk = await queue.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if not chunk:
                    break
                # Logged first: whoever reads the bytes then finds them in the log.
                self.record(number, direction, read_at, chunk)
                writer.write(chunk)
                await writer.drain()
        except OSError:
            pass  # the other end is gone: close ours too
        finally:
            reading.cancel()
            with contextlib.suppress(OSError):
                writer.close()

    def record(self, number: int, direction: str, read_at: float, chunk: bytes) -> None:
        if self.log is None:
            return
        line = {
            "conn": number,
            "dir": direction,
            "read": round(read_at, 2),
            "sent": round(now_ms(), 2),
            "bytes": len(chunk),
            "head": chunk[:HEAD_BYTES].decode("latin-1"),
        }
        self.log.write(json.dumps(line) + "\n")
        self.log.flush()


async def serve_forever(port: int, target: tuple[str, int], rtt_ms: float, log_path: str | None):
    """Listen on ``port`` until killed."""
    log = open(log_path, "a", encoding="utf-8") if log_path else None  # noqa: SIM115
    link = Link(target, rtt_ms, log)
    server = await asyncio.start_server(link.serve, HOST, port)
    async with server:
        await server.serve_forever()


class DelayProxy:
    """The proxy in its own process, on a free loopback port, for a ``with`` block."""

    def __init__(self, target_port: int, rtt_ms: float) -> None:
        self.target_port = target_port
        self.rtt_ms = rtt_ms
        self.port = free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-proxy-")
        self.log_path = Path(self._tmp.name) / "link.jsonl"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 10) -> DelayProxy:
        """Start the proxy and wait until it accepts connections."""
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "bench.proxy", "--port", str(self.port)),
                *("--to", f"{HOST}:{self.target_port}", "--rtt", str(self.rtt_ms)),
                *("--log", str(self.log_path)),
            ],
            cwd=Path(__file__).resolve().parent.parent,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), 1):
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the delaying proxy did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def chunks(self) -> list[dict]:
        """Every chunk forwarded so far (the log's lines)."""
        try:
            text = self.log_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.endswith("}")]

    def stop(self) -> None:
        """Stop the proxy (its own pid only) and remove its log."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self._tmp.cleanup()

    def __enter__(self) -> DelayProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class Exchange:
    """One HTTP request through the proxy and its answer: times in ms since the epoch (the
    answer's are None while the server holds it), and whether it opened its connection."""

    conn: int
    method: str
    target: str  # path and query
    kind: str  # the JSON body's "type", if any
    new_connection: bool
    browser_sent: float  # read by the proxy: the browser wrote it
    at_server: float  # the proxy passed it on
    answered: float | None = None  # the server's answer read by the proxy
    at_browser: float | None = None  # ... and passed on to the browser
    status: str = ""

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    def label(self) -> str:
        """``GET /events (wait)``, ``POST /signal answer``: what the request was for."""
        extra = self.kind or ("wait" if "wait=" in self.target else "")
        return f"{self.method} {self.path}" + (f" {extra}" if extra else "")


KIND = re.compile(r'"type"\s*:\s*"([a-z_]+)"')


def exchanges(chunks: list[dict]) -> list[Exchange]:
    """The requests in the proxy's log, each with its answer, in the order they were sent.

    A chunk going up that starts with a method is a request (browsers never pipeline: the
    next answer on its connection is its answer); one going down that starts with
    ``HTTP/1.`` is an answer. Other chunks are the rest of a body."""
    found: list[Exchange] = []
    by_conn: dict[int, list[Exchange]] = {}
    bodies: dict[int, str] = {}
    for chunk in sorted(chunks, key=lambda c: c["sent"]):
        conn, head = chunk["conn"], chunk["head"]
        mine = by_conn.setdefault(conn, [])
        if chunk["dir"] == "up":
            if head.encode("latin-1").startswith(METHODS):
                method, target = head.split(" ", 2)[:2]
                mine.append(
                    Exchange(conn, method, target, "", not mine, chunk["read"], chunk["sent"])
                )
                found.append(mine[-1])
                bodies[conn] = head.partition("\r\n\r\n")[2]
            elif mine:
                bodies[conn] += head
            if mine and not mine[-1].kind and (kind := KIND.search(bodies[conn])):
                mine[-1].kind = kind.group(1)
        elif head.startswith("HTTP/1."):
            waiting = [e for e in mine if e.answered is None]
            if waiting:
                waiting[0].answered, waiting[0].at_browser = chunk["read"], chunk["sent"]
                waiting[0].status = head.split(" ", 2)[1]
    return sorted(found, key=lambda e: e.browser_sent)


def main(argv: list[str] | None = None) -> None:
    """Run the proxy until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--to", required=True, metavar="HOST:PORT", help="the server")
    parser.add_argument("--rtt", type=float, required=True, metavar="MS", help="round trip")
    parser.add_argument("--port", type=int, default=0, help="where to listen (a free port)")
    parser.add_argument("--log", help="a file for the log of chunks (JSON lines)")
    args = parser.parse_args(argv)
    host, _, port = args.to.rpartition(":")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(args.port, (host, int(port)), args.rtt, args.log))


if __name__ == "__main__":
    main()
