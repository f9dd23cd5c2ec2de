"""The page in real headless Chromium: two browser contexts are two people in one room.

Every page here runs under a strict Content-Security-Policy (see harness/browser.py), and a
test fails if a page throws an uncaught error or violates the policy.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from flask_app import create_app
from harness.browser import CHROMIUM, Person
from tests.helpers import LiveServer, app_process, room_is_clear, room_state

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
SHORT_PEER_TIMEOUT = 3


@pytest.fixture
def short_timeout_server(tmp_path) -> Iterator[LiveServer]:
    """A live server whose peers count as gone after SHORT_PEER_TIMEOUT silent seconds."""
    app = create_app(
        {
            "TESTING": True,
            "SIGNAL_STORE": f"sqlite:///{tmp_path / 'signal.sqlite'}",
            "SIGNAL_PEER_TIMEOUT": SHORT_PEER_TIMEOUT,
        }
    )
    server = LiveServer(app).start()
    yield server
    server.stop()
    app.extensions["webrtc_signal"].store.close()


def room_url(server: LiveServer, room: str) -> str:
    return f"{server.url}/?room={room}"


def connect(first: Person, second: Person, timeout: float = 10_000) -> None:
    """``first`` starts and waits, ``second`` starts; both end up connected."""
    first.start()
    first.expect_state("waiting")
    expect(first.status).to_contain_text("Waiting")
    second.start()
    first.expect_state("connected", timeout)
    second.expect_state("connected", timeout)


def expect_idle_controls(person: Person) -> None:
    """Not in a call: Join is there and enabled, Leave is not shown."""
    expect(person.button("Join")).to_be_enabled()
    expect(person.button("Leave")).to_be_hidden()


def test_chromium_is_installed():
    """The browser tests need Debian's Chromium: a missing one is a failure, never a skip."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: install Debian's chromium"


def test_call_video_chat_controls_and_hang_up(live_server, people):
    """Two people connect, see each other, chat, mute, switch the camera, then one hangs up."""
    url = room_url(live_server, "call")
    alice = people(url)
    bob = people(url, viewport=PHONE)
    expect_idle_controls(alice)

    connect(alice, bob)
    expect(alice.status).to_contain_text("Connected")
    for person in (alice, bob):
        expect(person.button("Join")).to_be_hidden()  # no disabled Join in a call
        expect(person.button("Leave")).to_be_enabled()
        person.expect_remote_video_playing()
        assert person.page.evaluate("document.getElementById('localVideo').videoWidth") > 0

    # ICE servers come from /api/ice-servers.
    ice = live_server.request("GET", "/api/ice-servers")[1]
    assert alice.probe("configs")[-1]["iceServers"] == ice["iceServers"]
    assert bob.probe("configs")[-1]["iceServers"] == ice["iceServers"]

    # Chat both ways; markup arrives as text, and a plain-text message is shown as it came.
    alice.send("Hello Bob <img src=x>")
    bob.expect_chat("Hello Bob <img src=x>")
    bob.send("Hi Alice & <b>all</b>")
    alice.expect_chat("Hi Alice & <b>all</b>")
    bob.page.evaluate("videoChat.call.dc.send('plain <i>text</i> from another client')")
    alice.expect_chat("plain <i>text</i> from another client")
    assert alice.page.locator("#chatLog img, #chatLog b, #chatLog i").count() == 0
    assert alice.chat_texts() == [
        "Hello Bob <img src=x>",
        "Hi Alice & <b>all</b>",
        "plain <i>text</i> from another client",
    ]

    # Trickled candidates: each applied once, and none left on the server.
    for person in (alice, bob):
        applied = person.probe("candidates")
        assert applied, "no candidate went through the API"
        assert len(applied) == len(set(applied))
    alice.wait_until(
        lambda: all(
            room_state(live_server, "call")[kind] == 0
            for kind in ("candidates_for_initiator", "candidates_for_receiver")
        ),
        5,
        "candidates were left on the server",
    )

    # The connection panel.
    expect(alice.page.locator("#statRoute")).to_have_text(re.compile(r"^direct"), timeout=5000)
    expect(alice.page.locator("#statRtt")).to_have_text(re.compile(r"^\d+ ms$"))
    for stat in ("#statIn", "#statOut"):
        expect(alice.page.locator(stat)).to_have_text(re.compile(r"^[1-9][\d.]* [kM]bit/s$"))

    # Mute and unmute: Bob stops hearing Alice, then hears her again.
    def energy_growth(seconds: float = 1.5) -> float:
        before = bob.audio_energy()
        bob.pause(seconds)
        return bob.audio_energy() - before

    alice.button("Mute").click()
    expect(alice.button("Unmute")).to_be_visible()
    assert alice.page.evaluate("videoChat.call.localStream.getAudioTracks()[0].enabled") is False
    bob.pause(0.5)
    assert energy_growth() < 1e-3  # silence (about 0.3 a second while unmuted)
    alice.button("Unmute").click()
    expect(alice.button("Mute")).to_be_visible()
    assert energy_growth() > 1e-2

    # Camera off and on: Bob's picture of Alice goes black, then comes back.
    def brightness() -> float:
        return bob.remote_brightness()

    assert brightness() > 30
    alice.button("Camera off").click()
    expect(alice.button("Camera on")).to_be_visible()
    bob.wait_until(lambda: brightness() < 5, 5, "the camera did not turn off")
    alice.button("Camera on").click()
    expect(alice.button("Camera off")).to_be_visible()
    bob.wait_until(lambda: brightness() > 30, 5, "the camera did not come back")

    # Bob is on a phone-sized window: nothing sticks out sideways.
    assert bob.page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )

    # Leave: Alice's camera and microphone stop; Bob sees that she left, within 2 s.
    alice.hang_up()
    bob.expect_state("left", timeout=2000)
    expect(bob.status).to_contain_text("left")
    alice.expect_state("idle")
    assert alice.page.evaluate(
        "window.__probe.streams.every(s => s.getTracks().every(t => t.readyState === 'ended'))"
    )
    for person in (alice, bob):
        expect_idle_controls(person)
        expect(person.page.get_by_label("Message", exact=True)).to_be_disabled()
    alice.wait_until(lambda: room_is_clear(live_server, "call"), 3, "the room was not cleared")


