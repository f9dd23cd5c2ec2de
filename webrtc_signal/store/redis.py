"""A store shared by several processes and hosts: Redis, through redis-py.

Each entry is a Redis string with a Redis TTL. Listing a prefix reads a sorted set kept for
that prefix (every prefix of two or more parts: a room, a room's candidates of one side), so
a room's poll never scans the keyspace. Expired keys vanish by themselves; their leftover
index members are dropped the next time the prefix is listed, and each index expires with
its newest member.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import redis

from ..errors import StoreUnavailable
from ..notify import Notifier
from .base import Key, Store, Value, check_where, decode_key, encode_key

T = TypeVar("T")
# Prefixes shorter than this are not indexed; listing one (only `clear-rooms --all` does)
# walks the keyspace with SCAN instead.
INDEXED_DEPTH = 2
SEQUENCE = "idx:seq"
_GLOB = re.compile(r"[\\*?\[\]]")
# Connections one process keeps to Redis. A request holds one only while a command runs;
# when all are busy (a gevent worker may have hundreds of requests in Redis at once), the
# next request waits for one, up to the store's timeout, instead of failing.
POOL_SIZE = 50

# KEYS: the entry, the sequence counter, then its indexes. ARGV: value, ttl in ms, then "nx"
# (only if absent), "match" (only if the live value is an object whose fields equal those of
# the JSON object in ARGV[4]) or "" (always). One script, so the check, the entry and its
# index entries happen together or not at all.
_WRITE = """
local ok
if ARGV[3] == "nx" then
  ok = redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2], "NX")
elseif ARGV[3] == "match" then
  local raw = redis.call("GET", KEYS[1])
  if not raw then return 0 end
  -- Values are written by json.dumps: an object, and only an object, starts with "{".
  if string.sub(raw, 1, 1) ~= "{" then return 0 end
  local current = cjson.decode(raw)
  for field, expected in pairs(cjson.decode(ARGV[4])) do
    if current[field] ~= expected then return 0 end
  end
  ok = redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
else
  ok = redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
end
if not ok then return 0 end
local seq = redis.call("INCR", KEYS[2])
for i = 3, #KEYS do
  redis.call("ZADD", KEYS[i], seq, KEYS[1])
  if redis.call("PEXPIRE", KEYS[i], ARGV[2], "GT") == 0 then
    redis.call("PEXPIRE", KEYS[i], ARGV[2], "NX")
  end
