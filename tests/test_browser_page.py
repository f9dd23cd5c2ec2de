"""The page as people use it, in real headless Chromium: the lobby's preview and device
choices, what each side sees of the other (name, muted, camera off, sharing), a person
without a camera sharing a screen or turning a camera on mid-call, the layout on a desktop
and on a phone held either way, room names people type, and the tab's title.

This module's Chromium has three fake cameras (and, as always, three fake microphones). Its
second, fake_device_1, is a depth camera (16-bit grey) that WebRTC cannot send: the tests
switch between the first and the third.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, expect

from harness.browser import Person
from tests.helpers import wait_until

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LANDSCAPE = {"width": 844, "height": 390}
READABLE_ROOM = r"[a-z]+-[a-z]+-\d{1,3}"

# getUserMedia finds no camera or microphone while window.__noDevices is true, as on a
# machine with none plugged in; a test sets it false to plug one in.
NO_DEVICES_JS = """
(() => {
  window.__noDevices = true;
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (constraints) =>
    window.__noDevices
      ? Promise.reject(new DOMException("no device", "NotFoundError"))
      : real(constraints);
})();
"""
# A phone's two cameras, played by the fake ones: fake_device_0 faces the person,
# fake_device_2 faces away; getUserMedia({video: {facingMode: {exact}}}) picks between them.
PHONE_CAMERAS_JS = """
(() => {
  const facing = (track) =>
    track.kind !== "video" ? null
      : { fake_device_0: "user", fake_device_2: "environment" }[track.label] || null;
  const capabilities = MediaStreamTrack.prototype.getCapabilities;
  MediaStreamTrack.prototype.getCapabilities = function () {
    const f = facing(this);
    return f ? { ...capabilities.call(this), facingMode: [f] } : capabilities.call(this);
  };
  const settings = MediaStreamTrack.prototype.getSettings;
  MediaStreamTrack.prototype.getSettings = function () {
    const f = facing(this);
    return f ? { ...settings.call(this), facingMode: f } : settings.call(this);
  };
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const wanted = constraints.video && constraints.video.facingMode;
    if (!wanted) return real(constraints);
    const label = wanted.exact === "environment" ? "fake_device_2" : "fake_device_0";
    const devices = await navigator.mediaDevices.enumerateDevices();
    const device = devices.find((d) => d.label === label);
    return real({ video: { deviceId: { exact: device.deviceId } } });
  };
})();
"""
SENT_LABEL = """
() => {
  const sender = videoChat.call.pc.getSenders().find((s) => s.track && s.track.kind === "video");
  return sender.track.label;
}
"""
# The layout's facts, in the page: where the videos and the controls are.
LAYOUT = """
() => {
  const box = (el) => {
    const r = el.getBoundingClientRect();
    const area = r.width * r.height;
    return { left: r.left, top: r.top, right: r.right, bottom: r.bottom, area };
  };
  const shown = (el) =>
    el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const controls = [...document.querySelectorAll("#controls button")].filter(shown);
  const remote = document.getElementById("remoteVideo");
  const chat = document.getElementById("chatPanel");
  return {
    width: innerWidth,
    height: innerHeight,
    scrollWidth: document.documentElement.scrollWidth,
    scrollHeight: document.documentElement.scrollHeight,
    remote: box(remote),
    remoteFit: getComputedStyle(remote).objectFit,
    local: box(document.getElementById("localVideo")),
    controls: controls.map((b) => ({
      name: b.textContent.trim(), disabled: b.disabled, ...box(b),
    })),
    joinShown: shown(document.getElementById("startButton")),
    chat: shown(chat) ? box(chat) : null,
  };
}
"""
SENT_TRACK = """
(kind) => {
  const sender = videoChat.call.pc.getSenders().find((s) => s.track && s.track.kind === kind);
  return sender ? sender.track.getSettings().deviceId : null;
}
"""
REMOTE_SHAPE = """
() => {
  const video = document.getElementById("remoteVideo");
  return video.videoHeight ? video.videoWidth / video.videoHeight : 0;
}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium with three fake cameras, to switch between."""
    from playwright.sync_api import sync_playwright

    from harness.browser import launch_chromium

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, ["--use-fake-device-for-media-stream=device-count=3"])
        yield browser
        browser.close()


def room_url(server, room: str) -> str:
    return f"{server.url}/?room={quote(room)}"


def connect(first: Person, second: Person) -> None:
    first.start()
    first.expect_state("waiting")
    second.start()
    first.expect_state("connected")
    second.expect_state("connected")


def set_name(person: Person, name: str) -> None:
    """Type a display name in the lobby's field (it is remembered on change)."""
    field = person.page.get_by_label("Your name")
    field.fill(name)
    field.press("Enter")
    field.blur()


