"""Exceptions raised by the signaling core.

The adapter (Flask or any other) maps each to an HTTP status in one place::

    SignalError
    ├── InvalidRequest        400  bad room, type, key, peer or payload
    ├── NotAMember            403  the room is private to its members; show your token
    ├── Conflict              409
    │   ├── OfferExists           another peer's offer is waiting: act as the receiver
    │   ├── RoomFull              two live peers already hold the room
    │   └── TooManySignals        the room holds as many unread signals as it may
    ├── StoreUnavailable      503  the store does not answer
    └── ConfigError           start-up only: a setting that cannot work
"""

from __future__ import annotations


class SignalError(Exception):
    """Base class of every error the core raises on purpose."""

    code = "signal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(SignalError):
    """The request names a bad room, type, key, peer id or payload."""

    code = "invalid_request"


class NotAMember(SignalError):
    """The room has members and the caller is not one of them (or lacks its token)."""

    code = "not_a_member"


class Conflict(SignalError):
    """The request is well formed but the room's state refuses it."""

    code = "conflict"


class OfferExists(Conflict):
    """An offer is already waiting in the room; the caller should answer it."""

    code = "offer_exists"


class RoomFull(Conflict):
    """Two live peers already hold the room."""

    code = "room_full"


class TooManySignals(Conflict):
    """The room already holds as many unread signals of that kind as it may."""

    code = "too_many_signals"


class StoreUnavailable(SignalError):
    """The store cannot be reached or failed; the request changed nothing."""

    code = "store_unavailable"


class ConfigError(SignalError):
    """A setting cannot work (unknown store scheme, unusable path, bad number)."""

    code = "config_error"