end
return 1
"""


def index_key(prefix: Key) -> str:
    """The sorted set that lists the keys under ``prefix``."""
    return "idx:" + encode_key(prefix)


def glob_literal(text: str) -> str:
    """``text`` as a SCAN pattern that matches it literally: its glob characters escaped."""
    return _GLOB.sub(r"\\\g<0>", text)


def index_keys(key: Key) -> list[str]:
    """Every index ``key`` belongs to."""
    return [index_key(key[:n]) for n in range(INDEXED_DEPTH, len(key))]


class RedisStore(Store):
    """Entries in Redis; ``client`` is a ``redis.Redis`` with socket timeouts set."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._write = client.register_script(_WRITE)
        self._notifier: RedisNotifier | None = None

    @classmethod
    def from_url(cls, url: str, timeout: float = 2.0) -> RedisStore:
        """Connect lazily to ``redis://host:port/db``; every command gives up after ``timeout``."""
        # redis-py's default pool refuses a command when its connections are all in use.
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_SIZE,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=30,
        )
        return cls(redis.Redis.from_pool(pool))  # the client owns the pool: close() closes it

    def _call(self, command: Callable[[], T]) -> T:
        try:
            return command()
        except redis.RedisError as exc:
            raise StoreUnavailable(f"the redis store failed: {type(exc).__name__}") from exc

    def _put(
        self,
        key: Key,
        value: Value,
        ttl: float,
        mode: str,
        client: Any = None,
        where: Mapping[str, str] | None = None,
    ) -> Any:
        keys = [encode_key(key), SEQUENCE, *index_keys(key)]
        args = [json.dumps(value), max(1, int(ttl * 1000)), mode]
        if where is not None:
            args.append(json.dumps(where))
        return self._write(keys=keys, args=args, client=client)

    def get(self, key: Key) -> Value | None:
        raw = self._call(lambda: self.client.get(encode_key(key)))
        return None if raw is None else json.loads(raw)

    def get_many(self, keys: list[Key]) -> list[Value | None]:
        if not keys:
            return []
        names = [encode_key(key) for key in keys]
        raws = self._call(lambda: self.client.mget(names))
        return [None if raw is None else json.loads(raw) for raw in raws]

    def create(self, key: Key, value: Value, ttl: float) -> bool:
        return bool(self._call(lambda: self._put(key, value, ttl, "nx")))

    def set(self, key: Key, value: Value, ttl: float) -> None:
        self._call(lambda: self._put(key, value, ttl, ""))

    def replace(self, key: Key, value: Value, ttl: float, *, where: Mapping[str, str]) -> bool:
        where = check_where(where)
        return bool(self._call(lambda: self._put(key, value, ttl, "match", where=where)))

    def set_many(self, items: list[tuple[Key, Value]], ttl: float) -> None:
        for key, _ in items:
            encode_key(key)  # refuse a bad batch before sending any of it

        def write_all() -> None:
            with self.client.pipeline(transaction=True) as pipe:
                for key, value in items:
                    self._put(key, value, ttl, "", client=pipe)
                pipe.execute()

        if items:
            self._call(write_all)

    def delete(self, key: Key) -> bool:
        return bool(self.delete_many([key]))

    def delete_many(self, keys: list[Key]) -> int:
        names = {encode_key(key): key for key in keys}
        if not names:
            return 0

        def delete_all() -> int:
            # One round trip: the entries, then their index entries.
            with self.client.pipeline(transaction=True) as pipe:
                pipe.delete(*names)
                for name, key in names.items():
                    for index in index_keys(key):
                        pipe.zrem(index, name)
                return pipe.execute()[0]

        return self._call(delete_all)

    def list(self, prefix: Key) -> list[tuple[Key, Value]]:
        if len(prefix) < INDEXED_DEPTH:
            return self._call(lambda: self._scan(prefix))
        index = index_key(prefix)

        def read() -> list[tuple[Key, Value]]:
            members = self.client.zrange(index, 0, -1)
            if not members:
                return []
            values = self.client.mget(members)
            gone = [m for m, v in zip(members, values, strict=True) if v is None]
            if gone:
                self.client.zrem(index, *gone)
            return [
                (decode_key(m.decode()), json.loads(v))
                for m, v in zip(members, values, strict=True)
                if v is not None
            ]

        return self._call(read)

    def count(self, prefix: Key) -> int:
        if len(prefix) < INDEXED_DEPTH:
            return len(self.list(prefix))
        index = index_key(prefix)

        def live() -> int:
            # The index may still name entries that expired: count those that exist.
            members = self.client.zrange(index, 0, -1)
            return self.client.exists(*members) if members else 0

        return self._call(live)

    def _scan(self, prefix: Key) -> list[tuple[Key, Value]]:
        pattern = glob_literal(encode_key(prefix)) + "\x1f*" if prefix else "*"
        found = []
        for raw in self.client.scan_iter(match=pattern, count=1000):
            name = raw.decode()
            if name.startswith("idx:"):
                continue
            value = self.client.get(raw)
            if value is not None:
                found.append((decode_key(name), json.loads(value)))
        return found

    def delete_prefix(self, prefix: Key) -> int:
        if len(prefix) < INDEXED_DEPTH:
            return sum(self.delete(key) for key, _ in self.list(prefix))
        index = index_key(prefix)

        cleared: list[bool] = []

        def clear(pipe: Any) -> None:
            members = [m.decode() for m in pipe.zrange(index, 0, -1)]
            cleared[:] = [bool(members)]
            pipe.multi()
            if members:
                pipe.delete(*members)  # answers how many were live: the first result
            related = set()
            for member in members:
                key = decode_key(member)
                for n in range(INDEXED_DEPTH, len(key)):
                    if n < len(prefix):
                        pipe.zrem(index_key(key[:n]), member)
                    else:
                        related.add(index_key(key[:n]))
            pipe.delete(index, *related)

        def run() -> int:
            # WATCH the index: a write under the prefix while we read it makes us retry.
            results = self.client.transaction(clear, index)
            return results[0] if cleared[0] else 0

        return self._call(run)

    def purge_expired(self) -> int:
        # Redis removes expired entries itself; index leftovers go when their prefix is listed.
        return 0

    def ping(self) -> None:
        self._call(self.client.ping)

    def notifier(self) -> RedisNotifier:
        if self._notifier is None:
            self._notifier = RedisNotifier(self.client)
        return self._notifier

    def close(self) -> None:
        if self._notifier is not None:
            self._notifier.close()
        self.client.close()


class RedisNotifier(Notifier):
    """Wake-ups across processes: a post is published, and each process's subscriber thread
    wakes the readers waiting in that process."""

    CHANNEL = "webrtc_signal:changed"

    def __init__(self, client: redis.Redis) -> None:
        super().__init__()
        self._client = client
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._subscribe, name="redis-notify", daemon=True)
        self._thread.start()

    def notify(self, room: str) -> None:
        try:
            self._client.publish(self.CHANNEL, room)
        except redis.RedisError:
            super().notify(room)  # Redis is down: at least this process's readers look again

    def _subscribe(self) -> None:
        while not self._closed.is_set():
            try:
                with self._client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    pubsub.subscribe(self.CHANNEL)
                    # Posts made while we were not subscribed were missed: everyone looks again.
                    self.notify_all()
                    while not self._closed.is_set():
                        message = pubsub.get_message(timeout=1.0)
                        if message is not None:
                            super().notify(message["data"].decode())
            except (redis.RedisError, OSError):
                self._closed.wait(0.5)  # Redis is away; try again shortly

    def close(self) -> None:
        """Stop the subscriber thread."""
        self._closed.set()
        self._thread.join(5)
