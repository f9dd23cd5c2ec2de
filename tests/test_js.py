"""The page's modules without a DOM (public/*.js but the page's own) under ``node --test``.

signaling.js talks to a live server; call.js and negotiation.js run against a fake
RTCPeerConnection (tests/js/fake_rtc.mjs); recovery.js is a pure policy; rooms.js is checked
on the room-name cases the server's own tests use.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.fixture
def modules(tmp_path) -> Path:
    """The public modules, the JS tests and the room-name cases they share with the server's
    tests, in one folder that Node reads as ES modules."""
    tests = Path(__file__).parent
    for path in [*(ROOT / "public").glob("*.js"), *(tests / "js").glob("*.mjs")]:
        shutil.copy(path, tmp_path / path.name)
    shutil.copy(tests / "room_names.json", tmp_path / "room_names.json")
    (tmp_path / "package.json").write_text(json.dumps({"type": "module"}))
    return tmp_path


def test_node_is_installed():
    assert shutil.which("node"), "node is missing: `make test` installs Debian's nodejs"


def test_modules_without_dom_pass_node_test(modules, live_server):
    result = subprocess.run(
        ["node", "--test", *sorted(p.name for p in modules.glob("*.test.mjs"))],
        cwd=modules,
        env={**os.environ, "SIGNAL_URL": live_server.url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout
    assert "# pass 0" not in result.stdout
