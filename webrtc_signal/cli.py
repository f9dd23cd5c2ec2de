"""``clear-rooms``: remove signaling data from the store the server uses."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from dotenv import load_dotenv

from .errors import SignalError
from .settings import Settings
from .signaling import Signaling

DESCRIPTION = """\
Remove signaling data (offers, answers, candidates, peer slots) from the store that the
server uses, found from the same settings (SIGNAL_STORE, from the environment or .env).
Safe while the server is running: each room is cleared in one atomic step, and peers in it
simply start a new session."""


def clear_report(signaling: Signaling, room: str | None) -> list[str]:
    """Clear one room (or all, with None) and describe what was removed, a line per room."""
    removed = signaling.clear_rooms(room)
    lines = [f"{name}: removed {count} entries" for name, count in removed.items()]
    total = sum(removed.values())
    lines.append(f"cleared {len(removed)} room(s), {total} entries in all")
    return lines


def parser() -> argparse.ArgumentParser:
    """The command's arguments: exactly one of --room and --all."""
    p = argparse.ArgumentParser(prog="clear-rooms", description=DESCRIPTION)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--room", metavar="R", help="clear the room named R")
    which.add_argument("--all", action="store_true", help="clear every room")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``clear-rooms``; the process exit status."""
    p = parser()
    args = p.parse_args(argv)
    if args.room is None and not args.all:
        p.print_usage(sys.stderr)
        print("clear-rooms: say which: --room R or --all", file=sys.stderr)
        return 2
    # The flask command loads .env by itself; a console script has to.
    load_dotenv(os.path.join(os.getcwd(), ".env"))
    try:
        signaling = Signaling.from_settings(Settings.from_mapping(os.environ))
        try:
            lines = clear_report(signaling, args.room)
        finally:
            signaling.store.close()
    except SignalError as exc:
        print(f"clear-rooms: {exc.message}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
