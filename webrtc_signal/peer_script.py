"""The ``webrtc-peer`` console script: the command of :mod:`webrtc_signal.peer`, or a one-line
hint when the ``peer`` extra (aiortc, PyAV, httpx) is not installed.

It lives outside that package because importing the package is what fails without the extra;
a person who ran ``webrtc-peer --help`` should read what to install, not a traceback.
"""

from __future__ import annotations

import sys

HINT = "webrtc-peer needs aiortc: pip install 'webrtc-signal[peer]'"
# What the peer extra brings; an ImportError naming anything else is a bug to show in full.
EXTRA = frozenset({"aiortc", "av", "httpx"})


def _missing_extra(exc: ImportError) -> bool:
    """Whether ``exc`` (or what caused it) is a module of the peer extra that is not there."""
    while exc is not None:
        if isinstance(exc, ImportError) and (exc.name or "").split(".")[0] in EXTRA:
            return True
        exc = exc.__cause__
    return False


def main(argv: list[str] | None = None) -> int:
    """Run ``webrtc-peer``; exit status 1 with :data:`HINT` when the peer extra is missing."""
    try:
        from .peer import main as run
    except ImportError as exc:
        if not _missing_extra(exc):
            raise
        print(HINT, file=sys.stderr)
        return 1
    return run(argv)
