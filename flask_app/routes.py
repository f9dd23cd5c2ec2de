"""The signaling requests (``/signal``, ``/room``, ``/events``, ``/waiting``) in Flask.

Each is served by the core's framework-free :mod:`webrtc_signal.routes`; this module only
hands it the request and writes back what it answers.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from webrtc_signal.protocol import TOKEN_HEADER
from webrtc_signal.routes import PATHS, Request, handle

from .services import get_signaling

bp = Blueprint("signal", __name__)


def serve() -> Response:
    """One request of the signaling API, answered by the core."""
    answer = handle(
        get_signaling(),
        Request(
            # Flask answers HEAD with the GET view; the API knows only GET.
            "GET" if request.method == "HEAD" else request.method,
            request.path,
            request.args,
            request.get_data(),
            request.content_type,
            request.headers.get(TOKEN_HEADER),
        ),
    )
    response = jsonify(answer.body)
    response.status_code = answer.status
    if answer.token:  # a peer that just entered the room gets its token
        response.headers[TOKEN_HEADER] = answer.token
        response.headers["Cache-Control"] = "no-store"
    return response


for _path, _methods in PATHS.items():
    bp.add_url_rule(_path, endpoint=_path.strip("/"), view_func=serve, methods=_methods)
