"""Fixtures: the app on a fresh store, its test client and CLI runner, a live server, a
redis-server and a coturn for the session, and people in headless Chromium.

Fixtures only; what they are made of is in tests/helpers.py and the harness package.
Playwright is imported by the browser fixtures alone, so a test without a browser needs none.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from flask_app import create_app
from harness.redis_server import RedisServer
from tests.coturn import TurnServer, TurnServerMissing
from tests.helpers import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from harness.browser import Person


@pytest.fixture
def store_url(tmp_path) -> str:
    """A fresh sqlite store (the embedded default) in the test's own folder."""
    return f"sqlite:///{tmp_path / 'signal.sqlite'}"


@pytest.fixture
def app(store_url):
    """The app on a fresh store, with no Twilio credentials."""
    app = create_app({"TESTING": True, "SIGNAL_STORE": store_url})
    yield app
    app.extensions["webrtc_signal"].store.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    """A real HTTP server on a free loopback port, on the app's fresh store."""
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the session; tests flush it through `redis_url`."""
    server = RedisServer().start()  # a missing redis-server fails, never skips
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server) -> str:
    """The URL of an empty Redis database."""
    import redis

    with redis.Redis.from_url(redis_server.url) as client:
        client.flushdb()
    return redis_server.url


@pytest.fixture(scope="session")
def turn_server(tmp_path_factory) -> Iterator[TurnServer]:
    """One coturn turnserver for the session, on free loopback ports, with a random shared
    secret (``turn_server.secret``); a missing turnserver fails, never skips."""
    try:
        server = TurnServer(tmp_path_factory.mktemp("coturn"), secrets.token_urlsafe(18))
        server.start()
    except TurnServerMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


# -- browsers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole module; each person gets a context of their own."""
    from playwright.sync_api import sync_playwright

    from harness.browser import CHROMIUM, launch_chromium

    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (`make browser`) to run the "
            "browser tests",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def people(browser) -> Iterator[Callable[..., Person]]:
    """Open people (contexts) on demand, or tabs of one (``tab_of``); at the end, no page may
    have thrown or broken CSP."""
    from harness.browser import open_person

    opened: list[Person] = []

    def open_(url: str, tab_of: Person | None = None, **options) -> Person:
        person = tab_of.open_tab(url) if tab_of else open_person(browser, url, **options)
        opened.append(person)
        return person

    yield open_
    violations = []
    for person in opened:
        if not (person.crashed or person.page.is_closed()):
            violations += person.probe("csp")
    for person in opened:
        person.close()
    assert [error for person in opened for error in person.errors] == []
    assert violations == []


# The longest modules, longest first (`--durations` here: the page tests about 200 s on a
# loaded machine, the soak 100, the bench smoke tests 90, the Firefox calls 85): `make test`
# runs the suite on two workers, a module each at a time, and a run that kept these for
# last would end with one worker waiting on them alone.
LONGEST_FIRST = ("test_browser.py", "test_soak.py", "test_bench.py", "test_firefox.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the longest modules first, in LONGEST_FIRST's order (the rest keep theirs)."""
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
