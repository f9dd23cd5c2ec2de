"""webrtc_signal: the signaling protocol of a two-person WebRTC call, without a web framework.

Serve it from any Python program::

    from webrtc_signal import Settings, Signaling

    signaling = Signaling.from_settings(Settings.from_mapping(os.environ))
    signaling.post("my-room", "offer", {"type": "offer", "sdp": "..."}, peer="a1b2c3")

or serve its whole HTTP API from any web server with ``handle(signaling, Request(...))``
(``webrtc_signal.routes``).
"""

from .errors import (
    BodyTooLarge,
    ConfigError,
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
from .ice import IceServers, TurnSecret
from .protocol import DEFAULT_ROOM, SIGNAL_TYPES
from .routes import Request, Response, handle
from .settings import Setting, Settings
from .signaling import Signaling
from .store import MemoryStore, SqliteStore, Store, open_store

__all__ = [
    "DEFAULT_ROOM",
    "SIGNAL_TYPES",
    "BodyTooLarge",
    "ConfigError",
    "Conflict",
    "IceServers",
    "InvalidRequest",
    "MemoryStore",
    "NotAMember",
    "OfferExists",
    "Request",
    "Response",
    "RoomFull",
    "Setting",
    "Settings",
    "SignalError",
    "Signaling",
    "SqliteStore",
    "Store",
    "StoreUnavailable",
    "TooManySignals",
    "TurnSecret",
    "UnsupportedBody",
    "handle",
    "open_store",
]
