"""What the signaling API's answers and refusals mean, as Python values: pure functions.

No I/O and no httpx: :mod:`webrtc_signal.client` speaks HTTP with them, and tests run them
on plain values.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import (
    BodyTooLarge,
    Conflict,
    InvalidRequest,
    NotAMember,
    OfferExists,
    RoomFull,
    SignalError,
    StoreUnavailable,
    TooManySignals,
    UnsupportedBody,
)
from .protocol import CANDIDATE_INITIATOR, CANDIDATE_RECEIVER, MAX_BATCH

# Seconds to wait after each failure in a row of the events channel (the server cannot be
# reached or answers 5xx): quick at first, for a blip, then no slower than every 5 s, so a
# restarted server finds the call listening again within seconds. The last one repeats.
RETRY_BACKOFF_S = (1.0, 2.0, 4.0, 5.0)
# Peer ids as the page makes them: 22 symbols of a 64-symbol alphabet (132 bits).
PEER_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
PEER_ID_LENGTH = 22
Side = Literal["initiator", "receiver"]
# A signal's key as it travels over HTTP: a JSON array (the core's keys are tuples).
KeyList = list[str]
# The core exceptions a refusal can stand for: by the error code the server sends, else (a
# proxy's page, say) by the status alone.
_REFUSALS = (
    InvalidRequest,
    BodyTooLarge,
    UnsupportedBody,
    NotAMember,
    Conflict,
    OfferExists,
    RoomFull,
    TooManySignals,
    StoreUnavailable,
)
ERRORS_BY_CODE: dict[str, type[SignalError]] = {cls.code: cls for cls in _REFUSALS}
ERRORS_BY_STATUS: dict[int, type[SignalError]] = {
    cls.status: cls
    for cls in (
        InvalidRequest,
        BodyTooLarge,
        UnsupportedBody,
        NotAMember,
        Conflict,
        StoreUnavailable,
    )
}


class ServerUnreachable(SignalError):
    """No answer from the signaling server: nothing listens there, or the network is down."""

    code = "server_unreachable"


@dataclass(frozen=True)
class Signal:
    """A stored signal as a read returns it: its key (to delete it by) and its payload."""

    key: KeyList
    payload: dict[str, Any]


@dataclass(frozen=True)
class Events:
    """One answer of the events channel: the room's live peers, the answer another client
    posted (or None), the candidates other clients sent, the in-call descriptions the other
    member sent (both oldest first), and the cursor that acknowledges them (None when it
    delivered nothing)."""

    peers: int
    answer: dict[str, Any] | None = None
    candidates: list[Signal] = field(default_factory=list)
    cursor: str | None = None
    descriptions: list[Signal] = field(default_factory=list)


# -- functions --------------------------------------------------------------------------


def new_peer_id() -> str:
    """A random peer id, as unguessable as the page's."""
    return "".join(secrets.choice(PEER_ID_ALPHABET) for _ in range(PEER_ID_LENGTH))


def candidate_type(side: Side) -> str:
    """The signal type of candidates sent by ``side``."""
    if side not in ("initiator", "receiver"):
        raise ValueError(f"side must be 'initiator' or 'receiver', not {side!r}")
    return CANDIDATE_INITIATOR if side == "initiator" else CANDIDATE_RECEIVER


def error_from_response(status: int, body: object) -> SignalError:
    """The core exception a refused request stands for, from its status and JSON body."""
    code = body.get("error") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message:
        message = f"the server answered {status}" + (f" ({code})" if code else "")
    cls = ERRORS_BY_CODE.get(code) if isinstance(code, str) else None
    cls = cls or ERRORS_BY_STATUS.get(status, SignalError)
    error = cls(message)
    if cls is SignalError:
        error.status = status  # a 502 from a proxy stays a 502: worth retrying, as a 503 is
        if isinstance(code, str):
            error.code = code
    return error


def retry_delay(failures: int, schedule: Sequence[float] = RETRY_BACKOFF_S) -> float:
    """Seconds to wait after ``failures`` failed requests in a row (1 after the first)."""
    return schedule[min(max(failures, 1), len(schedule)) - 1]


def is_retryable(error: SignalError) -> bool:
    """Whether a failed request may succeed if sent again unchanged: the server could not be
    reached, or it (or a proxy before it) failed with a 5xx."""
    return isinstance(error, ServerUnreachable) or error.status >= 500


def parse_signals(body: object) -> list[Signal]:
    """A candidates read's answer as Signals, oldest first."""
    if not isinstance(body, list):
        raise SignalError("the server's answer is not a list of signals")
    try:
        return [Signal(list(item["key"]), item["payload"]) for item in body]
    except (TypeError, KeyError) as exc:
        raise SignalError("the server's answer is not a list of signals") from exc


def parse_events(body: object) -> Events:
    """An events answer (``GET /events``) as Events."""
    if not isinstance(body, dict):
        raise SignalError("the server's answer is not an events answer")
    peers, answer, cursor = body.get("peers"), body.get("answer"), body.get("cursor")
    if (
        not isinstance(peers, int)
        or isinstance(peers, bool)
        or not isinstance(answer, dict | None)
        or not isinstance(cursor, str | None)
    ):
        raise SignalError("the server's answer is not an events answer")
    # A server from before in-call negotiation sends no descriptions: none came.
    descriptions = parse_signals(body.get("descriptions", []))
    return Events(peers, answer, parse_signals(body.get("candidates")), cursor, descriptions)


def batches(items: Sequence[Any], size: int = MAX_BATCH) -> Iterator[Sequence[Any]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
