"""Exceptions raised by the signaling core, each with the HTTP status it answers::

    SignalError               500
    ├── InvalidRequest        400  bad room, type, key, peer, payload or body
    │   ├── BodyTooLarge      413  a request body over the limit
    │   └── UnsupportedBody   415  a body declared as something other than JSON
    ├── NotAMember            403  the room is private to its members; show your token
    ├── Conflict              409
    │   ├── OfferExists           another peer's offer is waiting: act as the receiver
    │   ├── RoomFull              two live peers already hold the room
    │   └── TooManySignals        the room holds as many unread signals as it may
    ├── StoreUnavailable      503  the store does not answer
    └── ConfigError           start-up only: a setting that cannot work

``webrtc_signal.routes`` answers each as ``{"error": code, "message": message}`` with its
``status``; the Python client maps them back from the code (or the status).
"""

from __future__ import annotations


class SignalError(Exception):
    """Base class of every error the core raises on purpose."""

    code = "signal_error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(SignalError):
    """The request names a bad room, type, key, peer id or payload."""

    code = "invalid_request"
    status = 400


class BodyTooLarge(InvalidRequest):
    """The request body is over the limit (``protocol.MAX_BODY``)."""

    code = "request_entity_too_large"
    status = 413


class UnsupportedBody(InvalidRequest):
    """The request body is declared as something other than JSON (a form, say)."""

    code = "unsupported_media_type"
    status = 415


class NotAMember(SignalError):
    """The room has members and the caller is not one of them (or lacks its token)."""

    code = "not_a_member"
    status = 403


class Conflict(SignalError):
    """The request is well formed but the room's state refuses it."""

    code = "conflict"
    status = 409


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
    status = 503


class ConfigError(SignalError):
    """A setting cannot work (unknown store scheme, unusable path, bad number)."""

    code = "config_error"
