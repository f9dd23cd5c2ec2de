"""The room protocol in the core, without HTTP: peers, slots, dead peers and expiry."""

from __future__ import annotations

import threading
import time

import pytest

from harness.clock import FakeClock
from webrtc_signal import (
    InvalidRequest,
    MemoryStore,
    NotAMember,
    OfferExists,
    RoomFull,
    Signaling,
    SqliteStore,
    TooManySignals,
)
from webrtc_signal.keys import new_candidate_key, new_description_key, peer_key

OFFER = {"type": "offer", "sdp": "o"}
ANSWER = {"type": "answer", "sdp": "a"}
CAND = {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(5_000_000.0)


@pytest.fixture
def signaling(clock):
    return Signaling(MemoryStore(clock=clock), ttl=300, peer_timeout=10, clock=clock)


def enter(signaling, room: str, peer: str) -> dict[str, str]:
    """Make ``peer`` a member of ``room``; the keyword arguments its requests carry."""
    token = signaling.enter(room, peer)
    assert isinstance(token, str)
    assert len(token) >= 32
    return {"peer": peer, "token": token}


def test_two_peers_take_the_room_and_a_third_is_refused(signaling):
    alice = enter(signaling, "r", "alice")
    assert signaling.read("r", "offer", **alice) is None
    signaling.post("r", "offer", OFFER, **alice)
    bob = enter(signaling, "r", "bob")
    assert signaling.read("r", "offer", **bob) == OFFER
    with pytest.raises(RoomFull):
        signaling.enter("r", "carol")
    assert signaling.presence("r", **alice) == {"room": "r", "peers": 2}


def test_a_room_with_members_is_private_to_them(signaling):
    alice = enter(signaling, "r", "alice")
    signaling.post("r", "offer", OFFER, **alice)
    for outsider in ({}, {"peer": "mallory"}, {"peer": "alice"}, {"peer": "alice", "token": "x"}):
        with pytest.raises(NotAMember):
            signaling.read("r", "offer", **outsider)
        with pytest.raises(NotAMember):
            signaling.hang_up("r", **outsider)
        with pytest.raises(NotAMember):
            signaling.post("r", "candidate_receiver", CAND, **outsider)
        with pytest.raises(NotAMember):
            signaling.delete_key(["webrtc_signal", "r", "offer"], **outsider)
    with pytest.raises(NotAMember):
        signaling.enter("r", "alice", token="not alices")
    assert signaling.read("r", "offer", **alice) == OFFER
    assert signaling.enter("r", "alice", token=alice["token"]) is None  # already in


def test_tokens_are_unguessable_and_not_stored(signaling):
    tokens = {signaling.enter(f"r{n}", "alice") for n in range(50)}
    assert len(tokens) == 50
    stored = str(signaling.store.list(("webrtc_signal",)))
    assert not any(token in stored for token in tokens)


def test_a_refused_third_peer_changes_nothing(signaling):
    alice = enter(signaling, "r", "alice")
    signaling.post("r", "offer", OFFER, **alice)
    bob = enter(signaling, "r", "bob")
    with pytest.raises(RoomFull):
        signaling.enter("r", "carol")
    with pytest.raises(NotAMember):
        signaling.hang_up("r", peer="carol")
    assert signaling.read("r", "offer", **bob) == OFFER


def test_a_dead_peers_offer_does_not_trap_the_next_caller(signaling, clock):
    gone = enter(signaling, "r", "gone")
    signaling.post("r", "offer", OFFER, **gone)
    signaling.post("r", "candidate_initiator", CAND, **gone)
    clock.now += 10.5  # "gone" has been silent longer than the peer timeout
    nxt = enter(signaling, "r", "next")
    assert signaling.read("r", "offer", **nxt) is None
    assert signaling.read("r", "candidate_initiator", **nxt) == []
    signaling.post("r", "offer", OFFER, **nxt)  # the next caller is the initiator
    assert signaling.presence("r", **nxt)["peers"] == 1
    with pytest.raises(NotAMember):
        signaling.presence("r", **gone)  # it would have to enter again


def test_a_live_peer_keeps_its_slot_by_calling(signaling, clock):
    alice = enter(signaling, "r", "alice")
    signaling.post("r", "offer", OFFER, **alice)
    for _ in range(5):  # alice calls every 4 s for 20 s: never dead
        clock.now += 4
        signaling.presence("r", **alice)
    bob = enter(signaling, "r", "bob")
    assert signaling.read("r", "offer", **bob) == OFFER


def test_the_room_frees_a_slot_when_one_of_two_dies(signaling, clock):
    alice = enter(signaling, "r", "alice")
    enter(signaling, "r", "bob")
    clock.now += 6
    signaling.presence("r", **alice)
    with pytest.raises(RoomFull):
        signaling.enter("r", "carol")
    clock.now += 6  # bob silent for 12 s, alice for 6 s
    assert signaling.presence("r", **alice)["peers"] == 1
    carol = enter(signaling, "r", "carol")
    assert signaling.presence("r", **carol)["peers"] == 2


def test_hang_up_clears_signals_and_frees_the_callers_slot(signaling):
    alice, bob = enter(signaling, "r", "alice"), enter(signaling, "r", "bob")
    signaling.post("r", "offer", OFFER, **alice)
    signaling.post("r", "candidate_initiator", CAND, **alice)
    signaling.post("r", "answer", ANSWER, **bob)
    signaling.post("r", "candidate_receiver", CAND, **bob)
    assert signaling.hang_up("r", **alice) == 3  # the offer went with the answer
    assert signaling.presence("r", **bob)["peers"] == 1
    assert signaling.read("r", "answer", **bob) is None
    carol = enter(signaling, "r", "carol")
    assert signaling.presence("r", **carol)["peers"] == 2


def test_a_peer_may_replace_its_own_offer_only(signaling):
    alice, bob = enter(signaling, "r", "alice"), enter(signaling, "r", "bob")
    signaling.post("r", "offer", OFFER, **alice)
    restart = {"type": "offer", "sdp": "ice restart"}
    signaling.post("r", "offer", restart, **alice)
    assert signaling.read("r", "offer", **alice) == restart
    with pytest.raises(OfferExists):
        signaling.post("r", "offer", OFFER, **bob)


def test_seed_clients_share_rooms_without_members(signaling):
    signaling.post("r", "offer", OFFER)  # no peer id: no place taken, as in the seed
    assert signaling.read("r", "offer") == OFFER
    with pytest.raises(OfferExists):
        signaling.post("r", "offer", OFFER)  # a seed client cannot replace it either
    # A peer entering to answer that offer keeps the room open to its sender
    # (tests/test_seed_rooms.py); a room a peer opened is private (the tests above).
    alice = enter(signaling, "r", "alice")
    assert signaling.read("r", "offer") == OFFER
    assert signaling.read("r", "offer", **alice) == OFFER


def test_entering_takes_a_peer_id(signaling):
    with pytest.raises(InvalidRequest):
        signaling.enter("r", None)
    with pytest.raises(InvalidRequest):
        signaling.enter("bad/room", "alice")


def test_signals_expire_after_the_ttl(signaling, clock):
    signaling.post("r", "offer", OFFER)
    signaling.post("r", "candidate_initiator", CAND)
    clock.now += 299
    assert signaling.read("r", "offer") == OFFER
    clock.now += 1
    assert signaling.read("r", "offer") is None
    assert signaling.read("r", "candidate_initiator") == []


def test_expired_entries_are_purged_by_later_writes(signaling, clock):
    for n in range(5):
        signaling.post(f"room{n}", "offer", OFFER)
    clock.now += 400
    signaling.post("other", "offer", OFFER)
    assert [key for key, _ in signaling.store.list(("webrtc_signal",))] == [
        ("webrtc_signal", "other", "offer")
    ]


def test_candidate_keys_are_deleted_once(signaling):
    key = signaling.post("r", "candidate_receiver", CAND)
    [item] = signaling.read("r", "candidate_receiver")
    assert item == {"key": list(key), "payload": CAND}
    assert signaling.delete_key(item["key"]) == 1
    assert signaling.delete_key(item["key"]) == 0


def test_peer_slots_cannot_be_deleted_by_key(signaling):
    alice = enter(signaling, "r", "alice")
    with pytest.raises(InvalidRequest):
        signaling.delete_key(list(peer_key("r", 0)), **alice)


def test_clear_rooms(signaling):
    signaling.post("a", "offer", OFFER, **enter(signaling, "a", "alice"))
    signaling.post("b", "candidate_initiator", CAND)
    signaling.post("b", "candidate_initiator", CAND)
    assert signaling.clear_rooms("a") == {"a": 2}  # the offer and alice's slot
    signaling.post("a", "offer", OFFER)
    assert signaling.clear_rooms() == {"a": 1, "b": 2}
    assert signaling.clear_rooms() == {}
    with pytest.raises(InvalidRequest):
        signaling.clear_rooms("not/a/room")


# -- long-poll and batches -----------------------------------------------------------------


def post_later(delay: float, *args, **kwargs) -> threading.Timer:
    timer = threading.Timer(delay, *args, **kwargs)
    timer.start()
    return timer


def test_a_waiting_read_returns_when_a_signal_is_posted():
    signaling = Signaling(MemoryStore())
    post_later(0.1, signaling.post, args=("r", "answer", ANSWER))
    start = time.monotonic()
    assert signaling.read("r", "answer", wait=10) == ANSWER
    assert time.monotonic() - start < 5  # woken by the post, not by the 10 s timeout


def test_a_waiting_candidate_read_gets_the_whole_batch():
    signaling = Signaling(MemoryStore())
    post_later(0.1, signaling.post_candidates, args=("r", "candidate_receiver", [CAND, CAND]))
    got = signaling.read("r", "candidate_receiver", wait=10)
    assert [c["payload"] for c in got] == [CAND, CAND]


def test_a_wait_that_times_out_answers_as_without_wait():
    signaling = Signaling(MemoryStore())
    assert signaling.read("r", "offer", wait=0.05) is None
    assert signaling.read("r", "candidate_initiator", wait=0.05) == []


def test_a_wait_returns_at_once_when_something_is_there():
    signaling = Signaling(MemoryStore())
    signaling.post("r", "offer", OFFER)
    assert signaling.read("r", "offer", wait=30) == OFFER


def test_posts_to_other_rooms_do_not_end_a_wait():
    signaling = Signaling(MemoryStore())
    post_later(0.05, signaling.post, args=("other", "answer", ANSWER))
    assert signaling.read("r", "answer", wait=0.3) is None


@pytest.mark.parametrize("wait", [0, -1, 30.5, float("nan"), float("inf")])
def test_wait_is_bounded(signaling, wait):
    with pytest.raises(InvalidRequest, match="wait"):
        signaling.read("r", "offer", wait=wait)


def read_answer_in_background(
    signaling: Signaling, member: dict[str, str], wait: float
) -> tuple[threading.Thread, list[NotAMember]]:
    """A member's long-poll for the answer on a thread of its own, already started; the list
    gets the NotAMember that ends it, if one does."""
    refused: list[NotAMember] = []

    def read() -> None:
        try:
            signaling.read("r", "answer", wait=wait, **member)
        except NotAMember as exc:
            refused.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    return thread, refused


def test_a_held_read_is_no_sign_of_life():
    """A peer whose only request is a long wait (its tab closed) is dropped on time, and its
    held read ends with NotAMember instead of holding the place."""
    signaling = Signaling(MemoryStore(), peer_timeout=0.3)
    alice = enter(signaling, "r", "alice")
    start = time.monotonic()
    waiting, outcome = read_answer_in_background(signaling, alice, wait=5)
    time.sleep(0.6)  # alice makes no new request for two peer timeouts
    bob = enter(signaling, "r", "bob")
    assert signaling.presence("r", **bob)["peers"] == 1
    waiting.join()
    assert time.monotonic() - start < 3
    assert len(outcome) == 1


def test_post_candidates_in_one_step(signaling):
    stored = signaling.post_candidates("r", "candidate_initiator", [CAND, {"candidate": "2"}])
    assert [key[2] for key in stored] == ["candidates_for_receiver"] * 2
    got = signaling.read("r", "candidate_initiator")
    assert [c["key"] for c in got] == [list(k) for k in stored]
    assert signaling.delete_keys([c["key"] for c in got]) == 2
    assert signaling.read("r", "candidate_initiator") == []


def test_a_members_requests_cost_few_sqlite_statements(tmp_path, clock, monkeypatch):
    """Each statement is a trip to sqlitedict's thread (under gevent, a turn of the event
    loop): the requests of a call in progress take one per thing they must know or change."""
    store = SqliteStore(tmp_path / "s.sqlite")
    signaling = Signaling(store, ttl=300, peer_timeout=10, clock=clock)
    alice, bob = enter(signaling, "r", "alice"), enter(signaling, "r", "bob")
    statements: list[str] = []
    select = store._conn.select
    monkeypatch.setattr(
        store._conn, "select", lambda sql, args=None: statements.append(sql) or select(sql, args)
    )

    def cost(call):
        statements.clear()
        return call(), len(statements)

    batch = [CAND, {"candidate": "2"}]
    # Both places, the count under the cap, the batch.
    assert cost(lambda: len(signaling.post_candidates("r", "candidate_initiator", batch, **alice)))
    assert len(statements) == 3
    # Both places, the list.
    got, n = cost(lambda: signaling.read("r", "candidate_initiator", **bob))
    assert (len(got), n) == (2, 2)
    # Both places, the batch of keys.
    assert cost(lambda: signaling.delete_keys([c["key"] for c in got], **bob)) == (2, 2)
    # An in-call description: both places, the room's descriptions (for the limit), the write.
    offer = {"type": "offer", "sdp": "v=0"}
    assert cost(lambda: len(signaling.post("r", "description", offer, **alice)))[1] == 3
    # The push channel delivering it: both places, the room's signals, the cursor kept.
    got, n = cost(lambda: signaling.events("r", **bob))
    assert (len(got["descriptions"]), n) == (1, 3)
    # Acknowledged: both places, the delivered ones deleted, the room's signals.
    got, n = cost(lambda: signaling.events("r", cursor=got["cursor"], peers=2, **bob))
    assert (got["descriptions"], n) == ([], 3)
    # A member's "last seen" is rewritten once a second at most: one more, then none.
    clock.now += 1
    assert cost(lambda: signaling.presence("r", **alice)) == ({"room": "r", "peers": 2}, 2)
    assert cost(lambda: signaling.presence("r", **alice))[1] == 1
    # Hanging up: both places, the room's signals, their deletion, the place read and freed.
    signaling.post_candidates("r", "candidate_initiator", batch, **alice)
    signaling.post("r", "description", offer, **alice)
    assert cost(lambda: signaling.hang_up("r", **alice)) == (3, 5)
    store.close()


@pytest.mark.parametrize("payloads", [[], [CAND, "x"], CAND, [CAND] * 51, None, [[CAND]]])
def test_bad_batches_store_nothing(signaling, payloads):
    with pytest.raises(InvalidRequest):
        signaling.post_candidates("r", "candidate_initiator", payloads)
    assert signaling.read("r", "candidate_initiator") == []


def test_batches_are_for_candidates_only(signaling):
    with pytest.raises(InvalidRequest):
        signaling.post_candidates("r", "offer", [OFFER])


def test_delete_keys_within_one_room(signaling):
    a = signaling.post("a", "candidate_initiator", CAND)
    b = signaling.post("b", "candidate_initiator", CAND)
    with pytest.raises(InvalidRequest, match="one room"):
        signaling.delete_keys([list(a), list(b)])
    with pytest.raises(InvalidRequest):
        signaling.delete_keys([])
    assert len(signaling.read("a", "candidate_initiator")) == 1


@pytest.mark.parametrize(
    ("signal_type", "payload"),
    [
        ("offer", {"sdp": "v=0"}),
        ("offer", {"type": "answer", "sdp": "v=0"}),
        ("offer", {"type": "offer", "sdp": 5}),
        ("answer", {"type": "answer"}),
        ("candidate_initiator", {"sdpMid": "0"}),
        ("candidate_receiver", {"candidate": None}),
        ("candidate_receiver", "candidate:1"),
    ],
)
def test_payloads_must_have_their_types_shape(signaling, signal_type, payload):
    with pytest.raises(InvalidRequest, match="payload"):
        signaling.post("r", signal_type, payload)
    assert signaling.store.list(("webrtc_signal", "r")) == []


def test_the_end_of_candidates_marker_is_a_candidate(signaling):
    signaling.post("r", "candidate_initiator", {"candidate": "", "sdpMid": "0"})
    assert len(signaling.read("r", "candidate_initiator")) == 1


def test_unread_candidates_are_capped_per_side(signaling):
    from webrtc_signal.protocol import MAX_CANDIDATES

    signaling.post_candidates("r", "candidate_initiator", [CAND] * 50)
    signaling.post_candidates("r", "candidate_initiator", [CAND] * (MAX_CANDIDATES - 50))
    with pytest.raises(TooManySignals, match="read and delete them first"):
        signaling.post("r", "candidate_initiator", CAND)
    assert len(signaling.read("r", "candidate_initiator")) == MAX_CANDIDATES
    signaling.post("r", "candidate_receiver", CAND)  # the other side has its own allowance
    first = signaling.read("r", "candidate_initiator")[0]
    signaling.delete_key(first["key"])
    signaling.post("r", "candidate_initiator", CAND)  # room again after one was read


def test_leave_keeps_the_other_peers_signals(signaling):
    alice, bob = enter(signaling, "r", "alice"), enter(signaling, "r", "bob")
    signaling.post("r", "offer", OFFER, **alice)
    signaling.post("r", "candidate_initiator", CAND, **alice)
    signaling.post("r", "candidate_receiver", CAND, **bob)
    assert signaling.leave("r", **bob) == 1
    assert signaling.room_state("r") == {
        "peers": 1,
        "offer": 1,
        "answer": 0,
        "candidates_for_initiator": 0,
        "candidates_for_receiver": 1,
        "descriptions": 0,
    }
    with pytest.raises(NotAMember):
        signaling.presence("r", **bob)
    with pytest.raises(NotAMember):
        signaling.leave("r", None)  # a room with members is theirs to leave
    with pytest.raises(InvalidRequest):
        signaling.leave("empty-room", None)


def test_hang_up_ends_the_callers_waiting_reads():
    signaling = Signaling(MemoryStore())
    alice = enter(signaling, "r", "alice")
    waiting, results = read_answer_in_background(signaling, alice, wait=10)
    time.sleep(0.2)
    start = time.monotonic()
    signaling.hang_up("r", **alice)
    waiting.join()
    # Woken by the hang-up, the read re-checks membership at once: not at its next timeout
    # (a third of the 10 s peer timeout).
    assert time.monotonic() - start < 1.5
    assert len(results) == 1


@pytest.mark.parametrize("with_offer", [True, False], ids=["with-offer", "candidates-only"])
def test_what_lands_after_its_senders_hang_up_never_reaches_the_next_person(signaling, with_offer):
    """Posts that land after their sender hung up (an offer re-post, candidates, an in-call
    offer, sent before the hang-up) leave signals nobody can answer: the next person to enter
    finds the room empty and offers instead, and the room is clear of them."""
    alice = enter(signaling, "r", "alice")
    signaling.hang_up("r", **alice)
    # Each written as the late request would, after its place check passed.
    late = {"peer": "alice"}
    if with_offer:
        offer = {**late, "payload": OFFER}
        signaling.store.set(("webrtc_signal", "r", "offer"), offer, signaling.ttl)
    signaling.store.set_many(
        [
            (new_candidate_key("r", "candidate_initiator"), {**late, "payload": CAND}),
            (new_description_key("r"), {**late, "payload": OFFER}),
        ],
        signaling.ttl,
    )
    bob = enter(signaling, "r", "bob")
    events = signaling.events("r", **bob)
    assert (events["offer"], events["candidates"], events["descriptions"]) == (None, [], [])
    assert signaling.room_state("r") == {**signaling.room_state("empty"), "peers": 1}
    signaling.post("r", "offer", OFFER, **bob)


def test_a_stale_sign_of_life_does_not_bring_back_a_member_who_hung_up(signaling, clock):
    """A request reads the places, its member hangs up, then the request records the sign of
    life it read: the place stays free, so the next person may enter."""
    alice, bob = enter(signaling, "r", "alice"), enter(signaling, "r", "bob")
    clock.now += 1  # old enough that the request rewrites "seen"
    slots = signaling.members.live("r")  # what alice's request read
    signaling.hang_up("r", **alice)
    signaling.members.admit("r", "alice", alice["token"], slots)  # ... then refreshes
    assert signaling.store.get(peer_key("r", 0)) is None
    assert signaling.presence("r", **bob) == {"room": "r", "peers": 1}
    enter(signaling, "r", "carol")


def test_a_stale_sign_of_life_does_not_overwrite_who_took_the_place(signaling, clock):
    alice, bob = enter(signaling, "r", "alice"), enter(signaling, "r", "bob")
    clock.now += 1
    slots = signaling.members.live("r")
    signaling.hang_up("r", **alice)
    carol = enter(signaling, "r", "carol")  # into alice's old place
    assert signaling.store.get(peer_key("r", 0))["peer"] == "carol"
    signaling.members.admit("r", "alice", alice["token"], slots)
    assert signaling.store.get(peer_key("r", 0))["peer"] == "carol"
    assert signaling.presence("r", **carol) == {"room": "r", "peers": 2}
    assert signaling.presence("r", **bob) == {"room": "r", "peers": 2}


def test_a_stale_sign_of_life_does_not_undo_the_members_new_entry(signaling, clock):
    """A member who hung up and entered again holds a new token: a request of its first
    entry, finishing late, leaves the new record (and its token) in place."""
    alice = enter(signaling, "r", "alice")
    clock.now += 1
    slots = signaling.members.live("r")
    signaling.hang_up("r", **alice)
    again = enter(signaling, "r", "alice")
    signaling.members.admit("r", "alice", alice["token"], slots)
    assert signaling.presence("r", **again) == {"room": "r", "peers": 1}


def test_a_stale_cursor_does_not_bring_back_a_dropped_member(signaling, clock):
    """The push channel stores its cursor in the member's record: when the member was dropped
    as dead (or hung up) meanwhile, the write finds no place and makes none."""
    alice = enter(signaling, "r", "alice")
    enter(signaling, "r", "bob")
    slots = signaling.members.live("r")
    slot, member = next((s, m) for s, m in slots.items() if m["peer"] == "bob")
    clock.now += 6
    signaling.presence("r", **alice)  # alice keeps her place, bob says nothing
    clock.now += 5
    signaling.presence("r", **alice)  # bob is dead: alice's request drops him
    assert signaling.store.get(peer_key("r", slot)) is None
    saved = signaling.members.save("r", slot, {**member, "cursor": "c", "delivered": []})
    assert signaling.store.get(peer_key("r", slot)) is None
    assert saved is False
    assert signaling.presence("r", **alice) == {"room": "r", "peers": 1}
    carol = enter(signaling, "r", "carol")
    saved = signaling.members.save("r", slot, {**member, "cursor": "c"})
    assert signaling.store.get(peer_key("r", slot))["peer"] == "carol"
    assert saved is False
    assert signaling.presence("r", **carol) == {"room": "r", "peers": 2}


def test_a_members_cursor_is_saved_while_it_holds_its_place(signaling):
    alice = enter(signaling, "r", "alice")
    slot, member = next(iter(signaling.members.live("r").items()))
    assert signaling.members.save("r", slot, {**member, "cursor": "c"}) is True
    assert signaling.store.get(peer_key("r", slot))["cursor"] == "c"
    assert signaling.presence("r", **alice) == {"room": "r", "peers": 1}


def test_the_push_channel_does_not_bring_back_a_member_who_left_while_it_answered(
    signaling, monkeypatch
):
    alice, bob = enter(signaling, "r", "alice"), enter(signaling, "r", "bob")
    signaling.post("r", "candidate_initiator", CAND, **alice)
    addressed_to = signaling._addressed_to

    def leave_first(room, peer):
        signaling.leave("r", **bob)  # bob's other tab leaves while his push channel answers
        return addressed_to(room, peer)

    monkeypatch.setattr(signaling, "_addressed_to", leave_first)
    got = signaling.events("r", **bob)
    assert [c["payload"] for c in got["candidates"]] == [CAND]
    assert signaling.presence("r", **alice) == {"room": "r", "peers": 1}
    enter(signaling, "r", "carol")
