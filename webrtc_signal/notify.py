"""Wake-ups for long-polls: a reader waits on its room until a writer says it changed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Room:
    __slots__ = ("changed", "listeners", "version")

    def __init__(self, lock: threading.Lock) -> None:
        self.changed = threading.Condition(lock)
        self.version = 0
        self.listeners = 0


class Listener:
    """One reader's place in a room's queue of waiters."""

    def __init__(self, room: _Room) -> None:
        self._room = room
        self._seen = room.version

    def wait(self, timeout: float) -> bool:
        """Block until the room changed since the last wait (or since listening); True if it did."""
        room = self._room
        with room.changed:
            changed = room.changed.wait_for(lambda: room.version != self._seen, timeout)
            self._seen = room.version
            return changed


class Notifier:
    """Per-room wake-ups within one process (threads, or greenlets under gevent).

    A reader listens *before* it reads the store, so a write that lands between its read and
    its wait still wakes it. Only the waiters of the room written to are woken.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rooms: dict[str, _Room] = {}

    def notify(self, room: str) -> None:
        """Wake every reader waiting on ``room``."""
        with self._lock:
            entry = self._rooms.get(room)
            if entry is not None:
                entry.version += 1
                entry.changed.notify_all()

    def notify_all(self) -> None:
        """Wake every waiting reader of every room (after wake-ups may have been missed)."""
        with self._lock:
            for entry in self._rooms.values():
                entry.version += 1
                entry.changed.notify_all()

    @contextmanager
    def listen(self, room: str) -> Iterator[Listener]:
        """Register as a waiter on ``room`` for the duration of the block."""
        with self._lock:
            entry = self._rooms.get(room)
            if entry is None:
                entry = self._rooms[room] = _Room(self._lock)
            entry.listeners += 1
            listener = Listener(entry)
        try:
            yield listener
        finally:
            with self._lock:
                entry.listeners -= 1
                if entry.listeners == 0:
                    del self._rooms[room]

    def waiting(self) -> int:
        """How many readers are waiting, over all rooms."""
        with self._lock:
            return sum(entry.listeners for entry in self._rooms.values())
