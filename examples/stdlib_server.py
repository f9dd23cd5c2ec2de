"""The signaling API served by the standard library alone: no Flask, no framework.

    SIGNAL_STORE=sqlite:////tmp/signal.sqlite python examples/stdlib_server.py 8080

Every request of docs/protocol.md (``/signal``, ``/room``, ``/events``, ``/waiting``, tokens
included) is answered by ``webrtc_signal.handle``: this file only moves bytes between
``http.server`` and it, so it serves the same API as the Flask app by construction. This is
how another Python program embeds webrtc_signal. (It serves no page and no ICE servers.)
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from webrtc_signal import Request, Settings, Signaling, handle
from webrtc_signal.protocol import MAX_BODY, TOKEN_HEADER
from webrtc_signal.routes import body_too_large


def make_handler(signaling: Signaling) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one Signaling service."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as browsers expect

        def _send(self, status: int, body: object, token: str | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            if token:  # a peer that just entered the room gets its token
                self.send_header(TOKEN_HEADER, token)
                self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:  # refused before it is read
                self.close_connection = True
                refusal = body_too_large()
                self._send(refusal.status, refusal.body)
                return
            url = urlsplit(self.path)
            answer = handle(
                signaling,
                Request(
                    self.command,
                    url.path,
                    dict(parse_qsl(url.query)),
                    self.rfile.read(length),
                    self.headers.get("Content-Type"),
                    self.headers.get(TOKEN_HEADER),
                ),
            )
            self._send(answer.status, answer.body, answer.token)

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

    return Handler


def serve(port: int = 8080, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A server for the settings in the environment (not yet serving: call serve_forever)."""
    signaling = Signaling.from_settings(Settings.from_mapping(os.environ))
    server = ThreadingHTTPServer((host, port), make_handler(signaling))
    server.daemon_threads = True  # held requests do not keep the process alive
    return server


if __name__ == "__main__":
    server = serve(int(sys.argv[1]) if len(sys.argv) > 1 else 8080)
    print(f"serving signaling on http://{server.server_address[0]}:{server.server_port}")
    server.serve_forever()
