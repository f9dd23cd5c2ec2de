"""Waiting on the test's own thread without stalling the pages it drives.

Playwright's sync API runs its event loop only while the thread that owns it calls into it,
and every request of a page opened by harness/browser.py goes through a Python route there
(the one that adds the strict CSP: a predicate route intercepts every request to decide). So
while that thread sleeps or blocks, every page's requests stall. Whatever waits while a page
is open therefore takes a ``pause``: ``Person.pause`` (the page's ``wait_for_timeout``) lets
Playwright run meanwhile; ``time.sleep``, the default, is for waits with no page open.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

# Wait this many seconds, letting whatever must run meanwhile run.
Pause = Callable[[float], None]


def wait_until(
    check: Callable[[], object],
    timeout: float,
    message: str,
    pause: Pause = time.sleep,
    every: float = 0.1,
) -> None:
    """Poll ``check`` until it holds, pausing ``every`` seconds between tries; fail with
    ``message`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, message
        pause(every)


def wait_for_exit(process: subprocess.Popen, timeout: float, pause: Pause = time.sleep) -> int:
    """``process``'s exit status once it exits; subprocess.TimeoutExpired after ``timeout``
    seconds (Popen.wait blocks the thread, so it is polled instead)."""
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(process.args, timeout)
        pause(0.05)
    return process.returncode
