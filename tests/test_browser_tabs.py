"""Two tabs of one browser profile: they share the browser's six connections to the server.

The way most people first try the app. Each page holds at most one request open (the push
channel), so the tabs never wait on each other's held requests, and no control waits on the
network.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from harness.browser import Person
from tests.helpers import room_is_clear

pytestmark = pytest.mark.browser

HANG_UP_AND_READ_START = """
() => {
  document.getElementById("hangUpButton").click();
  return document.getElementById("startButton").disabled;
}
"""

STORM = """
(clicks) => {
  const start = document.getElementById("startButton");
  const hangUp = document.getElementById("hangUpButton");
  for (let i = 0; i < clicks; i++) {
    start.click();
    hangUp.click();
  }
  return start.disabled;
}
"""


class HeldRequests:
    """Counts, from outside the page, the requests it holds open: the long-polls."""

    def __init__(self, person: Person) -> None:
        self.open: set = set()
        self.most = 0
        person.page.on("request", self._sent)
        person.page.on("requestfinished", self._ended)
        person.page.on("requestfailed", self._ended)

    def _sent(self, request) -> None:
        url = urlsplit(request.url)
        if url.path == "/events" or "wait=" in url.query:
            self.open.add(request)
            self.most = max(self.most, len(self.open))

    def _ended(self, request) -> None:
        self.open.discard(request)


def connect(first: Person, second: Person) -> None:
    first.start()
    first.expect_state("waiting")
    second.start()
    first.expect_state("connected")
    second.expect_state("connected")


def test_two_tabs_call_five_times_and_hold_one_request_each(live_server, people):
    url = f"{live_server.url}/?room=tabs"
    alice = people(url)
    bob = people(url, tab_of=alice)
    held = [HeldRequests(person) for person in (alice, bob)]
    for n in range(5):
        first, second = (alice, bob) if n % 2 == 0 else (bob, alice)
        connect(first, second)
        first.send(f"call {n}")
        second.expect_chat(f"call {n}")
        second.expect_remote_video_playing()
        # Leave: Join is clickable again in the same task, before any request.
        assert first.page.evaluate(HANG_UP_AND_READ_START) is False
        second.expect_state("left", timeout=2000)
        first.expect_state("idle")
        expect(second.button("Join")).to_be_enabled()
    for count in held:
        assert count.most == 1, f"{count.most} requests held open at once"
        alice.wait_until(
            lambda count=count: not count.open, 2, "a request stayed held after hang-up"
        )
    alice.wait_until(lambda: room_is_clear(live_server, "tabs"), 3, "the room was not cleared")


def test_a_third_tab_of_the_same_browser_is_told_the_room_is_full(live_server, people):
    url = f"{live_server.url}/?room=full-tabs"
    alice = people(url)
    bob = people(url, tab_of=alice)
    carol = people(url, tab_of=alice)
    connect(alice, bob)
    carol.start()
    carol.expect_state("full")
    expect(carol.button("Join")).to_be_enabled()
    alice.send("still here")
    bob.expect_chat("still here")


def test_a_storm_of_start_and_hang_up_leaves_start_clickable_and_the_room_usable(
    live_server, people
):
    url = f"{live_server.url}/?room=storm"
    alice = people(url)
    bob = people(url, tab_of=alice)
    assert alice.page.evaluate(STORM, 8) is False
    alice.expect_state("idle")
    alice.wait_until(
        lambda: room_is_clear(live_server, "storm"), 3, "the storm left signals behind"
    )
    connect(bob, alice)
    alice.send("after the storm")
    bob.expect_chat("after the storm")
