"""The app's signaling service and ICE servers, built once from its config."""

from __future__ import annotations

import threading

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from webrtc_signal import IceServers, Settings, SignalError, Signaling
from webrtc_signal.cli import clear_report

_ICE_SERVERS_MADE = threading.Lock()


def settings(app: Flask) -> Settings:
    """The core's settings, read from the app's config."""
    return Settings.from_mapping(app.config)


def init_app(app: Flask) -> None:
    """Open the store (failing now, not at the first request) and add ``flask clear-rooms``.

    The ICE servers wait for their first use (:func:`get_ice_servers`): a command such as
    ``flask clear-rooms`` never needs them, nor their warning that no TURN server is set.
    Their settings are still read, and checked, here.
    """
    app.extensions["webrtc_signal"] = Signaling.from_settings(settings(app))
    app.cli.add_command(clear_rooms_command)


def get_signaling() -> Signaling:
    """The current app's signaling service."""
    return current_app.extensions["webrtc_signal"]


def get_ice_servers() -> IceServers:
    """The current app's ICE server provider, made at the first request that needs it."""
    extensions = current_app.extensions
    if "ice_servers" not in extensions:
        with _ICE_SERVERS_MADE:  # one provider per app, also when requests race for it
            if "ice_servers" not in extensions:
                extensions["ice_servers"] = IceServers.from_settings(
                    settings(current_app), http_client=current_app.config.get("TWILIO_HTTP_CLIENT")
                )
    return extensions["ice_servers"]


@click.command("clear-rooms")
@click.option("--room", metavar="R", help="Clear the room named R.")
@click.option("--all", "all_rooms", is_flag=True, help="Clear every room.")
@with_appcontext
def clear_rooms_command(room: str | None, all_rooms: bool) -> None:
    """Remove signaling data from the server's store (safe while it runs)."""
    if (room is not None) == all_rooms:
        raise click.UsageError("say which: --room R or --all")
    try:
        lines = clear_report(get_signaling(), room)
    except SignalError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo("\n".join(lines))
