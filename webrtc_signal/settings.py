"""Settings, read from a mapping of strings (the environment, or a Flask config)."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

DEFAULT_STORE = "sqlite:///signal.sqlite"
# Writes per client address. Setting up a call bursts about 30 writes within a third of a
# second (each trickled candidate is posted, then deleted), and two people behind one NAT
# share an address: 20 per second stalled back-to-back calls in bench/call_setup.py.
DEFAULT_RATE_LIMIT = "60 per second; 1200 per minute"
# Lifetime of each TURN credential made from TURN_SECRET: a day, as coturn's examples use. A
# credential only has to be valid when a call allocates its relay; an allocation then lives on
# by refreshes, so a long call outlives it.
DEFAULT_TURN_TTL = 86400
ICE_TRANSPORT_POLICIES = ("all", "relay")
# turn:host[:port][?transport=udp|tcp] and turns:..., as RFC 7065 writes them; the host may be
# a name, an IPv4 address or a bracketed IPv6 address.
_TURN_URL = re.compile(
    r"(?P<scheme>turns?):(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(?P<port>\d{1,5}))?"
    r"(?:\?transport=(?P<transport>udp|tcp))?"
)


def instance_path() -> Path:
    """The instance folder, where the default store lives; the same rule as Flask's.

    Next to the package in a source checkout (or an editable install), and under
    ``sys.prefix/var`` when installed, so the server and ``clear-rooms`` always agree.
    """
    package_parent = Path(__file__).resolve().parent.parent
    if "site-packages" in package_parent.parts:
        return Path(sys.prefix) / "var" / "webrtc-signal"
    return package_parent / "instance"


def _number(mapping: Mapping[str, Any], name: str, default: float) -> float:
    raw = mapping.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


def _count(mapping: Mapping[str, Any], name: str) -> int:
    raw = mapping.get(name)
    if raw is None or raw == "":
        return 0
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return value


def _flag(mapping: Mapping[str, Any], name: str) -> bool:
    raw = mapping.get(name)
    if raw is None or isinstance(raw, bool):
        return bool(raw)
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be on or off (1/0, true/false, yes/no), got {raw!r}")


def _rate_limit(mapping: Mapping[str, Any]) -> str:
    """SIGNAL_RATE_LIMIT as written; "" (or "off") turns limiting off."""
    raw = mapping.get("SIGNAL_RATE_LIMIT", DEFAULT_RATE_LIMIT)
    if raw is None or str(raw).strip().lower() in ("", "off", "none"):
        return ""
    return str(raw)


def _list(raw: Any) -> tuple[str, ...]:
    """A list setting: a sequence, or one string separated by spaces or commas."""
    if not raw:
        return ()
    if isinstance(raw, str):
        raw = raw.replace(",", " ").split()
    return tuple(str(item).strip() for item in raw if str(item).strip())


def _turn_urls(mapping: Mapping[str, Any]) -> tuple[str, ...]:
    urls = _list(mapping.get("TURN_URLS"))
    for url in urls:
        match = _TURN_URL.fullmatch(url)
        if match is None:
            raise ConfigError(
                f"TURN_URLS: {url!r} is not a TURN URL; write turn:HOST[:PORT] or "
                "turns:HOST[:PORT], optionally with ?transport=udp or ?transport=tcp"
            )
        port = match["port"]
        if port is not None and not 0 < int(port) < 65536:
            raise ConfigError(f"TURN_URLS: {url!r} has no valid port (1-65535)")
    return urls


def _ice_transport_policy(mapping: Mapping[str, Any]) -> str:
    raw = mapping.get("ICE_TRANSPORT_POLICY") or "all"
    policy = str(raw).strip().lower()
    if policy not in ICE_TRANSPORT_POLICIES:
        raise ConfigError(f"ICE_TRANSPORT_POLICY must be all or relay, got {raw!r}")
    return policy


@dataclass(frozen=True)
class Settings:
    """Every setting of the server; the README's table lists the same names."""

    store_url: str = DEFAULT_STORE
    instance_path: Path = field(default_factory=instance_path)
    ttl: float = 300.0
    peer_timeout: float = 10.0
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_timeout: float = 5.0
    ice_token_ttl: int = 3600
    cors_origins: tuple[str, ...] = ()
    trusted_proxies: int = 0
    rate_limit: str = DEFAULT_RATE_LIMIT
    open_rooms: bool = False
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = field(default=None, repr=False)
    turn_ttl: int = DEFAULT_TURN_TTL
    ice_transport_policy: str = "all"

    def __post_init__(self) -> None:
        # Never the secret's value in a message: only whether it is there.
        if bool(self.turn_urls) != bool(self.turn_secret):
            given, missing = (
                ("TURN_URLS", "TURN_SECRET") if self.turn_urls else ("TURN_SECRET", "TURN_URLS")
            )
            raise ConfigError(
                f"{given} is set but {missing} is not: TURN from your own server needs both "
                "(the server's URLs, and its static-auth-secret)"
            )
        twilio = self.twilio_account_sid and self.twilio_auth_token
        if self.ice_transport_policy == "relay" and not (self.turn_urls or twilio):
            raise ConfigError(
                "ICE_TRANSPORT_POLICY=relay needs a TURN server: set TURN_URLS and TURN_SECRET "
                "(or the Twilio credentials), or no call can connect"
            )

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> Settings:
        """Read settings by their environment names; absent or empty ones take defaults."""
        origins = mapping.get("CORS_ORIGINS") or ()
        if isinstance(origins, str):
            origins = tuple(o.strip() for o in origins.replace(",", " ").split() if o.strip())
        return cls(
            store_url=mapping.get("SIGNAL_STORE") or DEFAULT_STORE,
            ttl=_number(mapping, "SIGNAL_TTL", 300.0),
            peer_timeout=_number(mapping, "SIGNAL_PEER_TIMEOUT", 10.0),
            twilio_account_sid=mapping.get("TWILIO_ACCOUNT_SID") or None,
            twilio_auth_token=mapping.get("TWILIO_AUTH_TOKEN") or None,
            twilio_timeout=_number(mapping, "TWILIO_TIMEOUT", 5.0),
            ice_token_ttl=int(_number(mapping, "ICE_TOKEN_TTL", 3600)),
            cors_origins=tuple(origins),
            trusted_proxies=_count(mapping, "SIGNAL_TRUSTED_PROXIES"),
            rate_limit=_rate_limit(mapping),
            open_rooms=_flag(mapping, "SIGNAL_OPEN_ROOMS"),
            turn_urls=_turn_urls(mapping),
            turn_secret=mapping.get("TURN_SECRET") or None,
            turn_ttl=int(_number(mapping, "TURN_TTL", DEFAULT_TURN_TTL)),
            ice_transport_policy=_ice_transport_policy(mapping),
        )
