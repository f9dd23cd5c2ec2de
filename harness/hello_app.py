"""A hello-world Flask app: the unit the bench prices the signaling server's CPU in.

    gunicorn -k gevent_pywsgi -w 1 'harness.hello_app:create_app()'

One JSON GET and one JSON POST (and the /healthz a server is started on): what any Flask
request costs at the least on the production recipe (bench/call_cpu.py serves it so).
"""

from __future__ import annotations

from flask import Flask, request


def create_app() -> Flask:
    """The app: GET /hello answers a small JSON object, POST /echo sends the JSON back."""
    app = Flask(__name__)

    @app.get("/healthz")  # what harness/servers.py waits for at start
    def healthz() -> dict:
        return {"ok": True}

    @app.get("/hello")
    def hello() -> dict:
        return {"hello": "world"}

    @app.post("/echo")
    def echo() -> dict:
        return {"echo": request.get_json()}

    return app