def expect_preview(person: Person) -> None:
    person.page.wait_for_function(
        "() => document.getElementById('localVideo').videoWidth > 0", timeout=10_000
    )


@pytest.mark.parametrize(
    "viewport", [DESKTOP, PHONE, LANDSCAPE], ids=["desktop", "phone", "landscape"]
)
def test_layout_in_a_call(live_server, people, viewport):
    """In a call the other person's video covers at least half the window, every control is
    inside it without scrolling, there is no disabled Join, and the chat is a panel: beside
    the video on a desktop, opened and closed on a phone, with an unread count."""
    url = room_url(live_server, f"layout-{viewport['width']}")
    alice = people(url, viewport=viewport)
    bob = people(url, viewport=viewport)
    expect_preview(alice)
    connect(alice, bob)
    alice.expect_remote_video_playing()
    layout = alice.page.evaluate(LAYOUT)

    window = layout["width"] * layout["height"]
    assert layout["remote"]["area"] >= window / 2, layout
    assert layout["scrollWidth"] <= layout["width"] and layout["scrollHeight"] <= layout["height"]
    names = [c["name"] for c in layout["controls"]]
    assert names[:2] == ["Mute", "Camera off"] and names[-1] == "Leave", names
    for control in layout["controls"]:
        assert not control["disabled"], control
        assert control["left"] >= 0 and control["right"] <= layout["width"], control
        assert control["top"] >= 0 and control["bottom"] <= layout["height"], control
    assert not layout["joinShown"]
    expect(alice.page.get_by_role("button", name="Join")).to_have_count(0)
    # The whole picture on a phone on its side; the screen filled on one held upright.
    assert layout["remoteFit"] == ("cover" if viewport is PHONE else "contain")

    if viewport is DESKTOP:
        assert layout["chat"] is not None, "the chat is beside the video on a desktop"
        assert layout["chat"]["left"] >= layout["remote"]["right"] - 1
        alice.page.locator("#chatCloseButton").click()
    else:
        assert layout["chat"] is None, "the chat starts closed on a phone"
    expect(alice.page.locator("#chatPanel")).to_be_hidden()
    bob.send("are you there?")
    expect(alice.page.locator("#unreadBadge")).to_have_text("1")
    expect(alice.page).to_have_title("(1) Connected · Video chat")
    alice.page.locator("#chatButton").click()
    expect(alice.page.locator("#chatPanel")).to_be_visible()
    alice.expect_chat("are you there?")
    expect(alice.page.locator("#unreadBadge")).to_be_hidden()
    expect(alice.page).to_have_title("Connected · Video chat")
    chat = alice.page.evaluate(LAYOUT)
    for control in chat["controls"]:  # still in reach with the chat open
        assert control["bottom"] <= chat["height"] and control["right"] <= chat["width"]
    alice.page.locator("#chatCloseButton").click()

    # Tapping the small tile swaps it with the large one.
    alice.page.locator("#localFigure").click()
    swapped = alice.page.evaluate(LAYOUT)
    assert swapped["local"]["area"] > swapped["remote"]["area"]
    alice.page.locator("#remoteTile").click(position={"x": 20, "y": 20})  # the small one now
    assert alice.page.evaluate(LAYOUT)["remote"]["area"] >= window / 2


