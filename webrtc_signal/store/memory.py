"""An in-process store: for tests and for embedding, not for a server's default."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from .base import Key, Store, Value, check_where, encode_key


class MemoryStore(Store):
    """Entries in a dict, with an index from every key prefix to its keys."""

    def __init__(self, clock=time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[Key, tuple[float, Value]] = {}
        # prefix -> keys under it, in write order (a dict keeps order; values unused)
        self._index: dict[Key, dict[Key, None]] = {}

    def _live(self, key: Key) -> Value | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def _put(self, key: Key, value: Value, ttl: float) -> None:
        encode_key(key)  # the same key rules as every backend
        self._drop(key)
        self._entries[key] = (self._clock() + ttl, value)
        for n in range(1, len(key)):
            self._index.setdefault(key[:n], {})[key] = None

    def _drop(self, key: Key) -> bool:
        """Remove ``key``; True when it held a live value."""
        live = self._live(key) is not None
        if self._entries.pop(key, None) is not None:
            for n in range(1, len(key)):
                keys = self._index[key[:n]]
                del keys[key]
                if not keys:
                    del self._index[key[:n]]
        return live

    def get(self, key: Key) -> Value | None:
        with self._lock:
            return self._live(key)

    def create(self, key: Key, value: Value, ttl: float) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._put(key, value, ttl)
            return True

    def set(self, key: Key, value: Value, ttl: float) -> None:
        with self._lock:
            self._put(key, value, ttl)

    def replace(self, key: Key, value: Value, ttl: float, *, where: Mapping[str, str]) -> bool:
        where = check_where(where)
        encode_key(key)
        with self._lock:
            current = self._live(key)
            if not isinstance(current, dict) or any(
                current.get(field) != expected for field, expected in where.items()
            ):
                return False
            self._put(key, value, ttl)
            return True

    def set_many(self, items: list[tuple[Key, Value]], ttl: float) -> None:
        for key, _ in items:
            encode_key(key)  # refuse the whole batch before writing any of it
        with self._lock:
            for key, value in items:
                self._put(key, value, ttl)

    def delete(self, key: Key) -> bool:
        with self._lock:
            return self._drop(key)

    def get_many(self, keys: list[Key]) -> list[Value | None]:
        with self._lock:
            return [self._live(key) for key in keys]

    def delete_many(self, keys: list[Key]) -> int:
        with self._lock:
            return sum(self._drop(key) for key in keys)

    def list(self, prefix: Key) -> list[tuple[Key, Value]]:
        with self._lock:
            now = self._clock()
            entries = ((key, self._entries[key]) for key in self._index.get(prefix, {}))
            return [(key, value) for key, (expires, value) in entries if expires > now]

    def delete_prefix(self, prefix: Key) -> int:
        with self._lock:
            return sum(self._drop(key) for key in list(self._index.get(prefix, {})))

    def purge_expired(self) -> int:
        with self._lock:
            now = self._clock()
            expired = [key for key, (expires, _) in self._entries.items() if expires <= now]
            for key in expired:
                self._drop(key)
            return len(expired)
