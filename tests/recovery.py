"""What the tests of calls that survive share: a call set up, both people checked connected
to each other, how long a recovery took (printed with -s), and chat both ways.

"Connected to each other" is what the people would see and what the connections say: both
pages show "connected", both connections are connected with the chat channel open, and each
one's remote ICE credentials are the other's local ones (they talk with the current ones).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from harness.browser import Person
from tests.helpers import AppProcess

# What a page shows while it tries to get the call back: the state, and a text starting
# "Reconnecting…" with the seconds elapsed.
RECONNECTING = "reconnecting"
RECONNECTING_TEXT = re.compile("^Reconnecting\u2026" + r"\D*(\d+)")  # a JS regex too
# States a page must never show while its call is being recovered: the call is not over.
OVER = {"left", "idle", "error", "full"}
POLL_MS = 50
# After a server restart the push channel tries again within 5 s (its backoff's longest
# pause), then enters the room again: both are back well within this.
REENTER_S = 15

LINK_JS = """
() => {
  const call = window.videoChat && window.videoChat.call;
  if (!call || !call.pc || !call.dc) return null;
  return {
    status: document.getElementById("status").dataset.state,
    connection: call.pc.connectionState,
    signaling: call.pc.signalingState,
    channel: call.dc.readyState,
    connected: call.connected,
  };
}
"""


def start_call(alice: Person, bob: Person, timeout: float = 15_000) -> None:
    """Alice starts and waits, Bob joins: both connected, each playing the other's video."""
    alice.start()
    alice.expect_state("waiting")
    bob.start()
    for person in (alice, bob):
        person.expect_state("connected", timeout)
    for person in (alice, bob):
        person.expect_remote_video_playing()


def link(person: Person) -> dict | None:
    """The page's status and its connection's states now; None while it has no call or is
    loading."""
    try:
        state = person.page.evaluate(LINK_JS)
        return state and {**state, "ice": person.ice()}
    except PlaywrightError:  # the page is navigating (a reload): no call to read yet
        return None


def connected_to_each_other(a: Person, b: Person, selected_pair: bool = True) -> bool:
    """Both pages connected, on connected connections with open channels, each using the
    other's current ICE credentials (also on the selected candidate pair, unless
    ``selected_pair`` is false)."""
    links = [link(a), link(b)]
    if not all(links):
        return False
    for mine, theirs in (links, links[::-1]):
        if (mine["status"], mine["connection"], mine["channel"]) != (
            "connected",
            "connected",
            "open",
        ):
            return False
        if mine["signaling"] != "stable" or not mine["connected"]:
            return False
        if not uses_current_credentials(mine["ice"], theirs["ice"], selected_pair):
            return False
    return True


def uses_current_credentials(mine: dict, theirs: dict, selected_pair: bool = True) -> bool:
    """One side's ICE (probes.js, ice()) talks to the other with both sides' current
    credentials in the descriptions, and (where the stats tell, unless ``selected_pair`` is
    false) on a succeeded selected pair of a transport using its current ones.

    Not the selected pair's candidates: Chromium may nominate a pair of the restarting side's
    new candidate and the other side's old one (its checks began before the other side had
    restarted), so the other side's stats keep an old local candidate, and a browser that
    keeps its ports across a restart (Firefox) leaves the same remote candidate, old ufrag and
    all, in the other side's stats."""
    if mine["remoteUfrag"] != theirs["localUfrag"]:
        return False
    if not selected_pair or mine["pairState"] is None:  # no pair in the stats (yet)
        return not selected_pair
    transport = mine["transportUfrag"] or mine["statsLocalUfrag"]  # Firefox: no transport
    return mine["pairState"] == "succeeded" and transport == mine["localUfrag"]


def local_ufrags(*persons: Person, selected_pair: bool = True) -> list[str | None]:
    """Each one's local ICE username fragment: the transport's in the stats (Chromium; else
    the selected pair's local candidate's), or the current local description's."""
    ufrags = []
    for person in persons:
        ice = person.ice() or {}
        stats = ice.get("transportUfrag") or ice.get("statsLocalUfrag")
        ufrags.append(stats if selected_pair else ice.get("localUfrag"))
    return ufrags


