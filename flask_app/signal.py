"""``/signal``, ``/room`` and ``/events``: signaling requests, translated to core calls."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request
from werkzeug.exceptions import UnsupportedMediaType

from webrtc_signal import DEFAULT_ROOM, InvalidRequest
from webrtc_signal.keys import DESCRIPTION_TYPES, check_count, check_wait

from .signaling import get_signaling

bp = Blueprint("signal", __name__)
TOKEN_HEADER = "X-Peer-Token"


# Bodies read as JSON: fetch() sends a string body as text/plain, and the seed's server read
# JSON whatever the type said. Other declared types (a form, say) are refused.
JSON_MIMETYPES = ("application/json", "text/plain", "")


def json_body(required: bool) -> dict[str, Any]:
    """The request's JSON object; {} when there is no body and none is required."""
    if not required and not request.get_data(cache=True):
        return {}
    if not request.is_json and request.mimetype not in JSON_MIMETYPES:
        raise UnsupportedMediaType(
            "send the body as JSON (Content-Type: application/json, text/plain or none)"
        )
    try:
        body = request.get_json(force=True, silent=True)
    except RecursionError:  # the parser's own limit, not a ValueError
        raise InvalidRequest("the request body nests too deeply") from None
    if body is None:
        raise InvalidRequest("the request body is not valid JSON")
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return body


def param(body: dict[str, Any], name: str, default: str | None = None) -> Any:
    """A parameter from the JSON body, else from the query string."""
    if name in body:
        return body[name]
    return request.args.get(name, default)


def caller(room: Any, body: dict[str, Any]) -> tuple[Any, str | None]:
    """The request's peer id and token; a peer that brings no token enters the room first.

    The token a peer gets on entering goes back in the ``X-Peer-Token`` response header.
    """
    peer, token = param(body, "peer"), request.headers.get(TOKEN_HEADER)
    if peer not in (None, "") and not token:
        token = get_signaling().enter(room, peer)
        g.issued_token = token
    return peer, token


@bp.after_request
def send_issued_token(response):
    """Hand a new member its token, on whatever answer its first request got."""
    token = g.pop("issued_token", None)
    if token:
        response.headers[TOKEN_HEADER] = token
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/signal")
def read_signal():
    """The room's offer or answer, or the list of candidates one side sent."""
    room = request.args.get("room", DEFAULT_ROOM)
    signal_type = request.args.get("type")
    wait = check_wait(request.args.get("wait"))
    peer, token = caller(room, {})
    result = get_signaling().read(room, signal_type, peer, wait, token)
    if signal_type in DESCRIPTION_TYPES:
        return {"type": signal_type, "payload": result}
    return jsonify(result)


@bp.post("/signal")
def post_signal():
    """Store an offer, an answer or a candidate; or several candidates, given ``payloads``."""
    body = json_body(required=True)
    room = param(body, "room", DEFAULT_ROOM)
    peer, token = caller(room, body)
    if "payloads" in body:
        stored = get_signaling().post_candidates(
            room, body.get("type"), body["payloads"], peer, token
        )
        return {"keys": [list(key) for key in stored]}, 201
    key = get_signaling().post(room, body.get("type"), body.get("payload"), peer, token)
    return {"key": list(key)}, 201


@bp.delete("/signal")
def delete_signal():
    """Delete signals by key (or keys), the offer or answer by type, or (no type) the call."""
    body = json_body(required=False)
    signaling = get_signaling()
    if "key" in body or "keys" in body:
        # The keys came from a read, so the peer is already a member and has its token.
        peer, token = param(body, "peer"), request.headers.get(TOKEN_HEADER)
        if "key" in body:
            return {"deleted": signaling.delete_key(body["key"], peer, token)}
        return {"deleted": signaling.delete_keys(body["keys"], peer, token)}
    room = param(body, "room", DEFAULT_ROOM)
    peer, token = caller(room, body)
    if (signal_type := param(body, "type")) is not None:
        return {"deleted": signaling.delete(room, signal_type, peer, token)}
    return {"deleted": signaling.hang_up(room, peer, token)}


@bp.delete("/room")
def leave_room():
    """Free the caller's place and remove what it sent; the other peer's signals stay."""
    room = request.args.get("room", DEFAULT_ROOM)
    peer, token = param({}, "peer"), request.headers.get(TOKEN_HEADER)
    return {"deleted": get_signaling().leave(room, peer, token)}


@bp.get("/room")
def room_presence():
    """How many live peers are in the room; a member's heartbeat, and a new peer's entry."""
    room = request.args.get("room", DEFAULT_ROOM)
    peer, token = caller(room, {})
    return get_signaling().presence(room, peer, token)


@bp.get("/events")
def events():
    """Everything addressed to the caller, held until something is new: the push channel."""
    room = request.args.get("room", DEFAULT_ROOM)
    peer, token = caller(room, {})
    return get_signaling().events(
        room,
        peer,
        token,
        cursor=request.args.get("cursor") or None,
        peers=check_count(request.args.get("peers")),
        wait=check_wait(request.args.get("wait")),
    )


@bp.get("/waiting")
def waiting():
    """How many people are in the room, for a page before it starts: no place taken."""
    room = request.args.get("room", DEFAULT_ROOM)
    return {"room": room, "waiting": get_signaling().waiting(room)}
