"""Storage backends behind one interface, chosen by a URL.

``memory://``
    in-process, for tests and embedding
``sqlite:///relative/path.sqlite``, ``sqlite:////absolute/path.sqlite``
    one file through sqlitedict (the default); relative to the instance folder
``redis://host:port/db``
    Redis, shared by several processes and hosts (needs the ``redis`` extra)
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .base import Key, Store, Value
from .memory import MemoryStore
from .sqlite import SqliteStore

__all__ = ["Key", "MemoryStore", "SqliteStore", "Store", "Value", "open_store"]


def _open_memory(rest: str, base_dir: Path) -> Store:
    if rest:
        raise ConfigError(f"memory:// takes no path, got {rest!r}")
    return MemoryStore()


def _open_sqlite(rest: str, base_dir: Path) -> Store:
    # As in SQLAlchemy: three slashes then a relative path, four for an absolute one.
    if not rest.startswith("/") or rest == "/":
        raise ConfigError(
            "a sqlite store URL is sqlite:///relative/path or sqlite:////absolute/path"
        )
    path = Path(rest[1:])
    return SqliteStore(path if path.is_absolute() else base_dir / path)


def _open_redis(rest: str, base_dir: Path) -> Store:
    try:
        from .redis import RedisStore
    except ImportError as exc:
        raise ConfigError(
            "a redis:// store needs redis-py: pip install 'webrtc-signal[redis]'"
        ) from exc
    return RedisStore.from_url("redis://" + rest)


SCHEMES = {"memory": _open_memory, "sqlite": _open_sqlite, "redis": _open_redis}


def open_store(url: str, base_dir: str | Path = ".") -> Store:
    """Open the backend named by ``url``; relative file paths resolve against ``base_dir``."""
    scheme, sep, rest = url.partition("://")
    opener = SCHEMES.get(scheme) if sep else None
    if opener is None:
        raise ConfigError(
            f"SIGNAL_STORE {url!r} has an unknown scheme; use one of: "
            + ", ".join(f"{name}://" for name in SCHEMES)
        )
    return opener(rest, Path(base_dir))