def restarted(a: Person, b: Person, before: list[str | None], selected_pair: bool = True) -> bool:
    """Both use new local ICE credentials, and are connected to each other with them (on the
    selected pair too, unless ``selected_pair`` is false)."""
    now = local_ufrags(a, b, selected_pair=selected_pair)
    changed = all(new and new != old for new, old in zip(now, before, strict=True))
    return (
        changed
        and connected_to_each_other(a, b, selected_pair)
        and local_ufrags(a, b, selected_pair=selected_pair) == now
    )


def wait_connected(a: Person, b: Person, timeout: float, what: str) -> float:
    """Wait until both are connected to each other; the seconds it took. Fails after
    ``timeout`` seconds saying what each page showed."""
    return wait_for(
        a,
        lambda: connected_to_each_other(a, b),
        timeout,
        lambda: (
            f"{what}: not connected to each other after {timeout} s: "
            f"{shown(a)} / {shown(b)}; {link(a)} / {link(b)}"
        ),
    )


def wait_for(person: Person, check: Callable[[], bool], timeout: float, message: Any) -> float:
    """Poll ``check`` (through ``person``'s page, which keeps Playwright's events flowing)
    until it holds; the seconds it took. Fails after ``timeout`` seconds with ``message``
    (called for it when callable)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(message() if callable(message) else message)
        person.page.wait_for_timeout(POLL_MS)
    return time.monotonic() - started


def shown(person: Person) -> str:
    """The status a person sees: its state and text."""
    try:
        return f"{person.state()}: {person.status.text_content()!r}"
    except PlaywrightError:
        return "(loading)"


def states_since(person: Person, since_ms: float) -> list[str]:
    """Each state the page showed at or after ``since_ms`` (ms since the epoch)."""
    return [s["state"] for s in person.probe("states") if s["at"] >= since_ms]


def now_ms() -> float:
    """The time as the pages' probes note it (Date.now(): one clock on this machine)."""
    return time.time() * 1000


def expect_reconnecting(person: Person, timeout: float = 15_000) -> int:
    """The page shows it is reconnecting, with the seconds elapsed; those seconds."""
    person.expect_state(RECONNECTING, timeout)
    expect(person.status).to_have_text(RECONNECTING_TEXT, timeout=2_000)
    match = RECONNECTING_TEXT.match(person.status.text_content() or "")
    assert match, shown(person)
    return int(match.group(1))


def chat_both_ways(a: Person, b: Person, tag: str) -> None:
    """A message from each reaches the other."""
    a.send(f"{tag}: there")
    b.expect_chat(f"{tag}: there")
    b.send(f"{tag}: and back")
    a.expect_chat(f"{tag}: and back")


def report(what: str, seconds: float) -> None:
    """Print a measured recovery time (shown with pytest -s)."""
    print(f"\nRECOVERY {what}: {seconds:.2f} s")


def server_outage(app: AppProcess, a: Person, b: Person, room: str, down_s: float) -> float:
    """Kill the signaling server mid-call and start it again ``down_s`` later on the same port
    and store. Meanwhile the call goes on (video plays, chat crosses) and neither page shows
    anything but "connected". The seconds from its return until the room knows both again."""
    assert app.waiting(room) == 2
    since = now_ms()
    app.kill()
    a.page.wait_for_timeout(down_s * 500)
    for person in (a, b):
        person.expect_remote_video_playing()
    chat_both_ways(a, b, "while the server is down")
    a.page.wait_for_timeout(max(0.0, down_s * 1000 - (now_ms() - since)))
    app.start()
    took = wait_for(
        a,
        lambda: app.waiting(room) == 2,
        REENTER_S,
        lambda: f"the room knows {app.waiting(room)} people {REENTER_S} s after the restart",
    )
    for person in (a, b):
        assert set(states_since(person, since)) <= {"connected"}, person.probe("states")
        assert "error" not in (person.status.text_content() or "").lower(), shown(person)
    return took
