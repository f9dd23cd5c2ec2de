"""How a call ends: the endings ``Peer.run()`` returns, and the error when it cannot be set up."""

from __future__ import annotations

import enum

from ..errors import SignalError


class Ending(enum.Enum):
    """How a call ended: ``run()`` returns LEFT or HUNG_UP; the others are internal steps."""

    LEFT = "the other side hung up"
    HUNG_UP = "hung up"
    RETRY = "another peer's offer came first: answer it"
    RESTART = "the other side went away before the call connected"


class CallFailed(SignalError):
    """The call could not be set up: no network path, or a description aiortc refused."""

    code = "call_failed"
