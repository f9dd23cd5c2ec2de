"""The store contract, run against every backend, and each backend's own promises."""

from __future__ import annotations

import inspect
import sqlite3
import time

import pytest

from harness.clock import FakeClock
from tests.helpers import at_once
from webrtc_signal import ConfigError, Signaling, StoreUnavailable
from webrtc_signal.store import SCHEMES, MemoryStore, SqliteStore, Store, open_store
from webrtc_signal.store.redis import RedisStore

BACKENDS = {
    "memory": lambda request, clock: MemoryStore(clock=clock),
    "sqlite": lambda request, clock: SqliteStore(
        request.getfixturevalue("tmp_path") / "s.sqlite", clock=clock
    ),
    # Redis keeps time itself: tests on it wait for real.
    "redis": lambda request, clock: RedisStore.from_url(request.getfixturevalue("redis_url")),
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_000_000.0)


@pytest.fixture(params=sorted(BACKENDS))
def backend(request) -> str:
    return request.param


@pytest.fixture
def store(request, backend, clock) -> Store:
    store = BACKENDS[backend](request, clock)
    yield store
    store.close()


@pytest.fixture
def advance(backend, clock):
    """Let time pass for the store: the fake clock moves, or (for Redis) the test waits."""

    def advance(seconds: float) -> None:
        if backend == "redis":
            time.sleep(seconds)
        else:
            clock.now += seconds

    return advance


def test_every_scheme_has_a_contract_backend():
    assert set(SCHEMES) == set(BACKENDS)


def test_every_backend_implements_the_whole_interface():
    abstract = {name for name, f in vars(Store).items() if getattr(f, "__isabstractmethod__", 0)}
    assert abstract >= {"get", "create", "set", "replace", "delete", "list", "delete_prefix"}
    for cls in (MemoryStore, SqliteStore, RedisStore):
        assert not inspect.isabstract(cls)


def test_get_set_delete(store):
    key = ("ns", "room", "offer")
    assert store.get(key) is None
    store.set(key, {"sdp": "a", "n": [1, 2]}, ttl=60)
    assert store.get(key) == {"sdp": "a", "n": [1, 2]}
    store.set(key, {"sdp": "b"}, ttl=60)
    assert store.get(key) == {"sdp": "b"}
    assert store.delete(key) is True
    assert store.get(key) is None
    assert store.delete(key) is False


def test_create_if_absent(store):
    key = ("ns", "room", "offer")
    assert store.create(key, "first", ttl=60) is True
    assert store.create(key, "second", ttl=60) is False
    assert store.get(key) == "first"


def test_replace_writes_only_over_the_record_it_expects(store):
    key = ("ns", "room", "peers", "0")
    alice = {"peer": "alice", "token": "t1", "seen": 1}
    # Absent: not created.
    assert store.replace(key, alice, ttl=60, where={"peer": "alice"}) is False
    assert store.get(key) is None
    assert store.list(("ns", "room")) == []
    # Present and matching: stored.
    store.set(key, alice, ttl=60)
    assert store.replace(key, {**alice, "seen": 2}, ttl=60, where={"peer": "alice"}) is True
    assert store.get(key) == {**alice, "seen": 2}
    # Present, another peer's: untouched, also when only one of the fields differs.
    carol = {"peer": "carol", "token": "t2", "seen": 3}
    store.set(key, carol, ttl=60)
    assert store.replace(key, {**alice, "seen": 4}, ttl=60, where={"peer": "alice"}) is False
    assert store.replace(key, alice, ttl=60, where={"peer": "carol", "token": "t1"}) is False
    assert store.get(key) == carol
    assert store.replace(key, {**carol, "seen": 5}, ttl=60, where={"peer": "carol", "token": "t2"})
    assert store.get(key) == {**carol, "seen": 5}
    assert store.list(("ns", "room")) == [(key, {**carol, "seen": 5})]


def test_replace_compares_strings_with_strings_in_objects_only(store):
    key = ("ns", "r", "x")
    for stored in ({"peer": 1}, {"peer": None}, {"peer": {"id": "1"}}, {}, ["peer"], "peer"):
        store.set(key, stored, ttl=60)
        assert store.replace(key, "new", ttl=60, where={"peer": "1"}) is False
        assert store.get(key) == stored
    # No fields to compare: any live object matches, and nothing else does.
    assert store.replace(key, "new", ttl=60, where={}) is False
    store.set(key, {"peer": 1}, ttl=60)
    assert store.replace(key, "new", ttl=60, where={}) is True
    assert store.get(key) == "new"


