"""A client that speaks only the seed's messages (tests/seed_client.py, aiortc) calls the page.

In the default mode the seed client opens the call (its offer keeps the room open to it);
with SIGNAL_OPEN_ROOMS it can also answer the page's offer. Video reaches the page, and chat
goes both ways as plain text.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from flask_app import create_app
from harness.browser import Person
from tests.helpers import LiveServer, room_is_clear
from tests.seed_client import SeedClient

pytestmark = pytest.mark.browser


@pytest.fixture
def open_server(tmp_path) -> Iterator[LiveServer]:
    """A live server with SIGNAL_OPEN_ROOMS on."""
    app = create_app(
        {
            "TESTING": True,
            "SIGNAL_STORE": f"sqlite:///{tmp_path / 'open.sqlite'}",
            "SIGNAL_OPEN_ROOMS": "1",
        }
    )
    server = LiveServer(app).start()
    yield server
    server.stop()
    app.extensions["webrtc_signal"].store.close()


@pytest.fixture
def seeds() -> Iterator[list[SeedClient]]:
    made: list[SeedClient] = []
    yield made
    for seed in made:
        seed.pause = time.sleep  # the pages are closed by now (see below): nothing to serve
        seed.close()


def chat_both_ways(page: Person, seed: SeedClient) -> None:
    page.expect_state("connected", timeout=15_000)
    page.wait_until(seed.connected.is_set, 5, "the seed client never connected")
    page.expect_remote_video_playing()
    seed.send("hello from the seed <b>client</b>")
    page.expect_chat("hello from the seed <b>client</b>")
    page.send("hi, seed")
    page.wait_until(lambda: "hi, seed" in seed.received, 5, "the seed client got no chat")
    assert seed.received == ["hi, seed"]  # plain text, as it sends its own


# `seeds` comes before `people` in each test's arguments: the seed clients close (and wait
# for their hang-up) after the pages are closed, so no page is left stalled meanwhile.


def test_a_seed_client_offers_and_the_page_answers(live_server, seeds, people):
    page = people(f"{live_server.url}/?room=seed-first")
    seed = SeedClient(live_server.url, "seed-first", pause=page.pause)
    seeds.append(seed)
    seed.call_as_initiator()
    page.start()
    chat_both_ways(page, seed)

    # An outsider's page cannot join that call; the seed client's hang-up ends it.
    outsider = people(f"{live_server.url}/?room=seed-first")
    outsider.start()
    outsider.expect_state("full")
    assert seed.hang_up() >= 0
    page.expect_state("left", timeout=5_000)
    page.wait_until(lambda: room_is_clear(live_server, "seed-first"), 3, "the room was not cleared")


def test_by_default_a_seed_client_cannot_answer_the_pages_offer(live_server, people):
    """What the default gives up: a room our page opened stays private, even to a seed
    client that wants to answer."""
    page = people(f"{live_server.url}/?room=private")
    page.start()
    page.expect_state("waiting")
    answer = httpx.get(f"{live_server.url}/signal", params={"room": "private", "type": "offer"})
    assert answer.status_code == 403
    assert answer.json()["error"] == "not_a_member"


def test_with_open_rooms_a_seed_client_calls_in_both_roles(open_server, seeds, people):
    # The page offers, the seed client answers.
    page = people(f"{open_server.url}/?room=open")
    page.start()
    page.expect_state("waiting")
    seed = SeedClient(open_server.url, "open", pause=page.pause)
    seeds.append(seed)
    seed.call_as_receiver()
    chat_both_ways(page, seed)
    page.hang_up()
    page.expect_state("idle")
    page.wait_until(seed.closed.is_set, 5, "the seed client did not see the page hang up")

    # The seed client offers, the page answers.
    other = people(f"{open_server.url}/?room=open-again")
    again = SeedClient(open_server.url, "open-again", pause=other.pause)
    seeds.append(again)
    again.call_as_initiator()
    other.start()
    chat_both_ways(other, again)
