"""Settings, read from a mapping of strings (the environment, or a Flask config)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from limits import parse_many

from .errors import ConfigError

DEFAULT_STORE = "sqlite:///signal.sqlite"
# Writes per client address. Setting up a call bursts about 15 writes within a third of a
# second (each trickled candidate is posted), and two people behind one NAT share an
# address: 20 per second stalled back-to-back calls in bench/call_setup.py.
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


Reader = Callable[[Any, str], Any]  # (raw value, setting's name) -> value; ConfigError


def _absent(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and raw.strip() == "")


def _text(default: str | None = None) -> Reader:
    return lambda raw, _name: default if _absent(raw) else str(raw)


def _seconds(default: float) -> Reader:
    def read(raw: Any, name: str) -> float:
        if _absent(raw):
            return default
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
        if not value > 0 or value == float("inf"):
            raise ConfigError(f"{name} must be a positive number of seconds, got {raw!r}")
        return value

    return read


def _whole_seconds(default: int) -> Reader:
    seconds = _seconds(default)
    return lambda raw, name: int(seconds(raw, name))


def _count(raw: Any, name: str) -> int:
    if _absent(raw):
        return 0
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return value


def _flag(raw: Any, name: str) -> bool:
    if raw is None or isinstance(raw, bool):
        return bool(raw)
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be on or off (1/0, true/false, yes/no), got {raw!r}")


def _list(raw: Any, _name: str = "") -> tuple[str, ...]:
    """A list setting: a sequence, or one string separated by spaces or commas."""
    if not raw:
        return ()
    if isinstance(raw, str):
        raw = raw.replace(",", " ").split()
    return tuple(str(item).strip() for item in raw if str(item).strip())


def _rate_limit(raw: Any, name: str) -> str:
    """As written, once Flask-Limiter's notation reads it; "" (or "off") turns limiting off."""
    if raw is None:
        return DEFAULT_RATE_LIMIT
    if str(raw).strip().lower() in ("", "off", "none"):
        return ""
    try:
        parse_many(str(raw))
    except ValueError:
        raise ConfigError(
            f"{name} must read like '60 per second; 1200 per minute', got {raw!r}"
        ) from None
    return str(raw)


def _turn_urls(raw: Any, name: str) -> tuple[str, ...]:
    urls = _list(raw)
    for url in urls:
        match = _TURN_URL.fullmatch(url)
        if match is None:
            raise ConfigError(
                f"{name}: {url!r} is not a TURN URL; write turn:HOST[:PORT] or "
                "turns:HOST[:PORT], optionally with ?transport=udp or ?transport=tcp"
            )
        port = match["port"]
        if port is not None and not 0 < int(port) < 65536:
            raise ConfigError(f"{name}: {url!r} has no valid port (1-65535)")
    return urls


def _ice_transport_policy(raw: Any, name: str) -> str:
    policy = str(raw or "all").strip().lower()
    if policy not in ICE_TRANSPORT_POLICIES:
        raise ConfigError(f"{name} must be all or relay, got {raw!r}")
    return policy


@dataclass(frozen=True)
class Setting:
    """One row of the settings table: how it is named, read, and described."""

    name: str  # in the environment, .env and the Flask config
    attribute: str  # on Settings
    kind: str  # for the README: what sort of value it takes
    default: str  # for the README
    meaning: str  # for the README
    read: Reader


