"""ICE restarts in a live call between Firefox and Chromium (tests/firefox/call.mjs).

Each browser in turn calls videoChat.call.restartIce() in the call: both must be connected to
each other again with new ICE credentials (Chromium's from its stats, Firefox's from its
current description: Firefox has no transport stats), and a chat message must cross after
each restart. Both orders, so each browser restarts both as the impolite initiator and as the
polite receiver.
"""

from __future__ import annotations

import json

import pytest

from tests.test_firefox import run_calls, tools  # noqa: F401 (the fixture: tools are there)

# `tools` (from test_firefox.py) fails every test here when a browser or puppeteer is missing.
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("tools")]

ROUNDS = 2
# A restart on loopback settles in well under a second; this only catches one gone wrong.
RESTART_LIMIT_MS = 10_000
# Launching both browsers (Firefox alone takes 10-30 s on a busy machine), one call and its
# restarts, each waited for up to 15 s when one goes wrong.
SCRIPT_TIMEOUT_S = 300


def ufrag(ice: dict) -> str:
    """The local ICE username fragment in use (the transport's stats where given, else the
    description's)."""
    return ice["transportUfrag"] or ice["localUfrag"]


def fresh(restart: dict) -> str:
    """A mark for a restart that ended on a fresh connection (the path it left went quiet)."""
    before, after = (restart[when]["first"]["connections"] for when in ("before", "after"))
    return " (fresh)" if after > before else ""


@pytest.mark.parametrize(
    ("first", "second"),
    [("firefox", "chromium"), ("chromium", "firefox")],
    ids=["firefox-calls-chromium", "chromium-calls-firefox"],
)
def test_ice_restarts_between_firefox_and_chromium(live_server, first, second):
    """Each browser restarts ICE in turn, ROUNDS times: each time both are connected again
    with new credentials on both sides, and chat goes on."""
    [result] = run_calls(
        live_server,
        [(first, second)],
        *("--restarts", str(ROUNDS)),
        calls=1,
        timeout=SCRIPT_TIMEOUT_S,
    )["pairs"]
    assert result["ok"], json.dumps(result, indent=1)
    [call] = result["calls"]
    restarts = call["restarts"]
    assert [r["by"] for r in restarts] == ["first", "second"] * ROUNDS
    kinds = {"first": first, "second": second}
    for restart in restarts:
        assert 0 < restart["ms"] < RESTART_LIMIT_MS, restart
        for name in kinds:
            before, after = restart["before"][name], restart["after"][name]
            assert ufrag(after) != ufrag(before), restart
            assert after["localUfrag"] != before["localUfrag"], restart
            assert after["connectionState"] == "connected", restart
            other = restart["after"]["second" if name == "first" else "first"]
            assert after["remoteUfrag"] == other["localUfrag"], restart
        chromium = next(n for n, kind in kinds.items() if kind == "chromium")
        # Chromium names the credentials in its stats: its transport's.
        after = restart["after"][chromium]
        assert after["transportUfrag"] == after["localUfrag"], restart
    print(
        f"\nICE restarts {first}->{second}: "
        + ", ".join(f"{kinds[r['by']]} {r['ms']} ms{fresh(r)}" for r in restarts)
    )
    for person in result["people"].values():
        assert person["errors"] == [], person
        assert person["csp_violations"] == [], person
