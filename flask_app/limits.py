"""Rate limits on writes, per client address, through Flask-Limiter."""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from webrtc_signal import Settings

READS = ("GET", "HEAD", "OPTIONS")


def init_app(app: Flask, settings: Settings) -> None:
    """Limit each client address's writes (POST, DELETE) over the whole app.

    The counters live where the rooms live: in Redis when the store is Redis (so every
    process shares them), else in this process.
    """
    shared = settings.store_url.startswith("redis://")
    app.extensions["rate_limiter"] = Limiter(
        get_remote_address,
        app=app,
        application_limits=[settings.rate_limit] if settings.rate_limit else [],
        application_limits_exempt_when=lambda: request.method in READS,
        storage_uri=settings.store_url if shared else "memory://",
        enabled=bool(settings.rate_limit),
        headers_enabled=True,
        # Redis away: count in this process meanwhile; the store answers 503 on its own.
        swallow_errors=True,
        in_memory_fallback_enabled=shared,
    )