def signaling_requests(person: Person) -> list[str]:
    """Start recording the page's requests to the API as "METHOD /path type[ wait]"."""
    seen: list[str] = []

    def record(request) -> None:
        url = urlsplit(request.url)
        if url.path not in ("/signal", "/room", "/events", "/api/ice-servers"):
            return
        query = parse_qs(url.query)
        body = json.loads(request.post_data) if request.post_data else {}
        kind = body.get("type") or query.get("type", [""])[0]
        wait = "wait" if "wait" in query else ""
        seen.append(" ".join(part for part in (request.method, url.path, kind, wait) if part))

    person.page.on("request", record)
    return seen


def test_the_second_person_answers_in_few_round_trips(live_server, people):
    """Each request the page waits for before answering delays every call: entering the room
    brings the offer and the caller's candidates so far in one request, the ICE servers were
    asked for before the click, and the answer is the next request, which also clears the
    answered offer."""
    url = room_url(live_server, "quick")
    alice, bob = people(url), people(url)
    alice.start()
    alice.expect_state("waiting")
    sent = signaling_requests(bob)
    bob.start()
    alice.expect_state("connected")
    bob.expect_state("connected")

    # Entering (everything waiting read at once) comes first: a full room is told before the
    # camera; the answer is the very next request, on the connection entering used.
    assert sent[:2] == ["GET /events", "POST /signal answer"]
    # The push channel starts once the answer is out; it is the page's only read: no
    # heartbeat, no long-poll per kind, no DELETE per candidate or of the answered offer.
    assert sent.index("GET /events wait") > sent.index("POST /signal answer")
    assert not [r for r in sent if r.startswith(("GET /room", "GET /signal"))]
    assert not [r for r in sent if r.startswith("DELETE /signal")]
    assert "GET /api/ice-servers" not in sent
    assert room_state(live_server, "quick")["offer"] == 0  # the answer took it along


CALL_REQUEST_BUDGET = 14


def call_requests(person: Person) -> list[str]:
    """Start recording the page's requests to the server (page files aside), until its last
    one of the call: the DELETE that hangs up or leaves."""
    seen: list[str] = []
    done: list[bool] = []

    def record(request) -> None:
        url = urlsplit(request.url)
        path = url.path
        entering = path == "/events" and "wait=" not in url.query
        if done or not (seen or entering):  # the page's requests while idle are not the call's
            return
        seen.append(f"{request.method} {path}")
        if request.method == "DELETE" and path in ("/signal", "/room"):
            done.append(True)

    person.page.on("request", record)
    return seen


