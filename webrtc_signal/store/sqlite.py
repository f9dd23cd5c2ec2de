"""The embedded default: one SQLite file through sqlitedict."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path

from sqlitedict import SqliteDict

from ..errors import ConfigError, StoreUnavailable
from .base import SEPARATOR, Key, Store, Value, check_where, decode_key, encode_key

TABLE = "signals"
# Writes answer what they changed with RETURNING (SQLite 3.35, 2021): one statement, not two.
MIN_SQLITE = (3, 35, 0)


class SqliteStore(Store):
    """Entries in a sqlitedict table; each value is stored as JSON ``{"e": expiry, "v": value}``.

    sqlitedict runs every statement on one worker thread and reports a failed statement to
    whichever caller comes next; a lock around each of our methods keeps its statements
    together and sends an error back to the caller that caused it. Each statement is a trip
    to that thread (under gevent, a turn of the event loop), so every method but
    :meth:`purge_expired` is one statement. Prefix listing is a range scan of the table's
    primary-key index, never a full scan.
    """

    def __init__(self, path: str | Path, clock=time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.RLock()
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise ConfigError(
                f"the sqlite store needs SQLite {'.'.join(map(str, MIN_SQLITE))} or later; "
                f"this Python has {sqlite3.sqlite_version}"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Check the file first: sqlitedict would report a bad one from its worker thread.
            with closing(sqlite3.connect(self.path)) as probe:
                probe.execute("PRAGMA schema_version")
            self._dict = SqliteDict(
                str(self.path),
                tablename=TABLE,
                autocommit=True,
                journal_mode="WAL",
                encode=json.dumps,
                decode=json.loads,
                outer_stack=False,
            )
        except (OSError, RuntimeError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the sqlite store at {self.path}: {exc}") from exc
        self._conn = self._dict.conn

    def _rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        """Run one statement and return its rows; errors surface here, in the caller."""
        try:
            with self._lock:
                # A stopped worker would leave the select waiting forever.
                if not self._conn.is_alive():
                    raise StoreUnavailable("the sqlite store is closed")
                return list(self._conn.select(sql.replace("{t}", f'"{TABLE}"'), args))
        except (sqlite3.Error, RuntimeError) as exc:
            raise StoreUnavailable(f"the sqlite store failed: {exc}") from exc

    def _delete(self, where: str, args: tuple) -> int:
        """Delete the rows ``where`` selects, in one statement; how many of them were live."""
        rows = self._rows(
            f"DELETE FROM {{t}} WHERE {where} RETURNING json_extract(value, '$.e')", args
        )
        now = self._clock()
        return sum(expires > now for (expires,) in rows)

    def _range(self, prefix: Key) -> tuple[str, str]:
        """Bounds of the keys under ``prefix``: [low, high) in the key index's order."""
        low = encode_key(prefix) + SEPARATOR
        return low, low[:-1] + chr(ord(SEPARATOR) + 1)

    def get(self, key: Key) -> Value | None:
        rows = self._rows(
            "SELECT value FROM {t} WHERE key = ? AND json_extract(value, '$.e') > ?",
            (encode_key(key), self._clock()),
        )
        return json.loads(rows[0][0])["v"] if rows else None

    def get_many(self, keys: list[Key]) -> list[Value | None]:
        if not keys:
            return []
        names = [encode_key(key) for key in keys]
        rows = self._rows(
            f"SELECT key, value FROM {{t}} WHERE key IN ({', '.join('?' * len(names))}) "
            "AND json_extract(value, '$.e') > ?",
            (*names, self._clock()),
        )
        found = {name: json.loads(value)["v"] for name, value in rows}
        return [found.get(name) for name in names]

    def create(self, key: Key, value: Value, ttl: float) -> bool:
        now = self._clock()
        # One statement: atomic even against another process writing the same file.
        return bool(
            self._rows(
                "INSERT OR REPLACE INTO {t} (key, value) SELECT ?, ? WHERE NOT EXISTS "
                "(SELECT 1 FROM {t} WHERE key = ? AND json_extract(value, '$.e') > ?) RETURNING 1",
                (encode_key(key), self._record(value, now + ttl), encode_key(key), now),
            )
        )

    def set(self, key: Key, value: Value, ttl: float) -> None:
        self._rows(
            "REPLACE INTO {t} (key, value) VALUES (?, ?)",
            (encode_key(key), self._record(value, self._clock() + ttl)),
        )

    def replace(self, key: Key, value: Value, ttl: float, *, where: Mapping[str, str]) -> bool:
        where = check_where(where)
        now = self._clock()
        # The stored value sits under "v" in the row's JSON; a field matches when it holds a
        # JSON string equal to the expected one (json_type keeps a number or object out).
        match = "".join(
            " AND json_type(value, ?) = 'text' AND json_extract(value, ?) = ?" for _ in where
        )
        compared = [
            part
            for field, expected in where.items()
            for part in (f"$.v.{field}", f"$.v.{field}", expected)
        ]
        # One statement, as in create: atomic even against another process writing the file.
        # REPLACE, not UPDATE, so the entry gets a new rowid and lists as the newest write.
        return bool(
            self._rows(
                "INSERT OR REPLACE INTO {t} (key, value) SELECT ?, ? WHERE EXISTS "
                "(SELECT 1 FROM {t} WHERE key = ? AND json_extract(value, '$.e') > ? "
                f"AND json_type(value, '$.v') = 'object'{match}) RETURNING 1",
                (encode_key(key), self._record(value, now + ttl), encode_key(key), now, *compared),
            )
        )

    def set_many(self, items: list[tuple[Key, Value]], ttl: float) -> None:
        if not items:
            return
        expires = self._clock() + ttl
        args = [
            part for key, value in items for part in (encode_key(key), self._record(value, expires))
        ]
        # One multi-row statement: one transaction, so all rows land or none do.
        rows = ", ".join(["(?, ?)"] * len(items))
        self._rows(f"REPLACE INTO {{t}} (key, value) VALUES {rows}", tuple(args))

    def delete(self, key: Key) -> bool:
        return bool(self._delete("key = ?", (encode_key(key),)))

    def delete_many(self, keys: list[Key]) -> int:
        if not keys:
            return 0
        names = {encode_key(key) for key in keys}
        return self._delete(f"key IN ({', '.join('?' * len(names))})", tuple(names))

    def list(self, prefix: Key) -> list[tuple[Key, Value]]:
        rows = self._rows(
            "SELECT key, value FROM {t} WHERE key >= ? AND key < ? "
            "AND json_extract(value, '$.e') > ? ORDER BY rowid",
            (*self._range(prefix), self._clock()),
        )
        return [(decode_key(key), json.loads(value)["v"]) for key, value in rows]

    def count(self, prefix: Key) -> int:
        return self._rows(
            "SELECT COUNT(*) FROM {t} WHERE key >= ? AND key < ? "
            "AND json_extract(value, '$.e') > ?",
            (*self._range(prefix), self._clock()),
        )[0][0]

    def delete_prefix(self, prefix: Key) -> int:
        return self._delete("key >= ? AND key < ?", self._range(prefix))

    def purge_expired(self) -> int:
        # Two statements, not RETURNING: the purge may remove many rows, each a trip back.
        with self._lock:
            self._rows("DELETE FROM {t} WHERE json_extract(value, '$.e') <= ?", (self._clock(),))
            return self._rows("SELECT changes()")[0][0]

    def ping(self) -> None:
        # Touch the table itself: "SELECT 1" answers even when the file under it is ruined.
        self._rows("SELECT 1 FROM {t} LIMIT 1")

    def close(self) -> None:
        with self._lock:
            self._dict.close()

    @staticmethod
    def _record(value: Value, expires: float) -> str:
        return json.dumps({"e": expires, "v": value})
