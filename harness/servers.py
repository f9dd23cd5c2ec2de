"""The app in its own process on a loopback port, as the benchmarks and the tests run it.

Each serving mode is one command line: ``dev`` is `flask run`, the others gunicorn. The
sqlite store belongs to one process (its long-poll wake-ups are in-process), so those modes
run one worker; the redisN modes run the production recipe with N workers on the run's own
redis-server (harness/redis_server.py), flushed before each start, where a post wakes
long-polls in every process through pub/sub.

    with Server("gevent") as server:            # a free port, a fresh sqlite store
        server.port, server.memory()
    server = Server("dev", store=url, port=port).start()   # a given store, a given port
    server.request("GET", "/healthz")            # called as a client would (Endpoint)
    server.stop()                                # or server.kill(): SIGKILL, as a crash
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from . import procfs, redis_server
from .endpoint import Endpoint
from .network import HOST, free_port
from .waiting import Pause, wait_for_exit

ROOT = Path(__file__).resolve().parent.parent

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
    # gevent's own WSGI server (gevent_pywsgi) rather than gunicorn's parser on gevent (-k
    # gevent): measured side by side, 13-17 % more capacity and 0.1-0.2 ms off each relay.
    "gevent": (
        f"gunicorn gevent_pywsgi, 1 worker, {WORKER_CONNECTIONS} connections",
        [
            "gunicorn",
            "-k",
            "gevent_pywsgi",
            "-w",
            "1",
            "--worker-connections",
            str(WORKER_CONNECTIONS),
        ],
    ),
}
# The recipe with N processes on the Redis store (docs/deployment.md), N = 1, 2, 4.
REDIS_WORKERS = (1, 2, 4)
REDIS_MODES = tuple(f"redis{n}" for n in REDIS_WORKERS)
for _n, _name in zip(REDIS_WORKERS, REDIS_MODES, strict=True):
    _argv = list(MODES["gevent"][1])
    _argv[_argv.index("-w") + 1] = str(_n)  # the recipe, -w N
    _what = f"gunicorn gevent_pywsgi, {_n} worker{'s' * (_n > 1)}, {WORKER_CONNECTIONS} connections"
    MODES[_name] = (f"{_what}{' each' * (_n > 1)}, SIGNAL_STORE=redis://", _argv)
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


def settle(most: float, busy: float = 0.15) -> float:
    """Wait (up to ``most`` seconds) until the machine's cpus are less than ``busy`` used over
    a second: other work skews every number here. The seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < most:
        before = procfs.busy_seconds()
        time.sleep(1.0)
        if (procfs.busy_seconds() - before) / (os.cpu_count() or 1) < busy:
            break
    return time.monotonic() - start


class Memory(NamedTuple):
    """A server's memory, KiB: its serving process's VmRSS (gunicorn's worker, or the dev
    server's one process), the VmRSS of all its processes added up (counting pages the
    gunicorn master and worker share twice), and their PSS added up (counting them once)."""

    serving_rss: int
    all_rss: int
    all_pss: int

    def max(self, other: Memory) -> Memory:
        return Memory(*(max(a, b) for a, b in zip(self, other, strict=True)))


