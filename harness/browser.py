"""Driving the page in a real Chromium: launch flags, one person per browser context, probes.

Used by the browser tests and bench/call_setup.py. Every person's page is served under a
strict Content-Security-Policy (added to the document's response), so a test run also proves
the page needs no inline script, inline handler or inline style.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, expect
from playwright.sync_api import Error as PlaywrightError

from .waiting import wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    # Fake camera and microphone, allowed without a prompt.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    # Running as root in a container.
    "--no-sandbox",
    "--disable-gpu",
    # Keep Chromium off the (closed) network: no QUIC, updates, sync or first-run fetches.
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STRICT_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; media-src 'self' blob: mediastream:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

# What the tests look at from outside the page's own code (harness/probes.js, shared with
# tests/firefox/call.mjs): the ICE configuration each RTCPeerConnection got, every candidate
# handed to addIceCandidate, every getUserMedia stream (to check Leave stops them), any CSP
# violation, each change of the page's state, and what arrives from the other person.
PROBES_JS = (Path(__file__).parent / "probes.js").read_text()

# getUserMedia failing with the DOMException named by the argument: NotAllowedError as after
# clicking "Block" in the prompt, NotFoundError on a machine with no camera or microphone.
MEDIA_ERROR_JS = """
((name) => {
  if (navigator.mediaDevices) {
    navigator.mediaDevices.getUserMedia = () =>
      Promise.reject(new DOMException("getUserMedia failed: " + name, name));
  }
})(%s);
"""


class ChromiumMissing(RuntimeError):
    """Debian's Chromium is not installed where the browser tests expect it."""


def launch_chromium(playwright: Playwright, extra_args: list[str] | None = None) -> Browser:
    """Headless Debian Chromium with fake media devices; ChromiumMissing if it is absent."""
    if not CHROMIUM.exists():
        raise ChromiumMissing(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(`make browser`, or `apt-get install chromium`)"
        )
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS + (extra_args or []),
    )


def serve_with_csp(route: Route) -> None:
    """Fetch the page as served and hand it to the browser with a strict CSP header."""
    response = route.fetch()
    headers = {**response.headers, "content-security-policy": STRICT_CSP}
    route.fulfill(response=response, headers=headers)