# Every setting, in the README's order. Settings, the Flask config and the README's table
# (tests/test_settings.py checks it) come from here.
TABLE = (
    Setting(
        "SIGNAL_STORE",
        "store_url",
        "URL",
        f"`{DEFAULT_STORE}`",
        "where signals live: `sqlite:///relative/path.sqlite` (relative to the instance "
        "folder), `sqlite:////absolute/path.sqlite`, `redis://HOST:PORT/DB` (shared by "
        "several processes; the `redis` extra), or `memory://` (one process, for tests and "
        "embedding). An unknown scheme or unusable path stops start-up with a clear message.",
        _text(DEFAULT_STORE),
    ),
    Setting(
        "SIGNAL_TTL",
        "ttl",
        "seconds",
        "`300`",
        "seconds after which any stored signal expires",
        _seconds(300.0),
    ),
    Setting(
        "SIGNAL_PEER_TIMEOUT",
        "peer_timeout",
        "seconds",
        "`10`",
        "seconds of silence after which a peer counts as gone: its place and every signal it "
        "sent are removed (the page's push channel asks again at least every half of it)",
        _seconds(10.0),
    ),
    Setting(
        "SIGNAL_OPEN_ROOMS",
        "open_rooms",
        "on/off",
        "off",
        "serve clients without a peer id (the seed's) in every room, so they can also answer "
        "our page's offer. Costs every room's privacy against such clients: anyone who knows "
        "a room's name can read its signals (IP addresses), inject their own and hang up the "
        "call. When off, such a client is served in rooms without members and in the call it "
        "opened itself (docs/protocol.md).",
        _flag,
    ),
    Setting(
        "TWILIO_ACCOUNT_SID",
        "twilio_account_sid",
        "text",
        "unset",
        "with the token below: hand out Twilio Network Traversal (STUN/TURN) servers",
        _text(),
    ),
    Setting(
        "TWILIO_AUTH_TOKEN",
        "twilio_auth_token",
        "secret",
        "unset",
        "Twilio's secret; never logged or sent to browsers",
        _text(),
    ),
    Setting(
        "TWILIO_TIMEOUT",
        "twilio_timeout",
        "seconds",
        "`5`",
        "seconds to wait for Twilio before falling back (to your TURN server when "
        "`TURN_URLS` is set, else to public STUN)",
        _seconds(5.0),
    ),
    Setting(
        "ICE_TOKEN_TTL",
        "ice_token_ttl",
        "seconds",
        "`3600`",
        "lifetime asked of each Twilio token; it is cached until shortly before it expires",
        _whole_seconds(3600),
    ),
    Setting(
        "TURN_URLS",
        "turn_urls",
        "list of URLs",
        "unset",
        "your own TURN server (coturn), one or more `turn:HOST[:PORT]` or `turns:HOST[:PORT]` "
        "URLs (optionally `?transport=udp\\|tcp`), separated by spaces or commas; needs "
        "`TURN_SECRET`. `/api/ice-servers` then hands out fresh credentials for them on each "
        'request (`"source": "turn-secret"`), and `stun:HOST:PORT` for each `turn:` URL. '
        "**Precedence:** Twilio when its two settings are set; this server when they are not, "
        "or while Twilio fails; Google's public STUN when neither is set. Any other scheme, or "
        "one setting without the other, stops start-up with a clear message.",
        _turn_urls,
    ),
    Setting(
        "TURN_SECRET",
        "turn_secret",
        "secret",
        "unset",
        "the TURN server's `static-auth-secret` (coturn's `use-auth-secret`): credentials are "
        "`<expiry unix time>:<random id>` with password base64(HMAC-SHA1(secret, username)); "
        "the secret itself is never logged, shown or sent",
        _text(),
    ),
    Setting(
        "TURN_TTL",
        "turn_ttl",
        "seconds",
        f"`{DEFAULT_TURN_TTL}`",
        "seconds each TURN credential stays valid (it only has to be valid when a call sets "
        "up its relay; a call in progress outlives it)",
        _whole_seconds(DEFAULT_TURN_TTL),
    ),
    Setting(
        "ICE_TRANSPORT_POLICY",
        "ice_transport_policy",
        "`all` or `relay`",
        "`all`",
        "`relay` makes browsers use TURN relays only (no direct or STUN route): for testing a "
        "TURN server, or to hide people's addresses from each other. `/api/ice-servers` names "
        'it (`"iceTransportPolicy"`); `relay` without `TURN_URLS` or Twilio stops start-up.',
        _ice_transport_policy,
    ),
    Setting(
        "CORS_ORIGINS",
        "cors_origins",
        "list of origins",
        "unset (same origin only)",
        "other origins allowed to call the API, separated by spaces or commas",
        _list,
    ),
    Setting(
        "SIGNAL_RATE_LIMIT",
        "rate_limit",
        "limits",
        f"`{DEFAULT_RATE_LIMIT}`",
        "writes (POST, DELETE) allowed per client address, in Flask-Limiter's notation; `off` "
        "turns limiting off. Counted in Redis when the store is Redis, else per process. "
        "Setting up a call bursts about 15 writes in a third of a second.",
        _rate_limit,
    ),
    Setting(
        "SIGNAL_TRUSTED_PROXIES",
        "trusted_proxies",
        "count",
        "`0`",
        "how many reverse proxies stand in front of the app; their "
        "`X-Forwarded-For`/`-Proto`/`-Host` then give the client's address and scheme (never "
        "trusted when 0)",
        _count,
    ),
)
NAMES = tuple(setting.name for setting in TABLE)


def markdown_table() -> str:
    """The README's settings table."""
    rows = ["| setting | type | default | meaning |", "|---|---|---|---|"]
    rows += [f"| `{s.name}` | {s.kind} | {s.default} | {s.meaning} |" for s in TABLE]
    return "\n".join(rows)


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
        return cls(**{s.attribute: s.read(mapping.get(s.name), s.name) for s in TABLE})
