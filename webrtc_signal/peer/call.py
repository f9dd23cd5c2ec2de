"""``Peer``: one side of a room's call, from entering the room to giving its place back.

It follows docs/protocol.md, "Client behaviour": the chat channel and its envelopes, when the
other side has left, when to start over, and what to give back on the way out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCRtpSender
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from ..client import Side, Signal, SignalingClient
from ..errors import RoomFull, SignalError
from ..protocol import DEFAULT_ROOM
from .convert import (
    BYE_JSON,
    chat_json,
    echo_of,
    ice_servers_from_json,
    parse_message,
    pong_json,
)
from .ending import CallFailed, Ending
from .media import Echo, echo_of_track
from .negotiation import Negotiation

log = logging.getLogger(__name__)

# Time for a last "bye" to leave before the connection closes.
BYE_GRACE_S = 0.2
# How long a call lost without a bye is rebuilt before the peer gives up: the other side's
# page restarts ICE, waits, then builds a fresh connection too; a minute covers that and a
# server restart, while a partner that is really gone does not hold the peer for long.
FRESH_CONNECTION_S = 60.0


class Peer(Negotiation):
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
        # The room's last count of live peers; whether the other side ever held a place there
        # (a client without a peer id never does); and, once connected, whether it is such an
        # anonymous partner, which gets chat as plain text and no bye.
        self._peers = 0
        self._partner_present = False
        self._anonymous_partner = False
        self._offered: dict[str, Any] | None = None
        self._seen: set[tuple[str, ...]] = set()
        self._early: list[Signal] = []
        self._lost_at: float | None = None
        self._own_offer: dict[str, Any] | None = None

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
            self._dc.send(self._chat(text))

    async def run(self) -> Ending:
        """Take part in one call until it ends: LEFT (the other side's bye), HUNG_UP, or GONE
        (the connection was lost and no fresh one came up within FRESH_CONNECTION_S).

        A connection lost without a bye is rebuilt in the same room, keeping our place, with
        the seed's flow. Raises RoomFull, ServerUnreachable, CallFailed or another
        SignalError when the call cannot go on; it still hangs up (when it held a place)
        before raising.
        """
        signaling = self.signaling
        loop = asyncio.get_running_loop()
        try:
            self._peers = await signaling.enter()
            configuration = await self._configuration()
            while True:
                ending = await self._call(configuration)
                if ending is Ending.LOST:
                    log.info("%s", ending.value)
                    if self._lost_at is None:
                        self._lost_at = loop.time()
                elif ending is Ending.RESTART and self._lost_at is None:
                    # Leave (taking our signals along) and come in again, as whoever is first.
                    log.info("%s: waiting again", ending.value)
                    await signaling.leave()
                    self._peers = await signaling.enter()
                elif ending not in (Ending.RETRY, Ending.RESTART):
                    break  # rebuilding a lost call, a restart keeps our place: a retry
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
        self._partner_present, self._anonymous_partner = self._peers >= 2, False
        self._offered, self._early = None, []
        pc = self._pc = RTCPeerConnection(configuration)
        self._wire(pc)
        if self._hang_up_requested:
            self._end(Ending.HUNG_UP)
        self._spawn(self._negotiate(pc))
        if self._lost_at is not None:
            self._spawn(self._give_up_at(self._lost_at + FRESH_CONNECTION_S))
        ending = None
        try:
            ending = await self._ending
            return ending
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            dc = None if self._anonymous_partner else self._dc  # an anonymous partner gets no bye
            if ending in (None, Ending.HUNG_UP) and dc and dc.readyState == "open":
                # Hanging up or failing: say so, as the page does, before closing.
                dc.send(BYE_JSON)
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
                if self._connected_at is not None or self._lost_at is not None:
                    self._end(self._lost())
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
                self._end(self._lost())  # without a bye: a bye ended the call before

        @channel.on("message")
        def on_message(data: str | bytes) -> None:
            if pc is not self._pc:
                return
            message = parse_message(data)
            if message.kind == "bye":
                self._end(Ending.LEFT)
                return
            if message.kind == "ping" and channel.readyState == "open":
                channel.send(pong_json(message.ping))
            if message.kind in ("ping", "ignored"):
                return
            if self.on_chat is not None:
                self.on_chat(message.text)
            reply = echo_of(message) if self.echo else None
            if reply is not None and channel.readyState == "open":
                channel.send(self._chat(reply))

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
        self._anonymous_partner = not self._partner_present
        if self._lost_at is not None:
            log.info("a fresh connection is up")
            self._lost_at = None
        sender = self._video_sender
        echoing = sender is not None and isinstance(sender.track, Echo)
        log.info(
            "connected as the %s: sending %s",
            self.role,
            "back the video received" if echoing else "a test pattern",
        )
        if self.greeting:
            self.send_chat(self.greeting)

    def _lost(self) -> Ending:
        """How a connection lost without a bye ends this call: a partner holding a place is
        called again over a fresh connection; an anonymous one (which never says bye) left."""
        return Ending.LEFT if self._anonymous_partner else Ending.LOST

    async def _give_up_at(self, deadline: float) -> None:
        """End a call being rebuilt as GONE unless it connects by ``deadline`` (loop time)."""
        await asyncio.sleep(max(0.0, deadline - asyncio.get_running_loop().time()))
        if self._connected_at is None:
            self._end(Ending.GONE)

    def _chat(self, text: str) -> str:
        """A chat message as the other side takes it: plain text for an anonymous partner, as
        it sends its own; our JSON envelope for the others."""
        return text if self._anonymous_partner else chat_json(text)

    def _echo(self) -> Echo | None:
        """The other side's video to send back; None if none came (or a webrtc-peer's)."""
        return echo_of_track(self._relay, self._remote_video)

    # -- the room ----------------------------------------------------------------------------

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
            if ending in (Ending.LEFT, Ending.GONE):
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