def test_a_call_costs_both_pages_at_most_a_dozen_requests(live_server, people):
    """From the first click to the hang-up, both pages together: entering brings what waits,
    the answer takes the offer along, candidates go together, one push channel each."""
    url = room_url(live_server, "count")
    alice, bob = people(url), people(url)
    sent = {"alice": call_requests(alice), "bob": call_requests(bob)}
    connect(alice, bob)
    alice.hang_up()
    bob.expect_state("left", timeout=2000)
    alice.page.wait_for_function("() => !window.videoChat.call")
    total = len(sent["alice"]) + len(sent["bob"])
    print(f"\nrequests per call: {total}: {sent}")
    assert total <= CALL_REQUEST_BUDGET, sent


def test_candidates_before_the_answer_are_queued(live_server, people):
    """Candidates that come before the remote description wait for it instead of being lost."""
    url = room_url(live_server, "queue")
    alice = people(url)
    bob = people(url)
    held = {"answer": True, "offer": False}

    def hold_answer(route):
        # Alice does not see Bob's answer (nor its side effect, the deleted offer) until
        # released, while Bob's candidates reach her. Nothing she is shown is acknowledged
        # meanwhile (no cursor), so the answer waits on the server.
        url = route.request.url
        if "/events?" in url and held["answer"]:
            response = route.fetch()
            events = {**response.json(), "answer": None, "cursor": None}
            return route.fulfill(response=response, json=events)
        if "type=offer" in url and route.request.method == "GET" and held["offer"]:
            return route.fulfill(json={"type": "offer", "payload": {"type": "offer"}})
        return route.continue_()

    alice.page.route(re.compile(r"/(events|signal)\?"), hold_answer)
    alice.start()
    alice.expect_state("waiting")
    held["offer"] = True
    bob.start()
    alice.page.wait_for_function("() => videoChat.call.pendingCandidates.length > 0")
    queued = alice.page.evaluate("videoChat.call.pendingCandidates.map(c => c.candidate)")
    assert alice.probe("candidates") == []
    assert alice.state() == "waiting"

    held["answer"] = held["offer"] = False
    alice.expect_state("connected")
    bob.expect_state("connected")
    alice.wait_until(
        lambda: set(queued) <= set(alice.probe("candidates")), 3, "queued candidates were lost"
    )
    applied = alice.probe("candidates")
    assert len(applied) == len(set(applied))
    alice.wait_until(
        lambda: room_state(live_server, "queue")["candidates_for_initiator"] == 0,
        5,
        "queued candidates were not deleted after use",
    )


def test_hang_up_and_call_again_five_times(live_server, people):
    """The same two tabs call five times in a row, with no clearing and no restart."""
    url = room_url(live_server, "again")
    alice = people(url)
    bob = people(url)
    for n in range(5):
        first, second = (alice, bob) if n % 2 == 0 else (bob, alice)
        connect(first, second)
        first.send(f"call {n}")
        second.expect_chat(f"call {n}")
        for person in (alice, bob):
            person.page.wait_for_function(
                "() => document.getElementById('remoteVideo').videoWidth > 0"
            )
        leaver, stayer = (alice, bob) if n < 3 else (bob, alice)
        leaver.hang_up()
        stayer.expect_state("left", timeout=2000)
        leaver.expect_state("idle")
        expect_idle_controls(stayer)
        expect_idle_controls(leaver)
    alice.wait_until(lambda: room_is_clear(live_server, "again"), 3, "the room was not cleared")


def test_third_person_is_told_the_room_is_full(live_server, people):
    """A third person gets "room full"; the call in progress goes on undisturbed."""
    url = room_url(live_server, "busy")
    alice = people(url)
    bob = people(url)
    carol = people(url)
    connect(alice, bob)

    carol.start()
    carol.expect_state("full")
    expect(carol.status).to_contain_text("full")
    expect_idle_controls(carol)
    # Told before her camera went to the call: her preview goes on, for another room.
    assert carol.page.evaluate(
        "window.__probe.streams.every(s => s.getTracks().every(t => t.readyState === 'live'))"
    )

    # Several heartbeats later the call is still up, and chat still flows.
    alice.pause(4.5)
    assert alice.state() == bob.state() == "connected"
    assert room_state(live_server, "busy")["peers"] == 2
    alice.send("still here")
    bob.expect_chat("still here")
    bob.expect_remote_video_playing()


STATES_SEEN = """
() => {
  // Every state the status line shows from now on, in order.
  window.__states = [];
  const status = document.getElementById("status");
  new MutationObserver(() => window.__states.push(status.dataset.state)).observe(status, {
    attributes: true,
    attributeFilter: ["data-state"],
  });
}
"""


