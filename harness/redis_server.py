"""A redis-server of our own on a free loopback port, for the Redis store's tests and rows.

No persistence, in a temporary folder; a missing redis-server is an error, never a reason
to skip. The tests start one for their session; the benchmarks share one for the run,
started on first use (so only when a Redis row runs), and `python -m bench` stops it at the
end, even on error.

    server = RedisServer().start()   # one of your own: server.url, server.stop()
    server = redis_server.shared()   # the run's: started now, or the one already running
    server.flush()                   # an empty database for the next app server
    redis_server.stop_shared()
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .network import HOST, free_port


class RedisServer:
    """A redis-server on a free loopback port: no snapshots, no append-only file."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://{HOST}:{self.port}/0"
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 10) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is missing: the Redis rows need it (`make redis-server` "
                "installs Debian's)"
            )
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-redis-")
        folder = Path(self._tmp.name)
        self.log_path = folder / "redis.log"
        argv = [binary, "--bind", HOST, "--port", str(self.port), "--save", "", "--appendonly"]
        argv += ["no", "--dir", str(folder), "--logfile", str(self.log_path)]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                log = self.log_tail()
                self.stop()
                raise RuntimeError(f"redis-server exited at start:\n{log}")
            with contextlib.suppress(OSError):
                if self.command("PING") == "+PONG":
                    return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server did not answer PING")
            time.sleep(0.05)

    def command(self, line: str) -> str:
        """One inline command (no arguments with spaces); Redis's one-line answer."""
        with socket.create_connection((HOST, self.port), timeout=5) as conn:
            conn.sendall(line.encode() + b"\r\n")
            answer = b""
            while not answer.endswith(b"\r\n"):
                chunk = conn.recv(256)
                if not chunk:
                    break
                answer += chunk
        return answer.decode().strip()

    def flush(self) -> None:
        """Empty every database: each app server starts on a fresh store."""
        answer = self.command("FLUSHALL")
        if answer != "+OK":
            raise RuntimeError(f"redis-server: FLUSHALL answered {answer!r}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, AttributeError):
            return ""

    def stop(self) -> None:
        """SIGTERM (it saves nothing), SIGKILL after 5 s; then its folder goes."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


_shared: RedisServer | None = None


def shared() -> RedisServer:
    """The run's redis-server, started on the first call."""
    global _shared
    if _shared is None:
        server = RedisServer().start()
        _shared = server
        atexit.register(stop_shared)  # a run that never reaches stop_shared
    return _shared


def stop_shared() -> None:
    """Stop the run's redis-server, when one was started."""
    global _shared
    server, _shared = _shared, None
    if server is not None:
        server.stop()


def pid() -> int | None:
    """The running shared redis-server's process id (its cpu counts as the server's)."""
    return None if _shared is None or _shared.proc is None else _shared.proc.pid
