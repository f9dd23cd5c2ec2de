"""Serving other machines on a LAN: `make lan` (https:// with a certificate made at start-up),
and what the page says when it is opened over plain http:// and so gets no camera."""

from __future__ import annotations

import os
import re
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from playwright.sync_api import expect

from harness.endpoint import Endpoint
from harness.network import free_port

pytestmark = pytest.mark.browser

MAKEFILE = Path(__file__).resolve().parent.parent / "Makefile"
# `make lan` runs `flask run` with these flags, and --host 0.0.0.0 (here: loopback only).
LAN_FLAGS = ["--cert", "adhoc"]

# A page as browsers show it on an http:// address other than localhost: not a secure
# context, so navigator.mediaDevices does not exist. (Chromium counts every 127.0.0.0/8 address
# as secure, so the tests cannot get there by address: they take both away before the page.)
INSECURE_JS = """
(() => {
  Object.defineProperty(window, "isSecureContext", { value: false });
  delete Navigator.prototype.mediaDevices;
})();
"""


class LanServer(Endpoint):
    """`make lan`'s command, on a free loopback port: flask run with an adhoc certificate."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "SIGNAL_"))}
        env.update(SIGNAL_STORE=f"sqlite:///{folder / 'signal.sqlite'}", FLASK_APP="flask_app")
        command = [sys.executable, "-m", "flask", "run", "--host", "127.0.0.1"]
        self.log = folder / "flask-run.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port), *LAN_FLAGS],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        # The certificate is self-made: only the test's own requests skip checking it.
        self.tls = ssl.create_default_context()
        self.tls.check_hostname = False
        self.tls.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", context=self.tls, timeout=2):
                    return
            except OSError:
                exited = self.process.poll() is not None
                assert not exited, f"flask run exited:\n{self.log.read_text()}"
                assert time.monotonic() < deadline, "flask run --cert adhoc did not start"
                time.sleep(0.2)

    def certificate(self) -> x509.Certificate:
        """The certificate the server shows (untrusted, so read without checking it)."""
        with (
            socket.create_connection(("127.0.0.1", self.port), timeout=5) as raw,
            self.tls.wrap_socket(raw) as tls,
        ):
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def lan_server(tmp_path) -> Iterator[LanServer]:
    server = LanServer(tmp_path)
    yield server
    server.stop()


def test_make_lan_serves_every_address_with_a_self_made_certificate():
    """The command the tests run is `make lan`'s, but for the address it listens on."""
    recipe = re.search(r"^lan:.*\n\t(.+)$", MAKEFILE.read_text(), re.MULTILINE)
    assert recipe, "the Makefile has no lan target"
    assert recipe[1] == "$(BIN)/flask run --host 0.0.0.0 " + " ".join(LAN_FLAGS)


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
