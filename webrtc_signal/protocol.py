"""The protocol's names and limits, in one place (docs/protocol.md explains each).

The server's core, its HTTP edge and the Python client read them from here; the browser's
``public/signaling.js`` repeats the few it needs (the token header, the room-name pattern).
"""

from __future__ import annotations

# Keys, as in the seed's Deno KV layout: ("webrtc_signal", room, kind, ...).
NAMESPACE = "webrtc_signal"
DEFAULT_ROOM = "default-room"
PEERS = "peers"

# Signal types. A candidate sent *by* the initiator is stored *for* the receiver, and the
# other way round; reading type T returns what the peer of role T sent.
OFFER = "offer"
ANSWER = "answer"
CANDIDATE_INITIATOR = "candidate_initiator"
CANDIDATE_RECEIVER = "candidate_receiver"
# An in-call offer or answer between the two members (docs/protocol.md, "In-call
# negotiation"): posted only, delivered by the push channel, stored under its own time-ordered
# key so several may wait in posting order.
DESCRIPTION = "description"
DESCRIPTIONS = "descriptions"  # the kind of their keys
SIGNAL_TYPES = (OFFER, ANSWER, CANDIDATE_INITIATOR, CANDIDATE_RECEIVER, DESCRIPTION)
DESCRIPTION_TYPES = (OFFER, ANSWER)
CANDIDATE_TYPES = (CANDIDATE_INITIATOR, CANDIDATE_RECEIVER)
CANDIDATES_FOR = {
    CANDIDATE_INITIATOR: "candidates_for_receiver",
    CANDIDATE_RECEIVER: "candidates_for_initiator",
}

# The member's secret, handed out on entering a room and sent back with every request.
TOKEN_HEADER = "X-Peer-Token"
TOKEN_BYTES = 24  # of randomness; it travels base64url-encoded
CURSOR_BYTES = 6  # of randomness in a push-channel cursor

# Limits.
MAX_BODY = 64 * 1024  # bytes in a request body
MAX_NESTING = 8  # levels of lists and objects in a payload: a description or a candidate is flat
MAX_WAIT = 30.0  # seconds a read or the push channel may be held
MAX_BATCH = 50  # candidates or keys in one request
MAX_CANDIDATES = 100  # of one side waiting unread in a room: a real call trickles a few dozen
MAX_DESCRIPTIONS = 20  # of one member waiting unread in a room: renegotiation is rare