def test_the_preview_and_switching_devices(live_server, people):
    """Before joining: a preview, and lists of cameras, microphones and speakers. A camera
    chosen is remembered on this device; in the call, switching sends the new camera on the
    same connection, and the other person keeps seeing video."""
    url = room_url(live_server, "devices")
    alice = people(url)
    page = alice.page
    expect_preview(alice)
    cameras = page.locator("#cameraSelect option")
    expect(cameras).to_have_count(3)
    expect(page.locator("#micSelect option")).to_have_count(3)
    expect(page.get_by_label("Speaker")).to_be_visible()  # Chromium has setSinkId
    first = page.evaluate(
        "document.getElementById('localVideo').srcObject.getVideoTracks()[0].getSettings().deviceId"
    )
    assert first == cameras.nth(0).get_attribute("value")
    other = cameras.nth(2).get_attribute("value")

    page.get_by_label("Camera").select_option(other)
    page.wait_for_function(
        "(id) => document.getElementById('localVideo').srcObject.getVideoTracks()[0]"
        ".getSettings().deviceId === id",
        arg=other,
    )
    assert (
        page.evaluate("JSON.parse(localStorage.getItem('videoChat.devices')).videoinput") == other
    )
    # The old camera is released; only the chosen one runs.
    live = page.evaluate(
        "[...new Set(window.__probe.streams.flatMap(s => s.getVideoTracks()))]"
        ".filter(t => t.readyState === 'live').map(t => t.getSettings().deviceId)"
    )
    assert live == [other]

    # Remembered: a new visit previews, and then joins with, the chosen camera.
    page.reload()
    expect_preview(alice)
    expect(page.get_by_label("Camera")).to_have_value(other)
    bob = people(url)
    connect(alice, bob)
    bob.expect_remote_video_playing()
    assert page.evaluate(SENT_TRACK, "video") == other

    # In the call: back to the first camera, on the same connection.
    page.locator("#settingsButton").click()
    page.get_by_label("Camera").select_option(first)
    wait_until(lambda: page.evaluate(SENT_TRACK, "video") == first, 5, "camera not switched")
    mics = page.locator("#micSelect option")
    mic = mics.nth(2).get_attribute("value")
    page.get_by_label("Microphone").select_option(mic)
    wait_until(lambda: page.evaluate(SENT_TRACK, "audio") == mic, 5, "microphone not switched")
    assert len(alice.probe("configs")) == 1  # no new call
    bob.expect_remote_video_playing()
    alice.expect_state("connected")
    # Mute survives a switch: the new microphone is muted too.
    alice.button("Mute").click()
    page.get_by_label("Microphone").select_option(mics.nth(1).get_attribute("value"))
    wait_until(
        lambda: page.evaluate(SENT_TRACK, "audio") == mics.nth(1).get_attribute("value"),
        5,
        "microphone not switched",
    )
    assert page.evaluate("videoChat.call.localStream.getAudioTracks()[0].enabled") is False
    expect(alice.button("Unmute")).to_be_visible()


