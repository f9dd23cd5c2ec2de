"""The Flask adapter: HTTP in front of :mod:`webrtc_signal`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from webrtc_signal import settings as settings_table
from webrtc_signal.protocol import MAX_BODY, TOKEN_HEADER
from webrtc_signal.settings import instance_path


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create and configure the app: settings from the environment, then ``test_config``."""
    app = Flask(__name__, instance_path=str(instance_path()), static_folder=None)
    app.config.from_mapping(
        MAX_CONTENT_LENGTH=MAX_BODY,  # refused before it is read
        # Settings read from the environment (and .env): the core's table names each.
        **{name: os.environ[name] for name in settings_table.NAMES if name in os.environ},
    )
    if test_config is not None:
        app.config.from_mapping(test_config)

    from . import api, errors, lan, limits, public, routes, security, services

    services.init_app(app)
    lan.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    settings = services.settings(app)
    limits.init_app(app, settings)
    # Same origin only unless CORS_ORIGINS lists others.
    if settings.cors_origins:
        CORS(app, origins=list(settings.cors_origins), expose_headers=[TOKEN_HEADER])
    if settings.trusted_proxies:
        # Behind N reverse proxies, the client's address (for rate limits and logs) and the
        # scheme come from their X-Forwarded-* headers; without proxies those are not trusted.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    app.register_blueprint(routes.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(public.bp)
    return app
