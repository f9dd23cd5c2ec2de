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
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

import webrtc_signal.peer.call as peer_call
from harness.network import free_port
from harness.waiting import Pause, wait_for_exit
from tests.helpers import app_process, room_is_clear, room_state, wait_until
from tests.seed_client import SeedClient
from webrtc_signal.client import SignalingClient
from webrtc_signal.peer import (
    BYE_JSON,
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
    pong_json,
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
    # The page's heartbeat is answered, never shown or echoed; other envelopes are ignored.
    ping = parse_message('{"type": "ping", "n": 7}')
    assert ping == Message("ping", ping=7)
    assert json.loads(pong_json(ping.ping)) == {"type": "pong", "n": 7}
    state = parse_message('{"type": "state", "muted": true}')
    assert state == Message("ignored")
    assert echo_of(ping) is None and echo_of(state) is None
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
        (["--url", "http://x", "--room", "no/slashes"], "A room name is 1-64 letters"),
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
    "descriptions": 0,
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
    assert alice.lines["err"][-1] == "webrtc-peer: the other side hung up"
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
            assert peer.lines["err"][-1] == "webrtc-peer: the other side hung up"
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
    candidates, then leaves the room with its connection still up, and says bye a second
    later. The peer holds at most one request open at once (the events channel: no long-poll
    beside it, no heartbeat, no deletion by key), applies the candidates, and their
    acknowledgement leaves none stored; the partner's leaving alone (its peer count) does not
    end the call, its bye does."""
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
                channels: list = []
                pc.on("datachannel", channels.append)
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
                await partner.leave()
                await asyncio.sleep(1.5)  # the room counts one peer: the call goes on
                assert peer.connected and not running.done()
                left = time.monotonic()
                channels[0].send(BYE_JSON)
                ending = await asyncio.wait_for(running, 10)
                noticed = time.monotonic() - left
                await pc.close()
        return ending, transport, noticed

    ending, transport, noticed = asyncio.run(scenario())
    assert ending is Ending.LEFT
    assert noticed < 1  # the bye comes over the chat channel at once
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


# -- in-call negotiation and fresh connections (the page played by aiortc) -------------------


class PagePartner:
    """The page's side of a call, played by an aiortc RTCPeerConnection in this process: a
    member of the room that answers the peer's offer or offers first, chats on "chat", and
    posts in-call offers as ``description`` signals."""

    def __init__(self, signaling: SignalingClient) -> None:
        self.signaling = signaling
        self.pc: RTCPeerConnection | None = None
        self.channel = None
        self.received: list[str] = []

    def _new_pc(self) -> RTCPeerConnection:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.channel = None
        self.pc.on("datachannel", self._take_channel)
        return self.pc

    def _take_channel(self, channel) -> None:
        self.channel = channel
        channel.on("message", lambda data: self.received.append(parse_message(data).text))

    async def answer_offer(self) -> None:
        """The seed's flow as the receiver: wait for the room's offer and answer it."""
        offer = None
        while offer is None:
            offer = await self.signaling.read_offer(wait=5)
        pc = self._new_pc()
        await pc.setRemoteDescription(description_from_json(offer))
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(VideoStreamTrack())
        await pc.setLocalDescription(await pc.createAnswer())
        await self.signaling.post_answer(description_to_json(pc.localDescription))
        await self.signaling.delete_offer()

    async def offer_first(self) -> None:
        """The seed's flow as the initiator: post an offer (its answer comes by events)."""
        pc = self._new_pc()
        self._take_channel(pc.createDataChannel("chat"))
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(VideoStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        await self.signaling.post_offer(description_to_json(pc.localDescription))
        events = await self.signaling.poll_events(wait=5)
        while events.answer is None:
            events = await self.signaling.poll_events(wait=5)
        await pc.setRemoteDescription(description_from_json(events.answer))

    async def connected(self) -> None:
        await until(
            lambda: self.channel is not None and self.channel.readyState == "open",
            15,
            "the chat channel did not open",
        )

    async def chat(self, text: str) -> None:
        """Say ``text``; the peer (run with echo) answers ``echo: <text>``."""
        self.channel.send(chat_json(text))
        await until(lambda: ECHO_PREFIX + text in self.received, 5, f"no echo of {text!r}")

    async def next_description(self, wait: float = 10) -> dict | None:
        """The next in-call description the peer sent; None if none came within ``wait``."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            events = await self.signaling.poll_events(wait=1)
            if events.descriptions:
                return events.descriptions[0].payload
        return None


def restarted_ice(sdp: str) -> str:
    """An offer's SDP with new ICE credentials: what ``restartIce()`` makes a browser send."""
    lines = []
    for line in sdp.split("\r\n"):
        if line.startswith("a=ice-ufrag:"):
            line = "a=ice-ufrag:rstU"
        elif line.startswith("a=ice-pwd:"):
            line = "a=ice-pwd:restartedrestartedrestarted"
        lines.append(line)
    return "\r\n".join(lines)


@pytest.mark.parametrize("peer_offers", [True, False], ids=["peer-impolite", "peer-polite"])
def test_the_peer_answers_an_in_call_re_offer_and_not_an_ice_restart(
    live_server, caplog, peer_offers
):
    """Connected, the page adds a video track and re-offers: the peer answers with a
    ``description`` whether it offered (impolite) or answered (polite), and the call goes on.
    An ICE-restart offer (new ice-ufrag/ice-pwd) gets a one-line warning and no answer:
    aiortc would keep its old ICE session."""
    caplog.set_level(logging.INFO, logger="webrtc_signal.peer")
    room = f"reoffer-{int(peer_offers)}"

    async def scenario() -> Ending:
        peer = Peer(live_server.url, room, echo=True, use_ice_servers=False)
        async with SignalingClient(live_server.url, room) as signaling:
            partner = PagePartner(signaling)
            if peer_offers:
                running = asyncio.create_task(peer.run())
                await signaling.enter()
                await partner.answer_offer()
            else:
                await signaling.enter()
                offering = asyncio.create_task(partner.offer_first())
                # The peer comes in once the offer waits: sooner, it might offer first.
                await until(lambda: room_state(live_server, room)["offer"] == 1, 5, "no offer")
                running = asyncio.create_task(peer.run())
                await offering
            await partner.connected()
            await until(lambda: peer.connected, 10, "the peer did not connect")
            assert peer.polite is not peer_offers
            await partner.chat("before")

            pc = partner.pc
            added = pc.addTrack(VideoStreamTrack())
            await pc.setLocalDescription(await pc.createOffer())
            await signaling.post_description(description_to_json(pc.localDescription))
            answer = await partner.next_description()
            assert answer is not None and answer["type"] == "answer"
            await pc.setRemoteDescription(description_from_json(answer))
            assert pc.signalingState == "stable"
            [transceiver] = [t for t in pc.getTransceivers() if t.sender is added]
            assert transceiver.currentDirection == "sendonly"  # the peer receives it
            await partner.chat("after the re-offer")

            restart = await pc.createOffer()
            offer = {"type": "offer", "sdp": restarted_ice(restart.sdp)}
            await signaling.post_description(offer)
            assert await partner.next_description(wait=3) is None
            await partner.chat("after the refused restart")  # the old session goes on
            assert peer.connected and not running.done()
            peer.hang_up()
            ending = await asyncio.wait_for(running, 10)
            await pc.close()
            await signaling.leave()
            return ending

    assert asyncio.run(scenario()) is Ending.HUNG_UP
    assert "answered the other side's in-call offer" in caplog.text
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage() == (
        "the other side's in-call offer is not answered: it restarts ICE "
        "(new ice-ufrag/ice-pwd), which aiortc cannot do"
    )
    assert room_is_clear(live_server, room)


@pytest.mark.parametrize("fresh_offer_by", ["peer", "page"])
def test_a_connection_lost_without_bye_is_rebuilt_in_the_same_room(
    live_server, caplog, fresh_offer_by
):
    """The page's connection closes without a bye: the peer keeps its place and builds a
    fresh connection with the seed's flow: it posts an offer the page answers, or answers the
    offer the page posted first. Chat works again; the page's bye then ends the call."""
    caplog.set_level(logging.INFO, logger="webrtc_signal.peer")
    room = f"rebuilt-{fresh_offer_by}"

    async def scenario() -> Ending:
        peer = Peer(live_server.url, room, echo=True, use_ice_servers=False)
        running = asyncio.create_task(peer.run())
        async with SignalingClient(live_server.url, room) as signaling:
            partner = PagePartner(signaling)
            await signaling.enter()
            await partner.answer_offer()
            await partner.connected()
            await partner.chat("first connection")
            token = peer.signaling.token

            lost = partner.pc
            if fresh_offer_by == "peer":
                await lost.close()  # no bye: a crashed tab's, a lost network's
                await partner.answer_offer()  # the peer's fresh offer
            else:
                offering = asyncio.create_task(partner.offer_first())
                await until(lambda: room_state(live_server, room)["offer"] == 1, 5, "no offer")
                await lost.close()
                await offering
            await partner.connected()
            await partner.chat("fresh connection")
            assert peer.role == ("initiator" if fresh_offer_by == "peer" else "receiver")
            assert peer.connected and peer.signaling.token == token  # its place kept
            assert room_state(live_server, room)["peers"] == 2
            partner.channel.send(BYE_JSON)
            ending = await asyncio.wait_for(running, 10)
            await partner.pc.close()
            await signaling.leave()
            return ending

    assert asyncio.run(scenario()) is Ending.LEFT
    assert "the connection was lost without a bye: building a fresh one" in caplog.text
    assert "a fresh connection is up" in caplog.text
    assert room_is_clear(live_server, room)


def test_a_lost_connection_not_rebuilt_in_time_ends_the_call(live_server, monkeypatch):
    """Nobody answers the fresh offer within FRESH_CONNECTION_S: the peer gives up, leaving
    the room with what it sent (its offer)."""
    monkeypatch.setattr(peer_call, "FRESH_CONNECTION_S", 1.5)
    room = "lost"

    async def scenario() -> tuple[Ending, float]:
        peer = Peer(live_server.url, room, use_ice_servers=False)
        running = asyncio.create_task(peer.run())
        async with SignalingClient(live_server.url, room) as signaling:
            partner = PagePartner(signaling)
            await signaling.enter()
            await partner.answer_offer()
            await partner.connected()
            await partner.pc.close()
            lost = time.monotonic()
            await until(lambda: room_state(live_server, room)["offer"] == 1, 5, "no fresh offer")
            ending = await asyncio.wait_for(running, 10)
            took = time.monotonic() - lost
            assert room_state(live_server, room)["offer"] == 0  # taken along
            await signaling.leave()
            return ending, took

    ending, took = asyncio.run(scenario())
    assert ending is Ending.GONE
    assert 1.5 <= took < 4
    assert room_is_clear(live_server, room)


def test_a_call_goes_on_through_a_server_restart(tmp_path, caplog):
    """The server goes away (its sqlite store kept) for longer than the peer timeout: the
    call goes on peer to peer, and once the server is back the peer's events channel enters
    the room again under the same id and answers the page's next in-call offer."""
    caplog.set_level(logging.INFO, logger="webrtc_signal")
    store = f"sqlite:///{tmp_path / 'restart.sqlite'}"
    settings = {"SIGNAL_PEER_TIMEOUT": "2", "SIGNAL_RATE_LIMIT": "off"}
    server = app_process(store, **settings)
    room = "restart"

    async def scenario() -> Ending:
        nonlocal server
        peer = Peer(server.url, room, echo=True, use_ice_servers=False)
        running = asyncio.create_task(peer.run())
        async with SignalingClient(server.url, room) as signaling:
            partner = PagePartner(signaling)
            await signaling.enter()
            await partner.answer_offer()
            await partner.connected()
            token = peer.signaling.token

            server.stop()
            await asyncio.sleep(3)  # both places expire meanwhile
            await partner.chat("during the outage")  # peer to peer: no server needed
            server = app_process(store, port=server.port, **settings)
            await signaling.poll_events(wait=0.5)  # the page's channel gets back in too

            pc = partner.pc
            pc.addTrack(VideoStreamTrack())
            await pc.setLocalDescription(await pc.createOffer())
            await signaling.post_description(description_to_json(pc.localDescription))
            answer = await partner.next_description(wait=20)
            assert answer is not None and answer["type"] == "answer"
            await pc.setRemoteDescription(description_from_json(answer))
            await partner.chat("after the restart")
            assert peer.signaling.token not in (None, token)  # a new place, the same call
            assert peer.connected and not running.done()
            peer.hang_up()
            ending = await asyncio.wait_for(running, 10)
            await pc.close()
            await signaling.leave()
            return ending

    try:
        assert asyncio.run(scenario()) is Ending.HUNG_UP
    finally:
        server.stop()
    assert "entering it again" in caplog.text


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
        assert "webrtc-peer: the other side hung up" in peer.lines["err"]
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
