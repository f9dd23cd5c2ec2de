"""What the peer sends and receives, to and from JSON: descriptions, candidates, ICE servers and
data channel messages. Pure functions, no I/O."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from aiortc import RTCIceCandidate, RTCIceServer, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

ECHO_PREFIX = "echo: "


@dataclass(frozen=True)
class Message:
    """A data channel message as the page reads it: chat, bye, plain text, the heartbeat's
    ping (its number, to answer with pong_json), or an envelope this peer ignores (a state)."""

    kind: Literal["chat", "bye", "text", "ping", "ignored"]
    text: str = ""
    ping: Any = None


def description_to_json(description: RTCSessionDescription) -> dict[str, str]:
    """An offer or answer as the browser's ``toJSON()`` gives it."""
    return {"type": description.type, "sdp": description.sdp}


def description_from_json(payload: dict[str, Any]) -> RTCSessionDescription:
    """aiortc's session description from a stored offer or answer."""
    return RTCSessionDescription(sdp=payload["sdp"], type=payload["type"])


_ICE_CREDENTIAL = re.compile(r"^a=ice-(?:ufrag|pwd):\S+", re.MULTILINE)


def ice_credentials(sdp: str) -> frozenset[str]:
    """The ``a=ice-ufrag`` and ``a=ice-pwd`` lines of a description.

    An offer whose credentials differ from the connection's restarts ICE (or belongs to
    another connection); a re-offer within the same ICE session repeats them.
    """
    return frozenset(line.strip() for line in _ICE_CREDENTIAL.findall(sdp))


def candidate_from_json(payload: dict[str, Any]) -> RTCIceCandidate | None:
    """aiortc's candidate from a browser's ``RTCIceCandidate.toJSON()``; None at the end.

    Raises ValueError for a candidate line that does not parse.
    """
    line = payload.get("candidate")
    if not isinstance(line, str):
        raise ValueError("a candidate payload has a string 'candidate'")
    line = line.strip().removeprefix("a=").removeprefix("candidate:")
    if not line:
        return None  # the empty candidate marks the end of candidates
    try:
        candidate = candidate_from_sdp(line)
    except (AssertionError, IndexError, ValueError) as exc:
        raise ValueError(f"not an ICE candidate: {line!r}") from exc
    mid, index = payload.get("sdpMid"), payload.get("sdpMLineIndex")
    candidate.sdpMid = mid if isinstance(mid, str) else None
    candidate.sdpMLineIndex = index if isinstance(index, int) else None
    return candidate


def ice_servers_from_json(entries: list[dict[str, Any]]) -> list[RTCIceServer]:
    """``/api/ice-servers`` entries as aiortc's RTCIceServer (it uses one STUN, one TURN)."""
    servers = []
    for entry in entries:
        urls = entry.get("urls")
        if isinstance(urls, str | list) and urls:
            servers.append(
                RTCIceServer(
                    urls=urls, username=entry.get("username"), credential=entry.get("credential")
                )
            )
    return servers


def chat_json(text: str) -> str:
    """A chat message in the page's envelope."""
    return json.dumps({"type": "chat", "text": text})


BYE_JSON = json.dumps({"type": "bye"})


def pong_json(ping: Any) -> str:
    """The answer to the page's heartbeat ping number ``ping``: it shows the path works."""
    return json.dumps({"type": "pong", "n": ping})


def parse_message(data: str | bytes) -> Message:
    """A data channel message, read as the page reads it: plain text is shown as it came."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    try:
        envelope = json.loads(text)
    except ValueError:
        envelope = None
    kind = envelope.get("type") if isinstance(envelope, dict) else None
    if kind == "bye":
        return Message("bye")
    if kind == "chat" and isinstance(envelope.get("text"), str):
        return Message("chat", envelope["text"])
    if kind == "ping":
        return Message("ping", ping=envelope.get("n"))
    if isinstance(kind, str) and kind != "chat":
        return Message("ignored")  # an envelope of a type this peer does not know
    return Message("text", text)


def echo_of(message: Message) -> str | None:
    """The echo of a chat or text message; None for anything else, and for an echo (no
    endless back and forth)."""
    if message.kind not in ("chat", "text") or message.text.startswith(ECHO_PREFIX):
        return None
    return ECHO_PREFIX + message.text