@dataclass
class Person:
    """One person: a browser context of their own with one page on the app."""

    context: BrowserContext
    page: Page
    errors: list[str] = field(default_factory=list)
    crashed: bool = False
    owns_context: bool = True

    @property
    def status(self):
        return self.page.locator("#status")

    def button(self, name: str):
        return self.page.get_by_role("button", name=name, exact=True)

    def start(self) -> None:
        self.button("Join").click()

    def hang_up(self) -> None:
        self.button("Leave").click()

    def expect_state(self, state: str, timeout: float = 10_000) -> None:
        expect(self.status).to_have_attribute("data-state", state, timeout=timeout)

    def state(self) -> str | None:
        return self.status.get_attribute("data-state")

    def pause(self, seconds: float) -> None:
        """Wait ``seconds`` while Playwright keeps serving every page's requests (a
        ``time.sleep`` here would stall them: see harness/waiting.py)."""
        self.page.wait_for_timeout(seconds * 1000)

    def wait_until(self, check: Callable[[], object], timeout: float, message: str) -> None:
        """Poll ``check`` (on the server, a store, another client) until it holds, pausing
        through Playwright between tries; fail with ``message`` after ``timeout`` seconds."""
        wait_until(check, timeout, message, self.pause)

    def send(self, text: str) -> None:
        """Type and send a chat message, opening the chat first where it is closed (a phone)."""
        field = self.page.get_by_label("Message", exact=True)
        if not field.is_visible():
            self.page.locator("#chatButton").click()
        field.fill(text)
        self.button("Send").click()

    def chat_texts(self) -> list[str]:
        return self.page.locator("#chatLog li .text").all_text_contents()

    def expect_chat(self, text: str, timeout: float = 5_000) -> None:
        expect(self.page.locator("#chatLog li .text", has_text=text).last).to_have_text(
            text, timeout=timeout
        )

    def probe(self, name: str):
        """What the probes recorded: configs, candidates, streams, csp, states."""
        return self.page.evaluate(f"window.__probe.{name}")

    def remote_brightness(self) -> float:
        """The average brightness (0-255) of the other person's video now; -1 without one."""
        return self.page.evaluate("window.__probe.remoteBrightness()")

    def audio_energy(self) -> float:
        """Audio energy received from the other person so far; -1 outside a call."""
        return self.page.evaluate("window.__probe.audioEnergy()")

    def ice(self) -> dict | None:
        """The ICE credentials and candidate pair the call uses now (probes.js, ``ice``)."""
        return self.page.evaluate("window.__probe.ice()")

    def expect_remote_video_playing(self, timeout: float = 10_000) -> None:
        """The other person's video has frames, and its playback time keeps rising."""
        self.page.wait_for_function(
            "() => document.getElementById('remoteVideo').videoWidth > 0", timeout=timeout
        )
        before = self.page.evaluate("document.getElementById('remoteVideo').currentTime")
        self.page.wait_for_function(
            "(t) => document.getElementById('remoteVideo').currentTime > t + 0.2",
            arg=before,
            timeout=timeout,
        )

    def crash(self, timeout: float = 5) -> None:
        """Kill the page's renderer as a crash would: no pagehide, no goodbye, no hang-up.

        Page.crash never answers, so it is sent through the browser session's
        Target.sendMessageToTarget, which returns once the message is delivered.
        """
        crashed = []
        self.page.once("crash", lambda _page: crashed.append(True))
        page_session = self.context.new_cdp_session(self.page)
        target_id = page_session.send("Target.getTargetInfo")["targetInfo"]["targetId"]
        page_session.detach()
        browser_session = self.context.browser.new_browser_cdp_session()
        attached = browser_session.send(
            "Target.attachToTarget", {"targetId": target_id, "flatten": False}
        )
        message = json.dumps({"id": 1, "method": "Page.crash"})
        browser_session.send(
            "Target.sendMessageToTarget", {"sessionId": attached["sessionId"], "message": message}
        )
        deadline = time.monotonic() + timeout
        while not crashed:
            assert time.monotonic() < deadline, "the page did not crash"
            try:
                self.page.wait_for_timeout(50)
            except PlaywrightError:  # "Page crashed": what we wanted
                break
        self.crashed = True
        browser_session.detach()

    def open_tab(self, url: str) -> Person:
        """Another tab of this person's browser profile: it shares the context's connections."""
        page = self.context.new_page()
        tab = Person(self.context, page, owns_context=False)
        page.on("pageerror", lambda exc: tab.errors.append(str(exc)))
        page.goto(url)
        expect(tab.status).to_have_attribute("data-state", "idle")
        return tab

    def close(self) -> None:
        if self.owns_context:
            self.context.close()
        elif not self.page.is_closed():
            self.page.close()


def open_person(
    browser: Browser,
    url: str,
    *,
    media_error: str | None = None,
    viewport: dict[str, int] | None = None,
    permissions: list[str] | None = None,
    init_scripts: Sequence[str] = (),
    expect_idle: bool = True,
    ignore_https_errors: bool = False,
) -> Person:
    """A new person (browser context) with the page at ``url`` loaded, under a strict CSP.

    ``media_error`` makes getUserMedia fail with that DOMException name (NotAllowedError,
    NotFoundError); ``init_scripts`` run in the page before its own script, after the probes;
    ``ignore_https_errors`` accepts a self-made certificate, as a person clicking through the
    browser's warning does.
    """
    context = browser.new_context(
        viewport=viewport or {"width": 1280, "height": 800},
        permissions=permissions or [],
        ignore_https_errors=ignore_https_errors,
    )
    if media_error:
        context.add_init_script(MEDIA_ERROR_JS % json.dumps(media_error))
    context.add_init_script(PROBES_JS)
    for script in init_scripts:
        context.add_init_script(script)
    context.route(lambda u: urlsplit(u).path == "/", serve_with_csp)
    page = context.new_page()
    person = Person(context, page)
    page.on("pageerror", lambda exc: person.errors.append(str(exc)))
    page.goto(url)
    if expect_idle:
        expect(person.status).to_have_attribute("data-state", "idle")
    return person
