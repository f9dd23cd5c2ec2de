"""Who is in the room, shown before a call: GET /waiting, asked every few seconds while the
page is not in a call, and not at all during one."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from harness.browser import Person

pytestmark = pytest.mark.browser

# The page asks every 3 s: a change shows within that, plus the request.
SHOWN_WITHIN = 8_000


def waiting_requests(person: Person) -> list[str]:
    """Start recording the page's GET /waiting requests."""
    seen: list[str] = []

    def record(request) -> None:
        if urlsplit(request.url).path == "/waiting":
            seen.append(request.url)

    person.page.on("request", record)
    return seen


def test_the_page_shows_who_is_waiting_before_a_call(live_server, people):
    url = f"{live_server.url}/?room=who"
    bob = people(url)
    waiting = bob.page.locator("#waiting")
    expect(waiting).to_be_hidden()  # nobody there

    alice = people(url)
    alice.start()
    alice.expect_state("waiting")
    expect(waiting).to_be_visible(timeout=SHOWN_WITHIN)
    expect(waiting).to_have_text("Someone is waiting for you in this room.")
    expect(alice.page.locator("#waiting")).to_be_hidden()  # not herself, in her call

    alice.hang_up()
    alice.expect_state("idle")
    expect(waiting).to_be_hidden(timeout=SHOWN_WITHIN)
    expect(alice.page.locator("#waiting")).to_be_hidden()

    # In a call the page stops asking; a third person sees the call.
    alice.start()
    alice.expect_state("waiting")
    expect(waiting).to_be_visible(timeout=SHOWN_WITHIN)
    asked = waiting_requests(bob)
    bob.start()
    bob.expect_state("connected")
    expect(waiting).to_be_hidden()
    carol = people(url)
    expect(carol.page.locator("#waiting")).to_have_text(
        "Two people are already in a call here.", timeout=SHOWN_WITHIN
    )
    asked.clear()
    bob.page.wait_for_timeout(4000)  # Playwright's own wait: requests are recorded meanwhile
    assert asked == []

    # After the call, it asks again (and nobody is left).
    alice.hang_up()
    bob.expect_state("left", timeout=2000)
    bob.page.wait_for_event("request", lambda r: urlsplit(r.url).path == "/waiting", timeout=5000)
    expect(waiting).to_be_hidden()
    expect(carol.page.locator("#waiting")).to_be_hidden(timeout=SHOWN_WITHIN)


def test_a_room_name_that_is_not_valid_asks_nothing(live_server, people):
    person = people(f"{live_server.url}/?room=no%20spaces%21", expect_idle=False)
    asked = waiting_requests(person)
    person.page.reload()
    person.expect_state("error")
    person.page.wait_for_timeout(3500)
    assert asked == []
    expect(person.page.locator("#waiting")).to_be_hidden()
