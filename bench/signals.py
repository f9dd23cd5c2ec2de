"""Signals as the benchmarks send them: realistic sizes, tagged so their reader knows them.

Tables and the numbers in them (percentiles, ms, MiB) are harness/tables.py's."""

from __future__ import annotations

import uuid

# An offer/answer about the size a browser makes for audio, video and a data channel.
SDP_BODY = "".join(f"a=x-filler-{n:02d}:{'x' * 40}\r\n" for n in range(60))  # ~3.4 KB


def description(kind: str, tag: str) -> dict:
    """An RTCSessionDescription; ``tag`` makes it recognisable to its reader."""
    return {"type": kind, "sdp": f"v=0\r\no=- {tag} 2 IN IP4 127.0.0.1\r\n{SDP_BODY}"}


def candidate(tag: str) -> dict:
    """An RTCIceCandidate as JSON; ``tag`` (no spaces) is its foundation."""
    return {
        "candidate": f"candidate:{tag} 1 udp 2122260223 192.0.2.10 54321 typ host generation 0",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
    }


def tag_of(payload: dict) -> str:
    """The tag a :func:`description` or :func:`candidate` was made with."""
    if "sdp" in payload:
        return payload["sdp"].split("\r\n", 2)[1].split()[1]
    return payload["candidate"].split()[0].removeprefix("candidate:")


def peer_id() -> str:
    """A random peer id like the page's (22 characters)."""
    return uuid.uuid4().hex[:22]
