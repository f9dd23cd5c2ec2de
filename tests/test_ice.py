"""ICE servers from Twilio through a fake HTTP client, and the public STUN fallback."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest
from twilio.http.http_client import TwilioHttpClient

from tests.fakes import SECRET, SID, FakeTwilio, twilio_token
from webrtc_signal import IceServers
from webrtc_signal.ice import FALLBACK_TTL, normalise


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_is_fetched_normalised_and_cached(caplog):
    fake, clock = FakeTwilio((201, twilio_token(3600))), Clock()
    ice = IceServers(SID, SECRET, token_ttl=3600, http_client=fake, clock=clock)
    answer = ice.get()
    assert answer["source"] == "twilio"
    assert answer["ttl"] == 3540  # handed out until 60 s before the token expires
    assert answer["iceServers"] == [
        {"urls": "stun:global.stun.twilio.com:3478"},
        {
            "urls": "turn:global.turn.twilio.com:3478?transport=udp",
            "username": "tok-user",
            "credential": "tok-pass",
        },
        {
            "urls": "turn:global.turn.twilio.com:443?transport=tcp",
            "username": "u",
            "credential": "c",
        },
    ]
    [request] = fake.requests
    assert request["method"] == "POST"
    assert request["uri"].endswith(f"/Accounts/{SID}/Tokens.json")
    assert request["data"] == {"Ttl": 3600}

    clock.now += 3000
    assert ice.get()["ttl"] == 540
    assert len(fake.requests) == 1  # still cached
    clock.now += 540
    ice.get()
    assert len(fake.requests) == 2  # refreshed shortly before it expired


def test_no_credentials_falls_back_with_one_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="webrtc_signal.ice"):
        ice = IceServers(None, None)
        answers = [ice.get() for _ in range(3)]
    assert answers[0] == {
        "iceServers": [{"urls": "stun:stun.l.google.com:19302"}],
        "source": "fallback",
        "ttl": FALLBACK_TTL,
    }
    assert answers[0] == answers[2]
    assert len(caplog.records) == 1


@pytest.mark.parametrize(
    "failure",
    [
        (401, {"code": 20003, "message": f"Authenticate {SECRET}", "status": 401}),
        (500, {"message": "boom"}),
        (201, {"ttl": "3600", "ice_servers": []}),
        TimeoutError("read timed out"),
        ConnectionError("refused"),
    ],
)
def test_twilio_failure_falls_back_logs_once_and_never_the_secret(caplog, failure):
    fake, clock = FakeTwilio(failure), Clock()
    ice = IceServers(SID, SECRET, http_client=fake, clock=clock)
    with caplog.at_level(logging.DEBUG):
        answers = [ice.get() for _ in range(5)]
    assert {a["source"] for a in answers} == {"fallback"}
    assert answers[0]["iceServers"] == [{"urls": "stun:stun.l.google.com:19302"}]
    assert len(fake.requests) == 1  # not retried on every request
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert SECRET not in caplog.text
    assert "tok-pass" not in caplog.text


def test_twilio_is_tried_again_after_a_failure(caplog):
    fake, clock = FakeTwilio((503, {"message": "down"}), (201, twilio_token())), Clock()
    ice = IceServers(SID, SECRET, http_client=fake, clock=clock)
    assert ice.get()["source"] == "fallback"
    clock.now += FALLBACK_TTL
    assert ice.get()["source"] == "twilio"


def test_the_http_timeout_reaches_twilios_client():
    ice = IceServers(SID, SECRET, timeout=2.5)
    assert ice._client.http_client.timeout == 2.5


def test_normalise_drops_entries_without_urls():
    assert normalise([{"username": "x"}, {"url": "stun:a"}]) == [{"urls": "stun:a"}]


def test_a_silent_twilio_costs_one_timeout_then_falls_back(caplog):
    """Twilio's real HTTP client, through a proxy on loopback that never answers."""
    silent = socket.create_server(("127.0.0.1", 0))
    held = []
    stop = threading.Event()

    def accept() -> None:
        silent.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])  # hold the connection, say nothing
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    proxy = f"http://127.0.0.1:{silent.getsockname()[1]}"
    http = TwilioHttpClient(timeout=0.5, proxy={"https": proxy, "http": proxy})
    ice = IceServers(SID, SECRET, http_client=http)
    try:
        start = time.monotonic()
        first = ice.get()
        took = time.monotonic() - start
        start = time.monotonic()
        second = ice.get()
        cached = time.monotonic() - start
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        silent.close()
    assert first["source"] == second["source"] == "fallback"
    assert took < 3  # the 0.5 s timeout, not a hang
    assert cached < 0.1  # the failure is remembered: no second wait
    assert SECRET not in caplog.text
