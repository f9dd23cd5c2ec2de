"""A Python peer in the page's call: joins a room over the signaling API, with aiortc.

Needs aiortc and httpx (the ``peer`` extra); ``import webrtc_signal`` does not load it::

    webrtc-peer --url http://127.0.0.1:5000 --room my-room --echo

or, from a program::

    from webrtc_signal.peer import Peer

    ending = await Peer("http://127.0.0.1:5000", "my-room", echo=True).run()

It takes part as the page does (docs/protocol.md): the first in the room offers, the second
answers. aiortc gathers its candidates before ``setLocalDescription`` returns and puts them in
the SDP, so it trickles none; it applies the other side's trickled candidates. It sends back
the video it receives, or a test pattern when none comes; audio is silence. On the "chat"
data channel it can echo messages as ``echo: <text>``. One call per run: it ends when either
side hangs up or the other side goes away.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import enum
import functools
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

try:
    from aiortc import (
        RTCConfiguration,
        RTCDataChannel,
        RTCIceCandidate,
        RTCIceServer,
        RTCPeerConnection,
        RTCRtpSender,
        RTCSessionDescription,
    )
    from aiortc.contrib.media import MediaRelay
    from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack
    from aiortc.sdp import candidate_from_sdp
    from av import VideoFrame
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("webrtc_signal.peer needs aiortc: pip install 'webrtc-signal[peer]'") from exc

from .client import RETRY_S, WAIT_S, Events, ServerUnreachable, Side, Signal, SignalingClient
from .errors import InvalidRequest, OfferExists, RoomFull, SignalError, StoreUnavailable
from .keys import check_room
from .protocol import DEFAULT_ROOM

log = logging.getLogger(__name__)
T = TypeVar("T")

ECHO_PREFIX = "echo: "
# Every track a webrtc-peer sends carries this id prefix (it travels in the SDP's msid), so
# that another webrtc-peer does not send it back: two echoing peers would bounce the same
# frames between them forever.
TRACK_ID_PREFIX = "webrtc-peer-"
PATTERN_SIZE = (320, 240)
# SMPTE-like colour bars as (Y, U, V), BT.601 limited range.
BARS = (
    (235, 128, 128),
    (210, 16, 146),
    (170, 166, 16),
    (145, 54, 34),
    (106, 202, 222),
    (81, 90, 240),
    (41, 240, 110),
    (16, 128, 128),
)
# Pixels the bars move per frame.
PATTERN_SPEED = 4
# Time for a last "bye" to leave before the connection closes.
BYE_GRACE_S = 0.2


class Ending(enum.Enum):
    """How a call ended: ``run()`` returns LEFT or HUNG_UP; the others are internal steps."""

    LEFT = "the other side left"
    HUNG_UP = "hung up"
    RETRY = "another peer's offer came first: answer it"
    RESTART = "the other side went away before the call connected"


class CallFailed(SignalError):
    """The call could not be set up: no network path, or a description aiortc refused."""

    code = "call_failed"


@dataclass(frozen=True)
class Message:
    """A data channel message as the page reads it: chat, bye, or plain text."""

    kind: Literal["chat", "bye", "text"]
    text: str = ""


# -- pure functions: descriptions, candidates, chat ------------------------------------------


def description_to_json(description: RTCSessionDescription) -> dict[str, str]:
    """An offer or answer as the browser's ``toJSON()`` gives it."""
    return {"type": description.type, "sdp": description.sdp}


def description_from_json(payload: dict[str, Any]) -> RTCSessionDescription:
    """aiortc's session description from a stored offer or answer."""
    return RTCSessionDescription(sdp=payload["sdp"], type=payload["type"])


def candidate_from_json(payload: dict[str, Any]) -> RTCIceCandidate | None:
    """aiortc's candidate from a browser's ``RTCIceCandidate.toJSON()``; None at the end.

    Raises ValueError for a candidate line that does not parse.
    """
    line = payload.get("candidate")
    if not isinstance(line, str):
        raise ValueError("a candidate payload has a string 'candidate'")
    line = line.strip().removeprefix("a=").removeprefix("candidate:")
    if not line:
        return None  # the empty candidate marks the end of candidates
    try:
        candidate = candidate_from_sdp(line)
    except (AssertionError, IndexError, ValueError) as exc:
        raise ValueError(f"not an ICE candidate: {line!r}") from exc
    mid, index = payload.get("sdpMid"), payload.get("sdpMLineIndex")
    candidate.sdpMid = mid if isinstance(mid, str) else None
    candidate.sdpMLineIndex = index if isinstance(index, int) else None
    return candidate


