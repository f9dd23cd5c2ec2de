"""Security headers on every answer, and CORS closed unless origins are listed."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from flask_app import create_app
from flask_app.security import CONTENT_SECURITY_POLICY, HEADERS
from harness.browser import STRICT_CSP


@pytest.mark.parametrize(
    "path", ["/", "/main.js", "/signal?type=offer", "/api/ice-servers", "/nowhere", "/healthz"]
)
def test_every_answer_has_the_headers(client, path):
    with client.get(path) as resp:
        for name, value in HEADERS.items():
            assert resp.headers[name] == value, name


def test_the_policy_is_the_one_the_browser_tests_run_the_page_under():
    assert CONTENT_SECURITY_POLICY == STRICT_CSP


class InlineCode(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, styles and handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"{name}= on <{tag}>" for name in names if name == "style"]
        self.found += [f"{name}= on <{tag}>" for name in names if name.startswith("on")]


def test_the_page_has_no_inline_code(client):
    """The CSP allows no inline script or style, so the page must carry none."""
    with client.get("/") as resp:
        parser = InlineCode()
        parser.feed(resp.get_data(as_text=True))
    assert parser.found == []


def test_permissions_policy_allows_camera_and_microphone_for_the_page_only(client):
    policy = client.get("/healthz").headers["Permissions-Policy"]
    assert "camera=(self)" in policy
    assert "microphone=(self)" in policy
    assert "display-capture=(self)" in policy  # screen sharing: getDisplayMedia


def test_cors_is_closed_unless_origins_are_listed(store_url):
    closed = create_app({"SIGNAL_STORE": store_url}).test_client()
    preflight = closed.options(
        "/signal",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers

    open_app = create_app({"SIGNAL_STORE": store_url, "CORS_ORIGINS": "https://friend.example"})
    preflight = open_app.test_client().options(
        "/signal",
        headers={
            "Origin": "https://friend.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type, X-Peer-Token",
        },
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://friend.example"
    resp = open_app.test_client().get(
        "/room?room=x&peer=alice", headers={"Origin": "https://friend.example"}
    )
    assert "X-Peer-Token" in resp.headers["Access-Control-Expose-Headers"]


def test_writes_are_rate_limited_per_address_with_a_json_429(store_url):
    app = create_app({"SIGNAL_STORE": store_url, "SIGNAL_RATE_LIMIT": "5 per minute"})
    client = app.test_client()
    offer = {"room": "r", "type": "offer", "payload": {"type": "offer", "sdp": "v"}}
    statuses = [client.post("/signal", json=offer).status_code for _ in range(5)]
    assert statuses == [201, 409, 409, 409, 409]
    resp = client.delete("/signal?room=r")
    assert resp.status_code == 429
    assert resp.json["error"] == "too_many_requests"
    assert "Retry-After" in resp.headers
    # Reads are not writes: never limited.
    assert client.get("/signal?room=r&type=offer").status_code == 200
    # Another address has its own allowance.
    other = client.post("/signal", json=offer, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert other.status_code == 409


def test_the_default_limit_leaves_a_call_alone_and_can_be_turned_off(store_url):
    from webrtc_signal import Settings

    assert Settings.from_mapping({}).rate_limit == "60 per second; 1200 per minute"
    app = create_app({"SIGNAL_STORE": store_url, "SIGNAL_RATE_LIMIT": "off"})
    client = app.test_client()
    offer = {"room": "r", "type": "offer", "payload": {"type": "offer", "sdp": "v"}}
    assert {client.post("/signal", json=offer).status_code for _ in range(50)} == {201, 409}


def test_a_bad_rate_limit_fails_at_start_up(store_url):
    from webrtc_signal import ConfigError

    with pytest.raises(ConfigError, match="SIGNAL_RATE_LIMIT"):
        create_app({"SIGNAL_STORE": store_url, "SIGNAL_RATE_LIMIT": "lots"})
