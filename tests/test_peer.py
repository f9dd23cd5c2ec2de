"""The Python peer: its pure parts, and the `webrtc-peer` command in real calls.

The command runs as a subprocess (the installed console script), which also proves the CLI
and Ctrl-C. Its partner is another webrtc-peer, or the page in a real headless Chromium.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from harness.network import free_port
from harness.waiting import Pause, wait_for_exit
from tests.helpers import room_is_clear, room_state, wait_until
from tests.seed_client import SeedClient
from webrtc_signal.client import SignalingClient
from webrtc_signal.peer import (
    ECHO_PREFIX,
    TRACK_ID_PREFIX,
    Ending,
    Message,
    Peer,
    TestPattern,
    candidate_from_json,
    chat_json,
    description_from_json,
    description_to_json,
    echo_of,
    ice_servers_from_json,
    is_peer_track,
    parse_args,
    parse_message,
    pattern_frame,
)

WEBRTC_PEER = Path(sys.executable).with_name("webrtc-peer")
CHROME_CANDIDATE = {
    "candidate": "candidate:842163049 1 udp 1677729535 192.0.2.2 50123 typ srflx "
    "raddr 10.0.0.2 rport 50123 generation 0 ufrag abcd network-cost 999",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
    "usernameFragment": "abcd",
}


# -- pure parts ------------------------------------------------------------------------------


def test_candidate_from_a_browsers_json():
    candidate = candidate_from_json(CHROME_CANDIDATE)
    assert (candidate.foundation, candidate.component, candidate.protocol) == (
        "842163049",
        1,
        "udp",
    )
    assert (candidate.ip, candidate.port, candidate.type) == ("192.0.2.2", 50123, "srflx")
    assert (candidate.relatedAddress, candidate.relatedPort) == ("10.0.0.2", 50123)
    assert (candidate.sdpMid, candidate.sdpMLineIndex) == ("0", 0)
    line = "a=" + CHROME_CANDIDATE["candidate"]
    assert candidate_from_json({"candidate": line, "sdpMLineIndex": 1}).sdpMLineIndex == 1


def test_end_of_candidates_and_bad_candidates():
    assert candidate_from_json({"candidate": "", "sdpMid": "0"}) is None
    for bad in ({"candidate": "candidate:1 1 udp"}, {"candidate": 5}, {}):
        with pytest.raises(ValueError):
            candidate_from_json(bad)


def test_descriptions_round_trip():
    payload = {"type": "answer", "sdp": "v=0\r\n"}
    assert description_to_json(description_from_json(payload)) == payload


def test_messages_are_read_as_the_page_reads_them():
    assert parse_message(chat_json("hi <b>")) == Message("chat", "hi <b>")
    assert parse_message('{"type": "bye"}') == Message("bye")
    assert parse_message("plain text") == Message("text", "plain text")
    assert parse_message('{"type": "chat", "text": 3}') == Message(
        "text", '{"type": "chat", "text": 3}'
    )
    assert parse_message(b"bytes \xff") == Message("text", "bytes \ufffd")
    assert json.loads(chat_json("x")) == {"type": "chat", "text": "x"}


def test_echo_never_echoes_an_echo():
    assert echo_of(Message("chat", "hello")) == ECHO_PREFIX + "hello"
    assert echo_of(Message("text", "plain")) == ECHO_PREFIX + "plain"
    assert echo_of(Message("chat", ECHO_PREFIX + "hello")) is None
    assert echo_of(Message("bye")) is None


def test_ice_servers_from_json():
    servers = ice_servers_from_json(
        [
            {"urls": "stun:stun.example.org:3478"},
            {
                "urls": ["turn:turn.example.org:3478?transport=udp"],
                "username": "u",
                "credential": "c",
            },
            {"urls": ""},
        ]
    )
    assert [s.urls for s in servers] == [
        "stun:stun.example.org:3478",
        ["turn:turn.example.org:3478?transport=udp"],
    ]
    assert (servers[1].username, servers[1].credential) == ("u", "c")


def test_test_pattern_moves_and_is_marked():
    first, later = pattern_frame(320, 240, 0), pattern_frame(320, 240, 40)
    assert (first.width, first.height, first.format.name) == (320, 240, "yuv420p")
    assert bytes(first.planes[0]) != bytes(later.planes[0])
    assert bytes(first.planes[0])[:1] == bytes([235])  # the white bar starts the row

    async def two_frames() -> tuple[object, object, str]:
        track = TestPattern()
        frames = (await track.recv(), await track.recv())
        track.stop()
        return *frames, track.id

    one, two, track_id = asyncio.run(two_frames())
    assert two.pts > one.pts and two.time_base == one.time_base
    assert is_peer_track(track_id) and track_id.startswith(TRACK_ID_PREFIX)
    assert not is_peer_track("3f1c0a7e-chromium-track") and not is_peer_track(None)


def test_command_line_checks_its_arguments(capsys):
    args = parse_args(["--url", "http://127.0.0.1:5000", "--room", "r-1", "--echo"])
    assert (args.url, args.room, args.echo, args.no_ice_servers) == (
        "http://127.0.0.1:5000",
        "r-1",
        True,
        False,
    )
    assert parse_args(["--url", "https://x.example"]).room == "default-room"
    for argv, message in [
        (["--url", "http://x", "--room", "no spaces"], "room must be 1-64 characters"),
        (["--url", "127.0.0.1:5000"], "starting http:// or https://"),
        (["--room", "r"], "--url"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            parse_args(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


# -- the command in real calls ---------------------------------------------------------------


class PeerProcess:
    """`webrtc-peer` in its own process; its stdout and stderr lines collected as they come.
    ``pause`` is how the test's thread waits for it (a Person's, while a page is open)."""

    def __init__(self, url: str, room: str, *args: str, pause: Pause = time.sleep) -> None:
        self.pause = pause
        assert WEBRTC_PEER.exists(), f"{WEBRTC_PEER} is missing: pip install -e '.[peer]'"
        self.process = subprocess.Popen(
            [str(WEBRTC_PEER), "--url", url, "--room", room, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: dict[str, list[str]] = {"out": [], "err": []}
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, "out"), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, "err"), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, name: str) -> None:
        with stream:
            for line in stream:
                self.lines[name].append(line.rstrip("\n"))

    def expect(self, name: str, text: str, timeout: float = 15) -> None:
        """Wait until a line of stdout ("out") or stderr ("err") contains ``text``."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines[name]):
            assert time.monotonic() < deadline, f"no {text!r} in {self.lines}"
            assert self.process.poll() is None or self._readers[0].is_alive(), self.lines
            self.pause(0.05)

    def interrupt(self) -> None:
        """Ctrl-C."""
        self.process.send_signal(signal.SIGINT)

    def wait(self, timeout: float = 15) -> int:
        """The exit status, once it exits and its output is read."""
        code = wait_for_exit(self.process, timeout, self.pause)
        for reader in self._readers:
            reader.join(5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def start_peer() -> Iterator[Callable[..., PeerProcess]]:
    """Start webrtc-peer processes; any still running at the end is killed."""
    started: list[PeerProcess] = []

    def start(url: str, room: str, *args: str, pause: Pause = time.sleep) -> PeerProcess:
        peer = PeerProcess(url, room, *args, pause=pause)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        peer.kill()


EMPTY_ROOM = {
    "peers": 0,
    "offer": 0,
    "answer": 0,
    "candidates_for_initiator": 0,
    "candidates_for_receiver": 0,
}


def test_two_peers_connect_chat_and_hang_up(live_server, start_peer):
    """Two Python peers: each greets, each echoes the other; Ctrl-C on one ends both."""
    alice = start_peer(live_server.url, "duo", "--echo", "--greet", "hi from alice")
    alice.expect("err", "as the initiator: waiting for the other side")
    bob = start_peer(live_server.url, "duo", "--echo", "--greet", "hi from bob", "--no-ice-servers")
    bob.expect("err", "as the receiver")
    for peer, me, other in ((alice, "alice", "bob"), (bob, "bob", "alice")):
        # Between two webrtc-peers neither sends the other's video back: test patterns both.
        peer.expect("err", "connected as the")
        assert any("sending a test pattern" in line for line in peer.lines["err"])
        peer.expect("out", f"them: hi from {other}")
        peer.expect("out", f"them: echo: hi from {me}")
    # An echo is not echoed again: one greeting and one echo each way, nothing more.
    time.sleep(0.5)
    assert sorted(alice.lines["out"]) == ["them: echo: hi from alice", "them: hi from bob"]
    assert sorted(bob.lines["out"]) == ["them: echo: hi from bob", "them: hi from alice"]

    bob.interrupt()
    assert bob.wait() == 0
    assert bob.lines["err"][-1] == "webrtc-peer: hung up"
    assert alice.wait() == 0
    assert alice.lines["err"][-1] == "webrtc-peer: the other side left"
    assert room_is_clear(live_server, "duo")


def test_room_full(live_server, start_peer):
    live_server.enter("full", "alice")
    live_server.enter("full", "bob")
    peer = start_peer(live_server.url, "full")
    assert peer.wait() == 1
    assert peer.lines["err"] == [
        "webrtc-peer: room full is full: two people are already in a call there"
    ]
    assert peer.lines["out"] == []
    assert room_state(live_server, "full")["peers"] == 2


def test_server_down(start_peer):
    url = f"http://127.0.0.1:{free_port()}"
    peer = start_peer(url, "room")
    assert peer.wait() == 1
    [line] = peer.lines["err"]
    assert line.startswith(f"webrtc-peer: cannot reach the signaling server at {url} (")


def test_ctrl_c_while_waiting_clears_the_room(live_server, start_peer):
    peer = start_peer(live_server.url, "alone")
    peer.expect("err", "waiting for the other side")
    assert room_state(live_server, "alone")["offer"] == 1
    peer.interrupt()
    assert peer.wait() == 0
    assert peer.lines["err"][-1] == "webrtc-peer: hung up"
    assert room_is_clear(live_server, "alone")


def test_a_partner_gone_before_connecting_is_forgotten(live_server, start_peer):
    """Someone answers the peer's offer, then leaves before the call connects: the peer
    leaves too (with what it sent) and waits again with a fresh offer, as the page does."""
    peer = start_peer(live_server.url, "flaky", "--no-ice-servers")
    peer.expect("err", "waiting for the other side")

    async def answer_and_leave() -> None:
        async with SignalingClient(live_server.url, "flaky") as client:
            await client.enter()
            offer = await client.read_offer()
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            await pc.setRemoteDescription(description_from_json(offer))
            await pc.setLocalDescription(await pc.createAnswer())
            answer = description_to_json(pc.localDescription)
            await pc.close()  # nobody will answer the peer's connectivity checks
            await client.post_answer(answer)
            await client.delete_offer()
            # Gone once the peer has taken the answer (its next request acknowledged it):
            # leaving sooner would take the answer along before the peer ever saw it.
            await until(
                lambda: room_state(live_server, "flaky")["answer"] == 0,
                10,
                "the peer did not take the answer",
            )
            await client.leave()

    asyncio.run(answer_and_leave())
    peer.expect("err", "the other side went away before the call connected: waiting again")
    wait_until(
        lambda: sum("waiting for the other side" in line for line in peer.lines["err"]) == 2,
        5,
        "the peer did not wait again",
    )
    assert room_state(live_server, "flaky") == {**EMPTY_ROOM, "peers": 1, "offer": 1}
    peer.interrupt()
    assert peer.wait() == 0
    assert room_is_clear(live_server, "flaky")


@pytest.mark.parametrize("who_ends", ["peer", "partner"])
def test_a_client_without_a_peer_id_offers_and_the_peer_answers(live_server, start_peer, who_ends):
    """A client that sends no peer id (tests/seed_client.py) offers from no place in the room,
    so the room counts the peer alone all call long: the peer stays in the call all the same,
    and chats with it in plain text both ways, as the page does. Its hang-up sends no bye;
    the other client's hang-up closes the connection, which the peer takes as it leaving."""
    room = f"anonymous-{who_ends}"
    seed = SeedClient(live_server.url, room)
    try:
        seed.call_as_initiator()
        peer = start_peer(
            live_server.url, room, "--echo", "--greet", "hi, seed", "--no-ice-servers"
        )
        peer.expect("err", "connected as the receiver: sending back the video received")
        wait_until(lambda: "hi, seed" in seed.received, 5, "no greeting reached the seed client")
        seed.send("hello <b>")
        peer.expect("out", "them: hello <b>")
        wait_until(lambda: len(seed.received) == 2, 5, "no echo reached the seed client")
        time.sleep(1)  # counts of one peer came meanwhile: not a sign of leaving
        assert peer.process.poll() is None, peer.lines
        assert room_state(live_server, room)["peers"] == 1
        if who_ends == "peer":
            peer.interrupt()
            assert peer.wait() == 0
            assert peer.lines["err"][-1] == "webrtc-peer: hung up"
            wait_until(seed.closed.is_set, 5, "the seed client did not see the peer hang up")
            assert room_is_clear(live_server, room)
        else:
            seed.hang_up()
            assert peer.wait() == 0
            assert peer.lines["err"][-1] == "webrtc-peer: the other side left"
        assert seed.received == ["hi, seed", "echo: hello <b>"]  # plain text, and no bye
        assert peer.lines["out"] == ["them: hello <b>"]
    finally:
        seed.close()


class CountingTransport(httpx.AsyncBaseTransport):
    """Sends requests on, noting each and how many were open at once at the most."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.requests: list[httpx.Request] = []
        self.open = self.most_open = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            response = await self._inner.handle_async_request(request)
            await response.aread()  # open until its answer is read
            return response
        finally:
            self.open -= 1

    async def aclose(self) -> None:
        await self._inner.aclose()


async def until(check: Callable[[], bool], timeout: float, message: str) -> None:
    """wait_until for a test on the event loop: polls without blocking the loop."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, message
        await asyncio.sleep(0.05)


def test_one_request_at_a_time_and_candidates_acknowledged(live_server, caplog):
    """The peer in this process, as the initiator; its partner answers by hand, trickles two
    candidates, then leaves the room with its connection still up. The peer holds at most one
    request open at once (the events channel: no long-poll beside it, no heartbeat, no
    deletion by key), applies the candidates, and their acknowledgement leaves none stored;
    the partner's leaving alone (its peer count) ends the call."""
    caplog.set_level(logging.DEBUG, logger="webrtc_signal.peer")
    room = "one-at-a-time"

    def stored(kind: str) -> int:
        return room_state(live_server, room)[kind]

    async def scenario() -> tuple[Ending, CountingTransport, float]:
        transport = CountingTransport()
        async with httpx.AsyncClient(transport=transport) as http:
            peer = Peer(live_server.url, room, use_ice_servers=False)
            peer.signaling = SignalingClient(live_server.url, room, http=http)
            running = asyncio.create_task(peer.run())
            await until(lambda: stored("offer") == 1, 10, "no offer")
            async with SignalingClient(live_server.url, room) as partner:
                await partner.enter()
                pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                await pc.setRemoteDescription(description_from_json(await partner.read_offer()))
                await pc.setLocalDescription(await pc.createAnswer())
                answer = description_to_json(pc.localDescription)
                await partner.post_answer(answer)
                await partner.delete_offer()
                # Trickled as a browser would: a candidate of the answer's SDP, and the end.
                line = next(x for x in answer["sdp"].splitlines() if x.startswith("a=candidate:"))
                await partner.post_candidates(
                    "receiver",
                    [
                        {"candidate": line[2:], "sdpMid": "0", "sdpMLineIndex": 0},
                        {"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0},
                    ],
                )
                await until(lambda: peer.connected, 15, "the call did not connect")
                await until(
                    lambda: stored("candidates_for_initiator") == stored("answer") == 0,
                    5,
                    "the answer and candidates were not acknowledged",
                )
                left = time.monotonic()
                await partner.leave()
                ending = await asyncio.wait_for(running, 10)
                noticed = time.monotonic() - left
                await pc.close()
        return ending, transport, noticed

    ending, transport, noticed = asyncio.run(scenario())
    assert ending is Ending.LEFT
    assert noticed < 3  # the held request wakes when the room changes
    assert transport.most_open == 1
    asked = [(r.method, r.url.path, r.url.params.get("type")) for r in transport.requests]
    assert asked[:4] == [
        ("GET", "/room", None),  # enter
        ("GET", "/signal", "offer"),  # no offer: the initiator
        ("POST", "/signal", None),  # its offer
        ("GET", "/events", None),
    ]
    assert set(asked[4:-1]) == {("GET", "/events", None)}
    assert asked[-1] == ("DELETE", "/room", None)  # the one who stays leaves
    assert "applied 1 trickled candidates of the receiver" in caplog.text
    assert room_is_clear(live_server, room)


# -- with the page in Chromium ---------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("peer_first", [False, True], ids=["page-first", "peer-first"])
def test_page_and_peer_call(live_server, start_peer, people, peer_first):
    """The page and the Python peer connect in either role, chat both ways, and the page plays
    the video the peer sends back; then one side ends the call and the other notices."""
    room = f"mixed-{int(peer_first)}"
    page = people(f"{live_server.url}/?room={room}")
    args = (live_server.url, room, "--echo", "--greet", "Hello from Python <b>", "--verbose")
    if peer_first:
        peer = start_peer(*args, pause=page.pause)
        peer.expect("err", "as the initiator: waiting for the other side")
        page.start()
    else:
        page.start()
        page.expect_state("waiting")
        peer = start_peer(*args, pause=page.pause)
        peer.expect("err", "as the receiver")

    page.expect_state("connected", 15_000)
    peer.expect("err", "connected as the")
    assert any("sending back the video received" in line for line in peer.lines["err"])
    page.expect_chat("Hello from Python <b>")
    page.send("Hi peer & all")
    page.expect_chat("echo: Hi peer & all")
    peer.expect("out", "them: Hi peer & all")
    page.expect_remote_video_playing(15_000)
    # The page trickled candidates; the peer applied and deleted every one.
    peer.expect("err", "trickled candidates of the")
    trickled = "candidates_for_initiator" if peer_first else "candidates_for_receiver"
    page.wait_until(
        lambda: room_state(live_server, room)[trickled] == 0,
        5,
        "the page's candidates were left on the server",
    )

    if peer_first:
        peer.interrupt()  # Ctrl-C: bye, then hang up
        assert peer.wait() == 0
        assert "webrtc-peer: hung up" in peer.lines["err"]
        page.expect_state("left")
    else:
        page.hang_up()
        page.expect_state("idle")
        assert peer.wait() == 0
        assert "webrtc-peer: the other side left" in peer.lines["err"]
    page.wait_until(lambda: room_is_clear(live_server, room), 5, "the room was not cleared")


@pytest.mark.browser
def test_page_without_camera_gets_the_test_pattern(live_server, start_peer, people):
    """A page that sends no video still sees the peer: a test pattern of bright bars."""
    page = people(f"{live_server.url}/?room=nocam", media_error="NotFoundError")
    peer = start_peer(live_server.url, "nocam", pause=page.pause)
    peer.expect("err", "waiting for the other side")
    page.start()
    page.expect_state("connected", 15_000)
    peer.expect("err", "connected as the initiator: sending a test pattern")
    page.expect_remote_video_playing(15_000)
    size = page.page.evaluate(
        "[document.getElementById('remoteVideo').videoWidth,"
        " document.getElementById('remoteVideo').videoHeight]"
    )
    assert size == [320, 240]
    peer.interrupt()
    assert peer.wait() == 0
    page.expect_state("left")
