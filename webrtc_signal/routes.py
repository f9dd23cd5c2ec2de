"""The signaling HTTP API as plain functions: a request in, a response out, no web framework.

Every adapter (the Flask app, ``examples/stdlib_server.py``, your own) reads the method, the
path, the query, the body's bytes, its Content-Type and the ``X-Peer-Token`` header, calls
:func:`handle`, and writes back the status, the JSON body and, when set, the token a peer was
just issued (in ``X-Peer-Token``)::

    response = handle(signaling, Request("GET", "/signal", {"type": "offer"}))
    response.status, response.body, response.token   # 200, {"type": "offer", ...}, None

docs/protocol.md describes each request. The rules that make one request (a peer id without
a token enters the room; a parameter comes from the JSON body, else from the query) live
here once, so every adapter serves the same API by construction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import protocol
from .errors import BodyTooLarge, InvalidRequest, SignalError, UnsupportedBody
from .keys import check_count, check_room, check_wait
from .signaling import Signaling

# A body is read as JSON when it says so, says it is text (what fetch() sends for a string
# body) or says nothing: the seed's server read JSON whatever the type said.
JSON_TYPES = ("application/json", "text/plain", "")
TOO_LARGE = f"the request body is over {protocol.MAX_BODY // 1024} KiB"


@dataclass(frozen=True)
class Request:
    """One HTTP request, as much of it as the API reads."""

    method: str
    path: str
    query: Mapping[str, str]
    data: bytes = b""  # the body
    content_type: str | None = None  # the Content-Type header
    token: str | None = None  # the X-Peer-Token header


@dataclass(frozen=True)
class Response:
    """What to send back: a status, a JSON body, and the token a new member was issued."""

    status: int
    body: Any
    token: str | None = None


def read_body(data: bytes, content_type: str | None) -> dict[str, Any] | None:
    """The request body as a JSON object (None when empty); raises the matching SignalError."""
    if not data:
        return None
    if len(data) > protocol.MAX_BODY:
        raise BodyTooLarge(TOO_LARGE)
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type not in JSON_TYPES and not media_type.endswith("+json"):
        raise UnsupportedBody(
            "send the body as JSON (Content-Type: application/json, text/plain or none)"
        )
    try:
        body = json.loads(data)
    except RecursionError:  # the parser's own limit, not a ValueError
        raise InvalidRequest("the request body nests too deeply") from None
    except ValueError:
        raise InvalidRequest("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return body


class _Call:
    """One request being served: its parameters, and the member it comes from."""

    def __init__(self, signaling: Signaling, request: Request) -> None:
        self.signaling = signaling
        self.request = request
        self.issued: str | None = None
        self.sent = read_body(request.data, request.content_type)  # None: no body
        self.body = self.sent or {}

    def param(self, name: str, default: Any = None) -> Any:
        """A parameter from the JSON body, else from the query string."""
        if name in self.body:
            return self.body[name]
        return self.request.query.get(name, default)

    @property
    def room(self) -> Any:
        return self.param("room", protocol.DEFAULT_ROOM)

    def caller(self, enter: bool = True) -> dict[str, Any]:
        """The caller's peer id and token; a peer that brings no token enters the room."""
        peer, token = self.param("peer"), self.request.token
        if enter and peer not in (None, "") and not token:
            token = self.issued = self.signaling.enter(self.room, peer)
        return {"peer": peer, "token": token}


def _read_signal(call: _Call) -> tuple[int, Any]:
    signal_type = call.param("type")
    wait = check_wait(call.param("wait"))
    result = call.signaling.read(call.room, signal_type, wait=wait, **call.caller())
    if signal_type in protocol.DESCRIPTION_TYPES:
        return 200, {"type": signal_type, "payload": result}
    return 200, result


def _post_signal(call: _Call) -> tuple[int, Any]:
    if call.sent is None:
        raise InvalidRequest("send the signal as a JSON object in the request body")
    who = call.caller()
    if "payloads" in call.body:
        stored = call.signaling.post_candidates(
            call.room, call.param("type"), call.body["payloads"], **who
        )
        return 201, {"keys": [list(key) for key in stored]}
    key = call.signaling.post(call.room, call.param("type"), call.param("payload"), **who)
    return 201, {"key": list(key)}


def _delete_signal(call: _Call) -> tuple[int, Any]:
    signaling = call.signaling
    if "key" in call.body or "keys" in call.body:
        # The keys came from a read, so the peer is already a member and has its token.
        who = call.caller(enter=False)
        if "key" in call.body:
            return 200, {"deleted": signaling.delete_key(call.body["key"], **who)}
        return 200, {"deleted": signaling.delete_keys(call.body["keys"], **who)}
    who = call.caller()
    if (signal_type := call.param("type")) is not None:
        return 200, {"deleted": signaling.delete(call.room, signal_type, **who)}
    return 200, {"deleted": signaling.hang_up(call.room, **who)}


def _leave_room(call: _Call) -> tuple[int, Any]:
    return 200, {"deleted": call.signaling.leave(call.room, **call.caller(enter=False))}


def _room_presence(call: _Call) -> tuple[int, Any]:
    return 200, call.signaling.presence(call.room, **call.caller())


def _events(call: _Call) -> tuple[int, Any]:
    who = call.caller()
    return 200, call.signaling.events(
        call.room,
        cursor=call.param("cursor") or None,
        peers=check_count(call.param("peers")),
        wait=check_wait(call.param("wait")),
        **who,
    )


def _waiting(call: _Call) -> tuple[int, Any]:
    room = check_room(call.room)  # the name as the server knows it: normalised
    return 200, {"room": room, "waiting": call.signaling.waiting(room)}


# Every request of the API: (method, path) -> what serves it.
ROUTES: dict[tuple[str, str], Callable[[_Call], tuple[int, Any]]] = {
    ("GET", "/signal"): _read_signal,
    ("POST", "/signal"): _post_signal,
    ("DELETE", "/signal"): _delete_signal,
    ("GET", "/room"): _room_presence,
    ("DELETE", "/room"): _leave_room,
    ("GET", "/events"): _events,
    ("GET", "/waiting"): _waiting,
}
PATHS: dict[str, list[str]] = {}
for _method, _path in ROUTES:
    PATHS.setdefault(_path, []).append(_method)


def error_response(exc: SignalError, token: str | None = None) -> Response:
    """A refusal as the API answers it: the error's status, ``{"error", "message"}``."""
    return Response(exc.status, {"error": exc.code, "message": exc.message}, token)


def body_too_large() -> Response:
    """The answer to a body over the limit, for a server that refuses it before reading."""
    return error_response(BodyTooLarge(TOO_LARGE))


def handle(signaling: Signaling, request: Request) -> Response:
    """Serve one request of the API; a refused one gets its error's status and changes
    nothing. A path outside the API is 404, a method the path does not take 405."""
    serve = ROUTES.get((request.method, request.path))
    if serve is None:
        if request.path in PATHS:
            allowed = ", ".join(sorted(PATHS[request.path]))
            message = f"{request.path} takes {allowed}"
            return Response(405, {"error": "method_not_allowed", "message": message})
        return Response(404, {"error": "not_found", "message": f"no such request: {request.path}"})
    issued = None
    try:
        call = _Call(signaling, request)
        try:
            status, body = serve(call)
        finally:
            issued = call.issued  # a new member gets its token whatever the answer
    except SignalError as exc:
        return error_response(exc, issued)
    return Response(status, body, issued)
