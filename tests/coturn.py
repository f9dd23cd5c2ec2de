"""coturn's turnserver on free loopback ports, with a shared secret, for the TURN tests.

It runs in the foreground as whoever runs the tests (root in CI), with no configuration file,
no TLS, no CLI and no system paths: its log, pid file and (unused) user database live in a
folder of the test's own. `make coturn` installs Debian's package.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import struct
import subprocess
import time
from pathlib import Path

TURNSERVER = "turnserver"
REALM = "webrtc-signal.test"
RELAY_PORTS = 40  # relay ports to hand out: two per call, and some to spare

# STUN (RFC 5389): every message starts with its type, its length and this cookie.
MAGIC_COOKIE = 0x2112A442
BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101


class TurnServerMissing(RuntimeError):
    """coturn's turnserver is not installed."""


def udp_and_tcp_port_free(port: int) -> bool:
    """Nothing holds ``port`` on 127.0.0.1, for UDP or for TCP."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port_range(count: int, low: int = 20000, high: int = 32000) -> int:
    """The first of ``count`` consecutive ports free for UDP and TCP, below Linux's ephemeral
    range (32768 and up), where nothing else is handed ports by the kernel."""
    for _ in range(200):
        first = random.randrange(low, high - count)
        if all(udp_and_tcp_port_free(port) for port in range(first, first + count)):
            return first
    raise RuntimeError(f"no {count} free consecutive loopback ports between {low} and {high}")


def binding_request() -> tuple[bytes, bytes]:
    """A STUN Binding request, and its transaction id."""
    transaction = os.urandom(12)
    return struct.pack("!HHI", BINDING_REQUEST, 0, MAGIC_COOKIE) + transaction, transaction


class TurnServer:
    """``turnserver`` listening on 127.0.0.1 (UDP and TCP), relaying on 127.0.0.1 only.

    ``secret`` is its static-auth-secret: it accepts the time-limited credentials of
    :class:`webrtc_signal.ice.TurnSecret` made with the same secret.
    """

    def __init__(self, folder: Path, secret: str, realm: str = REALM) -> None:
        self.folder = folder
        self.secret = secret
        self.realm = realm
        self.log = folder / "turnserver.log"
        self.process: subprocess.Popen | None = None
        first = free_port_range(RELAY_PORTS + 1)
        self.port = first
        self.min_port, self.max_port = first + 1, first + RELAY_PORTS

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        binary = shutil.which(TURNSERVER)
        if binary is None:
            raise TurnServerMissing(
                f"{TURNSERVER} is missing: the TURN tests need Debian's coturn "
                "(`make coturn`, or `apt-get install coturn`)"
            )
        return [
            binary,
            "-n",  # no configuration file: only these flags
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
            f"--listening-port={self.port}",
            f"--min-port={self.min_port}",
            f"--max-port={self.max_port}",
            "--use-auth-secret",
            f"--static-auth-secret={self.secret}",
            f"--realm={self.realm}",
            "--allow-loopback-peers",  # both relays are on 127.0.0.1
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            # Everything in the test's folder, nothing in /var: log, pid file, user database.
            f"--log-file={self.log}",
            "--simple-log",  # that file name, with no date added to it
            "--no-stdout-log",
            f"--pidfile={self.folder / 'turnserver.pid'}",
            f"--userdb={self.folder / 'turndb'}",
        ]

    def start(self, timeout: float = 10) -> TurnServer:
        """Start it (again, after a stop or a kill: the same ports) and wait until it answers
        a STUN Binding request."""
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"turnserver exited ({self.process.returncode}):\n{self.tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"turnserver did not answer STUN within {timeout}s")
        return self

    def answers(self) -> bool:
        """It answers a STUN Binding request on its port within a tenth of a second."""
        request, transaction = binding_request()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.1)
            s.sendto(request, ("127.0.0.1", self.port))
            try:
                reply = s.recv(2048)
            except OSError:
                return False
        return reply[:2] == struct.pack("!H", BINDING_SUCCESS) and reply[8:20] == transaction

    def tail(self, lines: int = 30) -> str:
        """The end of its log."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """SIGKILL, as a crash would: every allocation (relay) it held is gone. ``start()``
        brings it back on the same ports with the same secret."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
