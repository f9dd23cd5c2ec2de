"""Calls between Firefox and Chromium through the app, in both roles, and Firefox to Firefox.

Playwright's Firefox needs Playwright's own build, so tests/firefox/call.mjs drives the
browsers with puppeteer-core instead: Debian's firefox-esr over WebDriver BiDi, Debian's
chromium over the DevTools protocol. This module starts a live server and runs the script
once for all three pairs of browsers, with one launch of each browser (where each pair used to
launch its own: 8-12 s for Firefox here); each pair's test asserts on its part of the JSON
printed. The pages run under the server's own Content-Security-Policy. A missing
firefox-esr, chromium, node or npm package fails the tests, never skips them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from flask_app import create_app
from harness.browser import CHROMIUM, CHROMIUM_ARGS
from tests.helpers import LiveServer, room_is_clear, wait_until

pytestmark = pytest.mark.browser

FIREFOX = Path("/usr/bin/firefox-esr")
SCRIPT_DIR = Path(__file__).parent / "firefox"
SCRIPT = SCRIPT_DIR / "call.mjs"
PUPPETEER = SCRIPT_DIR / "node_modules" / "puppeteer-core" / "package.json"
INSTALL_HINT = (
    "`make test` installs them; by hand: `apt-get install firefox-esr chromium nodejs npm` "
    "and `cd tests/firefox && PUPPETEER_SKIP_DOWNLOAD=1 npm ci`"
)
CALLS = 2
# Each pair: who starts the calls, who answers; the test ids name them.
PAIRS = [("firefox", "chromium"), ("chromium", "firefox"), ("firefox", "firefox")]
PAIR_IDS = ["firefox-calls-chromium", "chromium-calls-firefox", "firefox-calls-firefox"]
# Launching the browsers and making the three pairs' calls takes about a minute; leave room
# for a slow CI.
SCRIPT_TIMEOUT_S = 360
# Each call connected in 0.2-0.6 s here (0.9 s under heavy load); this only catches a call
# gone badly wrong.
CONNECT_LIMIT_MS = 5_000
# Codecs every browser here has: Debian's Firefox has no H264 (its plugin is a download).
SHARED_VIDEO_CODECS = {"video/VP8", "video/VP9"}


def missing_tools() -> list[str]:
    """What the Firefox calls need and this machine lacks."""
    missing = [str(path) for path in (FIREFOX, CHROMIUM) if not path.exists()]
    if shutil.which("node") is None:
        missing.append("node")
    if not PUPPETEER.exists():
        missing.append(f"puppeteer-core in {SCRIPT_DIR / 'node_modules'}")
    return missing


def room_of(first: str, second: str) -> str:
    return f"{first}-{second}"


def run_calls(
    server: LiveServer,
    pairs: list[tuple[str, str]],
    *options: str,
    calls: int = CALLS,
    timeout: float = SCRIPT_TIMEOUT_S,
) -> dict:
    """Run call.mjs once for ``pairs`` (in each, the first starts each call, the second
    answers), each pair in a room of its own; the JSON it printed. ``options`` go to the
    script as they are (say, ``--restarts 2``).

    A run over the timeout, or cut short by anything else (the suite's hang limit), is
    ended whole, browsers included (end_script).
    """
    command = [
        shutil.which("node") or "node",
        str(SCRIPT),
        *("--url", server.url),
        *(f"--pair={first},{second},{room_of(first, second)}" for first, second in pairs),
        *("--calls", str(calls)),
        *options,
        *(f"--chromium-arg={flag}" for flag in CHROMIUM_ARGS),
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1"},
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        end_script(process)
        stdout, stderr = process.communicate()
        pytest.fail(f"call.mjs ran over {timeout} s\n{stdout}\n{stderr[-3000:]}")
    finally:
        if process.poll() is None:
            end_script(process)
    lines = stdout.strip().splitlines()
    assert lines, f"call.mjs printed nothing (exit {process.returncode})\n{stderr[-3000:]}"
    result = json.loads(lines[-1])
    result["stderr"] = stderr[-3000:]
    assert "error" not in result, f"{result['error']}\n{result['stderr']}"
    # ok, and the exit status 0, only when every pair's calls went through.
    assert result["ok"] == all(pair["ok"] for pair in result["pairs"])
    assert process.returncode == (0 if result["ok"] else 1)
    return result


def end_script(process: subprocess.Popen) -> None:
    """End call.mjs (started in a session of its own) and its browsers. puppeteer starts each
    browser in a process group of its own, out of reach of call.mjs's, and kills it when
    node gets SIGTERM: SIGTERM first, SIGKILL for whatever is left a moment later. Browsers
    left running would go on with their calls, taking the CPU from every test after."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(2)  # node stays up (puppeteer's handler replaces the default exit)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


@pytest.fixture(scope="module")
def tools() -> None:
    """Fail (never skip) every call test when a browser or the npm package is missing."""
    missing = missing_tools()
    if missing:
        pytest.fail(
            f"missing for the Firefox tests: {', '.join(missing)}; {INSTALL_HINT}", pytrace=False
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    """One live server for the module's calls (each pair has a room of its own)."""
    folder = tmp_path_factory.mktemp("firefox")
    app = create_app({"TESTING": True, "SIGNAL_STORE": f"sqlite:///{folder / 'signal.sqlite'}"})
    live = LiveServer(app).start()
    yield live
    live.stop()
    app.extensions["webrtc_signal"].store.close()


@pytest.fixture(scope="module")
def calls(tools, server) -> dict[tuple[str, str], dict]:
    """Every pair's calls, made in one run of call.mjs; each pair's result by its browsers."""
    result = run_calls(server, PAIRS)
    found = {(pair["first"], pair["second"]): pair for pair in result["pairs"]}
    assert list(found) == PAIRS, result
    for pair in found.values():
        pair["versions"] = {kind: result[f"{kind}_version"] for kind in ("firefox", "chromium")}
        pair["stderr"] = result["stderr"]
    return found


def test_firefox_tools_are_installed():
    """Firefox ESR, Chromium, Node and puppeteer-core are all here: a gap fails, not skips."""
    assert missing_tools() == [], INSTALL_HINT


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=PAIR_IDS)
def test_call_between_browsers(calls, server, first, second):
    """Two calls in a row: both pages connect, each plays the other's video, chat crosses
    both ways, each one's Mute and Camera off reach the other (first call), and Leave (by
    the caller, then by the one called) leaves the room clear."""
    room = room_of(first, second)
    result = calls[first, second]
    assert result["ok"], f"{result.get('error')}\n{json.dumps(result, indent=1)}"

    assert result["room"] == room
    assert result["versions"]["firefox"] and result["versions"]["chromium"]
    calls = result["calls"]
    assert [call["number"] for call in calls] == list(range(1, CALLS + 1))
    assert [call["hung_up"] for call in calls] == ["first", "second"]
    for call in calls:
        assert call["initiator"] == "first"
        assert 0 < call["connect_ms"] < CONNECT_LIMIT_MS, call
        for video in call["remote_video"].values():
            assert video["width"] > 0 and video["height"] > 0 and video["playing"], call
            assert video["local_width"] > 0, call
            assert video["codecs"]["video"] in SHARED_VIDEO_CODECS, call
            assert video["codecs"]["audio"] == "audio/opus", call
    # call.mjs waited for silence and black while muted and off; here, that it measured both.
    assert set(calls[0]["controls"]) == {"first", "second"}
    for measured in calls[0]["controls"].values():
        assert measured["muted"] < measured["heard"] and measured["brightness"] > 0, measured

    for person in result["people"].values():
        # The page ran under the server's strict policy, and broke nothing.
        assert "script-src 'self'" in (person["csp"] or ""), person
        assert person["errors"] == [], person
        assert person["csp_violations"] == [], person

    wait_until(
        lambda: room_is_clear(server, room), 3, "the room was not cleared after the last call"
    )
