"""The signaling half of a call: offer or answer, then the events channel (the answer, the other
side's in-call offers and candidates, the room's peer count)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiortc import RTCPeerConnection, RTCRtpSender

from ..client import RETRY_S, WAIT_S, Events, ServerUnreachable, Side, Signal, SignalingClient
from ..errors import OfferExists, SignalError, StoreUnavailable
from .convert import (
    candidate_from_json,
    description_from_json,
    description_to_json,
    ice_credentials,
)
from .ending import CallFailed, Ending
from .media import TestPattern, silence

log = logging.getLogger(__name__)
T = TypeVar("T")


class Negotiation:
    """Offer and answer over ``signaling`` for one RTCPeerConnection: a base of ``Peer``.

    It works on the state ``Peer`` keeps for the current call (below), and uses ``Peer``'s
    helpers for it: ``_end``, ``_ended``, ``_spawn``, ``_own``, ``_echo``, ``_setup_channel``.
    """

    signaling: SignalingClient
    role: Side | None
    _video_sender: RTCRtpSender | None
    _partner_at: float | None
    _connected_at: float | None
    _peers: int
    _partner_present: bool
    # What the events channel brought this call: our offer while its answer has not come,
    # and the candidates that came before the answer; and the keys of every signal applied
    # in this run (a key is applied once, also across fresh connections).
    _offered: dict[str, Any] | None
    _seen: set[tuple[str, ...]]
    _early: list[Signal]
    # When the connected call was lost without a bye (None while none was): a fresh
    # connection is being built until FRESH_CONNECTION_S after it.
    _lost_at: float | None
    _own_offer: dict[str, Any] | None  # the last offer we posted to the room

    @property
    def polite(self) -> bool:
        """Whether we give way when in-call offers collide: the receiver of the connection's
        offer is polite, its initiator impolite (docs/protocol.md, "Who is polite")."""
        return self.role == "receiver"

    async def _negotiate(self, pc: RTCPeerConnection) -> None:
        """The seed's flow: no offer -> post ours (initiator); an offer -> answer it."""
        offer = await self._retrying(self.signaling.read_offer)
        if offer is not None and offer == self._own_offer:
            # Ours, of an earlier try at rebuilding a lost call, left unanswered: its
            # connection is closed, so a new one takes its place.
            await self.signaling.delete_offer()
            offer = None
        if offer is None:
            await self._offer(pc)
        else:
            await self._answer(pc, offer)

    async def _offer(self, pc: RTCPeerConnection) -> None:
        """Post our offer with a chat channel, audio and video; then follow the events."""
        self.role = "initiator"
        self._setup_channel(pc, pc.createDataChannel("chat"))
        pc.addTrack(self._own(silence()))
        # Until the answer shows what the other side sends, a test pattern.
        self._video_sender = pc.addTrack(self._own(TestPattern()))
        # aiortc gathers every candidate before this returns, and puts them in the SDP.
        await pc.setLocalDescription(await pc.createOffer())
        payload = description_to_json(pc.localDescription)
        try:
            await self.signaling.post_offer(payload)
            self._own_offer = payload
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
            pc.addTrack(self._own(silence()))
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
        other side went away before the call connected; and asking again at once keeps our
        place, with no heartbeat. It brings the other side's in-call offers too.
        While the answer does not come it also checks, every WAIT_S seconds, that our offer
        still waits.
        """
        loop = asyncio.get_running_loop()
        checked_at = loop.time()
        peers, recount = None, False
        while True:
            asked_at = loop.time()
            wait = None if recount else WAIT_S
            # Through outages: backoff, and a new place under our id if the server lost ours.
            events = await self.signaling.poll_events(wait)
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
        """Apply what the events brought: the answer to our offer, the other side's in-call
        descriptions, then its candidates, each key once (candidates that come before the
        answer wait for it).

        Whether any of it was new.
        """
        described = self._unseen(events.descriptions)
        fresh = self._unseen(events.candidates)
        self._early += fresh
        answered = self._offered is not None and events.answer is not None
        if answered:
            await self._answered(pc, events.answer)
        for item in described:
            await self._in_call(pc, item.payload)
        if self._offered is None and self._early:
            candidates, self._early = self._early, []
            await self._add_candidates(pc, candidates)
        return answered or bool(fresh) or bool(described)

    def _unseen(self, signals: list[Signal]) -> list[Signal]:
        """The signals not applied before (an answer that was lost brings them again)."""
        fresh = [item for item in signals if tuple(item.key) not in self._seen]
        self._seen.update(tuple(item.key) for item in fresh)
        return fresh

    async def _in_call(self, pc: RTCPeerConnection, description: dict[str, Any]) -> None:
        """The other side's in-call description: answer an offer where aiortc can.

        This peer never makes an in-call offer itself, so offers cannot collide: the perfect
        negotiation test below (the W3C example's) never ignores one. An offer aiortc cannot
        take gets a one-line warning and no answer: the other side then builds a fresh
        connection, in which this peer takes part.
        """
        if description.get("type") != "offer":
            log.debug("ignored an in-call %s: this peer makes no in-call offers", description)
            return
        making_offer = False  # never: we only answer
        collision = making_offer or pc.signalingState != "stable"
        if collision and not self.polite:
            log.info("ignored the other side's in-call offer: a negotiation is under way")
            return
        reason = self._cannot_answer(pc, description)
        if reason is not None:
            log.warning("the other side's in-call offer is not answered: %s", reason)
            return
        try:
            await pc.setRemoteDescription(description_from_json(description))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:  # aiortc raises what it cannot apply as it sees fit
            log.debug("aiortc refused an in-call offer", exc_info=True)
            log.warning(
                "the other side's in-call offer is not answered: aiortc refused it (%s: %s)",
                type(exc).__name__,
                exc,
            )
            return
        try:
            await self.signaling.post_description(description_to_json(pc.localDescription))
        except SignalError as exc:  # the call goes on; the other side falls back in time
            log.warning("could not send our in-call answer: %s", exc.message)
            return
        log.info("answered the other side's in-call offer")

    def _cannot_answer(self, pc: RTCPeerConnection, offer: dict[str, Any]) -> str | None:
        """Why aiortc cannot take an in-call offer on this connection; None when it can."""
        if self._connected_at is None or pc.remoteDescription is None:
            return "this connection is not up (the offer belongs to an earlier one)"
        if pc.signalingState != "stable":
            return "a negotiation is under way, and aiortc cannot roll it back"
        sdp = offer.get("sdp")
        if not isinstance(sdp, str) or not ice_credentials(sdp):
            return "it has no ICE credentials"
        if ice_credentials(sdp) != ice_credentials(pc.remoteDescription.sdp):
            # aiortc 1.x starts ICE once: it would answer with its old credentials and keep
            # checking the old pairs, so a restart could never bring a lost path back.
            return "it restarts ICE (new ice-ufrag/ice-pwd), which aiortc cannot do"
        return None

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
        await self._take(pc, await self.signaling.poll_events(None))
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

    def _on_presence(self, peers: int, asked_at: float) -> bool:
        """One count of live peers. Before the call connects, fewer than two means the other
        side went away, if it ever held a place (a client without a peer id never does: its
        leaving shows on the connection instead). Once connected, and while a lost call is
        being rebuilt, the count ends nothing: only a bye does (a server restart drops and
        brings back places under a call that goes on).

        True when the count cannot tell, having been asked before the other side showed up
        (a held request may have counted before then): the next one should answer at once.
        """
        self._peers = peers
        if peers >= 2:
            self._partner_present = True
            return False
        if self._ended() or not self._partner_present:
            return False
        if self._connected_at is not None or self._lost_at is not None:
            return False
        # Only a count asked after the other side showed up says it went away.
        if self._partner_at is not None:
            if asked_at <= self._partner_at:
                return True
            self._end(Ending.RESTART)  # it came and went before the call connected
        return False

    @staticmethod
    async def _retrying(request: Callable[[], Awaitable[T]]) -> T:
        """``request()``, retried after a pause while the server cannot be reached."""
        while True:
            try:
                return await request()
            except (ServerUnreachable, StoreUnavailable) as exc:
                log.warning("%s; retrying", exc.message)
                await asyncio.sleep(RETRY_S)