@pytest.mark.parametrize(
    "where", [{"peer": 1}, {"peer": None}, {"a.b": "x"}, {"a'": "x"}, {"": "x"}, {1: "x"}]
)
def test_replace_refuses_what_it_cannot_compare(store, where):
    store.set(("ns", "r", "x"), {"peer": "x"}, ttl=60)
    with pytest.raises(ValueError):
        store.replace(("ns", "r", "x"), {"peer": "y"}, ttl=60, where=where)
    assert store.get(("ns", "r", "x")) == {"peer": "x"}


def test_replace_skips_an_expired_entry_and_renews_a_live_one(store, advance):
    store.set(("ns", "r", "gone"), {"peer": "a"}, ttl=0.2)
    store.set(("ns", "r", "kept"), {"peer": "a"}, ttl=0.2)
    assert store.replace(("ns", "r", "kept"), {"peer": "a", "n": 1}, ttl=30, where={"peer": "a"})
    advance(0.25)
    assert store.replace(("ns", "r", "gone"), {"peer": "a"}, ttl=30, where={"peer": "a"}) is False
    assert store.get(("ns", "r", "gone")) is None
    assert store.list(("ns", "r")) == [(("ns", "r", "kept"), {"peer": "a", "n": 1})]


def test_replacing_a_key_moves_it_to_the_end(store):
    store.set(("p", "q", "a"), {"peer": "x"}, ttl=60)
    store.set(("p", "q", "b"), 2, ttl=60)
    assert store.replace(("p", "q", "a"), {"peer": "y"}, ttl=60, where={"peer": "x"})
    assert store.list(("p", "q")) == [(("p", "q", "b"), 2), (("p", "q", "a"), {"peer": "y"})]
    assert store.delete_prefix(("p", "q")) == 2
    assert store.list(("p", "q")) == []


def test_replace_is_atomic_under_threads(store):
    """Eight threads race to replace the record they all read, 30 rounds: exactly one wins."""
    for n in range(30):
        key = ("race", "r", str(n))
        store.set(key, {"peer": "read"}, ttl=60)
        won = at_once(
            [
                lambda i=i, key=key: store.replace(
                    key, {"peer": f"t{i}"}, ttl=60, where={"peer": "read"}
                )
                for i in range(8)
            ]
        )
        assert won.count(True) == 1
        assert store.get(key) == {"peer": f"t{won.index(True)}"}


def test_expired_entries_are_invisible_and_replaceable(store, advance):
    store.set(("ns", "r", "a"), 1, ttl=0.2)
    store.set(("ns", "r", "b"), 2, ttl=30)
    advance(0.25)
    assert store.get(("ns", "r", "a")) is None
    assert store.list(("ns", "r")) == [(("ns", "r", "b"), 2)]
    assert store.delete(("ns", "r", "a")) is False
    assert store.create(("ns", "r", "a"), 3, ttl=10) is True
    assert store.get(("ns", "r", "a")) == 3


def test_purge_removes_only_expired(store, backend, advance, clock):
    store.set(("ns", "r", "old"), 1, ttl=0.2)
    store.set(("ns", "r", "new"), 2, ttl=30)
    advance(0.25)
    # Redis removes expired keys by itself; the other backends count what they purge.
    assert store.purge_expired() == (0 if backend == "redis" else 1)
    assert store.purge_expired() == 0
    if backend != "redis":
        clock.now -= 0.25  # even seen from before its expiry, the purged entry is gone
    assert store.get(("ns", "r", "old")) is None
    assert store.get(("ns", "r", "new")) == 2


def test_list_by_prefix_is_oldest_first_and_exact(store):
    for name in ("c", "a", "b"):
        store.set(("ns", "room", "cand", name), name, ttl=60)
    store.set(("ns", "room", "candX", "z"), "other kind", ttl=60)
    store.set(("ns", "room2", "cand", "y"), "other room", ttl=60)
    store.set(("ns", "roo", "cand", "x"), "shorter room", ttl=60)
    assert store.list(("ns", "room", "cand")) == [
        (("ns", "room", "cand", "c"), "c"),
        (("ns", "room", "cand", "a"), "a"),
        (("ns", "room", "cand", "b"), "b"),
    ]
    assert [k for k, _ in store.list(("ns", "room"))] == [
        ("ns", "room", "cand", "c"),
        ("ns", "room", "cand", "a"),
        ("ns", "room", "cand", "b"),
        ("ns", "room", "candX", "z"),
    ]
    assert store.list(("ns", "nothing")) == []


