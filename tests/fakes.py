"""Fakes for the edges: Twilio's HTTP API."""

from __future__ import annotations

import json
import logging

from twilio.http import HttpClient
from twilio.http.response import Response

SID = "AC" + "1" * 32
SECRET = "s3cr3t-auth-token-value"


def twilio_token(ttl: int = 3600) -> dict:
    """A Network Traversal token as Twilio's API returns it (legacy "url" keys included)."""
    return {
        "account_sid": SID,
        "ttl": str(ttl),
        "username": "tok-user",
        "password": "tok-pass",
        "date_created": "Fri, 27 Nov 2026 10:00:00 +0000",
        "date_updated": "Fri, 27 Nov 2026 10:00:00 +0000",
        "ice_servers": [
            {"url": "stun:global.stun.twilio.com:3478", "urls": "stun:global.stun.twilio.com:3478"},
            {
                "url": "turn:global.turn.twilio.com:3478?transport=udp",
                "urls": "turn:global.turn.twilio.com:3478?transport=udp",
                "username": "tok-user",
                "credential": "tok-pass",
            },
            {
                "url": "turn:global.turn.twilio.com:443?transport=tcp",
                "username": "u",
                "credential": "c",
            },
        ],
    }


class FakeTwilio(HttpClient):
    """Twilio's HTTP edge, answered in-process: records requests, plays back responses."""

    def __init__(self, *responses) -> None:
        super().__init__(logging.getLogger("fake-twilio"), is_async=False, timeout=None)
        self.responses = list(responses)
        self.requests: list[dict] = []

    def request(self, method, uri, params=None, data=None, headers=None, auth=None, **kw):
        self.requests.append({"method": method, "uri": uri, "data": data, "auth": auth, **kw})
        answer = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        return Response(status, json.dumps(body))
