"""Pure functions for the seed's key layout: checking rooms, types and payloads; store keys.

Keys are tuples of strings, ``("webrtc_signal", room, kind, ...)``, as in the seed's Deno KV
layout; they travel over HTTP as JSON arrays.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from collections.abc import Sequence

from .errors import InvalidRequest
from .names import ROOM_RULE, normalize_room
from .protocol import (
    CANDIDATES_FOR,
    DESCRIPTION,
    DESCRIPTION_TYPES,
    DESCRIPTIONS,
    MAX_NESTING,
    NAMESPACE,
    PEERS,
    SIGNAL_TYPES,
)

Key = tuple[str, ...]

# Peer ids are made by programs, not typed by people: they keep the plain ASCII rule.
_PEER = re.compile(r"[A-Za-z0-9_-]{1,64}")
_UUID_HEX = re.compile(r"[0-9a-f]{32}")
# The last time prefix handed out, so ids made in one process sort in the order they were
# made even when the clock stands still or steps back.
_last_ns = 0
_ns_lock = threading.Lock()


def check_wait(wait: object) -> float | None:
    """A long-poll's ``wait`` parameter as seconds (None when absent); not its range."""
    if wait is None or wait == "":
        return None
    try:
        return float(wait)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidRequest("wait must be a number of seconds") from None


def check_count(count: object) -> int | None:
    """A count parameter (how many peers a client last saw) as an int; None when absent."""
    if count is None or count == "":
        return None
    try:
        value = int(count)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidRequest("peers must be a whole number") from None
    if not 0 <= value <= 2:
        raise InvalidRequest("peers must be 0, 1 or 2")
    return value


def _nesting(value: object) -> int:
    """How deeply lists and objects nest in a JSON value (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def check_payload(signal_type: str, payload: object) -> dict:
    """Return ``payload`` if it has the shape of its type, else raise InvalidRequest.

    An offer or answer is an RTCSessionDescription (string ``type`` naming it, string
    ``sdp``); an in-call description is either of them; a candidate is an RTCIceCandidate
    (string ``candidate``, "" at the end).
    """
    if not isinstance(payload, dict):
        raise InvalidRequest("payload must be a JSON object")
    if _nesting(payload) > MAX_NESTING:
        raise InvalidRequest(f"payload must nest at most {MAX_NESTING} levels deep")
    if signal_type == DESCRIPTION:
        if payload.get("type") not in DESCRIPTION_TYPES or not isinstance(payload.get("sdp"), str):
            raise InvalidRequest(
                'a description payload is {"type": "offer"|"answer", "sdp": <string>}'
            )
    elif signal_type in DESCRIPTION_TYPES:
        if payload.get("type") != signal_type or not isinstance(payload.get("sdp"), str):
            raise InvalidRequest(
                f'an {signal_type} payload is {{"type": "{signal_type}", "sdp": <string>}}'
            )
    elif not isinstance(payload.get("candidate"), str):
        raise InvalidRequest('a candidate payload is {"candidate": <string>, ...}')
    return payload


def check_room(room: object) -> str:
    """The room ``room`` names, normalised (see :mod:`.names`); else raise InvalidRequest."""
    name = normalize_room(room)
    if name is None:
        raise InvalidRequest(ROOM_RULE)
    return name


def check_peer(peer: object) -> str | None:
    """Return a valid peer id (or None when absent), else raise InvalidRequest."""
    if peer is None or peer == "":
        return None
    if not isinstance(peer, str) or not _PEER.fullmatch(peer):
        raise InvalidRequest("peer must be 1-64 characters of A-Z a-z 0-9 _ -")
    return peer


def check_type(signal_type: object, allowed: Sequence[str] = SIGNAL_TYPES) -> str:
    """Return ``signal_type`` if it is one of ``allowed``, else raise InvalidRequest."""
    if signal_type not in allowed:
        raise InvalidRequest(f"type must be one of: {', '.join(allowed)}")
    return signal_type  # type: ignore[return-value]


def room_prefix(room: str) -> Key:
    """The prefix under which every key of ``room`` lives."""
    return (NAMESPACE, room)


def description_key(room: str, signal_type: str) -> Key:
    """The single key of a room's offer or answer."""
    return (NAMESPACE, room, signal_type)


def candidates_prefix(room: str, sent_as: str) -> Key:
    """The prefix of candidates sent by the peer of role ``sent_as`` (a candidate type)."""
    return (NAMESPACE, room, CANDIDATES_FOR[sent_as])


def new_candidate_key(room: str, sent_as: str) -> Key:
    """A fresh unique key for one candidate."""
    return (*candidates_prefix(room, sent_as), uuid.uuid4().hex)


def descriptions_prefix(room: str) -> Key:
    """The prefix of a room's in-call descriptions (both members')."""
    return (NAMESPACE, room, DESCRIPTIONS)


def new_description_key(room: str) -> Key:
    """A fresh key for one in-call description; keys made later sort after it."""
    return (*descriptions_prefix(room), time_ordered_id())


def time_ordered_id() -> str:
    """32 lowercase hex characters: nanoseconds since the epoch (16), then randomness (16).

    Ids sort in the order they were made: the time part never repeats or goes back within
    a process, and processes sharing a store share the machine's clock.
    """
    global _last_ns
    with _ns_lock:
        _last_ns = max(time.time_ns(), _last_ns + 1)
        now = _last_ns
    return f"{now:016x}{secrets.token_hex(8)}"


def peer_key(room: str, slot: int) -> Key:
    """The key of one of a room's two peer slots."""
    return (NAMESPACE, room, PEERS, str(slot))


def parse_signal_key(key: object) -> Key:
    """Validate a signal key received from a client (a candidate's, an in-call description's,
    the room's offer's or answer's).

    Its room is normalised as :func:`check_room` does, so the key names the stored entry.
    """
    if (
        isinstance(key, list)
        and all(isinstance(part, str) for part in key)
        and len(key) in (3, 4)
        and key[0] == NAMESPACE
        and (room := normalize_room(key[1])) is not None
        and (
            (len(key) == 3 and key[2] in DESCRIPTION_TYPES)
            or (
                len(key) == 4
                and key[2] in (*CANDIDATES_FOR.values(), DESCRIPTIONS)
                and _UUID_HEX.fullmatch(key[3])
            )
        )
    ):
        return (key[0], room, *key[2:])
    raise InvalidRequest(
        'key must be a signal key as the server returned it: ["webrtc_signal", <room>, '
        '"candidates_for_initiator"|"candidates_for_receiver"|"descriptions", <id>] or '
        '["webrtc_signal", <room>, "offer"|"answer"]'
    )
