"""The browser client: ``/`` and the files of ``public/``, and nothing outside it."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, redirect, send_from_directory


def public_dir() -> Path:
    """``public/`` beside the package in a checkout; ``flask_app/public`` in a wheel."""
    packaged = Path(__file__).parent / "public"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "public"


bp = Blueprint("public", __name__)
PUBLIC = public_dir()


@bp.get("/")
def index():
    """The page."""
    return send_from_directory(PUBLIC, "index.html")


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
