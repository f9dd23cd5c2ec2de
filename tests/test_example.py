"""The examples: examples/stdlib_server.py (the protocol served without Flask, driven over
HTTP), and every Python and JS example of the README, run as written."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from flask_app import create_app
from harness.endpoint import Endpoint
from tests.helpers import LiveServer, room_is_clear, room_state

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "stdlib_server.py"


@pytest.fixture
def example_url(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNAL_STORE", f"sqlite:///{tmp_path / 'ex.sqlite'}")
    spec = importlib.util.spec_from_file_location("stdlib_server", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = module.serve(port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def call(url: str, method: str, path: str, body=None, token=None, content_type=None):
    """One request; status, JSON answer and the token header (if any)."""
    status, answer, headers = Endpoint(url).exchange(
        method, path, body, token=token, content_type=content_type or "application/json"
    )
    return status, answer, headers.get("X-Peer-Token")


def test_example_speaks_the_protocol(example_url):
    offer = {"type": "offer", "sdp": "x"}
    assert call(example_url, "GET", "/signal?type=offer")[:2] == (
        200,
        {"type": "offer", "payload": None},
    )
    post = {"room": "ex", "type": "offer", "payload": offer, "peer": "alice"}
    status, _, alice = call(example_url, "POST", "/signal", post)
    assert status == 201
    assert alice
    status, body, bob = call(example_url, "POST", "/signal", {**post, "peer": "bob"})
    assert (status, body["error"]) == (409, "offer_exists")
    assert call(example_url, "GET", "/room?room=ex&peer=carol")[:2] == (
        409,
        {"error": "room_full", "message": "two people are already in this room"},
    )
    assert call(example_url, "GET", "/signal?room=ex&type=offer")[1]["error"] == "not_a_member"
    path = "/signal?room=ex&type=offer&peer=bob"
    assert call(example_url, "GET", path, token=bob)[1]["payload"] == offer
    assert call(example_url, "DELETE", "/signal?room=ex&peer=bob", token=bob)[:2] == (
        200,
        {"deleted": 1},
    )
    assert call(example_url, "GET", "/signal?room=bad/room&type=offer")[0] == 400


OFFER = {"type": "offer", "sdp": "v=0 offer"}
ANSWER = {"type": "answer", "sdp": "v=0 answer"}
CAND = {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdpMid": "0"}


def conversation(url: str) -> list:
    """Every request of the API, the way a call and its mistakes go; what each answered,
    with the random parts (keys' ids, cursors) made comparable."""
    seen = []

    def ask(method, path, body=None, who=None, content_type=None):
        token = tokens.get(who)
        status, answer, issued = call(url, method, path, body, token, content_type)
        if issued:
            tokens[who] = issued
        asked = re.sub(r"cursor=[^&]+", "cursor=<cursor>", path)
        seen.append((method, asked, status, _plain(answer), bool(issued)))
        return answer

    tokens: dict[str, str] = {}
    ask("GET", "/waiting?room=c")
    ask("GET", "/signal?room=c&type=offer&peer=alice", who="alice")
    ask(
        "POST",
        "/signal",
        {"room": "c", "peer": "alice", "type": "offer", "payload": OFFER},
        "alice",
    )
    ask("GET", "/events?room=c&peer=alice&peers=1&wait=0.2", who="alice")
    ask("GET", "/events?room=c&peer=bob", who="bob")
    ask("GET", "/signal?room=c&type=offer&peer=bob", who="bob")
    # fetch's default body type for a string: text/plain.
    ask(
        "POST",
        "/signal",
        json.dumps({"room": "c", "peer": "bob", "type": "answer", "payload": ANSWER}).encode(),
        "bob",
        "text/plain;charset=UTF-8",
    )
    ask(
        "POST",
        "/signal",
        {"room": "c", "peer": "bob", "type": "candidate_receiver", "payloads": [CAND, CAND]},
        "bob",
    )
    ask("DELETE", "/signal?room=c&type=offer&peer=bob", who="bob")
    got = ask("GET", "/events?room=c&peer=alice&peers=1&wait=1", who="alice")
    ask("GET", f"/events?room=c&peer=alice&peers=2&cursor={got['cursor']}&wait=0.2", who="alice")
    ask(
        "POST",
        "/signal",
        {"room": "c", "peer": "alice", "type": "candidate_initiator", "payload": CAND},
        "alice",
    )
    read = ask("GET", "/signal?room=c&type=candidate_initiator&peer=bob&wait=1", who="bob")
    ask("DELETE", "/signal", {"peer": "bob", "keys": [item["key"] for item in read]}, "bob")
    # In-call negotiation: a re-offer through /events, never through a read.
    reoffer = {"type": "offer", "sdp": "v=0 re-offer"}
    body = {"room": "c", "peer": "alice", "type": "description", "payload": reoffer}
    ask("POST", "/signal", body, "alice")
    got = ask("GET", "/events?room=c&peer=bob&peers=2&wait=1", who="bob")
    ask("GET", f"/events?room=c&peer=bob&peers=2&cursor={got['cursor']}&wait=0.2", who="bob")
    ask("GET", "/signal?room=c&type=description&peer=bob", who="bob")
    ask("POST", "/signal", {"room": "c", "type": "description", "payload": reoffer})
    ask("POST", "/signal", {**body, "payload": {"type": "offer"}}, "alice")
    ask("GET", "/room?room=c&peer=bob", who="bob")
    ask("GET", "/room?room=c&peer=carol", who="carol")
    ask("GET", "/signal?room=c&type=offer")
    ask("POST", "/signal", b"type=offer", content_type="application/x-www-form-urlencoded")
    ask("POST", "/signal", b"not json", content_type="text/plain")
    ask("POST", "/signal", {"room": "c", "type": "offer", "payload": {"sdp": "x" * 70_000}})
    ask("GET", "/nowhere")
    ask("PUT", "/signal")
    ask("DELETE", "/room?room=c&peer=alice", who="alice")
    ask("DELETE", "/signal?room=c&peer=bob", who="bob")
    ask("GET", "/waiting?room=c")
    return seen


def _api_part(row: tuple) -> tuple:
    method, path, status, answer, _issued = row
    if status in (404, 405):
        return method, path, status, answer["error"]
    return row


def _plain(answer):
    """``answer`` with keys' random ids and cursors replaced by placeholders."""
    text = json.dumps(answer, sort_keys=True)
    text = re.sub(r'"[0-9a-f]{32}"', '"<id>"', text)
    text = re.sub(r'"cursor": "[^"]+"', '"cursor": "<cursor>"', text)
    return json.loads(text)


def test_the_example_answers_every_request_as_the_flask_app(example_url, live_server):
    """The example serves the whole API: the same requests get the same answers."""
    theirs = conversation(live_server.url)
    ours = conversation(example_url)
    assert [row[:3] for row in ours] == [row[:3] for row in theirs]
    # Outside the API (404, 405) each server words its refusal its own way: same code.
    assert [_api_part(row) for row in ours] == [_api_part(row) for row in theirs]
    statuses = [row[2] for row in ours]
    assert {200, 201, 400, 403, 404, 405, 409, 413, 415} <= set(statuses)


# -- the README's examples -----------------------------------------------------------------
#
# Every fenced ```python and ```js block of README.md runs here as written, with one change:
# the addresses that stand for your server ("http://127.0.0.1:5000", "https://chat.example")
# become the test's live server. Python blocks run in one namespace, top to bottom, as a
# reader would paste them into one session; the JS block runs as a module in Chromium. A
# block meant only to show a shape, which cannot run, says so on the line above its fence:
#
#     <!-- illustrative: why it cannot run -->
#
# and is then only parsed (Python by compile(), JS by `node --check`).

README = Path(__file__).resolve().parent.parent / "README.md"
PLACEHOLDERS = ("http://127.0.0.1:5000", "https://chat.example")
ILLUSTRATIVE = re.compile(r"<!-- illustrative: (.+) -->")


@dataclass(frozen=True)
class Block:
    """One fenced code block of the README."""

    lang: str
    code: str
    line: int  # where its fence opens
    illustrative: str | None  # why it cannot run, when it says so

    def on(self, url: str) -> str:
        """The code with the placeholders for your server replaced by ``url``."""
        code = self.code
        for placeholder in PLACEHOLDERS:
            code = code.replace(placeholder, url)
        return code


def readme_blocks(lang: str) -> list[Block]:
    """The README's ``lang`` blocks, in order."""
    lines = README.read_text(encoding="utf-8").splitlines()
    blocks, n = [], 0
    while n < len(lines):
        if lines[n] == f"```{lang}":
            end = lines.index("```", n + 1)
            above = next((line for line in reversed(lines[:n]) if line.strip()), "")
            marked = ILLUSTRATIVE.fullmatch(above.strip())
            code = "\n".join(lines[n + 1 : end]) + "\n"
            blocks.append(Block(lang, code, n + 1, marked[1] if marked else None))
            n = end
        n += 1
    return blocks


def test_the_readme_has_the_examples_these_tests_run():
    python, js = readme_blocks("python"), readme_blocks("js")
    assert len(python) >= 3 and len(js) >= 1
    fences = re.findall(r"^```(\w*)$", README.read_text(encoding="utf-8"), re.MULTILINE)
    # Every opening fence names its language: a block of code in no language would go unrun.
    assert set(fences[::2]) <= {"python", "js", "sh"}, fences


def test_illustrative_blocks_at_least_parse(tmp_path):
    for block in readme_blocks("python"):
        compile(block.code, f"README.md:{block.line}", "exec")
    for block in readme_blocks("js"):
        module = tmp_path / f"readme_{block.line}.mjs"
        module.write_text(block.code)
        checked = subprocess.run(["node", "--check", str(module)], capture_output=True, text=True)
        assert checked.returncode == 0, f"README.md:{block.line}: {checked.stderr}"


@pytest.fixture
def turn_app(store_url, turn_server):
    """The app handing out the test's own TURN server: nothing here reaches out of the machine
    for ICE (the fallback would be Google's public STUN)."""
    app = create_app(
        {"TESTING": True, "SIGNAL_STORE": store_url}
        | {"TURN_URLS": turn_server.url, "TURN_SECRET": turn_server.secret}
    )
    yield app
    app.extensions["webrtc_signal"].store.close()


@pytest.fixture
def turn_live_server(turn_app):
    server = LiveServer(turn_app).start()
    yield server
    server.stop()


def hang_up_on_echo(url: str, room: str, done: threading.Event) -> threading.Thread:
    """The other side of the README's ``call()``: a peer that greets, and hangs up as soon as
    the greeting comes back echoed."""
    from webrtc_signal.peer import Peer

    async def partner() -> None:
        peer = Peer(url, room, greeting="hello from the test", use_ice_servers=False)
        peer.on_chat = lambda text: peer.hang_up()
        try:
            await peer.run()
        finally:
            done.set()

    thread = threading.Thread(target=asyncio.run, args=(partner(),), daemon=True)
    thread.start()
    return thread


def test_the_readme_python_examples_run(turn_live_server, capsys):
    """The core, ``handle`` and the Python peer, as the README shows them; the peer's call is
    answered by a peer of the test's, which hangs up: the README's prints what it says."""
    done = threading.Event()
    partner = hang_up_on_echo(turn_live_server.url, "my-room", done)
    namespace: dict = {"__name__": "readme"}
    runnable = [block for block in readme_blocks("python") if block.illustrative is None]
    assert runnable
    for block in runnable:
        exec(compile(block.on(turn_live_server.url), f"README.md:{block.line}", "exec"), namespace)
    partner.join(30)
    assert done.is_set(), "the test's peer never finished its call"
    printed = capsys.readouterr().out.splitlines()
    # on_chat=print shows the greeting; then the ending, as the comment beside it says.
    assert printed == ["hello from the test", "the other side hung up"]
    assert room_is_clear(turn_live_server, "my-room")


@pytest.mark.browser
def test_the_readme_js_example_runs_in_a_browser(turn_live_server, browser):
    """The signaling.js example as a module of a page on the server's origin: it enters the
    room, posts its offer and trickles candidates; leaving the page hangs up."""
    [block] = [block for block in readme_blocks("js") if block.illustrative is None]
    url = turn_live_server.url
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    blank = "<!doctype html><title>README example</title>"
    page.route(
        f"{url}/readme-example", lambda route: route.fulfill(body=blank, content_type="text/html")
    )
    try:
        page.goto(f"{url}/readme-example")
        page.add_script_tag(content=block.on(url), type="module")
        for _ in range(100):
            state = room_state(turn_live_server, "my-room")
            if state["offer"] and state["candidates_for_receiver"]:
                break
            page.wait_for_timeout(100)
        assert state["peers"] == 1 and state["offer"] == 1, state
        assert state["candidates_for_receiver"] >= 1, state  # the initiator's, for the receiver
        page.goto("about:blank")  # pagehide: the example hangs up
        for _ in range(50):
            state = room_state(turn_live_server, "my-room")
            if not (state["peers"] or state["offer"]):
                break
            page.wait_for_timeout(100)
        assert not (state["peers"] or state["offer"]), state
        # A candidate post still on its way may land after the hang-up: whoever enters next
        # finds none of it, and the room clear.
        signaling = turn_live_server.app.extensions["webrtc_signal"]
        token = signaling.enter("my-room", "next-person")
        events = signaling.events("my-room", "next-person", token)
        assert (events["offer"], events["candidates"], events["descriptions"]) == (None, [], [])
        signaling.hang_up("my-room", "next-person", token)
        assert room_is_clear(turn_live_server, "my-room"), room_state(turn_live_server, "my-room")
        assert errors == []
    finally:
        page.close()
