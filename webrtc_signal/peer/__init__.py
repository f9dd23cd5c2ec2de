"""A Python peer in the page's call: joins a room over the signaling API, with aiortc.

Needs aiortc and httpx (the ``peer`` extra); ``import webrtc_signal`` does not load it::

    webrtc-peer --url http://127.0.0.1:5000 --room my-room --echo

or, from a program::

    from webrtc_signal.peer import Peer

    ending = await Peer("http://127.0.0.1:5000", "my-room", echo=True).run()

It takes part as the page does: the seed's flow (the first in the room offers, the second
answers) and the rules of docs/protocol.md, "Client behaviour". aiortc gathers its candidates
before ``setLocalDescription`` returns and puts them in the SDP, so it trickles none; it
applies the other side's trickled candidates. It sends back the video it receives, or a test
pattern when none comes; audio is silence. On the "chat" data channel it can echo messages as
``echo: <text>``. One call per run: it ends when either side hangs up (the other side's bye);
a connection lost without a bye is rebuilt in the same room, and a call that cannot be
rebuilt within a minute ends. It answers the other side's in-call offers (a new track, say)
and never makes one; it does not answer an ICE restart, which aiortc cannot apply.

Its modules: ``convert`` (descriptions, candidates, ICE servers and chat messages to and from
JSON, no I/O), ``media`` (the tracks it sends), ``ending`` (how a call ends), ``negotiation``
(offer, answer and the events channel), ``call`` (``Peer``: the call from start to end) and
``cli`` (the ``webrtc-peer`` command).
"""

from __future__ import annotations

try:
    import aiortc  # noqa: F401
    import av  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("webrtc_signal.peer needs aiortc: pip install 'webrtc-signal[peer]'") from exc

from .call import Peer
from .cli import main, parse_args
from .convert import (
    BYE_JSON,
    ECHO_PREFIX,
    Message,
    candidate_from_json,
    chat_json,
    description_from_json,
    description_to_json,
    echo_of,
    ice_servers_from_json,
    parse_message,
    pong_json,
)
from .ending import CallFailed, Ending
from .media import TRACK_ID_PREFIX, Echo, TestPattern, is_peer_track, pattern_frame

__all__ = [
    "BYE_JSON",
    "ECHO_PREFIX",
    "TRACK_ID_PREFIX",
    "CallFailed",
    "Echo",
    "Ending",
    "Message",
    "Peer",
    "TestPattern",
    "candidate_from_json",
    "chat_json",
    "description_from_json",
    "description_to_json",
    "echo_of",
    "ice_servers_from_json",
    "is_peer_track",
    "main",
    "parse_args",
    "parse_message",
    "pattern_frame",
    "pong_json",
]
