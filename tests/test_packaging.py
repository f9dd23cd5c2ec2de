"""The package as others get it: the public API, no Flask in the core, and the built wheel."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import zipfile
from pathlib import Path

import webrtc_signal

REPO = Path(__file__).resolve().parent.parent
CORE = REPO / "webrtc_signal"


def test_all_is_complete():
    """Every public class and function the core modules define is exported from the package."""
    for name in webrtc_signal.__all__:
        assert hasattr(webrtc_signal, name), name
    modules = ["errors", "ice", "routes", "settings", "signaling", "store"]
    defined = {
        name
        for module in modules
        for name, obj in vars(getattr(webrtc_signal, module)).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__.startswith(f"webrtc_signal.{module}")
        and name[0].isupper()
    }
    assert defined <= set(webrtc_signal.__all__)


def test_no_core_module_imports_flask():
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] in {"flask", "flask_cors", "werkzeug"} for n in names), (
                path
            )


def test_core_works_with_flask_unavailable(tmp_path):
    """Import the core and run a call's signaling while `import flask` fails."""
    script = """
import sys
for name in ("flask", "flask_cors", "werkzeug"):
    sys.modules[name] = None  # makes `import flask` raise ImportError
import webrtc_signal
from webrtc_signal import MemoryStore, Signaling
s = Signaling(MemoryStore())
s.post("r", "offer", {"type": "offer", "sdp": "x"}, "alice", s.enter("r", "alice"))
assert s.read("r", "offer", "bob", token=s.enter("r", "bob")) == {"type": "offer", "sdp": "x"}
from webrtc_signal.cli import main
assert "flask" not in sys.modules or sys.modules["flask"] is None
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_built_wheel_serves_the_page(tmp_path):
    """Build the wheel; from it alone (not this checkout), the app serves public/."""
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    [wheel] = tmp_path.glob("webrtc_signal-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "site")
    page = ["index.html", "main.js", "signaling.js", "call.js", "ui.js", "style.css"]
    for name in [*page, "rooms.js", "words.js", "favicon.svg"]:
        assert f"flask_app/public/{name}" in names
    assert not any(name.endswith(".env") or "tests/" in name for name in names)
    assert not any(name.startswith(("harness/", "bench/")) for name in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    scripts = (tmp_path / "site" / entry_points).read_text()
    assert "clear-rooms = webrtc_signal.cli:main" in scripts
    assert "webrtc-peer = webrtc_signal.peer_script:main" in scripts

    script = f"""
import flask_app
assert flask_app.__file__.startswith({str(tmp_path / "site")!r}), flask_app.__file__
app = flask_app.create_app({{"SIGNAL_STORE": "memory://"}})
client = app.test_client()
page = client.get("/")
assert page.status_code == 200 and b">Join<" in page.data, page.status_code
assert client.get("/main.js").status_code == 200
assert client.get("/style.css").status_code == 200
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.stdout.strip() == "ok", result.stderr
