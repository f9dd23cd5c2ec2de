"""The asyncio signaling client against a real server (the live_server fixture), and its
pure parts on their own."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
import pytest

import webrtc_signal.client as client_module
from harness.network import free_port
from tests.helpers import app_process, room_state
from webrtc_signal import (
    BodyTooLarge,
    Conflict,
    InvalidRequest,
    NotAMember,
    OfferExists,
    RoomFull,
    SignalError,
    StoreUnavailable,
    TooManySignals,
    UnsupportedBody,
)
from webrtc_signal.client import (
    PEER_ID_ALPHABET,
    PEER_ID_LENGTH,
    TOKEN_HEADER,
    Events,
    ServerUnreachable,
    Signal,
    SignalingClient,
    batches,
    candidate_type,
    error_from_response,
    new_peer_id,
    parse_events,
    parse_signals,
    retry_delay,
)

T = TypeVar("T")
OFFER = {"type": "offer", "sdp": "v=0 offer"}
ANSWER = {"type": "answer", "sdp": "v=0 answer"}


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def candidate(n: int) -> dict[str, Any]:
    return {"candidate": f"candidate:{n} 1 udp 2130706431 192.0.2.2 {40000 + n} typ host"}


# -- pure functions --------------------------------------------------------------------------


def test_new_peer_ids_look_like_the_pages():
    ids = {new_peer_id() for _ in range(100)}
    assert len(ids) == 100
    for peer in ids:
        assert len(peer) == PEER_ID_LENGTH and set(peer) <= set(PEER_ID_ALPHABET)


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (400, {"error": "invalid_request", "message": "bad room"}, InvalidRequest),
        (403, {"error": "not_a_member", "message": "show your token"}, NotAMember),
        (409, {"error": "offer_exists", "message": "answer it"}, OfferExists),
        (409, {"error": "room_full", "message": "two already"}, RoomFull),
        (409, {"error": "too_many_signals", "message": "read first"}, TooManySignals),
        (503, {"error": "store_unavailable", "message": "down"}, StoreUnavailable),
        (409, {"error": "something_new", "message": "?"}, Conflict),
        (413, {"error": "request_entity_too_large", "message": "big"}, BodyTooLarge),
        (415, {"error": "unsupported_media_type", "message": "json"}, UnsupportedBody),
        (413, None, BodyTooLarge),
        (503, None, StoreUnavailable),
        (500, None, SignalError),
    ],
)
def test_error_from_response_maps_code_then_status(status, body, cls):
    error = error_from_response(status, body)
    assert type(error) is cls
    assert error.message == (body["message"] if body else f"the server answered {status}")


def test_error_from_response_keeps_an_unknown_code():
    error = error_from_response(404, {"error": "not_found", "message": "no such page"})
    assert type(error) is SignalError
    assert (error.code, error.message) == ("not_found", "no such page")


def test_candidate_types_and_batches():
    assert candidate_type("initiator") == "candidate_initiator"
    assert candidate_type("receiver") == "candidate_receiver"
    with pytest.raises(ValueError):
        candidate_type("both")  # type: ignore[arg-type]
    assert [len(b) for b in batches(list(range(120)))] == [50, 50, 20]
    assert list(batches([])) == []


def test_parse_signals():
    body = [{"key": ["webrtc_signal", "r", "candidates_for_receiver", "x"], "payload": {"a": 1}}]
    assert parse_signals(body) == [Signal(body[0]["key"], {"a": 1})]
    for bad in ({"key": []}, [{"payload": {}}], [1]):
        with pytest.raises(SignalError):
            parse_signals(bad)


def test_parse_events():
    key = ["webrtc_signal", "r", "candidates_for_initiator", "x"]
    body = {
        "cursor": "c1",
        "peers": 2,
        "answer": ANSWER,
        "candidates": [{"key": key, "payload": {"a": 1}}],
    }
    assert parse_events(body) == Events(2, ANSWER, [Signal(key, {"a": 1})], "c1")
    quiet = {"cursor": None, "peers": 1, "answer": None, "candidates": []}
    assert parse_events(quiet) == Events(1)  # a server from before in-call descriptions
    described = ["webrtc_signal", "r", "descriptions", "0" * 32]
    offer = {"key": described, "payload": OFFER}
    got = parse_events({**quiet, "descriptions": [offer]})
    assert got.descriptions == [Signal(described, OFFER)]
    for bad in (
        [],
        {**quiet, "peers": "1"},
        {**quiet, "peers": True},
        {**quiet, "answer": "sdp"},
        {**quiet, "cursor": 5},
        {"cursor": None, "peers": 1, "answer": None},
        {**quiet, "candidates": [{"key": key}]},
        {**quiet, "descriptions": [{"payload": OFFER}]},
        {**quiet, "descriptions": None},
    ):
        with pytest.raises(SignalError):
            parse_events(bad)


def test_events_send_back_the_cursor_and_the_last_count():
    """The client keeps the last answer's cursor (which acknowledges it) and peer count, and
    forgets both with its place."""
    key = ["webrtc_signal", "r", "candidates_for_initiator", "x"]
    answers = iter(
        [
            {"cursor": "c1", "peers": 1, "answer": ANSWER, "candidates": []},
            {
                "cursor": "c2",
                "peers": 2,
                "answer": None,
                "candidates": [{"key": key, "payload": {}}],
            },
            {"cursor": None, "peers": 2, "answer": None, "candidates": []},
            {"deleted": 0},
            {"cursor": None, "peers": 1, "answer": None, "candidates": []},
        ]
    )
    asked: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append({"path": request.url.path, **request.url.params})
        return httpx.Response(200, json=next(answers), headers={TOKEN_HEADER: "secret"})

    async def scenario() -> list[Events]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            client = SignalingClient("http://signal.test", "r", peer="alice", http=http)
            got = [await client.events(), await client.events(wait=20), await client.events(5)]
            await client.leave()
            got.append(await client.events(wait=5))
            return got

    got = run(scenario())
    assert [(e.peers, e.answer, e.cursor) for e in got] == [
        (1, ANSWER, "c1"),
        (2, None, "c2"),
        (2, None, None),
        (1, None, None),
    ]
    assert got[1].candidates == [Signal(key, {})]
    who = {"room": "r", "peer": "alice"}
    assert asked == [
        {"path": "/events", **who},
        {"path": "/events", **who, "cursor": "c1", "peers": "1", "wait": "20"},
        {"path": "/events", **who, "cursor": "c2", "peers": "2", "wait": "5"},
        {"path": "/room", **who},
        {"path": "/events", **who, "wait": "5"},  # a new place: nothing to acknowledge
    ]


def test_the_events_channel_backs_off_1_2_4_then_5_seconds():
    assert [retry_delay(n) for n in range(1, 7)] == [1, 2, 4, 5, 5, 5]
    assert error_from_response(502, "<html>bad gateway</html>").status == 502
    assert client_module.is_retryable(error_from_response(502, None))
    assert client_module.is_retryable(error_from_response(503, {"error": "store_unavailable"}))
    assert not client_module.is_retryable(error_from_response(409, {"error": "room_full"}))
    assert not client_module.is_retryable(error_from_response(403, {"error": "not_a_member"}))


QUIET = {
    "cursor": None,
    "peers": 2,
    "offer": None,
    "answer": None,
    "candidates": [],
    "descriptions": [],
}


def scripted(answers: list, asked: list) -> httpx.MockTransport:
    """A server that answers each request with the next of ``answers``: "down" refuses the
    connection, an int is a bare status, a dict a 200 JSON body, a tuple (status, body,
    token)."""
    queue = iter(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append((request.url.path, request.headers.get(TOKEN_HEADER), request.url.params))
        answer = next(queue)
        if answer == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if isinstance(answer, int):
            return httpx.Response(answer, text="<html>proxy error</html>")
        if isinstance(answer, tuple):
            status, body, token = answer
            return httpx.Response(status, json=body, headers={TOKEN_HEADER: token} if token else {})
        return httpx.Response(200, json=answer)

    return httpx.MockTransport(handler)


def test_poll_events_rides_out_network_errors_and_5xx_with_backoff(monkeypatch):
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(client_module.asyncio, "sleep", sleep)
    store_down = {"error": "store_unavailable", "message": "the store does not answer"}
    described = {"key": ["webrtc_signal", "r", "descriptions", "1" * 32], "payload": OFFER}
    answers = [
        "down",
        502,
        (503, store_down, None),
        500,
        "down",
        {**QUIET, "descriptions": [described]},
    ]
    answers += ["down", QUIET]
    asked: list = []

    async def scenario() -> list[Events]:
        async with httpx.AsyncClient(transport=scripted(answers, asked)) as http:
            client = SignalingClient("http://signal.test", "r", peer="alice", http=http)
            return [await client.poll_events(), await client.poll_events()]

    got = run(scenario())
    assert got[0].descriptions == [Signal(described["key"], OFFER)]
    assert slept == [1, 2, 4, 5, 5, 1]  # and after a success, quick again
    assert [path for path, _, _ in asked] == ["/events"] * 8


def test_poll_events_enters_again_when_the_server_forgot_our_place():
    """A 403 not_a_member while we mean to stay: the same peer id enters again and gets a new
    token; a refusal after hanging up is raised instead."""
    gone = {"error": "not_a_member", "message": "you are no longer in this room"}
    answers = [
        ({"room": "r", "peers": 2}, "old-token"),
        {**QUIET, "cursor": "c1"},
        (403, gone, None),
        (200, {"room": "r", "peers": 1}, "new-token"),
        {**QUIET, "peers": 1},
        (200, {"deleted": 0}, None),
        (403, gone, None),
    ]
    answers = [(200, *a) if len(a) == 2 and isinstance(a, tuple) else a for a in answers]
    asked: list = []

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=scripted(answers, asked)) as http:
            client = SignalingClient("http://signal.test", "r", peer="alice", http=http)
            await client.enter()
            await client.poll_events()
            assert (await client.poll_events()).peers == 1
            assert (client.peer, client.token) == ("alice", "new-token")
            await client.hang_up()
            with pytest.raises(NotAMember):
                await client.poll_events()  # not meant to stay: no new place

    run(scenario())
    paths = [
        (path, token, params.get("peer"), params.get("cursor")) for path, token, params in asked
    ]
    assert paths == [
        ("/room", None, "alice", None),
        ("/events", "old-token", "alice", None),
        ("/events", "old-token", "alice", "c1"),
        ("/room", None, "alice", None),  # no token: the server hands out a new one
        ("/events", "new-token", "alice", None),  # the old cursor meant nothing any more
        ("/signal", "new-token", "alice", None),
        ("/events", None, "alice", None),
    ]


def test_a_client_gets_back_in_after_a_restart_that_outlasted_its_place(tmp_path):
    """The server goes away (its sqlite store kept) for longer than the peer timeout: its
    first request after coming back drops the silent member, whose events channel then
    enters again under the same peer id and goes on listening."""
    store = f"sqlite:///{tmp_path / 'restart.sqlite'}"
    server = app_process(store, SIGNAL_PEER_TIMEOUT="1")

    async def scenario() -> None:
        nonlocal server
        async with (
            SignalingClient(server.url, "back", peer="alice") as alice,
            SignalingClient(server.url, "back", peer="bob") as bob,
        ):
            await alice.enter()
            await bob.enter()
            first_token = alice.token
            assert (await alice.poll_events(wait=0.1)).peers == 2
            server.stop()
            listening = asyncio.create_task(alice.poll_events(wait=0.1))
            await asyncio.sleep(2)  # the outage outlasts the peer timeout
            server = app_process(store, port=server.port, SIGNAL_PEER_TIMEOUT="1")
            await bob.poll_events(wait=0.1)  # bob was silent as long: he gets back in too
            await bob.post_description({"type": "offer", "sdp": "v=0 after the restart"})
            got = await asyncio.wait_for(listening, 15)
            assert alice.peer == "alice" and alice.token not in (None, first_token)
            while not got.descriptions:  # the re-entered alice hears bob again
                got = await alice.poll_events(wait=2)
            assert got.descriptions[0].payload["sdp"] == "v=0 after the restart"
            assert got.peers == 2

    try:
        run(scenario())
    finally:
        server.stop()


def test_bad_room_or_peer_is_refused_before_any_request():
    with pytest.raises(InvalidRequest):
        SignalingClient("http://127.0.0.1:1", "no/slashes")
    with pytest.raises(InvalidRequest):
        SignalingClient("http://127.0.0.1:1", "room", peer="a/b")


# -- against a real server -------------------------------------------------------------------


def test_two_clients_meet_swap_signals_and_hang_up(live_server):
    """The seed's flow over HTTP: offer, answer, 60 candidates in batches, hang up, leave."""

    async def scenario() -> None:
        async with (
            SignalingClient(live_server.url, "call") as alice,
            SignalingClient(live_server.url, "call") as bob,
        ):
            assert await alice.enter() == 1
            assert alice.token and alice.peer != bob.peer
            assert await alice.read_offer() is None
            key = await alice.post_offer(OFFER)
            assert key == ["webrtc_signal", "call", "offer"]

            assert await bob.enter() == 2
            assert await bob.read_offer() == OFFER
            await bob.post_answer(ANSWER)
            # A member's answer took the answered offer along: the seed's DELETE finds none.
            assert await bob.delete_offer() == 0
            assert await alice.read_answer() == ANSWER
            assert await alice.delete_answer() == 1

            keys = await alice.post_candidates("initiator", [candidate(n) for n in range(60)])
            assert len(keys) == 60
            taken = await bob.read_candidates("initiator")
            assert [s.payload for s in taken] == [candidate(n) for n in range(60)]
            assert await bob.read_candidates("receiver") == []  # what bob sent: none
            assert await bob.delete_keys([s.key for s in taken]) == 60
            assert room_state(live_server, "call")["candidates_for_receiver"] == 0

            await bob.post_candidates("receiver", [candidate(1)])
            assert await alice.hang_up() >= 1
            assert alice.token is None
            assert room_state(live_server, "call") == {
                "peers": 1,
                "offer": 0,
                "answer": 0,
                "candidates_for_initiator": 0,
                "candidates_for_receiver": 0,
                "descriptions": 0,
            }
            assert await bob.presence() == 1
            await bob.leave()
            assert room_state(live_server, "call")["peers"] == 0

    run(scenario())


