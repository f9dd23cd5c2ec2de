"""The credentials /api/ice-servers hands out, tried on a real coturn (tests/coturn.py).

A TURN Allocate request (RFC 5766) over UDP, signed with the long-term credential mechanism
(RFC 5389 section 10.2): the first request is refused with a realm and a nonce, the second
carries USERNAME, REALM, NONCE and MESSAGE-INTEGRITY. coturn's use-auth-secret accepts the
username `<expiry>:<name>` with the password base64(HMAC-SHA1(secret, username)) until the
expiry.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import socket
import struct
import time
from dataclasses import dataclass

import pytest

from flask_app import create_app
from tests import coturn
from tests.coturn import MAGIC_COOKIE, TURNSERVER
from webrtc_signal.ice import TurnSecret

ALLOCATE_REQUEST = 0x0003
ALLOCATE_SUCCESS = 0x0103
ALLOCATE_ERROR = 0x0113
REFRESH_REQUEST = 0x0004
USERNAME = 0x0006
MESSAGE_INTEGRITY = 0x0008
ERROR_CODE = 0x0009
LIFETIME = 0x000D
REALM = 0x0014
NONCE = 0x0015
XOR_RELAYED_ADDRESS = 0x0016
REQUESTED_TRANSPORT = 0x0019
UDP = 17


def attribute(kind: int, value: bytes) -> bytes:
    padding = b"\0" * (-len(value) % 4)
    return struct.pack("!HH", kind, len(value)) + value + padding


@dataclass
class Reply:
    kind: int
    attributes: dict[int, bytes]

    @property
    def error(self) -> int | None:
        value = self.attributes.get(ERROR_CODE)
        return None if value is None else value[2] * 100 + value[3]


def parse(data: bytes) -> Reply:
    kind, length = struct.unpack("!HH", data[:4])
    attributes, at = {}, 20
    while at < 20 + length:
        name, size = struct.unpack("!HH", data[at : at + 4])
        attributes[name] = data[at + 4 : at + 4 + size]
        at += 4 + size + (-size % 4)
    return Reply(kind, attributes)


class TurnClient:
    """One UDP socket talking to the TURN server: one allocation (coturn keys them by the
    client's address, so each attempt gets a socket of its own)."""

    def __init__(self, port: int) -> None:
        self.address = ("127.0.0.1", port)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.settimeout(3)

    def close(self) -> None:
        self.socket.close()

    def send(self, kind: int, attributes: bytes, key: bytes | None = None) -> Reply:
        transaction = os.urandom(12)
        if key is not None:
            # MESSAGE-INTEGRITY covers the message as if it ended with itself (24 bytes).
            header = struct.pack("!HHI", kind, len(attributes) + 24, MAGIC_COOKIE)
            digest = hmac.new(key, header + transaction + attributes, hashlib.sha1).digest()
            attributes += attribute(MESSAGE_INTEGRITY, digest)
        header = struct.pack("!HHI", kind, len(attributes), MAGIC_COOKIE)
        self.socket.sendto(header + transaction + attributes, self.address)
        reply = self.socket.recv(4096)
        assert reply[8:20] == transaction
        return parse(reply)

    def allocate(self, username: str, password: str) -> Reply:
        """Allocate a relay with these credentials: refused once for a nonce, then signed."""
        transport = attribute(REQUESTED_TRANSPORT, struct.pack("!B3x", UDP))
        challenge = self.send(ALLOCATE_REQUEST, transport)
        assert challenge.error == 401
        realm, nonce = challenge.attributes[REALM], challenge.attributes[NONCE]
        key = hashlib.md5(f"{username}:{realm.decode()}:{password}".encode()).digest()
        signed = (
            transport
            + attribute(USERNAME, username.encode())
            + attribute(REALM, realm)
            + attribute(NONCE, nonce)
        )
        reply = self.send(ALLOCATE_REQUEST, signed, key)
        if reply.kind == ALLOCATE_SUCCESS:
            # Free the relay at once (a Refresh with lifetime 0), as a browser hanging up does.
            release = attribute(LIFETIME, struct.pack("!I", 0)) + signed[len(transport) :]
            self.send(REFRESH_REQUEST, release, key)
        return reply


@pytest.fixture
def allocate(turn_server):
    """Try an allocation on the session's TURN server, each from a fresh socket."""
    clients: list[TurnClient] = []

    def allocate_(username: str, password: str) -> Reply:
        clients.append(TurnClient(turn_server.port))
        return clients[-1].allocate(username, password)

    yield allocate_
    for client in clients:
        client.close()


def credentials(answer: dict) -> tuple[str, str]:
    [relay] = [s for s in answer["iceServers"] if s["urls"].startswith("turn:")]
    return relay["username"], relay["credential"]


def test_turnserver_is_installed():
    """The TURN tests need coturn: a missing turnserver is a failure, never a skip."""
    assert shutil.which(TURNSERVER), "turnserver is missing: install Debian's coturn"


def test_a_missing_turnserver_is_an_error_that_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(coturn, "TURNSERVER", "no-such-turnserver")
    with pytest.raises(coturn.TurnServerMissing, match="make coturn"):
        coturn.TurnServer(tmp_path, "secret").start()


def test_coturn_relays_for_the_credentials_the_app_hands_out(store_url, turn_server, allocate):
    app = create_app(
        {"SIGNAL_STORE": store_url, "TURN_URLS": turn_server.url, "TURN_SECRET": turn_server.secret}
    )
    answer = app.test_client().get("/api/ice-servers").json
    app.extensions["webrtc_signal"].store.close()
    assert answer["source"] == "turn-secret"
    assert {"urls": f"stun:127.0.0.1:{turn_server.port}"} in answer["iceServers"]
    reply = allocate(*credentials(answer))
    assert reply.kind == ALLOCATE_SUCCESS, reply.error
    relayed = reply.attributes[XOR_RELAYED_ADDRESS]
    port = struct.unpack("!H", relayed[2:4])[0] ^ (MAGIC_COOKIE >> 16)
    assert turn_server.min_port <= port <= turn_server.max_port


def test_coturn_refuses_another_secret_and_an_expired_credential(turn_server, allocate):
    wrong = TurnSecret([turn_server.url], "not-" + turn_server.secret).get()
    assert allocate(*credentials(wrong)).error == 401

    expired = TurnSecret([turn_server.url], turn_server.secret, ttl=60, clock=lambda: 0).get()
    assert allocate(*credentials(expired)).error == 401

    now = TurnSecret([turn_server.url], turn_server.secret, ttl=60, clock=time.time).get()
    assert allocate(*credentials(now)).kind == ALLOCATE_SUCCESS
