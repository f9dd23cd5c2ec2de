"""ICE servers for ``new RTCPeerConnection({iceServers})``: Twilio tokens, credentials for
your own TURN server (a secret shared with it), or public STUN.

Precedence: Twilio when its credentials are set; your own TURN server when they are not, or
while Twilio fails; the public STUN server when neither is there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from .settings import DEFAULT_TURN_TTL, Settings

log = logging.getLogger(__name__)

FALLBACK_SERVERS = [{"urls": "stun:stun.l.google.com:19302"}]
# How long a browser may keep the fallback answer, and how long a failed fetch is not retried:
# short, so Twilio is used again soon after it recovers, yet long enough that an outage costs
# one timeout per half minute rather than one per request.
FALLBACK_TTL = 30
# A Twilio token is handed out until this many seconds (or a tenth of its life) before expiry.
EXPIRY_MARGIN = 60


def normalise(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rewrite Twilio's entries as browsers take them: ``urls``, ``username``, ``credential``."""
    servers = []
    for entry in entries:
        urls = entry.get("urls") or entry.get("url")
        if not urls:
            continue
        server = {"urls": urls}
        server.update({k: entry[k] for k in ("username", "credential") if entry.get(k)})
        servers.append(server)
    return servers


def turn_credentials(secret: str, username: str) -> str:
    """The password of ``username`` on a TURN server sharing ``secret`` (coturn's
    ``use-auth-secret``, the TURN REST API): base64 of HMAC-SHA1(secret, username)."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def stun_urls(turn_urls: Sequence[str]) -> list[str]:
    """``stun:HOST:PORT`` for each plain ``turn:`` URL: a TURN server answers STUN on its port.

    ``turns:`` (TLS) URLs give none: STUN is not spoken over that port's TLS.
    """
    found: list[str] = []
    for url in turn_urls:
        scheme, _, rest = url.partition(":")
        if scheme.lower() != "turn":
            continue
        stun = "stun:" + urlsplit("//" + rest).netloc
        if stun not in found:
            found.append(stun)
    return found


class TurnSecret:
    """Time-limited credentials for your own TURN server, from the secret it shares with us.

    Each answer gets a username of its own, ``<expiry unix time>:<random id>``, valid for
    ``ttl`` seconds, and its password ``turn_credentials(secret, username)``: the server
    checks both without a user database. The secret itself is never handed out, logged or
    shown in a repr.
    """

    def __init__(
        self,
        urls: Sequence[str],
        secret: str,
        ttl: int = DEFAULT_TURN_TTL,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.urls = tuple(urls)
        self.ttl = ttl
        self._secret = secret
        self._clock = clock

    def __repr__(self) -> str:
        return f"TurnSecret(urls={self.urls!r}, ttl={self.ttl})"

    def get(self) -> dict[str, Any]:
        """``{"iceServers": [STUN..., TURN...], "source": "turn-secret", "ttl": seconds}``."""
        username = f"{int(self._clock()) + self.ttl}:{secrets.token_urlsafe(9)}"
        credential = turn_credentials(self._secret, username)
        servers: list[dict[str, Any]] = [{"urls": url} for url in stun_urls(self.urls)]
        servers += [
            {"urls": url, "username": username, "credential": credential} for url in self.urls
        ]
        return {"iceServers": servers, "source": "turn-secret", "ttl": self.ttl}


class IceServers:
    """Hands out ICE servers, fetching and caching a Twilio Network Traversal token if it can.

    ``http_client`` is a ``twilio.http.HttpClient``; tests pass a fake one. Without
    credentials, or when Twilio fails or times out, the answer comes from ``turn`` (your own
    TURN server) when given, else it is the public STUN fallback. Every answer names the
    ``iceTransportPolicy`` the browser is to use ("relay": TURN relays only).
    """

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        *,
        token_ttl: int = 3600,
        timeout: float = 5.0,
        http_client: Any = None,
        clock: Callable[[], float] = time.monotonic,
        turn: TurnSecret | None = None,
        transport_policy: str = "all",
    ) -> None:
        self._client = None
        self._turn = turn
        self._policy = transport_policy
        self._token_ttl = token_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: dict[str, Any] | None = None
        self._expires = 0.0
        if account_sid and auth_token:
            from twilio.http.http_client import TwilioHttpClient
            from twilio.rest import Client

            self._client = Client(
                account_sid,
                auth_token,
                http_client=http_client or TwilioHttpClient(timeout=timeout),
            )
        elif turn is not None:
            log.info("handing out credentials for the TURN server at %s", " ".join(turn.urls))
        else:
            log.warning(
                "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not both set, nor TURN_URLS and "
                "TURN_SECRET: handing out only the public STUN server, so calls across strict "
                "NATs may fail"
            )

    @classmethod
    def from_settings(cls, settings: Settings, http_client: Any = None) -> IceServers:
        """ICE servers from the Twilio and TURN settings; ``http_client`` replaces Twilio's in
        tests."""
        turn = None
        if settings.turn_urls and settings.turn_secret:
            turn = TurnSecret(settings.turn_urls, settings.turn_secret, settings.turn_ttl)
        return cls(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            token_ttl=settings.ice_token_ttl,
            timeout=settings.twilio_timeout,
            http_client=http_client,
            turn=turn,
            transport_policy=settings.ice_transport_policy,
        )

    def get(self) -> dict[str, Any]:
        """``{"iceServers": [...], "source": "twilio"|"turn-secret"|"fallback", "ttl": seconds,
        "iceTransportPolicy": "all"|"relay"}``."""
        answer = self._servers()
        answer["iceTransportPolicy"] = self._policy
        return answer

    def _servers(self) -> dict[str, Any]:
        if self._client is None:
            return self._turn.get() if self._turn else self._fallback()
        with self._lock:
            now = self._clock()
            if self._cached is None or now >= self._expires:
                self._cached, self._expires = self._fetch(now)
            answer = dict(self._cached)
        if answer["source"] == "twilio":
            answer["ttl"] = max(0, round(self._expires - now))
        elif self._turn is not None:
            answer = self._turn.get()  # fresh credentials each time, not the cached failure
        return answer

    def _fetch(self, now: float) -> tuple[dict[str, Any], float]:
        try:
            token = self._client.tokens.create(ttl=self._token_ttl)
            servers = normalise(token.ice_servers or [])
            ttl = int(token.ttl or self._token_ttl)
            if not servers:
                raise ValueError("the token holds no ICE servers")
        except Exception as exc:  # any failure at the edge means: fall back
            # Never the exception's text: Twilio's messages carry the request URL and account.
            status = getattr(exc, "status", None)
            log.warning(
                "Twilio token request failed (%s%s): handing out %s for %ss",
                type(exc).__name__,
                f", HTTP {status}" if status else "",
                "your TURN server's credentials" if self._turn else "the public STUN server",
                FALLBACK_TTL,
            )
            return self._fallback(), now + FALLBACK_TTL
        margin = min(EXPIRY_MARGIN, ttl / 10)
        return {"iceServers": servers, "source": "twilio", "ttl": ttl}, now + ttl - margin

    @staticmethod
    def _fallback() -> dict[str, Any]:
        return {
            "iceServers": [dict(s) for s in FALLBACK_SERVERS],
            "source": "fallback",
            "ttl": FALLBACK_TTL,
        }