def test_long_poll_answers_when_the_other_side_posts(live_server):
    async def scenario() -> float:
        async with (
            SignalingClient(live_server.url, "poll") as alice,
            SignalingClient(live_server.url, "poll") as bob,
        ):
            await alice.enter()
            await bob.enter()

            async def answer_later() -> None:
                await asyncio.sleep(0.3)
                await bob.post_answer(ANSWER)

            started = time.monotonic()
            answer, _ = await asyncio.gather(alice.read_answer(wait=10), answer_later())
            assert answer == ANSWER
            # Nothing posted: the read is held for its wait, then answers None.
            held = time.monotonic()
            assert await bob.read_offer(wait=0.5) is None
            assert time.monotonic() - held >= 0.4
            return held - started

    assert run(scenario()) < 3


def test_events_deliver_what_the_other_side_sent_until_acknowledged(live_server):
    """The initiator's view of a call over /events: the answer and the receiver's
    candidates come in one answer, again until the next request acknowledges them; a held
    request wakes for a candidate and for the other side leaving."""

    async def scenario() -> None:
        async with (
            SignalingClient(live_server.url, "push") as alice,
            SignalingClient(live_server.url, "push") as bob,
        ):
            await alice.enter()
            await alice.post_offer(OFFER)
            await alice.post_candidates("initiator", [candidate(0)])
            assert await alice.events() == Events(1)  # nothing for alice; her own are not
            await bob.enter()
            await bob.post_answer(ANSWER)
            await bob.post_candidates("receiver", [candidate(1), candidate(2)])

            first = await alice.events(wait=5)
            assert (first.peers, first.answer) == (2, ANSWER)
            assert [s.payload for s in first.candidates] == [candidate(1), candidate(2)]
            state = room_state(live_server, "push")
            assert (state["answer"], state["candidates_for_initiator"]) == (1, 2)
            theirs = await bob.events()  # bob's own answer is not for him
            assert (theirs.answer, [s.payload for s in theirs.candidates]) == (
                None,
                [candidate(0)],
            )

            async def trickle_later() -> None:
                await asyncio.sleep(0.3)
                await bob.post_candidates("receiver", [candidate(3)])

            # The next request acknowledges the first answer, then is held until bob trickles.
            started = time.monotonic()
            second, _ = await asyncio.gather(alice.events(wait=10), trickle_later())
            assert 0.25 < time.monotonic() - started < 3
            assert (second.answer, [s.payload for s in second.candidates]) == (
                None,
                [candidate(3)],
            )
            assert room_state(live_server, "push")["candidates_for_initiator"] == 1
            assert await alice.events() == Events(2)  # acknowledged: nothing is left
            state = room_state(live_server, "push")
            assert (state["answer"], state["candidates_for_initiator"]) == (0, 0)

            async def leave_later() -> None:
                await asyncio.sleep(0.3)
                await bob.leave()

            started = time.monotonic()
            gone, _ = await asyncio.gather(alice.events(wait=10), leave_later())
            assert gone.peers == 1
            assert time.monotonic() - started < 3

    run(scenario())


