"""A call survives its signaling server being killed and started again on the same port.

The server runs in its own process (tests/helpers.py, AppProcess) so it can die as a crash
would. The call's media and chat go peer to peer, so they keep flowing; the pages' push
channels retry, enter the room again and go on: nothing alarming is shown, and afterwards the
room knows both members and signaling works again (an ICE restart goes through it). With the
same sqlite store it is down longer than the peer timeout (the members expired); with
memory:// everything was forgotten. Recovery times are printed (pytest -s).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.helpers import AppProcess
from tests.recovery import (
    chat_both_ways,
    local_ufrags,
    report,
    restarted,
    server_outage,
    shown,
    start_call,
    wait_connected,
    wait_for,
)

pytestmark = pytest.mark.browser

# Members of a room count as gone after this many seconds of silence; the outage is longer.
PEER_TIMEOUT_S = 4
RESTART_S = 10


@pytest.fixture
def serve() -> Iterator[Callable[..., AppProcess]]:
    """Start the app in its own process on a store; stopped at the end."""
    started: list[AppProcess] = []

    def start(store_url: str, **settings: str) -> AppProcess:
        app = AppProcess(store_url, **settings).start()
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()


@pytest.mark.parametrize(("store", "down_s"), [("sqlite", 12), ("memory", 3)])
def test_a_call_survives_a_server_restart(tmp_path, serve, people, store, down_s):
    """Killed mid-call, back after ``down_s`` on the same port: the call never looked
    interrupted, both pages are in the room again by themselves, and signaling works (an ICE
    restart and a hang-up go through it)."""
    store_url = f"sqlite:///{tmp_path / 'signal.sqlite'}" if store == "sqlite" else "memory://"
    app = serve(store_url, SIGNAL_PEER_TIMEOUT=str(PEER_TIMEOUT_S))
    room = f"restart-{store}"
    alice, bob = people(f"{app.url}/?room={room}"), people(f"{app.url}/?room={room}")
    start_call(alice, bob)
    chat_both_ways(alice, bob, "before")

    took = server_outage(app, alice, bob, room, down_s)
    report(f"server restart ({store}, down {down_s} s) -> both in the room", took)

    for person in (alice, bob):
        person.expect_state("connected")
        person.expect_remote_video_playing()
        assert "before: there" in person.chat_texts()
    chat_both_ways(alice, bob, "after the restart")
    # Signaling goes through the restarted server: an ICE restart gets new credentials.
    before = local_ufrags(alice, bob)
    alice.page.evaluate("videoChat.call.restartIce()")
    wait_for(
        alice,
        lambda: restarted(alice, bob, before),
        RESTART_S,
        lambda: f"no ICE restart through the restarted server: {shown(alice)} / {shown(bob)}",
    )
    wait_connected(alice, bob, RESTART_S, "after an ICE restart through the restarted server")
    assert app.waiting(room) == 2

    alice.hang_up()
    alice.expect_state("idle")
    bob.expect_state("left", timeout=5_000)