def test_flip_between_a_phones_front_and_back_camera(live_server, people):
    """Flip shows only where the camera says which way it faces; it turns to the other one,
    in the lobby and in a call (on the same connection), and the other person sees it."""
    url = room_url(live_server, "flip")
    alice = people(url, viewport=PHONE, init_scripts=[PHONE_CAMERAS_JS])
    expect_preview(alice)
    local_label = "document.getElementById('localVideo').srcObject.getVideoTracks()[0].label"
    assert alice.page.evaluate(local_label) == "fake_device_0"
    alice.button("Flip").click()
    alice.page.wait_for_function(f"() => {local_label} === 'fake_device_2'")
    bob = people(url)
    expect(bob.button("Flip")).to_be_hidden()  # a laptop's camera faces no particular way
    connect(alice, bob)
    assert alice.page.evaluate(SENT_LABEL) == "fake_device_2"
    alice.button("Flip").click()
    wait_until(lambda: alice.page.evaluate(SENT_LABEL) == "fake_device_0", 5, "not flipped")
    assert len(alice.probe("configs")) == 1
    bob.expect_remote_video_playing()
    assert bob.remote_brightness() > 30
    # The front camera is a mirror; the back one is not.
    assert alice.page.locator("#localFigure").get_attribute("data-facing") == "user"


def test_each_side_sees_the_others_name_mute_camera_and_sharing(live_server, people):
    """The state envelope: the other person's name on their tile and in the chat, a muted
    sign, "camera off" with their name instead of a black picture, and "sharing"."""
    url = room_url(live_server, "state")
    alice = people(url)
    bob = people(url, viewport=PHONE)
    set_name(alice, "Alice")
    set_name(bob, "Bob <b>B</b>")
    connect(alice, bob)
    expect(bob.page.locator("#remoteName")).to_have_text("Alice")
    expect(alice.page.locator("#remoteName")).to_have_text("Bob <b>B</b>")
    alice.send("hello")
    expect(bob.page.locator("#chatLog li.from-them .who")).to_have_text("Alice")
    expect(bob.page.locator("#remoteMuted")).to_be_hidden()
    expect(bob.page.locator("#remoteCover")).to_be_hidden()

    alice.button("Mute").click()
    expect(bob.page.locator("#remoteMuted")).to_be_visible()
    alice.button("Unmute").click()
    expect(bob.page.locator("#remoteMuted")).to_be_hidden()

    alice.button("Camera off").click()
    expect(bob.page.locator("#remoteCover")).to_be_visible()
    expect(bob.page.locator("#remoteCoverText")).to_have_text("Alice · camera off")
    expect(bob.page.locator("#remoteAvatar")).to_have_text("A")
    alice.button("Camera on").click()
    expect(bob.page.locator("#remoteCover")).to_be_hidden()

    alice.button("Share screen").click()
    expect(bob.page.locator("#remoteSharing")).to_be_visible()
    expect(bob.page.locator("#remoteTile")).to_have_attribute("data-sharing", "true")
    # A shared screen is never cropped, even on a phone held upright.
    assert bob.page.evaluate("getComputedStyle(remoteVideo).objectFit") == "contain"
    alice.button("Stop sharing").click()
    expect(bob.page.locator("#remoteSharing")).to_be_hidden()

    # A new name, mid-call.
    alice.page.locator("#settingsButton").click()
    set_name(alice, "Alice L.")
    expect(bob.page.locator("#remoteName")).to_have_text("Alice L.")
    assert alice.page.evaluate("localStorage.getItem('videoChat.name')") == '"Alice L."'


def test_the_one_who_waited_hears_a_chime_unless_turned_off(live_server, people):
    """A short sound when the other person joins; turned off, it stays off (remembered)."""
    url = room_url(live_server, "chime")
    alice, bob = people(url), people(url)
    connect(alice, bob)
    assert alice.page.evaluate("videoChat.chimes.played") == 1
    assert bob.page.evaluate("videoChat.chimes.played") == 0  # they came to a waiting room
    bob.hang_up()
    alice.expect_state("left")
    alice.page.get_by_label("Play a sound when someone joins").uncheck()
    alice.page.reload()
    expect(alice.page.get_by_label("Play a sound when someone joins")).not_to_be_checked()
    connect(alice, bob)
    assert alice.page.evaluate("videoChat.chimes.played") == 0


