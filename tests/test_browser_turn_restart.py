"""Relayed calls that survive: coturn killed mid-call and started again on the same ports.

Every call here goes through a coturn of its own (tests/coturn.py), forced with
ICE_TRANSPORT_POLICY=relay, so killing coturn cuts the media path. The pages notice, show
"Reconnecting…" with the seconds elapsed, and restart ICE with backoff; once coturn is back
they are connected again within 5 s with no click, the chat so far still on screen. The
signaling server runs in its own process (tests/helpers.py, AppProcess) with the TURN
settings in its environment, so one test also kills and restarts it, then reloads a page.
Without coturn coming back the pages give up after a minute. Recovery times are printed
(pytest -s).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from harness.browser import Person
from tests.coturn import TurnServer, TurnServerMissing
from tests.helpers import AppProcess
from tests.recovery import (
    OVER,
    RECONNECTING,
    RECONNECTING_TEXT,
    chat_both_ways,
    expect_reconnecting,
    link,
    now_ms,
    report,
    server_outage,
    shown,
    start_call,
    states_since,
    wait_connected,
    wait_for,
)

pytestmark = pytest.mark.browser

PEER_TIMEOUT_S = 4
SERVER_DOWN_S = 12  # longer than the peer timeout: the members expire meanwhile
# Both pages connected again within this many seconds of coturn's return (the page's backoff
# waits at most about 3 s between tries).
BACK_WITHIN_S = 5
# How long to watch for it before failing, so a slow recovery is measured and reported.
WATCH_S = 30
RELOAD_S = 15
# The page gives up after a minute of trying; a margin either side for when it started
# counting (the drop is noticed a few seconds after coturn dies).
GIVE_UP_S = (50, 80)


@pytest.fixture
def turn(tmp_path) -> Iterator[TurnServer]:
    """A coturn of this test's own (it gets killed), on free loopback ports."""
    folder = tmp_path / "coturn"
    folder.mkdir()
    server = TurnServer(folder, secrets.token_urlsafe(18))
    try:
        server.start()
    except TurnServerMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


def serve(tmp_path, turn: TurnServer, **settings: str) -> AppProcess:
    """The app in its own process on a sqlite store, handing out credentials for ``turn``,
    relay only."""
    return AppProcess(
        f"sqlite:///{tmp_path / 'signal.sqlite'}",
        TURN_URLS=turn.url,
        TURN_SECRET=turn.secret,
        ICE_TRANSPORT_POLICY="relay",
        **settings,
    ).start()


@pytest.fixture
def app(tmp_path, turn) -> Iterator[AppProcess]:
    """The app with its default peer timeout: on a busy machine a page's push channel may
    come late, and a short timeout would count its person gone in the middle of a test."""
    served = serve(tmp_path, turn)
    yield served
    served.stop()


@pytest.fixture
def forgetful_app(tmp_path, turn) -> Iterator[AppProcess]:
    """The app with a short peer timeout, so an outage of the server outlasts it."""
    served = serve(tmp_path, turn, SIGNAL_PEER_TIMEOUT=str(PEER_TIMEOUT_S))
    yield served
    served.stop()


def relayed_call(app: AppProcess, people, room: str) -> tuple[Person, Person]:
    """Alice and Bob connected through the relay, a chat message each way."""
    url = f"{app.url}/?room={room}"
    alice, bob = people(url), people(url)
    start_call(alice, bob)
    for person in (alice, bob):
        assert person.probe("configs")[0]["iceTransportPolicy"] == "relay"
        expect(person.page.locator("#statRoute")).to_have_text(
            re.compile(r"^relayed \(TURN\)"), timeout=5000
        )
    chat_both_ways(alice, bob, "before the outage")
    return alice, bob


def only_relayed(person: Person) -> None:
    """Every candidate the page was given is a relay's."""
    candidates = [c for c in person.probe("candidates") if c]
    assert candidates and all(" typ relay " in c for c in candidates), candidates


def turn_outage(turn: TurnServer, alice: Person, bob: Person) -> float:
    """Kill coturn mid-call; both pages show they are reconnecting, the seconds counting up;
    start coturn again on the same ports. The seconds from its return until both are
    connected to each other again (asserted within BACK_WITHIN_S)."""
    turn.kill()
    counted = [expect_reconnecting(person, timeout=20_000) for person in (alice, bob)]
    alice.page.wait_for_timeout(2_500)
    for person, first in zip((alice, bob), counted, strict=True):
        later = expect_reconnecting(person, timeout=1_000)
        assert later > first, f"the seconds did not count up: {first} then {later}"
    turn.start()
    took = wait_connected(alice, bob, WATCH_S, "after coturn came back")
    report("coturn back -> both connected", took)
    assert took <= BACK_WITHIN_S, f"connected again {took:.1f} s after coturn came back"
    return took


