"""Faults: a ruined store file at run time, secrets kept out of logs and answers."""

from __future__ import annotations

import logging
import os

from flask_app import create_app
from tests.fakes import SECRET, SID, FakeTwilio

OFFER = {"type": "offer", "sdp": "v=0 " + "x" * 3000}


def test_a_store_file_ruined_at_run_time_gives_503_json(tmp_path):
    """The file (and its WAL) overwritten under a running server: clear 503s, never a 500."""
    app = create_app({"SIGNAL_STORE": f"sqlite:///{tmp_path / 's.sqlite'}"})
    client = app.test_client()
    for n in range(3):
        client.post("/signal", json={"room": f"r{n}", "type": "offer", "payload": OFFER})
    for path in tmp_path.iterdir():
        with path.open("r+b") as f:
            f.write(os.urandom(max(path.stat().st_size, 4096)))
    answers = [
        client.get("/healthz"),
        client.get("/signal?room=r1&type=offer"),
        client.post("/signal", json={"room": "n", "type": "offer", "payload": OFFER}),
        client.delete("/signal?room=r2"),
    ]
    for resp in answers:
        assert resp.status_code == 503
        assert resp.json["error"] == "store_unavailable"
    app.extensions["webrtc_signal"].store.close()


def test_credentials_and_tokens_never_reach_logs_or_answers(store_url, caplog):
    """Twilio refuses (its error echoes the secret), peers enter and call: every log line
    and every answer is free of the auth token and of every peer token."""
    fake = FakeTwilio((401, {"code": 20003, "message": f"Authenticate {SECRET}", "status": 401}))
    with caplog.at_level(logging.DEBUG):
        app = create_app(
            {
                "SIGNAL_STORE": store_url,
                "TWILIO_ACCOUNT_SID": SID,
                "TWILIO_AUTH_TOKEN": SECRET,
                "TWILIO_HTTP_CLIENT": fake,
            }
        )
        client = app.test_client()
        bodies = [client.get("/api/ice-servers").get_data(as_text=True)]
        entered = client.get("/room?room=s&peer=alice")
        token = entered.headers["X-Peer-Token"]
        alice = {"X-Peer-Token": token}
        offer = {"room": "s", "type": "offer", "payload": {"type": "offer", "sdp": "v"}}
        for resp in (
            entered,
            client.post("/signal", json={**offer, "peer": "alice"}, headers=alice),
            client.get("/signal?room=s&type=offer&peer=alice", headers={"X-Peer-Token": "no"}),
            client.delete("/signal?room=s&peer=alice", headers=alice),
        ):
            bodies.append(resp.get_data(as_text=True))
    assert "fallback" in bodies[0]
    assert caplog.records, "nothing was logged: the test would prove nothing"
    for text in [caplog.text, *bodies]:
        assert SECRET not in text
        assert token not in text
    app.extensions["webrtc_signal"].store.close()


def test_the_access_log_never_shows_a_token(live_server, caplog):
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        token = live_server.enter("logged", "alice")
        live_server.request("GET", "/signal?room=logged&type=offer&peer=alice", token=token)
        live_server.request("DELETE", "/signal?room=logged&peer=alice", token=token)
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("/signal?room=logged" in line for line in lines)
    assert not any(token in line for line in lines)
