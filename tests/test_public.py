"""The page and its files, and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from xml.etree import ElementTree

import pytest

from harness.network import free_port

REPO = Path(__file__).resolve().parent.parent


def fetch(client, path: str) -> tuple[int, str, bytes]:
    """Status, mimetype and body of a GET, with the response (and its file) closed."""
    with client.get(path) as resp:
        return resp.status_code, resp.mimetype, resp.data


def test_index_and_files(client):
    status, mimetype, page = fetch(client, "/")
    assert (status, mimetype) == (200, "text/html")
    assert b">Join<" in page
    assert fetch(client, "/index.html")[2] == page
    assert fetch(client, "/main.js")[:2] == (200, "text/javascript")
    assert fetch(client, "/style.css")[:2] == (200, "text/css")


def test_an_insecure_page_is_reported_in_the_log_once(client, caplog):
    """Advice for whoever runs the server goes to its log, not to the caller's screen."""
    for host in ("192.168.1.20:5000", "192.168.1.20:5000", "127.0.0.1:5000", "localhost"):
        assert fetch(client, f"http://{host}/")[0] == 200
    assert fetch(client, "https://192.168.1.21/")[0] == 200
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "http://192.168.1.20:5000" in warnings[0]
    assert "make lan" in warnings[0]


@pytest.mark.parametrize("path", ["/.env", "/.flaskenv", "/../.env", "/missing.js", "/flask_app"])
def test_not_served(client, path):
    resp = client.get(path)
    assert resp.status_code == 404
    assert resp.is_json


def test_flask_run_reads_flaskenv_and_dotenv(tmp_path):
    """`flask run` in a folder with the repo's .flaskenv and a .env: serves, on the .env's store."""
    (tmp_path / ".flaskenv").write_text((REPO / ".flaskenv").read_text())
    store = tmp_path / "from-dotenv.sqlite"
    (tmp_path / ".env").write_text(f"SIGNAL_STORE=sqlite:///{store}\n")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "SIGNAL_"))}
    flask = Path(sys.executable).parent / "flask"
    server = subprocess.Popen(
        [str(flask), "run", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "flask run did not start"
                assert server.poll() is None, "flask run exited"
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert b">Join<" in r.read()
        assert store.exists()
    finally:
        server.terminate()
        server.wait(10)


def test_the_icon_is_served_as_svg(client):
    status, mimetype, data = fetch(client, "/favicon.svg")
    assert (status, mimetype) == (200, "image/svg+xml")
    svg = ElementTree.fromstring(data)
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert svg.get("viewBox") == "0 0 64 64"
    assert len(data) < 1024  # small: every tab asks for it
    assert fetch(client, "/rooms.js")[:2] == (200, "text/javascript")
    assert fetch(client, "/words.js")[:2] == (200, "text/javascript")


def test_favicon_ico_leads_to_the_svg(client):
    """Browsers ask for /favicon.ico by themselves: never a 404 in the console."""
    with client.get("/favicon.ico") as resp:
        assert resp.status_code == 302
        assert resp.headers["Location"] == "favicon.svg"
    with client.get("/favicon.ico", follow_redirects=True) as followed:
        assert (followed.status_code, followed.mimetype) == (200, "image/svg+xml")


@pytest.mark.browser
def test_a_browser_shows_the_icon_under_the_pages_policy(live_server, browser):
    """Chromium, on a page of the server with its headers (CSP included), follows
    /favicon.ico to the SVG and draws it."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    try:
        icon = page.goto(f"{live_server.url}/favicon.ico")
        assert icon.ok and icon.url == f"{live_server.url}/favicon.svg"
        assert icon.headers["content-type"].split(";")[0] == "image/svg+xml"
        page.goto(f"{live_server.url}/")
        assert "img-src 'self'" in page.evaluate(
            "fetch('/').then((r) => r.headers.get('content-security-policy'))"
        )
        drawn = page.evaluate(
            """() => new Promise((resolve) => {
                const img = new Image();
                img.onload = () => resolve(img.naturalWidth);
                img.onerror = () => resolve(0);
                img.src = "/favicon.ico";
                document.body.append(img);
            })"""
        )
        assert drawn > 0
        assert errors == []
    finally:
        page.close()
