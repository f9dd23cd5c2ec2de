"""The embedded default: one SQLite file through sqlitedict."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

from sqlitedict import SqliteDict

from ..errors import ConfigError, StoreUnavailable
from .base import SEPARATOR, Key, Store, Value, decode_key, encode_key

TABLE = "signals"


class SqliteStore(Store):
    """Entries in a sqlitedict table; each value is stored as JSON ``{"e": expiry, "v": value}``.

    sqlitedict runs every statement on one worker thread and reports a failed statement to
    whichever caller comes next; a lock around each of our methods keeps its statements
    together and sends an error back to the caller that caused it.
    Prefix listing is a range scan of the table's primary-key index, never a full scan.
    """

    def __init__(self, path: str | Path, clock=time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.RLock()
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

    def _change(self, sql: str, args: tuple = ()) -> int:
        """Run one writing statement; the number of rows it changed."""
        with self._lock:
            self._rows(sql, args)
            return self._rows("SELECT changes()")[0][0]

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

    def create(self, key: Key, value: Value, ttl: float) -> bool:
        now = self._clock()
        # One statement: atomic even against another process writing the same file.
        return bool(
            self._change(
                "INSERT OR REPLACE INTO {t} (key, value) SELECT ?, ? WHERE NOT EXISTS "
                "(SELECT 1 FROM {t} WHERE key = ? AND json_extract(value, '$.e') > ?)",
                (encode_key(key), self._record(value, now + ttl), encode_key(key), now),
            )
        )

    def set(self, key: Key, value: Value, ttl: float) -> None:
        self._change(
            "REPLACE INTO {t} (key, value) VALUES (?, ?)",
            (encode_key(key), self._record(value, self._clock() + ttl)),
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
        self._change(f"REPLACE INTO {{t}} (key, value) VALUES {rows}", tuple(args))

    def delete(self, key: Key) -> bool:
        with self._lock:
            live = self.get(key) is not None
            self._change("DELETE FROM {t} WHERE key = ?", (encode_key(key),))
            return live

    def list(self, prefix: Key) -> list[tuple[Key, Value]]:
        rows = self._rows(
            "SELECT key, value FROM {t} WHERE key >= ? AND key < ? "
            "AND json_extract(value, '$.e') > ? ORDER BY rowid",
            (*self._range(prefix), self._clock()),
        )
        return [(decode_key(key), json.loads(value)["v"]) for key, value in rows]

    def delete_prefix(self, prefix: Key) -> int:
        low, high = self._range(prefix)
        with self._lock:
            live = self._rows(
                "SELECT COUNT(*) FROM {t} WHERE key >= ? AND key < ? "
                "AND json_extract(value, '$.e') > ?",
                (low, high, self._clock()),
            )[0][0]
            self._change("DELETE FROM {t} WHERE key >= ? AND key < ?", (low, high))
            return live

    def purge_expired(self) -> int:
        return self._change(
            "DELETE FROM {t} WHERE json_extract(value, '$.e') <= ?", (self._clock(),)
        )

    def ping(self) -> None:
        # Touch the table itself: "SELECT 1" answers even when the file under it is ruined.
        self._rows("SELECT 1 FROM {t} LIMIT 1")

    def close(self) -> None:
        with self._lock:
            self._dict.close()

    @staticmethod
    def _record(value: Value, expires: float) -> str:
        return json.dumps({"e": expires, "v": value})
