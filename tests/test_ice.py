"""ICE servers from Twilio through a fake HTTP client, credentials for your own TURN server
from a shared secret, the public STUN fallback, and the order between them."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time

import pytest
from twilio.http.http_client import TwilioHttpClient

from flask_app import create_app
from harness.clock import FakeClock
from tests.fakes import SECRET, SID, FakeTwilio, twilio_token
from webrtc_signal import ConfigError, IceServers, Settings
from webrtc_signal.ice import FALLBACK_TTL, TurnSecret, normalise, stun_urls, turn_credentials


def test_token_is_fetched_normalised_and_cached(caplog):
    fake, clock = FakeTwilio((201, twilio_token(3600))), FakeClock(100.0)
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
        "iceTransportPolicy": "all",
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
    fake, clock = FakeTwilio(failure), FakeClock(100.0)
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
    fake, clock = FakeTwilio((503, {"message": "down"}), (201, twilio_token())), FakeClock(100.0)
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


# -- your own TURN server, from a shared secret ---------------------------------------------

TURN_SECRET = "north-wind-secret"
# base64(HMAC-SHA1(TURN_SECRET, "1700086400:webrtc-signal")), computed apart from Python:
#   printf %s 1700086400:webrtc-signal | openssl dgst -sha1 -hmac north-wind-secret -binary | base64
KNOWN_PASSWORD = "BkL2P82KJVu3nQPObxdCgBEaR/4="


def test_turn_password_is_base64_of_hmac_sha1_of_the_username():
    assert turn_credentials(TURN_SECRET, "1700086400:webrtc-signal") == KNOWN_PASSWORD


def test_turn_credentials_expire_ttl_seconds_from_now_with_a_name_of_their_own():
    turn = TurnSecret(
        ["turn:turn.example.org:3478", "turns:turn.example.org:5349?transport=tcp"],
        TURN_SECRET,
        ttl=600,
        clock=lambda: 1_700_000_000.7,
    )
    first, second = turn.get(), turn.get()
    assert first["source"] == "turn-secret"
    assert first["ttl"] == 600
    stun, *relays = first["iceServers"]
    assert stun == {"urls": "stun:turn.example.org:3478"}  # coturn answers STUN there too
    assert [r["urls"] for r in relays] == [
        "turn:turn.example.org:3478",
        "turns:turn.example.org:5349?transport=tcp",
    ]
    username = relays[0]["username"]
    expiry, _, name = username.partition(":")
    assert expiry == "1700000600"
    assert re.fullmatch(r"[A-Za-z0-9_-]{12}", name)
    assert relays[0]["credential"] == turn_credentials(TURN_SECRET, username)
    assert relays[1]["username"] == username
    assert relays[1]["credential"] == relays[0]["credential"]
    # Each answer has a name of its own: coturn's per-user quotas count calls, not everyone.
    assert second["iceServers"][1]["username"] != username


def test_stun_urls_come_from_plain_turn_urls_once_each():
    assert stun_urls(
        [
            "turn:a.example:3478?transport=udp",
            "turn:a.example:3478?transport=tcp",
            "turns:a.example:5349",
            "turn:[2001:db8::1]",
        ]
    ) == ["stun:a.example:3478", "stun:[2001:db8::1]"]


def turn_settings(**extra: str) -> Settings:
    return Settings.from_mapping(
        {"TURN_URLS": "turn:127.0.0.1:3478", "TURN_SECRET": TURN_SECRET, **extra}
    )


def test_settings_read_turn_urls_separated_by_spaces_or_commas():
    settings = Settings.from_mapping(
        {
            "TURN_URLS": "turn:a.example:3478?transport=udp, turns:a.example:5349  turn:[::1]",
            "TURN_SECRET": TURN_SECRET,
            "TURN_TTL": "3600",
        }
    )
    assert settings.turn_urls == (
        "turn:a.example:3478?transport=udp",
        "turns:a.example:5349",
        "turn:[::1]",
    )
    assert settings.turn_ttl == 3600
    assert settings.ice_transport_policy == "all"
    assert Settings.from_mapping({}).turn_ttl == 86400


URL = {"TURN_URLS": "turn:a.example"}
KEY = {"TURN_SECRET": TURN_SECRET}


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"TURN_URLS": "stun:a.example:3478", **KEY}, "'stun:a.example:3478' is not a TURN URL"),
        ({"TURN_URLS": "https://a.example", **KEY}, "is not a TURN URL"),
        ({"TURN_URLS": "turn:a.example:99999", **KEY}, "no valid port"),
        ({"TURN_URLS": "turn:a.example?transport=sctp", **KEY}, "is not a TURN URL"),
        (URL, "TURN_URLS is set but TURN_SECRET is not"),
        (KEY, "TURN_SECRET is set but TURN_URLS is not"),
        ({**URL, **KEY, "TURN_TTL": "a day"}, "TURN_TTL must be a number"),
        ({**URL, **KEY, "ICE_TRANSPORT_POLICY": "none"}, "must be all or relay"),
    ],
)
def test_bad_turn_settings_stop_start_up_without_showing_the_secret(mapping, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as raised:
        Settings.from_mapping(mapping)
    assert TURN_SECRET not in str(raised.value)


def test_relay_policy_without_any_turn_server_stops_start_up(store_url):
    with pytest.raises(ConfigError, match="ICE_TRANSPORT_POLICY=relay needs a TURN server"):
        create_app({"SIGNAL_STORE": store_url, "ICE_TRANSPORT_POLICY": "relay"})
    relay = Settings.from_mapping(
        {"ICE_TRANSPORT_POLICY": "Relay", "TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": SECRET}
    )
    assert relay.ice_transport_policy == "relay"


def ice_from(settings: Settings, twilio: FakeTwilio | None = None) -> IceServers:
    return IceServers.from_settings(settings, http_client=twilio)


def test_precedence_twilio_then_your_turn_server_then_public_stun(caplog):
    with_twilio = {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": SECRET}

    # Twilio's credentials win when Twilio answers...
    both = ice_from(turn_settings(**with_twilio), FakeTwilio((201, twilio_token())))
    assert both.get()["source"] == "twilio"
    # ...your own TURN server stands in while Twilio fails (fresh credentials each time)...
    failing = FakeTwilio((503, {"message": "down"}))
    with caplog.at_level(logging.WARNING):
        standing_in = ice_from(turn_settings(**with_twilio), failing)
        answers = [standing_in.get() for _ in range(3)]
    assert {a["source"] for a in answers} == {"turn-secret"}
    assert len({a["iceServers"][1]["username"] for a in answers}) == 3
    assert len(failing.requests) == 1  # Twilio's failure is remembered meanwhile
    assert "your TURN server" in caplog.text
    # ...and alone, it is the answer; with neither, the public STUN server.
    assert ice_from(turn_settings()).get()["source"] == "turn-secret"
    assert ice_from(Settings.from_mapping({})).get()["source"] == "fallback"
    failing_alone = ice_from(Settings.from_mapping(with_twilio), FakeTwilio((503, {})))
    assert failing_alone.get()["source"] == "fallback"


def test_every_answer_names_the_transport_policy():
    relay = ice_from(turn_settings(ICE_TRANSPORT_POLICY="relay")).get()
    assert relay["iceTransportPolicy"] == "relay"
    assert ice_from(turn_settings()).get()["iceTransportPolicy"] == "all"
    twilio = ice_from(
        turn_settings(
            ICE_TRANSPORT_POLICY="relay", TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN=SECRET
        ),
        FakeTwilio((201, twilio_token())),
    ).get()
    assert (twilio["source"], twilio["iceTransportPolicy"]) == ("twilio", "relay")


def test_the_turn_secret_never_shows(store_url, caplog):
    """Not in a repr, a log line, an answer or its headers; the answers are never cached."""
    settings = turn_settings(ICE_TRANSPORT_POLICY="relay")
    with caplog.at_level(logging.DEBUG):
        ice = IceServers.from_settings(settings)
        app = create_app(
            {
                "SIGNAL_STORE": store_url,
                "TURN_URLS": "turn:127.0.0.1:3478",
                "TURN_SECRET": TURN_SECRET,
                "ICE_TRANSPORT_POLICY": "relay",
            }
        )
        resp = app.test_client().get("/api/ice-servers")
    app.extensions["webrtc_signal"].store.close()
    assert resp.json["source"] == "turn-secret"
    assert resp.json["iceTransportPolicy"] == "relay"
    assert resp.headers["Cache-Control"] == "no-store"
    assert caplog.records, "nothing was logged: the test would prove nothing"
    texts = [
        repr(settings),
        repr(ice),
        repr(ice._turn),
        repr(app.extensions["ice_servers"].__dict__),
        caplog.text,
        resp.get_data(as_text=True),
        str(resp.headers),
    ]
    for text in texts:
        assert TURN_SECRET not in text
