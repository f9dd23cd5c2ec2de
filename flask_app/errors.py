"""Every error as JSON: werkzeug's HTTP errors and the core's exceptions, mapped in one place."""

from __future__ import annotations

import re

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from webrtc_signal import SignalError
from webrtc_signal.routes import body_too_large


def handle_http_error(exc: HTTPException):
    """A werkzeug error (404, 405, 413, bad JSON ...) as JSON, with the same status."""
    code = re.sub(r"\W+", "_", (exc.name or "error").lower()).strip("_")
    response = jsonify(error=code, message=exc.description)
    response.status_code = exc.code or 500
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    return response


def handle_too_large(_exc: RequestEntityTooLarge):
    """A body over MAX_CONTENT_LENGTH, refused before it was read, as the API words it."""
    refusal = body_too_large()
    return refusal.body, refusal.status


def handle_signal_error(exc: SignalError):
    """A core error as JSON with the status its class stands for."""
    return {"error": exc.code, "message": exc.message}, exc.status


def init_app(app: Flask) -> None:
    """Register the handlers."""
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(RequestEntityTooLarge, handle_too_large)
    app.register_error_handler(SignalError, handle_signal_error)