def test_rewriting_a_key_moves_it_to_the_end(store):
    store.set(("p", "q", "a"), 1, ttl=60)
    store.set(("p", "q", "b"), 2, ttl=60)
    store.set(("p", "q", "a"), 3, ttl=60)
    assert store.list(("p", "q")) == [(("p", "q", "b"), 2), (("p", "q", "a"), 3)]


def test_delete_prefix(store, advance):
    store.set(("ns", "r1", "offer"), 1, ttl=60)
    store.set(("ns", "r1", "cand", "x"), 2, ttl=60)
    store.set(("ns", "r1", "cand", "gone"), 2, ttl=0.2)
    store.set(("ns", "r10", "offer"), 3, ttl=60)
    advance(0.25)
    assert store.delete_prefix(("ns", "r1")) == 2
    assert store.list(("ns", "r1")) == []
    assert store.list(("ns", "r1", "cand")) == []
    assert store.get(("ns", "r10", "offer")) == 3


def test_delete_a_deeper_prefix_keeps_the_rest(store):
    store.set(("ns", "r", "offer"), 1, ttl=60)
    store.set(("ns", "r", "cand", "x"), 2, ttl=60)
    assert store.delete_prefix(("ns", "r", "cand")) == 1
    assert store.list(("ns", "r")) == [(("ns", "r", "offer"), 1)]
    assert store.delete_prefix(("ns", "nothing")) == 0


def test_list_everything_under_a_short_prefix(store):
    """A one-part prefix (what `clear-rooms --all` lists) finds every room's entries."""
    store.set(("ns", "a", "offer"), 1, ttl=60)
    store.set(("ns", "b", "cand", "x"), 2, ttl=60)
    store.set(("other", "c", "offer"), 3, ttl=60)
    assert sorted(store.list(("ns",))) == [(("ns", "a", "offer"), 1), (("ns", "b", "cand", "x"), 2)]


def test_get_many_answers_in_the_order_asked(store, advance):
    store.set(("ns", "r", "a"), {"n": 1}, ttl=60)
    store.set(("ns", "r", "b"), 2, ttl=60)
    store.set(("ns", "r", "gone"), 3, ttl=0.2)
    advance(0.25)
    assert store.get_many([("ns", "r", "b"), ("ns", "r", "none"), ("ns", "r", "a")]) == [
        2,
        None,
        {"n": 1},
    ]
    assert store.get_many([("ns", "r", "gone"), ("ns", "r", "b"), ("ns", "r", "b")]) == [
        None,
        2,
        2,
    ]
    assert store.get_many([]) == []


def test_delete_many_counts_only_live_entries(store, advance):
    for name, ttl in (("a", 60), ("b", 60), ("gone", 0.2), ("kept", 60)):
        store.set(("ns", "r", "cand", name), name, ttl=ttl)
    advance(0.25)
    doomed = [("ns", "r", "cand", n) for n in ("a", "b", "gone", "none", "a")]
    assert store.delete_many(doomed) == 2
    assert store.list(("ns", "r")) == [(("ns", "r", "cand", "kept"), "kept")]
    assert store.delete_many(doomed) == 0
    assert store.delete_many([]) == 0
    # Gone from the indexes too: writing a deleted key again lists it once.
    store.set(("ns", "r", "cand", "a"), "again", ttl=60)
    assert [k[-1] for k, _ in store.list(("ns", "r", "cand"))] == ["kept", "a"]


def test_count_matches_list(store, advance):
    store.set(("ns", "r", "cand", "x"), 1, ttl=60)
    store.set(("ns", "r", "cand", "y"), 2, ttl=0.2)
    store.set(("ns", "r", "candX", "z"), 3, ttl=60)
    store.set(("ns", "r2", "cand", "w"), 4, ttl=60)
    assert store.count(("ns", "r", "cand")) == 2
    advance(0.25)
    assert store.count(("ns", "r", "cand")) == 1 == len(store.list(("ns", "r", "cand")))
    assert store.count(("ns", "r")) == 2
    assert store.count(("ns", "nothing")) == 0


# Rooms people type (see webrtc_signal/names.py), and key parts that would be wildcards or
# escapes to a backend that matched prefixes by pattern (SQL LIKE, Redis glob) instead of by
# range or index: each must list, count and clear only its own entries.
TYPED_ROOMS = ["café", "cafe", "東京 会議", "東京", "my room.2", "my room", "my", "a_b", "axb"]
WILDCARD_ROOMS = ["a%", "a%b", "a_", "a\\_", "a*", "a?", "a[b]", "a\\", "idx:x", "x.y", "x y"]