class Server(Endpoint):
    """One serving mode of the app, started in a fresh temp folder (its log's) on a store: a
    fresh sqlite one there, or for the redisN modes the run's redis-server, flushed; or
    ``store``, a given store URL."""

    def __init__(
        self,
        mode: str,
        env: dict[str, str] | None = None,
        *,
        store: str | None = None,
        port: int | None = None,
        limits: bool = False,
        inherit_settings: bool = True,
    ) -> None:
        """``env``: settings (or other variables) for the app, over everything else.
        ``port``: serve there (say, to restart on the port a page knows) rather than on a
        free port. ``limits``: keep the rate limits the settings (or the default) set, as the
        production command would; without it they are off. ``inherit_settings``: whether the
        SIGNAL_* settings of this process's environment reach the app (the bench's way, so a
        setting can be tried by hand); without it only the ones given here count."""
        self.mode = mode
        self.what, argv = MODES[mode]
        self.port = port or free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-")
        folder = Path(self._tmp.name)
        self.argv = [sys.executable, "-m", *(a.format(port=self.port) for a in argv)]
        dropped = ("FLASK_", "GUNICORN", *(() if inherit_settings else ("SIGNAL_",)))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
        self.env.update(
            SIGNAL_STORE=store or f"sqlite:///{folder / 'signal.sqlite'}", PYTHONUNBUFFERED="1"
        )
        if not limits:
            # Rate limits off: every bench client shares 127.0.0.1, and the limiter is not
            # measured.
            self.env["SIGNAL_RATE_LIMIT"] = "off"
        self.env.update(env or {})
        # The redisN modes get the run's redis-server at start (started then, when first used).
        self.redis = mode in REDIS_MODES and store is None and "SIGNAL_STORE" not in (env or {})
        self.redis_pid: int | None = None
        self.log_path = folder / "server.log"
        self.proc: subprocess.Popen | None = None
        self.workers: list[int] = []
        self.worker_count = int(argv[argv.index("-w") + 1]) if "-w" in argv else 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 30, pause: Pause = time.sleep) -> Server:
        """Start the server and wait until it serves, polling with ``pause`` (a Person's,
        while a page is open); one that cannot start is stopped (its temp folder removed)
        and raises RuntimeError."""
        try:
            return self._start(timeout, pause)
        except BaseException:
            self.stop(pause)
            raise

    def _start(self, timeout: float, pause: Pause) -> Server:
        settle(SETTLE)
        if self.redis:
            store = redis_server.shared()
            store.flush()
            self.env["SIGNAL_STORE"] = store.url
            self.redis_pid = redis_server.pid()
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
                raise RuntimeError(f"{self.mode} server did not start:\n{self.log_tail()}")
            pause(0.05)
        if self.worker_count:
            self.workers = self._booted_workers(deadline, pause)
        return self

    def _booted_workers(self, deadline: float, pause: Pause) -> list[int]:
        """gunicorn's workers, once all of them are forked and done loading the app (their
        cpu time stood still twice running: each imports the app after the fork, and one of
        them may answer /healthz while the others still load)."""
        assert self.proc is not None
        last: tuple[list[int], float] = ([], -1.0)
        still = 0
        while time.monotonic() < deadline:
            workers = sorted(procfs.children(self.proc.pid))
            used = procfs.cpu_seconds(workers)
            still = still + 1 if (workers, used) == last else 0
            if len(workers) == self.worker_count and still == 2:
                return workers
            last = (workers, used)
            pause(0.2 if self.worker_count > 1 else 0.05)
        raise RuntimeError(f"{self.mode}: not all {self.worker_count} workers booted")

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
        serving = sum(procfs.rss_kib(pid) for pid in self.workers or pids)
        return Memory(
            serving,
            sum(procfs.rss_kib(pid) for pid in pids),
            sum(procfs.pss_kib(pid) for pid in pids),
        )

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server's processes have used so far, its
        redis-server's included."""
        assert self.proc is not None
        return procfs.cpu_seconds([self.proc.pid, *self.workers]) + self.redis_cpu_seconds()

    def redis_cpu_seconds(self) -> float:
        """CPU time the redis-server has used so far (0 on the other stores)."""
        return 0.0 if self.redis_pid is None else procfs.cpu_seconds([self.redis_pid])

    def serving_pids(self) -> list[int]:
        """The processes that serve requests: gunicorn's workers, or the dev server."""
        assert self.proc is not None
        return self.workers or [self.proc.pid]

    def connections(self) -> list[int]:
        """How many open connections each serving process holds (gunicorn's workers share
        the listening socket; a connection stays with the worker that accepted it)."""
        held = set(procfs.client_ports(self.port).values())
        return [len(procfs.socket_inodes(pid) & held) for pid in self.serving_pids()]

    def process_of(self, client_port: int | None) -> int | None:
        """Which serving process (an index into :meth:`serving_pids`) holds the connection
        the client opened from ``client_port``; None when none does (yet)."""
        inode = None if client_port is None else procfs.client_ports(self.port).get(client_port)
        for n, pid in enumerate(self.serving_pids()):
            if inode is not None and inode in procfs.socket_inodes(pid):
                return n
        return None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, pause: Pause = time.sleep) -> None:
        """Quick shutdown (SIGINT); a server still busy after 3 s (threads held by long-polls
        finish their waits before exiting) gets SIGKILL, workers first. Only its own pids.
        ``pause``: how to wait for it to exit (a Person's, while a page is open)."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            workers = self.workers or procfs.children(proc.pid)
            proc.send_signal(signal.SIGINT)
            try:
                wait_for_exit(proc, 3, pause)
            except subprocess.TimeoutExpired:
                for pid in workers:
                    if self._is_ours(pid):
                        with contextlib.suppress(OSError):
                            os.kill(pid, signal.SIGKILL)
                try:
                    wait_for_exit(proc, 3, pause)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    wait_for_exit(proc, 5, pause)
        self._tmp.cleanup()

    def kill(self) -> None:
        """SIGKILL at once, as a crash would: no shutdown, held requests cut off (workers
        first, only its own pids). Its temp folder goes; a store given to it stays."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            for pid in self.workers or procfs.children(proc.pid):
                if self._is_ours(pid):
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
            proc.kill()
            proc.wait(5)
        self._tmp.cleanup()

    def _is_ours(self, pid: int) -> bool:
        """Whether ``pid`` is still this server's worker (alive, with our command line)."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return procfs.rss_kib(pid) > 0 and f"{HOST}:{self.port}".encode() in cmdline

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