def test_without_a_camera_share_a_screen_then_turn_a_camera_on(live_server, people):
    """Someone who joined with no camera or microphone shares a screen (added to the live
    call), then plugs a camera in and turns it on mid-call: the other page plays each."""
    url = room_url(live_server, "no-devices")
    alice = people(url, init_scripts=[NO_DEVICES_JS])
    bob = people(url)
    expect(alice.page.locator("#mediaMessage")).to_contain_text("No camera or microphone")
    connect(alice, bob)
    expect(bob.page.locator("#remoteCoverText")).to_have_text("The other person · no camera")

    alice.button("Share screen").click()
    expect(alice.button("Stop sharing")).to_be_visible()
    bob.expect_remote_video_playing()
    wait_until(lambda: abs(bob.page.evaluate(REMOTE_SHAPE) - 16 / 9) < 0.02, 10, "no screen")
    expect(bob.page.locator("#remoteSharing")).to_be_visible()
    expect(bob.page.locator("#remoteCover")).to_be_hidden()
    alice.button("Stop sharing").click()
    expect(bob.page.locator("#remoteCoverText")).to_have_text("The other person · no camera")

    alice.page.evaluate("window.__noDevices = false")  # a camera is plugged in
    alice.button("Camera on").click()
    expect(alice.button("Camera off")).to_be_visible()
    alice.page.wait_for_function("() => document.getElementById('localVideo').videoWidth > 0")
    expect(bob.page.locator("#remoteCover")).to_be_hidden()
    wait_until(lambda: abs(bob.page.evaluate(REMOTE_SHAPE) - 4 / 3) < 0.02, 10, "no camera")
    bob.expect_remote_video_playing()
    assert bob.remote_brightness() > 30
    alice.expect_state("connected")


def test_room_names_with_spaces_and_other_scripts_end_to_end(live_server, people):
    """A room name with spaces and non-Latin letters: in the link, the address bar, the
    count of who is waiting, and the call itself."""
    name = "東京 会議 Ünïcode"
    url = room_url(live_server, name)
    alice = people(url)
    expect(alice.page.locator("#roomName")).to_have_text(name)
    assert alice.page.evaluate("new URLSearchParams(location.search).get('room')") == name
    bob = people(url)
    alice.start()
    alice.expect_state("waiting")
    expect(bob.page.locator("#waiting")).to_have_text(
        "Someone is waiting for you in this room.", timeout=8_000
    )
    bob.start()
    alice.expect_state("connected")
    bob.expect_state("connected")
    alice.send("こんにちは")
    bob.expect_chat("こんにちは")


def test_a_typed_room_name_is_normalised_or_refused_with_the_rule(live_server, people):
    person = people(room_url(live_server, "typed"))
    field = person.page.get_by_label("Room name")
    field.fill("bad!name")
    person.button("Open").click()
    expect(person.page.locator("#roomError")).to_contain_text("A room name is 1-64 letters")
    expect(person.page.locator("#roomName")).to_have_text("typed")
    field.fill("  Café   Müller ")
    person.button("Open").click()
    expect(person.page.locator("#roomName")).to_have_text("Café Müller")
    expect(person.page.locator("#roomError")).to_be_hidden()
    assert person.page.evaluate("new URLSearchParams(location.search).get('room')") == "Café Müller"
    expect(person.page.locator("#roomLink")).to_contain_text("?room=Café Müller")


def test_a_bare_address_gives_each_visitor_a_room_of_their_own(live_server, people):
    """No ?room=: a fresh, readable room name each, put in the address bar; never one shared
    default room."""
    rooms = []
    for _ in range(2):
        person = people(live_server.url + "/")
        name = person.page.evaluate("new URLSearchParams(location.search).get('room')")
        assert re.fullmatch(READABLE_ROOM, name), name
        expect(person.page.locator("#roomName")).to_have_text(name)
        expect(person.page).to_have_title(f"{name} · Video chat")
        rooms.append(name)
    assert rooms[0] != rooms[1]
    assert "default-room" not in rooms
