"""clear-rooms, as a console script and as `flask clear-rooms`."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from webrtc_signal.cli import main

OFFER = {"type": "offer", "sdp": "v=0"}
CAND = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}
REPO = Path(__file__).resolve().parent.parent


def fill(client, *rooms: str) -> None:
    """In each room: a member, its offer and one of its candidates."""
    for room in rooms:
        offer = {"room": room, "type": "offer", "payload": OFFER, "peer": "p1"}
        token = client.post("/signal", json=offer).headers["X-Peer-Token"]
        candidate = {"room": room, "type": "candidate_initiator", "payload": CAND, "peer": "p1"}
        assert (
            client.post("/signal", json=candidate, headers={"X-Peer-Token": token}).status_code
            == 201
        )


def entries(app, room: str) -> int:
    """How many entries the app's store holds for ``room``."""
    return len(app.extensions["webrtc_signal"].store.list(("webrtc_signal", room)))


def test_flask_clear_one_room(app, client, runner):
    fill(client, "a", "b")
    result = runner.invoke(args=["clear-rooms", "--room", "a"])
    assert result.exit_code == 0
    assert "a: removed 3 entries" in result.output
    assert (entries(app, "a"), entries(app, "b")) == (0, 3)
    assert client.get("/signal?room=a&type=offer").json["payload"] is None


def test_flask_clear_all(app, client, runner):
    fill(client, "a", "b")
    result = runner.invoke(args=["clear-rooms", "--all"])
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "a: removed 3 entries",
        "b: removed 3 entries",
        "cleared 2 room(s), 6 entries in all",
    ]
    assert (entries(app, "a"), entries(app, "b")) == (0, 0)


@pytest.mark.parametrize("args", [[], ["--room", "a", "--all"]])
def test_flask_clear_needs_one_choice(runner, args):
    result = runner.invoke(args=["clear-rooms", *args])
    assert result.exit_code == 2
    assert "Usage:" in result.output


def test_flask_clear_bad_room(runner):
    result = runner.invoke(args=["clear-rooms", "--room", "no/slash"])
    assert result.exit_code == 1
    assert "A room name is 1-64 letters" in result.output


def test_flask_clear_a_room_named_in_any_script(app, client, runner):
    """The name as typed on the command line, not yet NFC: the room the server knows."""
    client.post("/signal", json={"room": "東京 会議", "type": "offer", "payload": OFFER})
    result = runner.invoke(args=["clear-rooms", "--room", " 東京\u3000会議 "])
    assert result.exit_code == 0, result.output
    assert "東京 会議: removed 1 entries" in result.output


def run_flask(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """``flask ARGS`` for the app, as a newcomer runs it: no Twilio nor TURN settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "SIGNAL_", "TW"))}
    env = {k: v for k, v in env.items() if not k.startswith("TURN_")}
    env.update(FLASK_APP="flask_app", SIGNAL_STORE=f"sqlite:///{tmp_path / 's.sqlite'}")
    flask = Path(sys.executable).parent / "flask"
    return subprocess.run(
        [str(flask), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("args", [["clear-rooms", "--help"], ["clear-rooms", "--all"]])
def test_flask_commands_say_nothing_of_ice_servers(tmp_path, args):
    """The warning that no TURN server is set is for the server that hands ICE servers out:
    a command that never does stays quiet about it."""
    result = run_flask(*args, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert ("Usage: flask clear-rooms" if "--help" in args else "cleared 0 room(s)") in (
        result.stdout
    )


def test_the_server_still_warns_when_it_hands_out_stun_alone(store_url, caplog):
    from flask_app import create_app

    with caplog.at_level(logging.WARNING, logger="webrtc_signal.ice"):
        app = create_app({"TESTING": True, "SIGNAL_STORE": store_url})
        try:
            assert caplog.records == []  # not at start: at the first request that needs them
            client = app.test_client()
            assert client.get("/api/ice-servers").json["source"] == "fallback"
            assert client.get("/api/ice-servers").json["source"] == "fallback"
        finally:
            app.extensions["webrtc_signal"].store.close()
    [warning] = caplog.records
    assert "TURN_URLS and TURN_SECRET" in warning.getMessage()


def test_console_script_usage_and_help(capsys):
    assert main([]) == 2
    assert "usage: clear-rooms" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "--all" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["--room", "a", "--all"])
    assert exit_info.value.code == 2


def run_console_script(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "clear-rooms"
    return subprocess.run(
        [str(script), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_console_script_finds_the_servers_store_from_dotenv(live_server, store_url, tmp_path):
    """The installed clear-rooms, run beside a live server, reads SIGNAL_STORE from .env."""
    ask = live_server.request
    ask("POST", "/signal", {"room": "busy", "type": "offer", "payload": OFFER, "peer": "alice"})
    ask("POST", "/signal", {"room": "keep", "type": "offer", "payload": OFFER})
    (tmp_path / ".env").write_text(f"SIGNAL_STORE={store_url}\n")
    env = {k: v for k, v in os.environ.items() if k != "SIGNAL_STORE"}

    result = run_console_script("--room", "busy", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "busy: removed 2 entries" in result.stdout
    # The running server sees it at once, and goes on serving.
    assert ask("GET", "/signal?room=busy&type=offer")[1]["payload"] is None
    assert ask("GET", "/signal?room=keep&type=offer")[1]["payload"] == OFFER
    assert ask("POST", "/signal", {"room": "busy", "type": "offer", "payload": OFFER})[0] == 201

    result = run_console_script("--all", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "cleared 2 room(s), 2 entries in all" in result.stdout
    assert ask("GET", "/signal?room=keep&type=offer")[1]["payload"] is None


def test_console_script_default_store_is_the_servers_default(tmp_path):
    """With no settings, the script and the app open the same file in the instance folder."""
    from flask_app import create_app

    env = {k: v for k, v in os.environ.items() if k != "SIGNAL_STORE"}
    app = create_app({"TESTING": True})
    try:
        default = app.extensions["webrtc_signal"].store.path
        assert default == Path(app.instance_path) / "signal.sqlite"
        assert Path(app.instance_path) == REPO / "instance"
        app.test_client().post(
            "/signal", json={"room": "cli-default-test", "type": "offer", "payload": OFFER}
        )
    finally:
        app.extensions["webrtc_signal"].store.close()
    result = run_console_script("--room", "cli-default-test", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "cli-default-test: removed 1 entries" in result.stdout


def test_console_script_reports_a_bad_store(tmp_path):
    env = {**os.environ, "SIGNAL_STORE": "nosuch://x"}
    result = run_console_script("--all", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "unknown scheme" in result.stderr
