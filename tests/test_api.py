"""/api/ice-servers and /healthz through the app."""

from __future__ import annotations

from flask_app import create_app
from tests.fakes import SECRET, SID, FakeTwilio, twilio_token


def test_ice_servers_fallback(client):
    resp = client.get("/api/ice-servers")
    assert resp.status_code == 200
    assert resp.json == {
        "iceServers": [{"urls": "stun:stun.l.google.com:19302"}],
        "source": "fallback",
        "ttl": 30,
        "iceTransportPolicy": "all",
    }


def test_ice_servers_from_twilio_never_show_the_auth_token(store_url):
    fake = FakeTwilio((201, twilio_token(600)))
    app = create_app(
        {
            "SIGNAL_STORE": store_url,
            "TWILIO_ACCOUNT_SID": SID,
            "TWILIO_AUTH_TOKEN": SECRET,
            "TWILIO_HTTP_CLIENT": fake,
        }
    )
    resp = app.test_client().get("/api/ice-servers")
    assert resp.json["source"] == "twilio"
    assert resp.json["ttl"] == 540
    assert resp.json["iceServers"][1]["credential"] == "tok-pass"
    assert all("url" not in server for server in resp.json["iceServers"])
    assert SECRET not in resp.get_data(as_text=True)
    assert fake.requests[0]["auth"] == (SID, SECRET)


def test_healthz_ok(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_healthz_503_when_the_store_fails(app, client):
    app.extensions["webrtc_signal"].store.close()
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.json["error"] == "store_unavailable"
    # and the signaling endpoints say the same, as JSON
    resp = client.get("/signal?type=offer")
    assert resp.status_code == 503
    assert resp.json["error"] == "store_unavailable"