@pytest.mark.parametrize("rooms", [TYPED_ROOMS, WILDCARD_ROOMS], ids=["typed", "wildcards"])
def test_rooms_with_any_characters_keep_to_themselves(store, rooms):
    for n, room in enumerate(rooms):
        store.set(("ns", room, "offer"), {"room": room}, ttl=60)
        store.set(("ns", room, "cand", f"c{n}"), n, ttl=60)
    for n, room in enumerate(rooms):
        assert store.get(("ns", room, "offer")) == {"room": room}
        assert store.get_many([("ns", room, "offer")]) == [{"room": room}]
        assert store.list(("ns", room)) == [
            (("ns", room, "offer"), {"room": room}),
            (("ns", room, "cand", f"c{n}"), n),
        ]
        assert store.list(("ns", room, "cand")) == [(("ns", room, "cand", f"c{n}"), n)]
        assert store.count(("ns", room)) == 2
    assert {key[1] for key, _ in store.list(("ns",))} == set(rooms)
    # Clearing one room leaves every other, the ones its name is a prefix of included.
    first, *others = rooms
    assert store.delete_prefix(("ns", first)) == 2
    assert store.list(("ns", first)) == []
    for room in others:
        assert store.count(("ns", room)) == 2
    assert store.delete_many([("ns", room, "offer") for room in others]) == len(others)
    assert sorted(key[1] for key, _ in store.list(("ns",))) == sorted(others)


def test_a_one_part_prefix_with_wildcards_lists_only_itself(store):
    """Listing under a short prefix (Redis walks its keyspace for it) takes its text literally."""
    store.set(("n*", "r", "offer"), 1, ttl=60)
    store.set(("n?", "r", "offer"), 2, ttl=60)
    store.set(("nx", "r", "offer"), 3, ttl=60)
    store.set(("n[x]", "r", "offer"), 4, ttl=60)
    assert store.list(("n*",)) == [(("n*", "r", "offer"), 1)]
    assert store.list(("n?",)) == [(("n?", "r", "offer"), 2)]
    assert store.list(("n[x]",)) == [(("n[x]", "r", "offer"), 4)]
    assert store.delete_prefix(("n*",)) == 1
    assert store.get(("nx", "r", "offer")) == 3


def test_keys_with_the_separator_are_refused(store):
    with pytest.raises(ValueError):
        store.set(("ns", "a\x1fb"), 1, ttl=60)


def test_ping_answers(store):
    store.ping()


def test_create_is_atomic_under_threads(store):
    """Eight threads race to create the same key, 30 rounds: exactly one wins each."""
    for n in range(30):
        key = ("race", str(n))
        won = at_once([lambda i=i, key=key: store.create(key, i, ttl=60) for i in range(8)])
        assert won.count(True) == 1
        assert store.get(key) == won.index(True)


# -- opening stores by URL ------------------------------------------------------------------


def test_open_store_by_url(tmp_path):
    assert isinstance(open_store("memory://"), MemoryStore)
    relative = open_store("sqlite:///data/s.sqlite", base_dir=tmp_path)
    assert isinstance(relative, SqliteStore)
    assert relative.path == tmp_path / "data" / "s.sqlite"
    relative.close()
    absolute = open_store(f"sqlite:///{tmp_path}/abs.sqlite", base_dir="/nonexistent")
    assert absolute.path == tmp_path / "abs.sqlite"
    absolute.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("signal.sqlite", "unknown scheme"),
        ("sqlite://", "sqlite:///relative/path"),
        ("memory://somewhere", "takes no path"),
    ],
)
def test_bad_urls_fail_clearly(url, message):
    with pytest.raises(ConfigError, match=message):
        open_store(url)


def test_unusable_path_fails_at_open(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError, match="cannot open the sqlite store"):
        open_store(f"sqlite:///{blocker}/s.sqlite")


def test_corrupt_file_fails_at_open(tmp_path):
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError, match="cannot open the sqlite store"):
        open_store(f"sqlite:///{path}")


# -- the sqlite backend's own promises ------------------------------------------------------


def test_sqlite_survives_reopening(tmp_path):
    first = SqliteStore(tmp_path / "s.sqlite")
    first.set(("ns", "r", "offer"), {"sdp": "x"}, ttl=60)
    first.close()
    second = SqliteStore(tmp_path / "s.sqlite")
    assert second.get(("ns", "r", "offer")) == {"sdp": "x"}
    second.close()