def ice_servers_from_json(entries: list[dict[str, Any]]) -> list[RTCIceServer]:
    """``/api/ice-servers`` entries as aiortc's RTCIceServer (it uses one STUN, one TURN)."""
    servers = []
    for entry in entries:
        urls = entry.get("urls")
        if isinstance(urls, str | list) and urls:
            servers.append(
                RTCIceServer(
                    urls=urls, username=entry.get("username"), credential=entry.get("credential")
                )
            )
    return servers


def chat_json(text: str) -> str:
    """A chat message in the page's envelope."""
    return json.dumps({"type": "chat", "text": text})


BYE_JSON = json.dumps({"type": "bye"})


def parse_message(data: str | bytes) -> Message:
    """A data channel message, read as the page reads it: plain text is shown as it came."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    try:
        envelope = json.loads(text)
    except ValueError:
        envelope = None
    kind = envelope.get("type") if isinstance(envelope, dict) else None
    if kind == "bye":
        return Message("bye")
    if kind == "chat" and isinstance(envelope.get("text"), str):
        return Message("chat", envelope["text"])
    return Message("text", text)


def echo_of(message: Message) -> str | None:
    """The echo of a chat or text message; None for a bye, and for an echo (no ping-pong)."""
    if message.kind == "bye" or message.text.startswith(ECHO_PREFIX):
        return None
    return ECHO_PREFIX + message.text


def is_peer_track(track_id: str | None) -> bool:
    """Whether a remote track is one a webrtc-peer sends (so not to be sent back)."""
    return bool(track_id) and track_id.startswith(TRACK_ID_PREFIX)


def pattern_frame(width: int, height: int, shift: int) -> VideoFrame:
    """One frame of colour bars, moved ``shift`` pixels to the left."""
    frame = VideoFrame(width=width, height=height, format="yuv420p")
    for index, plane in enumerate(frame.planes):
        scale = width // plane.width  # 1 for luma, 2 for the half-size chroma planes
        row = bytes(
            BARS[(x * scale + shift) % width * len(BARS) // width][index]
            for x in range(plane.width)
        )
        plane.update((row + bytes(plane.line_size - plane.width)) * plane.height)
    return frame


# -- media -----------------------------------------------------------------------------------


class TestPattern(VideoStreamTrack):
    """Moving colour bars at 30 frames a second: the video sent when there is none to echo."""

    __test__ = False  # not a pytest class

    def __init__(self, size: tuple[int, int] = PATTERN_SIZE) -> None:
        super().__init__()
        self._id = TRACK_ID_PREFIX + self._id
        self.width, self.height = size
        self._frames = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = pattern_frame(self.width, self.height, self._frames * PATTERN_SPEED)
        self._frames += 1
        frame.pts, frame.time_base = pts, time_base
        return frame


class Echo(MediaStreamTrack):
    """Another track's frames, sent under an id that marks them as a webrtc-peer's."""

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = source.kind
        self._id = TRACK_ID_PREFIX + self._id
        self._source = source

    async def recv(self) -> Any:
        return await self._source.recv()

    def stop(self) -> None:
        super().stop()
        self._source.stop()


# -- the peer --------------------------------------------------------------------------------


class Peer:
    """One side of a room's call: signaling over HTTP, media and chat with aiortc.

    ``echo`` answers chat messages with ``echo: <text>``; ``greeting`` is said once the call
    connects; ``on_chat(text)`` gets each message the other side sends. Without
    ``use_ice_servers`` the server's STUN/TURN servers are not used: host candidates only.
    """

    def __init__(
        self,
        url: str,
        room: str = DEFAULT_ROOM,
        *,
        echo: bool = False,
        greeting: str | None = None,
        use_ice_servers: bool = True,
        on_chat: Callable[[str], object] | None = None,
        peer: str | None = None,
    ) -> None:
        self.signaling = SignalingClient(url, room, peer)
        self.echo = echo
        self.greeting = greeting
        self.use_ice_servers = use_ice_servers
        self.on_chat = on_chat
        self.role: Side | None = None
        self._hang_up_requested = False
        # The current call (one RTCPeerConnection's life); see _call.
        self._ending: asyncio.Future[Ending] | None = None
        self._tasks: list[asyncio.Task] = []
        self._pc: RTCPeerConnection | None = None
        self._dc: RTCDataChannel | None = None
        self._video_sender: RTCRtpSender | None = None
        self._remote_video: MediaStreamTrack | None = None
        self._relay = MediaRelay()
        self._own_tracks: list[MediaStreamTrack] = []
        self._partner_at: float | None = None
        self._connected_at: float | None = None
        # What the events channel brought this call: our offer while its answer has not come,
        # the candidates' keys, and the candidates that came before the answer.
        self._offered: dict[str, Any] | None = None
        self._seen: set[tuple[str, ...]] = set()
        self._early: list[Signal] = []

    @property
    def connected(self) -> bool:
        """Whether the call is connected: media flows and the chat channel is open."""
        return self._connected_at is not None and not self._ended()

    def hang_up(self) -> None:
        """End the call from outside (Ctrl-C); call it on the event loop's thread."""
        self._hang_up_requested = True
        self._end(Ending.HUNG_UP)

    def send_chat(self, text: str) -> None:
        """Say ``text`` in the chat; ignored while the channel is not open."""
        if self._dc is not None and self._dc.readyState == "open":
            self._dc.send(chat_json(text))

    async def run(self) -> Ending:
        """Take part in one call until it ends: LEFT or HUNG_UP.

        Raises RoomFull, ServerUnreachable, CallFailed or another SignalError when the call
        cannot go on; it still hangs up (when it held a place) before raising.
        """
        signaling = self.signaling
        try:
            await signaling.enter()
            configuration = await self._configuration()
            while True:
                ending = await self._call(configuration)
                if ending is Ending.RESTART:
                    # Leave (taking our signals along) and come in again, as whoever is first.
                    log.info("%s: waiting again", ending.value)
                    await signaling.leave()
                    await signaling.enter()
                elif ending is not Ending.RETRY:
                    break
        except RoomFull:
            raise  # we hold no place, and must not clear the call going on there
        except BaseException:
            await self._release(Ending.HUNG_UP)
            raise
        else:
            await self._release(ending)
            return ending
        finally:
            await signaling.close()

    # -- one call ----------------------------------------------------------------------------

    async def _call(self, configuration: RTCConfiguration) -> Ending:
        """One RTCPeerConnection, from negotiation until the call ends."""
        loop = asyncio.get_running_loop()
        self._ending = loop.create_future()
        self._tasks = []
        self._dc = self._video_sender = self._remote_video = None
        self._own_tracks = []
        self._partner_at = self._connected_at = None
        self._offered, self._seen, self._early = None, set(), []
        pc = self._pc = RTCPeerConnection(configuration)
        self._wire(pc)
        if self._hang_up_requested:
            self._end(Ending.HUNG_UP)
        self._spawn(self._negotiate(pc))
        ending = None
        try:
            ending = await self._ending
            return ending
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if ending in (None, Ending.HUNG_UP) and self._dc and self._dc.readyState == "open":
                # Hanging up or failing: say so, as the page does, before closing.
                self._dc.send(BYE_JSON)
                await asyncio.sleep(BYE_GRACE_S)
            await pc.close()
            for track in self._own_tracks:
                track.stop()

    def _wire(self, pc: RTCPeerConnection) -> None:
        """Connect the connection's events to this call."""

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                self._remote_video = track

        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            if channel.label == "chat":
                self._setup_channel(pc, channel)

        @pc.on("connectionstatechange")
        def on_connection_state() -> None:
            if pc is not self._pc:
                return
            state = pc.connectionState
            log.debug("connection %s", state)
            if state == "connected":
                self._check_connected(pc)
            elif state in ("failed", "closed"):
                if self._connected_at is not None:
                    self._end(Ending.LEFT)
                else:
                    self._end(
                        CallFailed("no network path to the other side (a TURN relay may help)")
                    )

    def _setup_channel(self, pc: RTCPeerConnection, channel: RTCDataChannel) -> None:
        """The chat channel: echo, bye, and "connected" once it opens."""
        self._dc = channel

        @channel.on("open")
        def on_open() -> None:
            self._check_connected(pc)

        @channel.on("close")
        def on_close() -> None:
            if pc is self._pc and self._connected_at is not None:
                self._end(Ending.LEFT)

        @channel.on("message")
        def on_message(data: str | bytes) -> None:
            if pc is not self._pc:
                return
            message = parse_message(data)
            if message.kind == "bye":
                self._end(Ending.LEFT)
                return
            if self.on_chat is not None:
                self.on_chat(message.text)
            reply = echo_of(message) if self.echo else None
            if reply is not None and channel.readyState == "open":
                channel.send(chat_json(reply))

        if channel.readyState == "open":  # the receiver's channel comes open
            self._check_connected(pc)

    def _check_connected(self, pc: RTCPeerConnection) -> None:
        """Connected means media can flow and the chat channel is open."""
        dc = self._dc
        if self._connected_at is not None or self._ended() or pc is not self._pc:
            return
        if pc.connectionState != "connected" or dc is None or dc.readyState != "open":
            return
        self._connected_at = asyncio.get_running_loop().time()
        sender = self._video_sender
        echoing = sender is not None and isinstance(sender.track, Echo)
        log.info(
            "connected as the %s: sending %s",
            self.role,
            "back the video received" if echoing else "a test pattern",
        )
        if self.greeting:
            self.send_chat(self.greeting)

    # -- negotiation -------------------------------------------------------------------------

    async def _negotiate(self, pc: RTCPeerConnection) -> None:
        """The seed's flow: no offer -> post ours (initiator); an offer -> answer it."""
        offer = await self._retrying(self.signaling.read_offer)
        if offer is None:
            await self._offer(pc)
        else:
            await self._answer(pc, offer)

    async def _offer(self, pc: RTCPeerConnection) -> None:
        """Post our offer with a chat channel, audio and video; then follow the events."""
        self.role = "initiator"
        self._setup_channel(pc, pc.createDataChannel("chat"))
        pc.addTrack(self._own(AudioStreamTrack()))
        # Until the answer shows what the other side sends, a test pattern.
        self._video_sender = pc.addTrack(self._own(TestPattern()))
        # aiortc gathers every candidate before this returns, and puts them in the SDP.
        await pc.setLocalDescription(await pc.createOffer())
        payload = description_to_json(pc.localDescription)
        try:
            await self.signaling.post_offer(payload)
        except OfferExists:
            self._end(Ending.RETRY)  # posting is create-if-absent: answer theirs instead
            return
        log.info("in room %s as the initiator: waiting for the other side", self.signaling.room)
        self._offered = payload
        self._spawn(self._follow(pc))

    async def _answer(self, pc: RTCPeerConnection, offer: dict[str, Any]) -> None:
        """Answer the room's offer, sending back what it sends; then follow the events."""
        self.role = "receiver"
        log.info(
            "in room %s as the receiver: answering the other side's offer", self.signaling.room
        )
        await self._accept(pc, offer)
        kinds = {transceiver.kind for transceiver in pc.getTransceivers()}
        if "audio" in kinds:
            pc.addTrack(self._own(AudioStreamTrack()))
        if "video" in kinds:
            self._video_sender = pc.addTrack(self._own(self._echo() or TestPattern()))
        await pc.setLocalDescription(await pc.createAnswer())  # candidates in the SDP
        await self.signaling.post_answer(description_to_json(pc.localDescription))
        await self.signaling.delete_offer()
        self._spawn(self._follow(pc))

    async def _follow(self, pc: RTCPeerConnection) -> None:
        """The call's one open request: the events channel, asked again as soon as it answers.

        It brings the answer to our offer and the other side's candidates (the next request
        acknowledges them, which deletes them on the server); its peer count tells when the
        other side goes away; and asking again at once keeps our place, with no heartbeat.
        While the answer does not come it also checks, every WAIT_S seconds, that our offer
        still waits.
        """
        loop = asyncio.get_running_loop()
        checked_at = loop.time()
        peers, recount = None, False
        while True:
            asked_at = loop.time()
            wait = None if recount else WAIT_S
            events = await self._retrying(functools.partial(self.signaling.events, wait))
            news = await self._take(pc, events) or events.peers != peers
            if events.peers != peers:
                log.debug("room %s holds %d peers", self.signaling.room, events.peers)
                peers = events.peers
            recount = self._on_presence(events.peers, asked_at)
            if self._ended():
                return  # no request beyond the call's end: leaving or hanging up comes next
            if self._offered is not None and loop.time() - checked_at >= WAIT_S:
                checked_at = loop.time()
                if not await self._keep_offer(pc):
                    return
            elif not news and not recount and loop.time() - asked_at < RETRY_S:
                await asyncio.sleep(RETRY_S)  # a proxy that does not hold requests

    async def _take(self, pc: RTCPeerConnection, events: Events) -> bool:
        """Apply what the events brought: the answer to our offer, then the other side's
        candidates, each key once (those that come before the answer wait for it).

        Whether any of it was new.
        """
        fresh = [item for item in events.candidates if tuple(item.key) not in self._seen]
        self._seen.update(tuple(item.key) for item in fresh)
        self._early += fresh
        answered = self._offered is not None and events.answer is not None
        if answered:
            await self._answered(pc, events.answer)
        if self._offered is None and self._early:
            candidates, self._early = self._early, []
            await self._add_candidates(pc, candidates)
        return answered or bool(fresh)

    async def _answered(self, pc: RTCPeerConnection, answer: dict[str, Any]) -> None:
        """Apply the answer to our offer, and send back the video it brings."""
        await self._accept(pc, answer)
        self._offered = None
        sender, echo = self._video_sender, self._echo()
        if sender is not None and echo is not None:
            pattern = sender.track
            sender.replaceTrack(self._own(echo))
            pattern.stop()

    async def _keep_offer(self, pc: RTCPeerConnection) -> bool:
        """Check that our offer still waits; post it again if it vanished unanswered.

        False when another peer's offer came first meanwhile: the call restarts.
        """
        if await self._retrying(self.signaling.read_offer) is not None:
            return True
        # Answered (and so deleted) since the last events? Then the answer waits for us.
        await self._take(pc, await self._retrying(self.signaling.events))
        if self._offered is None:
            return True
        # Cleared by the previous call's other side just after we posted it?
        try:
            await self.signaling.post_offer(self._offered)
        except OfferExists:
            self._end(Ending.RESTART)
            return False
        return True

    async def _accept(self, pc: RTCPeerConnection, description: dict[str, Any]) -> None:
        """Apply the other side's offer or answer."""
        try:
            await pc.setRemoteDescription(description_from_json(description))
        except (KeyError, TypeError, ValueError) as exc:
            kind = description.get("type")
            raise CallFailed(f"the other side's {kind} is unusable: {exc}") from exc
        self._partner_at = asyncio.get_running_loop().time()

    async def _add_candidates(self, pc: RTCPeerConnection, candidates: list[Signal]) -> None:
        """Apply the other side's trickled candidates (ones that do not parse are skipped)."""
        applied = 0
        for item in candidates:
            try:
                candidate = candidate_from_json(item.payload)
                if candidate is not None:
                    await pc.addIceCandidate(candidate)
                    applied += 1
            except ValueError as exc:
                log.warning("ignored a candidate: %s", exc)
        if applied:
            of_side = "receiver" if self.role == "initiator" else "initiator"
            log.debug("applied %d trickled candidates of the %s", applied, of_side)

    def _echo(self) -> Echo | None:
        """The other side's video to send back; None if none came (or a webrtc-peer's)."""
        remote = self._remote_video
        if remote is None or is_peer_track(remote.id):
            return None
        return Echo(self._relay.subscribe(remote, buffered=False))

    # -- presence and the room ---------------------------------------------------------------

    def _on_presence(self, peers: int, asked_at: float) -> bool:
        """One count of live peers: fewer than two means the other side went away.

        True when the count cannot tell, having been asked before the other side showed up
        (a held request may have counted before then): the next one should answer at once.
        """
        if peers >= 2 or self._ended():
            return False
        # Only a count asked after the other side showed up says it went away.
        if self._connected_at is not None:
            if asked_at <= self._connected_at:
                return True
            self._end(Ending.LEFT)
        elif self._partner_at is not None:
            if asked_at <= self._partner_at:
                return True
            self._end(Ending.RESTART)  # it came and went before the call connected
        return False

    async def _configuration(self) -> RTCConfiguration:
        """The server's ICE servers, or none (aiortc would otherwise use Google's STUN)."""
        if not self.use_ice_servers:
            return RTCConfiguration(iceServers=[])
        servers = await self.signaling.ice_servers()
        return RTCConfiguration(iceServers=ice_servers_from_json(servers))

    async def _release(self, ending: Ending) -> None:
        """Give up our place: hanging up clears the room; the one who stays only leaves."""
        signaling = self.signaling
        if signaling.token is None:
            return
        try:
            if ending is Ending.LEFT:
                await signaling.leave()
            else:
                await signaling.hang_up()
        except SignalError as exc:
            log.warning("could not leave the room: %s", exc.message)

    # -- small helpers -----------------------------------------------------------------------

    def _ended(self) -> bool:
        return self._ending is None or self._ending.done()

    def _end(self, outcome: Ending | BaseException) -> None:
        """End the current call with an ending or an error (the first one counts)."""
        if self._ending is None or self._ending.done():
            return
        if isinstance(outcome, Ending):
            self._ending.set_result(outcome)
        else:
            self._ending.set_exception(outcome)

    def _spawn(self, coro: Awaitable[None]) -> None:
        """Run a step of the call as a task; its failure ends the call."""

        async def guarded() -> None:
            try:
                await coro
            except SignalError as exc:
                self._end(exc)
            except Exception as exc:
                # aiortc refused something: one line for the user, the trace with --verbose.
                log.debug("the call failed", exc_info=True)
                self._end(CallFailed(f"{type(exc).__name__}: {exc}"))

        self._tasks.append(asyncio.create_task(guarded()))

    def _own(self, track: MediaStreamTrack) -> MediaStreamTrack:
        """A track this call made, stopped when it ends."""
        self._own_tracks.append(track)
        return track

    @staticmethod
    async def _retrying(request: Callable[[], Awaitable[T]]) -> T:
        """``request()``, retried after a pause while the server cannot be reached."""
        while True:
            try:
                return await request()
            except (ServerUnreachable, StoreUnavailable) as exc:
                log.warning("%s; retrying", exc.message)
                await asyncio.sleep(RETRY_S)


