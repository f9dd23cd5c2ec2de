"""Serving other machines on a LAN: `make lan` (https:// with a certificate made once and kept),
and what the page says when it is opened over plain http:// and so gets no camera."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.lan import LanServer

pytestmark = pytest.mark.browser

# A page as browsers show it on an http:// address other than localhost: not a secure
# context, so navigator.mediaDevices does not exist. (Chromium counts every 127.0.0.0/8 address
# as secure, so the tests cannot get there by address: they take both away before the page.)
INSECURE_JS = """
(() => {
  Object.defineProperty(window, "isSecureContext", { value: false });
  delete Navigator.prototype.mediaDevices;
})();
"""


@pytest.fixture
def lan_server(tmp_path) -> Iterator[LanServer]:
    server = LanServer(tmp_path)
    yield server
    server.stop()


def test_the_page_over_https_gets_a_camera(lan_server, people):
    """Opened over https:// (the browser told to accept the self-made certificate, as a person
    clicks through its warning): a secure context, so the camera works."""
    certificate = lan_server.certificate()
    assert certificate.issuer == certificate.subject  # self-made: signed by itself
    person = people(f"{lan_server.url}/?room=lan", ignore_https_errors=True)
    assert person.page.evaluate("window.isSecureContext") is True
    person.start()
    person.expect_state("waiting")
    person.page.wait_for_function(
        "() => document.getElementById('localVideo').videoWidth > 0", timeout=10_000
    )
    expect(person.page.locator("#mediaMessage")).to_be_hidden()
    person.hang_up()
    person.expect_state("idle")


def test_an_insecure_page_says_to_serve_it_over_https(live_server, people):
    """No camera because the address is not secure: the page says so plainly; what to run
    on the server is for whoever runs it (the README, the server's log), not the caller."""
    url = f"{live_server.url}/?room=insecure"
    person = people(url, init_scripts=[INSECURE_JS])
    other = people(url)
    assert person.page.evaluate("navigator.mediaDevices") is None
    expect(person.button("Share screen")).to_be_hidden()  # no getDisplayMedia either
    person.start()
    person.expect_state("waiting")
    message = person.page.locator("#mediaMessage")
    expect(message).to_be_visible()
    expect(message).to_contain_text("need a secure (https://) address")
    expect(message).to_contain_text("You can still join")
    expect(message).not_to_contain_text("make lan")
    # And joining still works: the other person's video comes in.
    other.start()
    person.expect_state("connected")
    person.expect_remote_video_playing()
    person.hang_up()
    other.expect_state("left", timeout=2000)
