"""Driving the page in a real Chromium: launch flags, one person per browser context, probes.

Used by tests/test_browser.py and bench/call_setup.py. Every person's page is served under a
strict Content-Security-Policy (added to the document's response), so a test run also proves
the page needs no inline script, inline handler or inline style.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, expect
from playwright.sync_api import Error as PlaywrightError

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

# What the tests look at from outside the page's own code: the ICE configuration each
# RTCPeerConnection got, every candidate handed to addIceCandidate, every getUserMedia stream
# (to check Hang Up stops them) and any CSP violation.
PROBES_JS = """
(() => {
  window.__probe = { configs: [], candidates: [], streams: [], csp: [] };
  const NativePC = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends NativePC {
    constructor(config) {
      super(config);
      window.__probe.configs.push(JSON.parse(JSON.stringify(config || {})));
    }
  };
  const addIceCandidate = NativePC.prototype.addIceCandidate;
  NativePC.prototype.addIceCandidate = function (candidate, ...rest) {
    window.__probe.candidates.push(candidate && candidate.candidate);
    return addIceCandidate.call(this, candidate, ...rest);
  };
  if (navigator.mediaDevices) {
    const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (constraints) => {
      const stream = await getUserMedia(constraints);
      window.__probe.streams.push(stream);
      return stream;
    };
  }
  document.addEventListener("securitypolicyviolation", (event) => {
    window.__probe.csp.push(event.violatedDirective + " " + event.blockedURI);
  });
})();
"""

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

# The average brightness (0-255) of the remote video's current frame: black when the other
# person turned the camera off, not black while their (fake) camera runs.
REMOTE_BRIGHTNESS_JS = """
() => {
  const video = document.getElementById("remoteVideo");
  if (!video.videoWidth) return -1;
  const canvas = document.createElement("canvas");
  canvas.width = 32;
  canvas.height = 24;
  const context = canvas.getContext("2d");
  context.drawImage(video, 0, 0, canvas.width, canvas.height);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0;
  for (let i = 0; i < pixels.length; i += 4) sum += (pixels[i] + pixels[i + 1] + pixels[i + 2]) / 3;
  return sum / (pixels.length / 4);
}
"""

# Audio energy received so far (grows while the other person's microphone is on).
AUDIO_ENERGY_JS = """
async () => {
  const call = window.videoChat.call;
  if (!call || !call.pc) return -1;
  let energy = 0;
  (await call.pc.getStats()).forEach((entry) => {
    const audio = entry.type === "inbound-rtp" && entry.kind === "audio";
    if (audio) energy += entry.totalAudioEnergy || 0;
  });
  return energy;
}
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
        self.button("Start Session").click()

    def hang_up(self) -> None:
        self.button("Hang Up").click()

    def expect_state(self, state: str, timeout: float = 10_000) -> None:
        expect(self.status).to_have_attribute("data-state", state, timeout=timeout)

    def state(self) -> str | None:
        return self.status.get_attribute("data-state")

    def send(self, text: str) -> None:
        self.page.get_by_label("Message", exact=True).fill(text)
        self.button("Send").click()

    def chat_texts(self) -> list[str]:
        return self.page.locator("#chatLog li .text").all_text_contents()

    def expect_chat(self, text: str, timeout: float = 5_000) -> None:
        expect(self.page.locator("#chatLog li .text", has_text=text).last).to_have_text(
            text, timeout=timeout
        )

    def probe(self, name: str):
        """What the probes recorded: configs, candidates, csp."""
        return self.page.evaluate(f"window.__probe.{name}")

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
