"""Calls relayed by a real coturn (tests/coturn.py), forced with ICE_TRANSPORT_POLICY=relay.

Both people's media goes through turnserver on loopback: the page only gets relay candidates,
so a call that connects proves the credentials /api/ice-servers made are the ones coturn
takes, and one whose server has another secret cannot connect at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from flask_app import create_app
from tests.coturn import TurnServer
from tests.helpers import LiveServer

pytestmark = pytest.mark.browser

# What a call gets when coturn refuses the credentials: Chromium gathers no relay candidate at
# all, so there is nothing to check; its connection stays "new" (it never fails) and the page
# keeps "connecting". After gathering is over, watch it this long.
STILL_NOT_CONNECTED_S = 3
GATHERING_DONE = """
() => {
  const pc = window.videoChat.call && window.videoChat.call.pc;
  return Boolean(pc && pc.iceGatheringState === "complete");
}
"""
PC_STATE = "() => window.videoChat.call.pc.connectionState"


def relay_server(tmp_path, turn: TurnServer, secret: str) -> LiveServer:
    app = create_app(
        {
            "TESTING": True,
            "SIGNAL_STORE": f"sqlite:///{tmp_path / 'signal.sqlite'}",
            "TURN_URLS": turn.url,
            "TURN_SECRET": secret,
            "ICE_TRANSPORT_POLICY": "relay",
        }
    )
    return LiveServer(app).start()


@pytest.fixture
def relayed(tmp_path, turn_server) -> Iterator[LiveServer]:
    """A live server handing out credentials for the session's coturn, relay only."""
    server = relay_server(tmp_path, turn_server, turn_server.secret)
    yield server
    server.stop()
    server.app.extensions["webrtc_signal"].store.close()


@pytest.fixture
def wrong_secret(tmp_path, turn_server) -> Iterator[LiveServer]:
    """The same, with a TURN_SECRET that is not coturn's."""
    server = relay_server(tmp_path, turn_server, "not-" + turn_server.secret)
    yield server
    server.stop()
    server.app.extensions["webrtc_signal"].store.close()


def test_a_call_relayed_by_coturn(relayed, turn_server, people):
    url = f"{relayed.url}/?room=relayed"
    alice, bob = people(url), people(url)
    alice.start()
    alice.expect_state("waiting")
    bob.start()
    alice.expect_state("connected", timeout=15_000)
    bob.expect_state("connected", timeout=15_000)

    for person in (alice, bob):
        [config] = person.probe("configs")
        assert config["iceTransportPolicy"] == "relay"
        relay = [s for s in config["iceServers"] if s["urls"] == turn_server.url]
        assert relay, config
        assert re.fullmatch(r"\d+:[\w-]+", relay[0]["username"])
        # Only relay candidates went through the signaling server.
        for candidate in person.probe("candidates"):
            assert " typ relay " in candidate, candidate
        person.expect_remote_video_playing()
        expect(person.page.locator("#statRoute")).to_have_text(
            re.compile(r"^relayed \(TURN\)"), timeout=5000
        )
    alice.send("through the relay")
    bob.expect_chat("through the relay")
    bob.send("and back")
    alice.expect_chat("and back")

    alice.hang_up()
    bob.expect_state("left", timeout=2000)


def test_a_wrong_turn_secret_never_connects(wrong_secret, people):
    url = f"{wrong_secret.url}/?room=refused"
    alice, bob = people(url), people(url)
    alice.start()
    alice.expect_state("waiting")
    bob.start()
    bob.expect_state("connecting")
    for person in (alice, bob):
        person.page.wait_for_function(GATHERING_DONE, timeout=10_000)
    alice.pause(STILL_NOT_CONNECTED_S)
    for person in (alice, bob):
        assert person.state() in ("waiting", "connecting")
        assert person.page.evaluate(PC_STATE) == "new"
    assert alice.probe("candidates") == bob.probe("candidates") == []
    for person in (alice, bob):
        expect(person.page.locator("#statRoute")).to_have_text("\N{EN DASH}")
        person.hang_up()
        person.expect_state("idle")
