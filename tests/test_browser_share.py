"""Screen sharing: the shared screen takes the camera's place on the same connection.

Headless Chromium captures a screen for real here: with the flags every browser test runs
with (--use-fake-ui-for-media-stream, --use-fake-device-for-media-stream) getDisplayMedia
picks, without a prompt, a fake 1280x720 screen, where the fake camera is 640x480. So the
other side sees the picture change shape: 16:9 while sharing, 4:3 with the camera.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from harness.browser import Person

pytestmark = pytest.mark.browser

CAMERA = 4 / 3
SCREEN = 16 / 9

REMOTE_SHAPE = """
() => {
  const video = document.getElementById("remoteVideo");
  return video.videoHeight ? video.videoWidth / video.videoHeight : 0;
}
"""
# What the page sends: the video sender's track, and the description it negotiated.
SENT = """
() => {
  const pc = window.videoChat.call.pc;
  const sender = pc.getSenders().find((s) => s.track && s.track.kind === "video");
  return { label: sender.track.label, sdp: pc.localDescription.sdp };
}
"""
# The browser's own "Stop sharing" bar ends the track: its `ended` event fires (stop() alone
# does not fire it, so the test sends it as the browser would).
BROWSER_STOPS_SHARING = """
() => {
  const track = document.getElementById("localVideo").srcObject.getVideoTracks()[0];
  track.stop();
  track.dispatchEvent(new Event("ended"));
  return track.label;
}
"""


def expect_shape(person: Person, ratio: float, what: str) -> None:
    person.wait_until(
        lambda: abs(person.page.evaluate(REMOTE_SHAPE) - ratio) < 0.02, 10, f"no {what} seen"
    )


def test_share_the_screen_and_back_without_renegotiating(live_server, people):
    url = f"{live_server.url}/?room=share"
    alice, bob = people(url), people(url)
    expect(alice.button("Share screen")).to_be_hidden()  # only in a call
    alice.start()
    alice.expect_state("waiting")
    expect(alice.button("Share screen")).to_be_hidden()  # nobody to share with yet
    bob.start()
    alice.expect_state("connected")
    bob.expect_state("connected")
    bob.expect_remote_video_playing()
    expect_shape(bob, CAMERA, "camera")
    camera = alice.page.evaluate(SENT)

    alice.button("Share screen").click()
    expect(alice.button("Stop sharing")).to_be_enabled()
    expect(alice.button("Stop sharing")).to_have_attribute("aria-pressed", "true")
    expect(alice.button("Camera off")).to_be_disabled()
    expect(alice.page.locator("#localCaption")).to_have_text("You (sharing your screen)")
    expect_shape(bob, SCREEN, "shared screen")
    bob.expect_remote_video_playing()
    sharing = alice.page.evaluate(SENT)
    assert sharing["label"] != camera["label"]
    # The same connection and the same description: no renegotiation.
    assert sharing["sdp"] == camera["sdp"]
    assert len(alice.probe("configs")) == len(bob.probe("configs")) == 1

    alice.button("Stop sharing").click()
    expect(alice.button("Share screen")).to_be_enabled()
    expect(alice.button("Camera off")).to_be_enabled()
    expect_shape(bob, CAMERA, "camera again")
    assert alice.page.evaluate(SENT) == camera

    # Shared again, then stopped from the browser's own bar: the camera comes back too.
    alice.button("Share screen").click()
    expect_shape(bob, SCREEN, "shared screen again")
    alice.page.evaluate(BROWSER_STOPS_SHARING)
    expect(alice.button("Share screen")).to_be_enabled()
    expect_shape(bob, CAMERA, "camera after the browser stopped sharing")
    assert alice.page.evaluate(SENT) == camera

    # Chat goes on meanwhile; hanging up while sharing stops the screen capture too.
    bob.send("nice slides")
    alice.expect_chat("nice slides")
    alice.button("Share screen").click()
    expect_shape(bob, SCREEN, "shared screen before hanging up")
    alice.page.evaluate(
        "window.__screen = document.getElementById('localVideo').srcObject.getVideoTracks()[0]"
    )
    alice.hang_up()
    bob.expect_state("left", timeout=2000)
    assert alice.page.evaluate("window.__screen.readyState") == "ended"
    expect(alice.page.locator("#shareButton")).to_have_text("Share screen")
    expect(alice.page.locator("#shareButton")).to_be_hidden()
