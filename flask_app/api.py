"""``/api/ice-servers`` and ``/healthz``."""

from __future__ import annotations

from flask import Blueprint

from webrtc_signal import StoreUnavailable

from .services import get_ice_servers, get_signaling

bp = Blueprint("api", __name__)


@bp.get("/api/ice-servers")
def ice_servers():
    """ICE servers for ``new RTCPeerConnection({iceServers, iceTransportPolicy})``.

    TURN credentials are made for each request: no cache or proxy may keep them.
    """
    return get_ice_servers().get(), {"Cache-Control": "no-store"}


@bp.get("/healthz")
def healthz():
    """200 while the store answers, 503 when it does not."""
    try:
        get_signaling().store.ping()
    except StoreUnavailable as exc:
        return {"status": "unavailable", "error": exc.code, "message": exc.message}, 503
    return {"status": "ok"}