def test_refusals_raise_the_core_exceptions(live_server):
    async def scenario() -> None:
        async with (
            SignalingClient(live_server.url, "busy") as alice,
            SignalingClient(live_server.url, "busy") as bob,
            SignalingClient(live_server.url, "busy") as carol,
        ):
            await alice.enter()
            await bob.enter()
            await alice.post_offer(OFFER)
            with pytest.raises(OfferExists):
                await bob.post_offer(OFFER)
            with pytest.raises(RoomFull):
                await carol.enter()
            assert carol.token is None
            with pytest.raises(InvalidRequest):
                await bob.post_answer({"type": "offer", "sdp": "wrong type"})
            bob.token = "not-bobs-token"
            with pytest.raises(NotAMember):
                await bob.presence()

    run(scenario())


def test_server_down_raises_server_unreachable():
    url = f"http://127.0.0.1:{free_port()}"

    async def scenario() -> None:
        async with SignalingClient(url, "room") as client:
            with pytest.raises(ServerUnreachable, match="cannot reach the signaling server at"):
                await client.enter()

    run(scenario())
    assert issubclass(ServerUnreachable, SignalError)


def test_heartbeat_reports_presence_until_stopped(live_server):
    async def scenario() -> list[int]:
        counts: list[int] = []
        async with (
            SignalingClient(live_server.url, "beat") as alice,
            SignalingClient(live_server.url, "beat") as bob,
        ):
            await alice.enter()
            alice.start_heartbeat(lambda peers, _at: counts.append(peers), interval=0.05)
            with pytest.raises(RuntimeError):
                alice.start_heartbeat()
            await asyncio.sleep(0.3)
            await bob.enter()
            await asyncio.sleep(0.3)
            await alice.stop_heartbeat()
            stopped = len(counts)
            await asyncio.sleep(0.2)
            assert len(counts) == stopped
        return counts

    counts = run(scenario())
    assert counts[0] == 1 and counts[-1] == 2