def test_a_relayed_call_survives_a_turn_restart(app, turn, people):
    """coturn killed mid-call and back on the same ports: both connected again within 5 s
    with no click, the earlier chat still shown, chat both ways, video plays."""
    alice, bob = relayed_call(app, people, "turn-restart")
    since = now_ms()
    turn_outage(turn, alice, bob)
    for person in (alice, bob):
        assert {"before the outage: there", "before the outage: and back"} <= set(
            person.chat_texts()
        )
    chat_both_ways(alice, bob, "after the outage")
    for person in (alice, bob):
        person.expect_remote_video_playing()
        only_relayed(person)
        assert set(states_since(person, since)) == {RECONNECTING, "connected"}, person.probe(
            "states"
        )


def test_a_relayed_call_survives_server_and_turn_restarts_and_a_reload(forgetful_app, turn, people):
    """The signaling server killed for longer than the peer timeout and started again on the
    same port and store, then coturn killed and started again, then Bob reloads: each time
    both are connected again with no click."""
    app, room = forgetful_app, "everything-restarts"
    alice, bob = relayed_call(app, people, room)

    took = server_outage(app, alice, bob, room, SERVER_DOWN_S)
    report(f"server restart (down {SERVER_DOWN_S} s) -> both in the room", took)

    turn_outage(turn, alice, bob)
    chat_both_ways(alice, bob, "after the relay's return")

    history = alice.chat_texts()
    since = now_ms()
    bob.page.reload()
    took = wait_connected(alice, bob, RELOAD_S, "after Bob's reload")
    report("reload (relayed, after both restarts) -> both connected", took)
    assert not set(states_since(alice, since)) & OVER, alice.probe("states")
    assert alice.chat_texts()[: len(history)] == history
    chat_both_ways(bob, alice, "after the reload")
    for person in (alice, bob):
        person.expect_remote_video_playing()
        only_relayed(person)
    assert app.waiting(room) == 2


def test_without_the_relay_the_page_gives_up_after_a_minute(app, turn, people):
    """coturn killed and not back: after about a minute of trying, each page says so and
    offers Join again; with coturn back, a new call connects. Each page counts its minute
    from when it noticed the drop: one that hears first that the other gave up (and left)
    waits in the room for them instead, as for a partner who closed the tab."""
    alice, bob = relayed_call(app, people, "turn-gone")
    turn.kill()
    for person in (alice, bob):
        expect_reconnecting(person, timeout=20_000)
    for person in (alice, bob):
        wait_for(
            person,
            lambda person=person: gave_up(person) or waits_for_partner(person),
            GIVE_UP_S[1],
            lambda person=person: (
                f"no Join after {GIVE_UP_S[1]} s: {shown(person)}, "
                f"{person.probe('states')[-4:]}, {link(person)}"
            ),
        )
    stopped = []  # when each stopped reconnecting (ms)
    for person in (alice, bob):
        states = person.probe("states")
        began = next(s["at"] for s in states if s["state"] == RECONNECTING)
        ended = next(s for s in states if s["at"] > began and s["state"] != RECONNECTING)
        stopped.append(ended["at"])
        report(
            "gave up after" if gave_up(person) else "partner left after",
            (ended["at"] - began) / 1000,
        )
        assert GIVE_UP_S[0] <= (ended["at"] - began) / 1000 <= GIVE_UP_S[1], states
        text = person.status.text_content() or ""
        assert text.strip() and not RECONNECTING_TEXT.match(text), shown(person)
        if gave_up(person):
            assert ended["state"] not in ("connected", "connecting", "waiting"), states
            expect(person.button("Leave")).to_be_hidden()
    waiting = [n for n, person in enumerate((alice, bob)) if not gave_up(person)]
    assert len(waiting) <= 1, "neither page gave up"
    for n in waiting:
        assert stopped[1 - n] <= stopped[n], "it waited before the other gave up"

    turn.start()
    if waiting:
        # The one waiting is in the room already: the other joins it.
        first, second = (alice, bob) if waiting == [0] else (bob, alice)
        second.start()
        for person in (first, second):
            person.expect_state("connected", 15_000)
            person.expect_remote_video_playing()
    else:
        start_call(alice, bob)
    chat_both_ways(alice, bob, "a new call")


def gave_up(person: Person) -> bool:
    """The page ended the call and offers Join again."""
    return person.button("Join").is_visible() and person.button("Join").is_enabled()


def waits_for_partner(person: Person) -> bool:
    """The page waits in the room for the other person, who left."""
    return person.status.get_attribute("data-state") == "waiting" and "left" in (
        person.status.text_content() or ""
    )
