"""webrtc_signal: the signaling protocol of a two-person WebRTC call, without a web framework.

Serve it from any Python program::

    from webrtc_signal import Settings, Signaling

    signaling = Signaling.from_settings(Settings.from_mapping(os.environ))
    signaling.post("my-room", "offer", {"type": "offer", "sdp": "..."}, peer="a1b2c3")
"""

from .errors import (
    ConfigError,
    Conflict,
    InvalidRequest,
    NotAMember,
    OfferExists,
    RoomFull,
    SignalError,
    StoreUnavailable,
    TooManySignals,
)
from .ice import IceServers
from .keys import DEFAULT_ROOM, SIGNAL_TYPES
from .rooms import Signaling
from .settings import Settings
from .store import MemoryStore, SqliteStore, Store, open_store

__all__ = [
    "DEFAULT_ROOM",
    "SIGNAL_TYPES",
    "ConfigError",
    "Conflict",
    "IceServers",
    "InvalidRequest",
    "MemoryStore",
    "NotAMember",
    "OfferExists",
    "RoomFull",
    "Settings",
    "SignalError",
    "Signaling",
    "SqliteStore",
    "Store",
    "StoreUnavailable",
    "TooManySignals",
    "open_store",
]
