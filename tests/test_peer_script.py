"""The installed ``webrtc-peer`` without the ``peer`` extra: a one-line hint, not a traceback.

Each run blocks some imports in a fresh process, through a ``sitecustomize`` module on its
``PYTHONPATH`` (a None in ``sys.modules`` makes ``import aiortc`` fail as a missing package does).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from webrtc_signal.peer_script import HINT

SCRIPT = Path(sys.executable).parent / "webrtc-peer"


def run_without(tmp_path: Path, blocked: list[str], *args: str) -> subprocess.CompletedProcess:
    """``webrtc-peer ARGS`` in a process where importing ``blocked`` modules fails."""
    (tmp_path / "sitecustomize.py").write_text(
        f"import sys\nfor name in {blocked!r}:\n    sys.modules[name] = None\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run(
        [str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )


@pytest.mark.parametrize("blocked", [["aiortc"], ["av"], ["httpx"], ["aiortc", "av", "httpx"]])
@pytest.mark.parametrize("args", [["--help"], ["--url", "http://127.0.0.1:5000"]])
def test_without_the_peer_extra_one_line_says_what_to_install(tmp_path, blocked, args):
    result = run_without(tmp_path, blocked, *args)
    assert result.returncode == 1
    assert result.stderr == HINT + "\n"
    assert result.stdout == ""
    assert HINT == "webrtc-peer needs aiortc: pip install 'webrtc-signal[peer]'"


def test_with_the_extra_help_is_the_commands(tmp_path):
    result = run_without(tmp_path, [], "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: webrtc-peer" in result.stdout
    assert "--room" in result.stdout


def test_any_other_failing_import_is_shown_whole(tmp_path):
    """A module of our own that fails to import is a bug: its traceback is not hidden."""
    result = run_without(tmp_path, ["webrtc_signal.peer.media"], "--help")
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "webrtc_signal.peer.media" in result.stderr
    assert HINT not in result.stderr
