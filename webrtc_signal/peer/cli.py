"""The ``webrtc-peer`` command: its arguments, its logging, and one call run until it ends."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from ..errors import InvalidRequest, RoomFull, SignalError
from ..keys import check_room
from ..protocol import DEFAULT_ROOM
from .call import Peer

log = logging.getLogger(__name__)


def room_name(value: str) -> str:
    """argparse type: a valid room name."""
    try:
        return check_room(value)
    except InvalidRequest as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def server_url(value: str) -> str:
    """argparse type: an http(s) address."""
    if not value.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError("give the server's address, starting http:// or https://")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of webrtc-peer."""
    parser = argparse.ArgumentParser(
        prog="webrtc-peer",
        description=(
            "Join a webrtc-signal room as a browser would, from Python: offer or answer, "
            "send back the video received (or a test pattern), print the chat. "
            "Ctrl-C hangs up."
        ),
    )
    parser.add_argument(
        "--url", required=True, type=server_url, help="the server, e.g. http://127.0.0.1:5000"
    )
    parser.add_argument(
        "--room", default=DEFAULT_ROOM, type=room_name, help=f"default: {DEFAULT_ROOM}"
    )
    parser.add_argument(
        "--echo", action="store_true", help='answer each chat message with "echo: <text>"'
    )
    parser.add_argument("--greet", metavar="TEXT", help="say TEXT in the chat once connected")
    parser.add_argument(
        "--no-ice-servers",
        action="store_true",
        help="use host candidates only, not the server's STUN/TURN servers (one machine or a "
        "LAN; an unreachable STUN server holds each offer or answer up to 5 s)",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log signaling and ICE")
    return parser.parse_args(argv)


def configure_logging(verbose: bool) -> None:
    """One line per event on stderr: ours always, the libraries' with --verbose."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("webrtc-peer: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("webrtc_signal").setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in ("aiortc", "aioice", "httpx"):
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)


async def serve(args: argparse.Namespace) -> int:
    """Run one call for the command line; its exit status."""

    def show(text: str) -> None:
        print(f"them: {text}", flush=True)

    peer = Peer(
        args.url,
        args.room,
        echo=args.echo,
        greeting=args.greet,
        use_ice_servers=not args.no_ice_servers,
        on_chat=show,
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, peer.hang_up)
    try:
        ending = await peer.run()
    except RoomFull:
        log.error("room %s is full: two people are already in a call there", args.room)
        return 1
    except SignalError as exc:
        log.error("%s", exc.message)
        return 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    log.info("%s", ending.value)
    return 0


def main(argv: list[str] | None = None) -> int:
    """The ``webrtc-peer`` command: 0 when the call ended, 1 when it could not go on."""
    args = parse_args(argv)
    configure_logging(args.verbose)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C before the handlers were set
        return asyncio.run(serve(args))
    return 130
