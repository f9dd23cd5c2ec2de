"""The signaling protocol served by the standard library alone: no Flask, no framework.

    SIGNAL_STORE=sqlite:////tmp/signal.sqlite python examples/stdlib_server.py 8080

It speaks the same /signal and /room requests as the Flask app (see docs/protocol.md),
tokens included: a peer id without an X-Peer-Token header enters the room and gets one.
This is how another Python program embeds webrtc_signal.
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from webrtc_signal import Conflict, InvalidRequest, NotAMember, Settings, SignalError, Signaling

STATUS = {InvalidRequest: 400, NotAMember: 403, Conflict: 409}


def make_handler(signaling: Signaling) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one Signaling service."""

    class Handler(BaseHTTPRequestHandler):
        issued: str | None = None

        def _answer(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            if self.issued:  # a peer that just entered the room gets its token
                self.send_header("X-Peer-Token", self.issued)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            url = urlsplit(self.path)
            query = dict(parse_qsl(url.query))
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length)) if length else {}
                if not isinstance(body, dict):
                    raise InvalidRequest("the request body must be a JSON object")
                params = {**query, **body}
                room, peer = params.get("room"), params.get("peer")
                token = self.headers.get("X-Peer-Token")
                if peer and not token and "key" not in params:
                    token = self.issued = signaling.enter(room, peer)
                who = {"peer": peer, "token": token}
                if (self.command, url.path) == ("GET", "/room"):
                    self._answer(200, signaling.presence(room, **who))
                elif url.path != "/signal":
                    self._answer(404, {"error": "not_found", "message": url.path})
                elif self.command == "GET":
                    result = signaling.read(room, params.get("type"), **who)
                    if isinstance(result, list):
                        self._answer(200, result)
                    else:
                        self._answer(200, {"type": params["type"], "payload": result})
                elif self.command == "POST":
                    key = signaling.post(room, params.get("type"), params.get("payload"), **who)
                    self._answer(201, {"key": list(key)})
                elif "key" in params:
                    self._answer(200, {"deleted": signaling.delete_key(params["key"], **who)})
                elif "type" in params:
                    self._answer(200, {"deleted": signaling.delete(room, params["type"], **who)})
                else:
                    self._answer(200, {"deleted": signaling.hang_up(room, **who)})
            except json.JSONDecodeError:
                self._answer(400, {"error": "invalid_request", "message": "body is not JSON"})
            except SignalError as exc:
                status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 503)
                self._answer(status, {"error": exc.code, "message": exc.message})

        do_GET = do_POST = do_DELETE = _handle

    return Handler


def serve(port: int = 8080, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A server for the settings in the environment (not yet serving: call serve_forever)."""
    signaling = Signaling.from_settings(Settings.from_mapping(os.environ))
    return ThreadingHTTPServer((host, port), make_handler(signaling))


if __name__ == "__main__":
    server = serve(int(sys.argv[1]) if len(sys.argv) > 1 else 8080)
    print(f"serving signaling on http://{server.server_address[0]}:{server.server_port}")
    server.serve_forever()