# -- the command -----------------------------------------------------------------------------


def room_name(value: str) -> str:
    """argparse type: a valid room name."""
    try:
        return check_room(value)
    except InvalidRequest as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def server_url(value: str) -> str:
    """argparse type: an http(s) address."""
    if not value.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError("give the server's address, starting http:// or https://")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of webrtc-peer."""
    parser = argparse.ArgumentParser(
        prog="webrtc-peer",
        description=(
            "Join a webrtc-signal room as a browser would, from Python: offer or answer, "
            "send back the video received (or a test pattern), print the chat. "
            "Ctrl-C hangs up."
        ),
    )
    parser.add_argument(
        "--url", required=True, type=server_url, help="the server, e.g. http://127.0.0.1:5000"
    )
    parser.add_argument(
        "--room", default=DEFAULT_ROOM, type=room_name, help=f"default: {DEFAULT_ROOM}"
    )
    parser.add_argument(
        "--echo", action="store_true", help='answer each chat message with "echo: <text>"'
    )
    parser.add_argument("--greet", metavar="TEXT", help="say TEXT in the chat once connected")
    parser.add_argument(
        "--no-ice-servers",
        action="store_true",
        help="use host candidates only, not the server's STUN/TURN servers (one machine or a "
        "LAN; an unreachable STUN server holds each offer or answer up to 5 s)",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log signaling and ICE")
    return parser.parse_args(argv)


def configure_logging(verbose: bool) -> None:
    """One line per event on stderr: ours always, the libraries' with --verbose."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("webrtc-peer: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("webrtc_signal").setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in ("aiortc", "aioice", "httpx"):
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)


async def serve(args: argparse.Namespace) -> int:
    """Run one call for the command line; its exit status."""

    def show(text: str) -> None:
        print(f"them: {text}", flush=True)

    peer = Peer(
        args.url,
        args.room,
        echo=args.echo,
        greeting=args.greet,
        use_ice_servers=not args.no_ice_servers,
        on_chat=show,
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, peer.hang_up)
    try:
        ending = await peer.run()
    except RoomFull:
        log.error("room %s is full: two people are already in a call there", args.room)
        return 1
    except SignalError as exc:
        log.error("%s", exc.message)
        return 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    log.info("%s", ending.value)
    return 0


def main(argv: list[str] | None = None) -> int:
    """The ``webrtc-peer`` command: 0 when the call ended, 1 when it could not go on."""
    args = parse_args(argv)
    configure_logging(args.verbose)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C before the handlers were set
        return asyncio.run(serve(args))
    return 130
