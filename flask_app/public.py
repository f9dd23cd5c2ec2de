"""The browser client: ``/`` and the files of ``public/``, and nothing outside it."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, redirect, request, send_from_directory

# Hosts a browser counts as secure over plain http://: the camera works there.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def public_dir() -> Path:
    """``public/`` beside the package in a checkout; ``flask_app/public`` in a wheel."""
    packaged = Path(__file__).parent / "public"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "public"


bp = Blueprint("public", __name__)
PUBLIC = public_dir()


@bp.get("/")
def index():
    """The page; opened over plain http:// from another machine, a word to whoever runs it."""
    warn_insecure_page()
    return send_from_directory(PUBLIC, "index.html")


def warn_insecure_page() -> None:
    """Log, once per host name, that a page served over http:// away from this machine gets
    no camera: the caller's screen only says it needs a secure address; the fix is here."""
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    if request.is_secure or host in LOCAL_HOSTS or host.startswith("127."):
        return
    warned = current_app.extensions.setdefault("insecure_page_hosts", set())
    if host in warned:
        return
    warned.add(host)
    current_app.logger.warning(
        "the page was opened over plain http://%s: browsers give it no camera or microphone. "
        "Serve it over https (`make lan` on a LAN, or a TLS proxy; see the README).",
        request.host,
    )


@bp.get("/favicon.ico")
def favicon_ico():
    """The icon, for browsers and tools that ask for /favicon.ico on their own (a page
    without a <link rel="icon">): a redirect to the SVG, rather than a 404 in the console."""
    return redirect("favicon.svg", code=302)  # relative: right under a path prefix too


@bp.get("/<path:name>")
def public_file(name: str):
    """One file of ``public/`` by name; dotfiles and anything outside are 404."""
    if any(part.startswith(".") for part in name.split("/")):
        abort(404)
    # send_from_directory refuses paths that leave PUBLIC (safe_join): a 404.
    return send_from_directory(PUBLIC, name)
