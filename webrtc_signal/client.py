"""An asyncio client for the signaling API: what the browser page does, for Python programs.

Needs httpx (the ``peer`` extra); ``import webrtc_signal`` alone does not load this module::

    from webrtc_signal.client import SignalingClient

    async with SignalingClient("http://127.0.0.1:5000", "my-room") as signaling:
        await signaling.enter()                   # a place in the room, and its token
        offer = await signaling.read_offer()      # None: you are the initiator
        ...
        events = await signaling.events(wait=20)  # the answer, candidates, the peer count
        ...
        await signaling.post_description(pc_offer)  # in the call: an offer for the other
        async for events in signaling.listen():   # the events channel, through outages
            ...
        await signaling.hang_up()

The pure functions (peer ids, error mapping, parsing) live in :mod:`webrtc_signal.wire` and do
no I/O; this client speaks HTTP with them. Errors are the core's (``webrtc_signal.errors``),
plus ServerUnreachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

try:
    import httpx
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "webrtc_signal.client needs httpx: pip install 'webrtc-signal[peer]'"
    ) from exc

from .errors import NotAMember, SignalError, StoreUnavailable
from .keys import check_peer, check_room
from .protocol import ANSWER, DEFAULT_ROOM, DESCRIPTION, OFFER, TOKEN_HEADER
from .wire import (
    PEER_ID_ALPHABET,
    PEER_ID_LENGTH,
    RETRY_BACKOFF_S,
    Events,
    KeyList,
    ServerUnreachable,
    Side,
    Signal,
    batches,
    candidate_type,
    error_from_response,
    is_retryable,
    new_peer_id,
    parse_events,
    parse_signals,
    retry_delay,
)

__all__ = [  # the client, and what its answers and refusals are made of (from .wire)
    "PEER_ID_ALPHABET",
    "PEER_ID_LENGTH",
    "RETRY_BACKOFF_S",
    "Events",
    "KeyList",
    "ServerUnreachable",
    "Side",
    "Signal",
    "SignalingClient",
    "batches",
    "candidate_type",
    "error_from_response",
    "is_retryable",
    "new_peer_id",
    "parse_events",
    "parse_signals",
    "retry_delay",
]

log = logging.getLogger(__name__)

# The page's rhythm: a heartbeat every 2 s (the server drops a peer after 10 silent seconds),
# long-polls of 20 s, a pause after a failed request.
HEARTBEAT_S = 2.0
WAIT_S = 20.0
RETRY_S = 1.0
# Seconds to connect, and to get an answer beyond a long-poll's own wait.
TIMEOUT_S = 10.0


# -- the client ------------------------------------------------------------------------------


class SignalingClient:
    """One peer's side of the signaling API: a room, a peer id and the token it earns.

    The first request enters the room (``enter()`` makes that explicit) and keeps the
    ``X-Peer-Token`` the server hands out; every later request sends it back. ``http`` is an
    ``httpx.AsyncClient`` to share (closed by its owner); without one the client makes its own.
    """

    def __init__(
        self,
        base_url: str,
        room: str = DEFAULT_ROOM,
        peer: str | None = None,
        *,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.room = check_room(room)
        self.peer = check_peer(peer) or new_peer_id()
        self.token: str | None = None
        self._http = http or httpx.AsyncClient(timeout=TIMEOUT_S)
        self._owns_http = http is None
        self._heartbeat: asyncio.Task | None = None
        # The events channel's state: the last answer's cursor and peer count.
        self._cursor: str | None = None
        self._peers: int | None = None
        # Whether we mean to stay in the room: from enter() until leave() or hang_up(). While
        # we do, a place lost to a server restart or a long outage is taken again.
        self._staying = False

    async def __aenter__(self) -> SignalingClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop the heartbeat and close the HTTP client (leaving the room is up to you)."""
        await self.stop_heartbeat()
        if self._owns_http:
            await self._http.aclose()

    # -- the room ----------------------------------------------------------------------------

    async def enter(self) -> int:
        """Take a place in the room (or keep ours); how many live peers it holds.

        From here until :meth:`leave` or :meth:`hang_up`, :meth:`poll_events` takes the place
        again should the server forget it.
        """
        peers = await self.presence()
        self._staying = True
        return peers

    async def presence(self) -> int:
        """How many live peers the room holds; also our heartbeat."""
        body = await self._request("GET", "/room", params=self._query())
        return int(body["peers"])

    async def leave(self) -> int:
        """Free our place, removing only what we sent (when the other side left first)."""
        self._staying = False  # before asking: our own held request may end first, with a 403
        body = await self._request("DELETE", "/room", params=self._query())
        self._forget()
        return int(body["deleted"])

    async def hang_up(self) -> int:
        """Free our place and clear every signal of the room: the call is over."""
        self._staying = False
        body = await self._request("DELETE", "/signal", params=self._query())
        self._forget()
        return int(body["deleted"])

    async def ice_servers(self) -> list[dict[str, Any]]:
        """The ICE servers the server hands out, as browsers take them."""
        body = await self._request("GET", "/api/ice-servers")
        return list(body.get("iceServers") or [])

    # -- offer and answer --------------------------------------------------------------------

    async def read_offer(self, wait: float | None = None) -> dict[str, Any] | None:
        """The room's offer, or None; ``wait`` seconds of long-poll for one to come."""
        return await self._read_description(OFFER, wait)

    async def read_answer(self, wait: float | None = None) -> dict[str, Any] | None:
        """The room's answer, or None; ``wait`` seconds of long-poll for one to come."""
        return await self._read_description(ANSWER, wait)

    async def post_offer(self, payload: dict[str, Any]) -> KeyList:
        """Store our offer; OfferExists if another peer's got there first."""
        return await self._post(OFFER, payload)

    async def post_answer(self, payload: dict[str, Any]) -> KeyList:
        """Store our answer to the room's offer."""
        return await self._post(ANSWER, payload)

    async def delete_offer(self) -> int:
        """Delete the room's offer (the receiver does, once it has answered)."""
        return await self._delete_description(OFFER)

    async def delete_answer(self) -> int:
        """Delete the room's answer (the initiator does, once it has applied it)."""
        return await self._delete_description(ANSWER)

    async def post_description(self, payload: dict[str, Any]) -> KeyList:
        """Send the other member an in-call offer or answer (``{"type", "sdp"}``); its key.

        It reaches the other side through its events channel (``Events.descriptions``).
        TooManySignals when 20 of ours wait unread.
        """
        return await self._post(DESCRIPTION, payload)

    # -- candidates --------------------------------------------------------------------------

    async def post_candidates(
        self, side: Side, payloads: Sequence[dict[str, Any]]
    ) -> list[KeyList]:
        """Store candidates ``side`` (our role) sent, in batches; their keys."""
        stored: list[KeyList] = []
        for batch in batches(payloads):
            body = await self._request(
                "POST",
                "/signal",
                json={**self._query(), "type": candidate_type(side), "payloads": list(batch)},
            )
            stored += body["keys"]
        return stored

    async def read_candidates(self, of_side: Side, wait: float | None = None) -> list[Signal]:
        """The candidates ``of_side`` (the other role) sent that wait unread, oldest first."""
        params = {**self._query(), "type": candidate_type(of_side)}
        return parse_signals(await self._request("GET", "/signal", params=params, wait=wait))

    async def delete_keys(self, keys: Sequence[KeyList]) -> int:
        """Delete signals by the keys they were read under, in batches; how many went."""
        deleted = 0
        for batch in batches(keys):
            body = await self._request(
                "DELETE", "/signal", json={"peer": self.peer, "keys": list(batch)}
            )
            deleted += int(body["deleted"])
        return deleted

    # -- the events channel -----------------------------------------------------------------

    async def events(self, wait: float | None = None) -> Events:
        """The answer, candidates and in-call descriptions the other side sent us, and the
        room's live peers.

        Each call sends back the previous answer's cursor, which acknowledges what that answer
        delivered: the server deletes it, and it does not come again (unless an answer was
        lost on its way: apply each key once). With ``wait`` (at most 30 s) an answer with
        nothing new (no signal, and the peer count last seen) is held back until something
        changes, for at most half the server's peer timeout. Asking again at once keeps our
        place: no heartbeat is needed beside it.
        """
        params = self._query()
        if self._cursor is not None:
            params["cursor"] = self._cursor
        if self._peers is not None:
            params["peers"] = str(self._peers)
        events = parse_events(await self._request("GET", "/events", params=params, wait=wait))
        self._cursor, self._peers = events.cursor, events.peers
        return events

    async def poll_events(
        self,
        wait: float | None = WAIT_S,
        *,
        rejoin: bool = True,
        backoff: Sequence[float] = RETRY_BACKOFF_S,
    ) -> Events:
        """The next answer of the events channel, through server outages.

        A server that cannot be reached or answers 5xx is asked again after 1, 2, 4, then
        every 5 seconds (``backoff``). ``NotAMember`` while we mean to stay in the room (the
        server restarted on an empty store, or our place expired during the outage) enters
        the room again with the same peer id, and a new token, when ``rejoin`` is set; what
        the call has set up is not touched. Other refusals are raised.
        """
        failures, rejoined = 0, False
        while True:
            try:
                if rejoined and self.token is None:
                    await self.presence()  # without a token: enters, and gets a new one
                return await self.events(wait)
            except NotAMember:
                if not (rejoin and self._staying) or rejoined:
                    raise
                log.warning("our place in room %s is gone: entering it again", self.room)
                self._forget()
                rejoined = True
            except SignalError as exc:
                if not is_retryable(exc):
                    raise
                failures += 1
                delay = retry_delay(failures, backoff)
                log.warning("events failed (%s); asking again in %g s", exc.message, delay)
                await asyncio.sleep(delay)

    async def listen(self, wait: float = WAIT_S, *, rejoin: bool = True) -> AsyncIterator[Events]:
        """The events channel as a stream: :meth:`poll_events` again and again, forever."""
        while True:
            yield await self.poll_events(wait, rejoin=rejoin)

    # -- heartbeat ---------------------------------------------------------------------------

    async def heartbeat(
        self,
        on_presence: Callable[[int, float], object] | None = None,
        interval: float = HEARTBEAT_S,
    ) -> None:
        """Ask for presence every ``interval`` seconds, forever, keeping our place.

        ``on_presence(peers, asked_at)`` gets each count and the loop time it was asked at.
        A server that cannot be reached is retried; a refusal (RoomFull, NotAMember) ends the
        heartbeat with that error.
        """
        loop = asyncio.get_running_loop()
        while True:
            asked_at = loop.time()
            try:
                peers = await self.presence()
            except (ServerUnreachable, StoreUnavailable) as exc:
                log.warning("heartbeat failed, retrying: %s", exc.message)
            else:
                if on_presence is not None:
                    on_presence(peers, asked_at)
            await asyncio.sleep(max(0.0, asked_at + interval - loop.time()))

    def start_heartbeat(
        self,
        on_presence: Callable[[int, float], object] | None = None,
        interval: float = HEARTBEAT_S,
    ) -> asyncio.Task:
        """Run :meth:`heartbeat` as a task until :meth:`stop_heartbeat` or :meth:`close`."""
        if self._heartbeat is not None and not self._heartbeat.done():
            raise RuntimeError("the heartbeat is already running")
        self._heartbeat = asyncio.create_task(self.heartbeat(on_presence, interval))
        return self._heartbeat

    async def stop_heartbeat(self) -> None:
        """Stop the heartbeat task, if it runs."""
        task, self._heartbeat = self._heartbeat, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- HTTP --------------------------------------------------------------------------------

    def _query(self) -> dict[str, str]:
        return {"room": self.room, "peer": self.peer}

    def _forget(self) -> None:
        """Our place is gone: its token, and the events channel's state with it."""
        self.token = self._cursor = self._peers = None

    async def _read_description(self, kind: str, wait: float | None) -> dict[str, Any] | None:
        params = {**self._query(), "type": kind}
        body = await self._request("GET", "/signal", params=params, wait=wait)
        return body.get("payload")

    async def _post(self, kind: str, payload: dict[str, Any]) -> KeyList:
        body = await self._request(
            "POST", "/signal", json={**self._query(), "type": kind, "payload": payload}
        )
        return body["key"]

    async def _delete_description(self, kind: str) -> int:
        params = {**self._query(), "type": kind}
        return int((await self._request("DELETE", "/signal", params=params))["deleted"])

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        wait: float | None = None,
    ) -> Any:
        """One request with our token; its JSON answer, or the error it stands for."""
        if wait is not None:
            params = {**(params or {}), "wait": f"{wait:g}"}
        headers = {TOKEN_HEADER: self.token} if self.token else {}
        # A long-poll is held up to `wait` seconds before the server answers.
        timeout = httpx.Timeout(TIMEOUT_S, read=TIMEOUT_S + (wait or 0))
        try:
            response = await self._http.request(
                method,
                self.base_url + path,
                params=params,
                json=json,
                headers=headers,
                timeout=timeout,
            )
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise ServerUnreachable(
                f"cannot reach the signaling server at {self.base_url} ({reason})"
            ) from exc
        issued = response.headers.get(TOKEN_HEADER)
        if issued:
            self.token = issued
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_error:
            raise error_from_response(response.status_code, body)
        if not isinstance(body, dict | list):
            raise SignalError(
                f"{self.base_url}{path} did not answer JSON: is it a webrtc-signal server?"
            )
        return body