def test_a_reload_mid_call_comes_back_to_the_same_call(live_server, people):
    """A tab reloaded mid-call (no Leave) is back in the same call without a click; the one
    who stayed keeps camera and chat and never hears that the other person left."""
    url = room_url(live_server, "reload")
    alice = people(url)
    bob = people(url)
    connect(alice, bob)
    alice.send("before the reload")
    bob.expect_chat("before the reload")
    bob.page.evaluate(STATES_SEEN)

    reloaded = time.monotonic()
    alice.page.reload()
    alice.expect_state("connected")
    bob.expect_state("connected")
    assert time.monotonic() - reloaded < 5
    assert "left" not in bob.page.evaluate("window.__states")
    assert bob.chat_texts() == ["before the reload"]
    assert bob.page.evaluate("videoChat.call.localStream.getVideoTracks()[0].readyState") == "live"
    alice.send("after the reload")
    bob.expect_chat("after the reload")
    bob.send("welcome back")
    alice.expect_chat("welcome back")
    alice.expect_remote_video_playing()
    bob.expect_remote_video_playing()
    assert room_state(live_server, "reload")["peers"] == 2


def test_a_closed_tab_leaves_the_other_waiting_in_the_room(short_timeout_server, people):
    """A tab closed mid-call may have been a reload, so nothing ends at once: its place goes
    with the server's peer timeout, and the one who stayed waits in the room, where the next
    person connects with them without a click."""
    url = room_url(short_timeout_server, "closed")
    alice = people(url)
    bob = people(url)
    connect(alice, bob)

    closed = time.monotonic()
    alice.page.close()
    bob.expect_state("waiting", timeout=15_000)
    expect(bob.status).to_contain_text("left")
    carol = people(url)
    carol.start()
    carol.expect_state("connected")
    bob.expect_state("connected")
    bob.expect_remote_video_playing()
    assert time.monotonic() - closed < 15


def test_crashed_tab_is_dropped_and_the_next_call_connects(short_timeout_server, people):
    """A tab that dies mid-call (no pagehide at all) is dropped by the server's peer timeout;
    the person who stayed waits in the room, and a new call connects within 15 s."""
    url = room_url(short_timeout_server, "crash")
    alice = people(url)
    bob = people(url)
    connect(alice, bob)

    crashed = time.monotonic()
    alice.crash()
    bob.expect_state("waiting", timeout=15_000)
    alice_again = people(url)
    alice_again.start()
    alice_again.expect_state("connected")
    bob.expect_state("connected")
    alice_again.expect_remote_video_playing()
    assert time.monotonic() - crashed < 15


def test_offer_left_by_a_crashed_tab_is_not_answered_forever(short_timeout_server, people):
    """Someone who answers the offer of a tab that just died starts over as the one who waits,
    once the server drops the dead tab; the next person then connects, all within 15 s."""
    url = room_url(short_timeout_server, "dead-offer")
    alice = people(url)
    alice.start()
    alice.expect_state("waiting")
    crashed = time.monotonic()
    alice.crash()

    bob = people(url)
    bob.start()
    bob.expect_state("connecting")
    bob.expect_state("waiting", timeout=15_000)
    carol = people(url)
    carol.start()
    bob.expect_state("connected")
    carol.expect_state("connected")
    assert time.monotonic() - crashed < 15


@pytest.mark.parametrize(
    ("media_error", "message", "refuser_first"),
    [
        ("NotAllowedError", "access was denied", True),
        ("NotFoundError", "No camera or microphone was found", False),
    ],
    ids=["permission-denied-waits", "no-camera-answers"],
)
def test_without_camera_still_receives_video_and_chats(
    live_server, people, media_error, message, refuser_first
):
    """Permission denied, or no camera: a clear message, and the call still brings the other
    person's video in, and chat both ways."""
    url = room_url(live_server, "no-camera")
    refuser = people(url, media_error=media_error)
    other = people(url)
    first, second = (refuser, other) if refuser_first else (other, refuser)
    connect(first, second)

    shown = refuser.page.locator("#mediaMessage")
    expect(shown).to_be_visible()
    expect(shown).to_contain_text(message)
    expect(shown).to_contain_text("You can still join")
    expect(other.page.locator("#mediaMessage")).to_be_hidden()
    # Nothing to mute or turn off: the buttons offer to turn a microphone and camera on.
    expect(refuser.button("Unmute")).to_be_enabled()
    expect(refuser.button("Camera on")).to_be_enabled()
    refuser.expect_remote_video_playing()
    refuser.send("I can see you")
    other.expect_chat("I can see you")
    other.send("I cannot see you")
    refuser.expect_chat("I cannot see you")

    refuser.hang_up()
    other.expect_state("left", timeout=2000)


