"""The store interface every backend implements."""

from __future__ import annotations

import abc
import re
from collections.abc import Mapping
from typing import Any

from ..notify import Notifier

Key = tuple[str, ...]
# Stored values are JSON-compatible: what a client sent, plus small records of our own.
Value = Any


class Store(abc.ABC):
    """A key-value store with create-if-absent, prefix listing and per-entry expiry.

    Keys are tuples of strings; no part may contain the separator ``"\\x1f"``. Every write
    takes a ``ttl`` in seconds: after it the entry is invisible to every read and is removed
    by the next :meth:`purge_expired`. Each method is atomic on its own, also when called
    from many threads at once.
    """

    @abc.abstractmethod
    def get(self, key: Key) -> Value | None:
        """Return the live value under ``key``, or None."""

    @abc.abstractmethod
    def create(self, key: Key, value: Value, ttl: float) -> bool:
        """Store ``value`` only if no live value is under ``key``; True when stored."""

    @abc.abstractmethod
    def set(self, key: Key, value: Value, ttl: float) -> None:
        """Store ``value`` under ``key``, replacing any value there."""

    @abc.abstractmethod
    def replace(self, key: Key, value: Value, ttl: float, *, where: Mapping[str, str]) -> bool:
        """Store ``value`` only if the live value under ``key`` is an object whose fields
        equal ``where``'s (e.g. ``{"peer": "alice"}``); True when stored.

        A compare-and-set, atomic also against other processes sharing the store: a record
        read earlier is written back only while nobody deleted it, let it expire or put
        another one in its place. No live value, or one that differs, leaves the key as it
        is (absent stays absent). ``where`` maps field names (identifiers) to strings; an
        empty one matches any live object. Like :meth:`set`, the write counts as the
        entry's newest.
        """

    @abc.abstractmethod
    def set_many(self, items: list[tuple[Key, Value]], ttl: float) -> None:
        """Store every ``(key, value)`` in one step: all of them, or (on failure) none."""

    @abc.abstractmethod
    def delete(self, key: Key) -> bool:
        """Remove ``key``; True when a live value was there."""

    def get_many(self, keys: list[Key]) -> list[Value | None]:
        """The live value under each of ``keys`` (None where there is none), in their order.

        Backends override it to answer in one round trip: the room's poll reads both places.
        """
        return [self.get(key) for key in keys]

    def delete_many(self, keys: list[Key]) -> int:
        """Remove every one of ``keys``; how many held a live value."""
        return sum(self.delete(key) for key in keys)

    @abc.abstractmethod
    def list(self, prefix: Key) -> list[tuple[Key, Value]]:
        """Every live entry whose key starts with ``prefix``, oldest write first.

        Backends answer from an index on the prefix: never a scan of the whole store.
        """

    def count(self, prefix: Key) -> int:
        """How many live entries are under ``prefix``."""
        return len(self.list(prefix))

    @abc.abstractmethod
    def delete_prefix(self, prefix: Key) -> int:
        """Remove every entry under ``prefix`` at once; the number of live entries removed."""

    @abc.abstractmethod
    def purge_expired(self) -> int:
        """Remove expired entries; the number removed."""

    def notifier(self) -> Notifier:
        """The wake-up channel for long-polls that reaches every process sharing this store.

        In-process for a store one process owns; a backend shared between processes
        returns one that crosses them.
        """
        return Notifier()

    def ping(self) -> None:
        """Raise StoreUnavailable when the store does not answer."""
        self.get(("__ping__",))

    def close(self) -> None:  # noqa: B027 - a backend with nothing to release keeps this
        """Release the backend's resources."""


SEPARATOR = "\x1f"
# A field :meth:`Store.replace` compares: a name every backend can put in a JSON path as is.
FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def encode_key(key: Key) -> str:
    """Join a key's parts into one string whose prefixes sort together."""
    if any(SEPARATOR in part for part in key):
        raise ValueError(f"key part contains the separator: {key!r}")
    return SEPARATOR.join(key)


def decode_key(text: str) -> Key:
    """The inverse of :func:`encode_key`."""
    return tuple(text.split(SEPARATOR))


def check_where(where: Mapping[str, str]) -> dict[str, str]:
    """The ``where`` of :meth:`Store.replace`, checked: identifier field names, string values."""
    for field, expected in where.items():
        if not (isinstance(field, str) and FIELD.fullmatch(field)):
            raise ValueError(f"a field to compare must be an identifier: {field!r}")
        if not isinstance(expected, str):
            raise ValueError(f"a field's expected value must be a string: {field}={expected!r}")
    return dict(where)
