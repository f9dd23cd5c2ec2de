"""A client that speaks only the seed's messages, written from the seed's list alone.

No peer id, no token, no push channel: it polls `GET /signal` by type, posts with `fetch`'s
default body type (`text/plain`), deletes what it read by key, and hangs up with
`DELETE /signal?room=R`. Media and chat come from aiortc, an independent WebRTC stack; chat is
plain text both ways. It runs on an asyncio loop of its own thread, so that a synchronous
Playwright test can drive a page beside it; the test's thread waits for it with ``pause``
(a Person's, while a page is open: a blocking wait would stall the page's requests).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import Future
from typing import Any

import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from aiortc.sdp import candidate_from_sdp

from harness.waiting import Pause, wait_until

POLL_S = 0.2


class SeedClient:
    """One side of a call, the seed's way, in ``room`` of the server at ``base_url``;
    ``pause`` is how the test's thread waits for it."""

    def __init__(self, base_url: str, room: str, pause: Pause = time.sleep) -> None:
        self.base_url = base_url
        self.room = room
        self.pause = pause
        self.received: list[str] = []
        self.closed = threading.Event()
        self.connected = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._pc: RTCPeerConnection | None = None
        self._channel = None
        self._http: httpx.AsyncClient | None = None
        self._polling: asyncio.Task | None = None

    # -- driven from the test's thread ---------------------------------------------------

    def run(self, coroutine) -> Any:
        """Run a coroutine on the client's loop; its result (10 s at most), waited for with
        ``pause``."""
        future: Future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        wait_until(
            future.done,
            10,
            f"the seed client's {coroutine.__name__} took over 10 s",
            self.pause,
            every=0.02,
        )
        return future.result()

    def call_as_initiator(self) -> None:
        """Post an offer; then wait (polling) for the answer and the receiver's candidates."""
        self.run(self._initiate())

    def call_as_receiver(self) -> None:
        """Answer the offer in the room, then take the initiator's candidates."""
        self.run(self._receive())

    def send(self, text: str) -> None:
        self._loop.call_soon_threadsafe(self._channel.send, text)

    def hang_up(self) -> int:
        """Close the call and clear the room, as the seed's Hang Up does; what was deleted."""
        return self.run(self._hang_up())

    def close(self) -> None:
        if self._pc is not None:
            self.run(self._hang_up())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    # -- the seed's flow ------------------------------------------------------------------

    async def _request(self, method: str, *, params: dict | None = None, body=None) -> Any:
        if self._http is None:
            self._http = httpx.AsyncClient(base_url=self.base_url, timeout=5)
        content = None if body is None else json.dumps(body)
        headers = {"Content-Type": "text/plain;charset=UTF-8"} if content else {}
        response = await self._http.request(
            method, "/signal", params=params, content=content, headers=headers
        )
        response.raise_for_status()
        return response.json()

    async def _post(self, kind: str, payload: dict) -> None:
        await self._request("POST", body={"room": self.room, "type": kind, "payload": payload})

    def _new_connection(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(VideoStreamTrack())

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "connected":
                self.connected.set()
            elif pc.connectionState in ("failed", "closed"):
                self.closed.set()

        @pc.on("datachannel")
        def on_channel(channel) -> None:
            self._use_channel(channel)

        self._pc = pc
        return pc

    def _use_channel(self, channel) -> None:
        self._channel = channel

        @channel.on("message")
        def on_message(message) -> None:
            self.received.append(message)

        @channel.on("close")
        def on_close() -> None:
            self.closed.set()

    async def _initiate(self) -> None:
        offer = await self._request("GET", params={"room": self.room, "type": "offer"})
        assert offer["payload"] is None, "the room already has an offer"
        pc = self._new_connection()
        self._use_channel(pc.createDataChannel("chat"))
        await pc.setLocalDescription(await pc.createOffer())
        await self._post("offer", _json(pc.localDescription))
        self._polling = asyncio.create_task(self._poll_as_initiator(pc))

    async def _poll_as_initiator(self, pc: RTCPeerConnection) -> None:
        params = {"room": self.room}
        while pc.remoteDescription is None:
            answer = await self._request("GET", params={**params, "type": "answer"})
            if answer["payload"]:
                await pc.setRemoteDescription(_description(answer["payload"]))
            else:
                await asyncio.sleep(POLL_S)
        await self._take_candidates(pc, "candidate_receiver")

    async def _receive(self) -> None:
        offer = await self._request("GET", params={"room": self.room, "type": "offer"})
        assert offer["payload"], "no offer to answer"
        pc = self._new_connection()
        await pc.setRemoteDescription(_description(offer["payload"]))
        await pc.setLocalDescription(await pc.createAnswer())
        await self._post("answer", _json(pc.localDescription))
        await self._request("DELETE", params={"room": self.room, "type": "offer"})
        self._polling = asyncio.create_task(self._take_candidates(pc, "candidate_initiator"))

    async def _take_candidates(self, pc: RTCPeerConnection, kind: str) -> None:
        """Poll the other side's candidates: apply each, then delete it by its key."""
        while pc.connectionState not in ("closed", "failed"):
            items = await self._request("GET", params={"room": self.room, "type": kind})
            for item in items:
                payload = item["payload"]
                if payload["candidate"]:
                    candidate = candidate_from_sdp(payload["candidate"].split(":", 1)[1])
                    candidate.sdpMid = payload.get("sdpMid")
                    candidate.sdpMLineIndex = payload.get("sdpMLineIndex")
                    await pc.addIceCandidate(candidate)
                await self._request("DELETE", body={"key": item["key"]})
            await asyncio.sleep(POLL_S)

    async def _hang_up(self) -> int:
        if self._polling is not None:
            self._polling.cancel()
        if self._pc is not None:
            await self._pc.close()
            self._pc = None
        deleted = await self._request("DELETE", params={"room": self.room})
        await self._http.aclose()
        self._http = None
        return deleted["deleted"]


def _json(description) -> dict[str, str]:
    return {"type": description.type, "sdp": description.sdp}


def _description(payload: dict[str, str]) -> RTCSessionDescription:
    return RTCSessionDescription(sdp=payload["sdp"], type=payload["type"])
