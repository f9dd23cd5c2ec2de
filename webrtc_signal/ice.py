"""ICE servers for ``new RTCPeerConnection({iceServers})``: Twilio tokens or public STUN."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from .settings import Settings

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


class IceServers:
    """Hands out ICE servers, fetching and caching a Twilio Network Traversal token if it can.

    ``http_client`` is a ``twilio.http.HttpClient``; tests pass a fake one. Without
    credentials, or when Twilio fails or times out, the answer is the public STUN fallback.
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
    ) -> None:
        self._client = None
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
        else:
            log.warning(
                "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not both set: handing out only "
                "the public STUN server, so calls across strict NATs may fail"
            )

    @classmethod
    def from_settings(cls, settings: Settings, http_client: Any = None) -> IceServers:
        """ICE servers from the Twilio settings; ``http_client`` replaces Twilio's in tests."""
        return cls(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            token_ttl=settings.ice_token_ttl,
            timeout=settings.twilio_timeout,
            http_client=http_client,
        )

    @property
    def configured(self) -> bool:
        """True when Twilio credentials were given."""
        return self._client is not None

    def get(self) -> dict[str, Any]:
        """``{"iceServers": [...], "source": "twilio"|"fallback", "ttl": seconds}``."""
        if self._client is None:
            return self._fallback()
        with self._lock:
            now = self._clock()
            if self._cached is None or now >= self._expires:
                self._cached, self._expires = self._fetch(now)
            answer = dict(self._cached)
            if answer["source"] == "twilio":
                answer["ttl"] = max(0, round(self._expires - now))
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
                "Twilio token request failed (%s%s): handing out the public STUN server for %ss",
                type(exc).__name__,
                f", HTTP {status}" if status else "",
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