def test_sqlite_create_is_atomic_across_connections(tmp_path):
    """Two stores on one file (as the server and clear-rooms are) still agree on create."""
    a, b = SqliteStore(tmp_path / "s.sqlite"), SqliteStore(tmp_path / "s.sqlite")
    assert a.create(("k",), "a", ttl=60) is True
    assert b.create(("k",), "b", ttl=60) is False
    assert b.delete(("k",)) is True
    assert a.create(("k",), "a again", ttl=60) is True
    assert b.get(("k",)) == "a again"
    a.close()
    b.close()


def test_sqlite_replace_is_atomic_across_connections(tmp_path):
    """A record another connection deleted or rewrote is not written over."""
    a, b = SqliteStore(tmp_path / "s.sqlite"), SqliteStore(tmp_path / "s.sqlite")
    a.set(("k",), {"peer": "alice"}, ttl=60)
    assert b.delete(("k",)) is True
    assert a.replace(("k",), {"peer": "alice", "n": 1}, ttl=60, where={"peer": "alice"}) is False
    assert b.get(("k",)) is None
    b.set(("k",), {"peer": "carol"}, ttl=60)
    assert a.replace(("k",), {"peer": "alice", "n": 1}, ttl=60, where={"peer": "alice"}) is False
    assert a.replace(("k",), {"peer": "carol", "n": 2}, ttl=60, where={"peer": "carol"}) is True
    assert b.get(("k",)) == {"peer": "carol", "n": 2}
    a.close()
    b.close()


def test_sqlite_listing_searches_the_key_index(tmp_path):
    """Listing a prefix is a range search on the primary key, not a scan of the table."""
    store = SqliteStore(tmp_path / "s.sqlite")
    store.set(("ns", "r", "cand", "x"), 1, ttl=60)
    low, high = store._range(("ns", "r", "cand"))
    conn = sqlite3.connect(store.path)
    plan = " ".join(
        row[-1]
        for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT key, value FROM signals WHERE key >= ? AND key < ? "
            "AND json_extract(value, '$.e') > ? ORDER BY rowid",
            (low, high, 0),
        )
    )
    conn.close()
    store.close()
    assert "SEARCH signals USING INDEX" in plan
    assert "SCAN signals" not in plan


def test_sqlite_older_than_returning_fails_at_open(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 34, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.34.1")
    with pytest.raises(
        ConfigError, match=r"needs SQLite 3\.35\.0 or later; this Python has 3\.34\.1"
    ):
        SqliteStore(tmp_path / "s.sqlite")


def test_sqlite_failure_is_store_unavailable(tmp_path):
    store = SqliteStore(tmp_path / "s.sqlite")
    store.close()
    with pytest.raises(StoreUnavailable):
        store.get(("k",))


def test_set_many_writes_all_in_order(store):
    store.set(("p", "q", "first"), 0, ttl=60)
    store.set_many([(("p", "q", str(n)), n) for n in range(5)], ttl=60)
    assert store.list(("p", "q")) == [(("p", "q", "first"), 0)] + [
        (("p", "q", str(n)), n) for n in range(5)
    ]
    store.set_many([], ttl=60)


def test_set_many_refuses_a_bad_batch_whole(store):
    with pytest.raises(ValueError):
        store.set_many([(("p", "q", "ok"), 1), (("p", "q", "bad\x1f"), 2)], ttl=60)
    assert store.list(("p", "q")) == []


def test_in_call_descriptions_on_every_backend(store, clock):
    """Posted, delivered oldest first to the other member only, acknowledged, then gone; a
    leaver's go with it and a hang-up clears the rest."""
    signaling = Signaling(store, clock=clock)
    alice = {"peer": "alice", "token": signaling.enter("d", "alice")}
    bob = {"peer": "bob", "token": signaling.enter("d", "bob")}
    offers = [{"type": "offer", "sdp": f"v=0 {n}"} for n in range(5)]
    keys = [signaling.post("d", "description", offer, **alice) for offer in offers]
    assert sorted(keys) == keys
    got = signaling.events("d", **bob)
    assert [d["payload"] for d in got["descriptions"]] == offers
    assert signaling.events("d", **alice)["descriptions"] == []
    assert signaling.events("d", cursor=got["cursor"], **bob)["descriptions"] == []
    assert signaling.room_state("d")["descriptions"] == 0

    signaling.post("d", "description", offers[0], **alice)
    signaling.post("d", "description", {"type": "answer", "sdp": "v=0"}, **bob)
    assert signaling.leave("d", **bob) == 1
    assert signaling.room_state("d")["descriptions"] == 1
    assert signaling.hang_up("d", **alice) == 1
    assert signaling.room_state("d") == dict.fromkeys(signaling.room_state("d"), 0)