def test_heartbeat_rides_out_an_unreachable_server_and_ends_on_a_refusal():
    """With a fake transport: a refused connection is retried; room_full ends the beat."""
    answers = iter(["down", "down", 1, "full"])

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if answer == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if answer == "full":
            return httpx.Response(409, json={"error": "room_full", "message": "full"})
        return httpx.Response(200, json={"room": "r", "peers": answer})

    async def scenario() -> list[int]:
        counts: list[int] = []
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            client = SignalingClient("http://signal.test", "r", http=http)
            with pytest.raises(RoomFull):
                await client.heartbeat(lambda peers, _at: counts.append(peers), interval=0.01)
            await client.close()
            assert not http.is_closed  # a shared client stays open for its owner
        return counts

    assert run(scenario()) == [1]


def test_token_is_kept_and_sent_back():
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get(TOKEN_HEADER))
        headers = {} if seen[-1] else {TOKEN_HEADER: "secret"}
        return httpx.Response(200, json={"room": "r", "peers": 1}, headers=headers)

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            client = SignalingClient("http://signal.test/", "r", http=http)
            await client.enter()
            await client.presence()

    run(scenario())
    assert seen == [None, "secret"]


def test_a_server_that_does_not_speak_the_protocol():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/room":
            return httpx.Response(200, text="<html>a web page</html>")
        return httpx.Response(404, text="<html>not found</html>")

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            client = SignalingClient("http://signal.test", "r", http=http)
            with pytest.raises(SignalError, match="is it a webrtc-signal server"):
                await client.enter()
            with pytest.raises(SignalError, match="the server answered 404"):
                await client.read_offer()

    run(scenario())


def test_ice_servers(live_server):
    async def scenario() -> list[dict[str, Any]]:
        async with SignalingClient(live_server.url) as client:
            return await client.ice_servers()

    assert run(scenario()) == live_server.request("GET", "/api/ice-servers")[1]["iceServers"]


def test_the_core_needs_neither_httpx_nor_aiortc():
    """`import webrtc_signal` works without the peer extra; its modules say what to install."""
    script = """
import sys
sys.modules["httpx"] = None  # makes `import httpx` raise ImportError
sys.modules["aiortc"] = None
import webrtc_signal
for module in ("client", "peer"):
    try:
        __import__("webrtc_signal." + module)
    except ImportError as exc:
        print(exc)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.splitlines() == [
        "webrtc_signal.client needs httpx: pip install 'webrtc-signal[peer]'",
        "webrtc_signal.peer needs aiortc: pip install 'webrtc-signal[peer]'",
    ], result.stderr