def test_both_start_at_once(live_server, people):
    """Two people who click Join at the same moment still make one call."""
    url = room_url(live_server, "same-moment")
    alice = people(url)
    bob = people(url)
    for _ in range(3):
        alice.start()
        bob.start()
        alice.expect_state("connected")
        bob.expect_state("connected")
        bob.hang_up()
        alice.expect_state("left", timeout=2000)
        expect_idle_controls(alice)
        expect_idle_controls(bob)


def test_bad_room_name_is_an_error(live_server, people):
    """A link whose room name the server would refuse says so, with the rule, and offers a
    new room."""
    person = people(f"{live_server.url}/?room=no%20spaces%21", expect_idle=False)
    person.expect_state("error")
    expect(person.status).to_contain_text("not valid")
    expect(person.page.locator("#roomError")).to_contain_text("A room name is 1-64 letters")
    expect(person.button("Join")).to_be_disabled()
    person.button("New room").click()
    person.expect_state("idle")
    expect(person.button("Join")).to_be_enabled()
    expect(person.page.locator("#roomError")).to_be_hidden()


def test_copy_link_and_new_room(live_server, people):
    """A bare address gets a fresh room with a readable name, in the address bar; "Copy link"
    copies the room's address; "New room" makes another one."""
    person = people(live_server.url + "/", permissions=["clipboard-read", "clipboard-write"])
    page = person.page
    readable = r"[a-z]+-[a-z]+-\d{1,3}"

    def room() -> str:
        return page.evaluate("new URLSearchParams(location.search).get('room')")

    def clipboard() -> str:
        return page.evaluate("navigator.clipboard.readText()")

    first = room()
    assert re.fullmatch(readable, first), first
    expect(page.locator("#roomName")).to_have_text(first)
    person.button("Copy link").click()
    expect(page.locator("#copyFeedback")).to_contain_text("copied")
    assert clipboard() == f"{live_server.url}/?room={first}"

    names = [first]
    for _ in range(2):
        person.button("New room").click()
        name = room()
        assert re.fullmatch(readable, name), name
        expect(page.locator("#roomName")).to_have_text(name)
        names.append(name)
    assert len(set(names)) == 3
    person.button("Copy link").click()
    link = f"{live_server.url}/?room={names[-1]}"
    person.wait_until(lambda: clipboard() == link, 3, "not copied")

    person.start()
    person.expect_state("waiting")
    expect(person.button("New room")).to_be_hidden()
    assert room_state(live_server, names[-1])["peers"] == 1
    person.hang_up()
    person.expect_state("idle")
    person.wait_until(lambda: room_is_clear(live_server, names[-1]), 3, "the room was not cleared")


def test_an_error_is_shown_with_its_reason(live_server, people):
    """A failing server request ends the attempt with the reason, and takes no place."""
    person = people(room_url(live_server, "broken"))
    person.page.route(
        "**/events?**",
        lambda route: route.fulfill(
            status=503, json={"error": "store_unavailable", "message": "the store is down"}
        ),
    )
    person.start()
    person.expect_state("error")
    expect(person.status).to_have_text("Could not connect: the store is down.")
    expect_idle_controls(person)
    person.wait_until(lambda: room_is_clear(live_server, "broken"), 3, "the place was not freed")


def test_a_server_restart_mid_negotiation_lets_the_call_complete(tmp_path, people):
    """The server (sqlite store) goes away while the first person waits, and comes back on
    the same port and file: the second person's call still connects."""
    store = f"sqlite:///{tmp_path / 'restart.sqlite'}"
    server = app_process(store)
    pause = time.sleep  # until a page is open; then the page's, so its requests go on
    try:
        alice = people(f"{server.url}/?room=restart")
        pause = alice.pause
        alice.start()
        alice.expect_state("waiting")
        server.stop(pause)
        pause(1.5)  # the page's reads and heartbeats fail meanwhile
        server = app_process(store, port=server.port, pause=pause)
        bob = people(f"{server.url}/?room=restart")
        bob.start()
        alice.expect_state("connected", timeout=15_000)
        bob.expect_state("connected")
        alice.send("after the restart")
        bob.expect_chat("after the restart")
    finally:
        server.stop(pause)
