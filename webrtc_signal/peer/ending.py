"""How a call ends: the endings ``Peer.run()`` returns, and the error when it cannot be set up."""

from __future__ import annotations

import enum

from ..errors import SignalError


class Ending(enum.Enum):
    """How a call ended: ``run()`` returns LEFT, HUNG_UP or GONE; the others are internal
    steps."""

    LEFT = "the other side hung up"
    HUNG_UP = "hung up"
    GONE = "the connection was lost and no fresh one came up in time"
    RETRY = "another peer's offer came first: answer it"
    RESTART = "the other side went away before the call connected"
    LOST = "the connection was lost without a bye: building a fresh one"


class CallFailed(SignalError):
    """The call could not be set up: no network path, or a description aiortc refused."""

    code = "call_failed"
