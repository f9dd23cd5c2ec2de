"""The server under test: the app in its own process on a free loopback port, fresh store.

Each serving mode is one command line. The sqlite store belongs to one process (its
long-poll wake-ups are in-process), so every gunicorn mode runs one worker.

    with Server("gevent") as server:
        server.port, server.memory()
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # loopback only, always

# Threads for gthread: one per request that may be waiting at once. The throughput load holds
# up to 400 long-polls (200 clients, two waits each at most), so 512 leaves room for posts.
GTHREAD_THREADS = 512
WORKER_CONNECTIONS = 1000

# Every mode: (what it is, the command after "python -m"; {port} is filled in).
MODES: dict[str, tuple[str, list[str]]] = {
    "dev": (
        "flask run (werkzeug, threaded)",
        ["flask", "--app", "flask_app", "run", "--host", HOST, "--port", "{port}"],
    ),
    "gthread": (
        f"gunicorn gthread, 1 worker, {GTHREAD_THREADS} threads",
        ["gunicorn", "-k", "gthread", "-w", "1", "--threads", str(GTHREAD_THREADS)],
    ),
    "gthread8": (
        "gunicorn gthread, 1 worker, 8 threads",
        ["gunicorn", "-k", "gthread", "-w", "1", "--threads", "8"],
    ),
    "gevent": (
        f"gunicorn gevent, 1 worker, {WORKER_CONNECTIONS} connections",
        ["gunicorn", "-k", "gevent", "-w", "1", "--worker-connections", str(WORKER_CONNECTIONS)],
    ),
}
for _name, (_what, _argv) in MODES.items():
    if _argv[0] == "gunicorn":
        _argv += ["-b", f"{HOST}:{{port}}", "flask_app.wsgi:app"]

# Before starting a server, wait up to this many seconds for other work on the machine to
# stop (python -m bench --settle S): on a shared machine it skews every number.
SETTLE = 0.0

# The production command the docs recommend; the bench runs exactly this (port aside).
RECOMMENDED = MODES["gevent"][1]


def production_command(port: int = 8000) -> str:
    """The recommended command as a user types it."""
    argv = [a.format(port=port) for a in RECOMMENDED]
    return " ".join([*argv[:-1], f"'{argv[-1]}'"])


def busy_seconds() -> float:
    """CPU time the whole machine has spent busy so far (all cpus, from /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(n) for n in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def settle(most: float, busy: float = 0.15) -> float:
    """Wait (up to ``most`` seconds) until the machine's cpus are less than ``busy`` used over
    a second: other work skews every number here. The seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < most:
        before = busy_seconds()
        time.sleep(1.0)
        if (busy_seconds() - before) / (os.cpu_count() or 1) < busy:
            break
    return time.monotonic() - start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _kib(path: str, field: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kib(pid: int) -> int:
    """VmRSS of one process, in KiB (0 once it is gone)."""
    return _kib(f"/proc/{pid}/status", "VmRSS:")


def pss_kib(pid: int) -> int:
    """Proportional set size of one process, in KiB: a page shared by n processes counts 1/n,
    so the PSS of a gunicorn master and its forked worker add up to what they really use."""
    return _kib(f"/proc/{pid}/smaps_rollup", "Pss:")


class Memory(NamedTuple):
    """A server's memory, KiB: its serving process's VmRSS (gunicorn's worker, or the dev
    server's one process), the VmRSS of all its processes added up (counting pages the
    gunicorn master and worker share twice), and their PSS added up (counting them once)."""

    serving_rss: int
    all_rss: int
    all_pss: int

    def max(self, other: Memory) -> Memory:
        return Memory(*(max(a, b) for a, b in zip(self, other, strict=True)))


def children(pid: int) -> list[int]:
    """The direct children of a process, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces; the parent pid is 2 fields after it.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


class Server:
    """One serving mode of the app, started in a fresh temp folder with a fresh sqlite store."""

    def __init__(
        self, mode: str, env: dict[str, str] | None = None, *, limits: bool = False
    ) -> None:
        """``limits``: keep the rate limits the environment (or the default) sets, as the
        production command would; without it they are off."""
        self.mode = mode
        self.what, argv = MODES[mode]
        self.port = free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-")
        folder = Path(self._tmp.name)
        self.argv = [sys.executable, "-m", *(a.format(port=self.port) for a in argv)]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "GUNICORN"))}
        self.env.update(SIGNAL_STORE=f"sqlite:///{folder / 'signal.sqlite'}", PYTHONUNBUFFERED="1")
        if not limits:
            # Rate limits off: every bench client shares 127.0.0.1, and the limiter is not
            # measured.
            self.env["SIGNAL_RATE_LIMIT"] = "off"
        self.env.update(env or {})
        self.log_path = folder / "server.log"
        self.proc: subprocess.Popen | None = None
        self.workers: list[int] = []

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 30) -> Server:
        settle(SETTLE)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.mode} server exited at start:\n{self.log_tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if self.get("/healthz")[0] == 200:
                    break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.mode} server did not start:\n{self.log_tail()}")
            time.sleep(0.05)
        self.workers = children(self.proc.pid) if MODES[self.mode][1][0] == "gunicorn" else []
        return self

    def get(self, path: str, timeout: float = 5) -> tuple[int, bytes, str]:
        """One plain GET: status, body and content type."""
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read(), resp.getheader("Content-Type", "")
        finally:
            conn.close()

    def memory(self) -> Memory:
        """The server's memory now (see :class:`Memory`)."""
        assert self.proc is not None
        pids = [self.proc.pid, *self.workers]
        serving = sum(rss_kib(pid) for pid in self.workers or pids)
        return Memory(serving, sum(rss_kib(pid) for pid in pids), sum(pss_kib(pid) for pid in pids))

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server's processes have used so far."""
        assert self.proc is not None
        total = 0
        for pid in [self.proc.pid, *self.workers]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return total / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Quick shutdown (SIGINT); a server still busy after 3 s (threads held by long-polls
        finish their waits before exiting) gets SIGKILL, workers first. Only its own pids."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            workers = self.workers or children(proc.pid)
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                for pid in workers:
                    if self._is_ours(pid):
                        with contextlib.suppress(OSError):
                            os.kill(pid, signal.SIGKILL)
                try:
                    proc.wait(3)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self._tmp.cleanup()

    def _is_ours(self, pid: int) -> bool:
        """Whether ``pid`` is still this server's worker (alive, with our command line)."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return rss_kib(pid) > 0 and f"{HOST}:{self.port}".encode() in cmdline

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
