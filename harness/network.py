"""The loopback address every server here listens on, and a free port on it."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"  # loopback only, always


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]
