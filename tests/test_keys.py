"""Room names, peer ids, signal types and keys."""

from __future__ import annotations

import pytest

from webrtc_signal import InvalidRequest
from webrtc_signal.keys import (
    candidates_prefix,
    check_peer,
    check_room,
    check_type,
    description_key,
    new_candidate_key,
    new_description_key,
    parse_signal_key,
)


@pytest.mark.parametrize("room", ["default-room", "a", "A_b-9", "x" * 64, "a b", "é", "my room.2"])
def test_good_rooms(room):
    assert check_room(room) == room


@pytest.mark.parametrize("room", ["", "x" * 65, "a/b", "..", "a\x00", None, 7, ["a"]])
def test_bad_rooms(room):
    with pytest.raises(InvalidRequest):
        check_room(room)


def test_peer_is_optional_but_checked():
    assert check_peer(None) is None
    assert check_peer("") is None
    assert check_peer("Zx_9-") == "Zx_9-"
    for bad in ("a b", "x" * 65, 5, {"id": 1}):
        with pytest.raises(InvalidRequest):
            check_peer(bad)


def test_types():
    assert check_type("candidate_receiver") == "candidate_receiver"
    with pytest.raises(InvalidRequest, match=r"one of: offer, answer$"):
        check_type("candidate_initiator", allowed=("offer", "answer"))
    with pytest.raises(InvalidRequest):
        check_type(None)


def test_seed_key_layout():
    assert description_key("r", "offer") == ("webrtc_signal", "r", "offer")
    # the initiator's candidates are stored for the receiver, and the other way round
    assert candidates_prefix("r", "candidate_initiator") == (
        "webrtc_signal",
        "r",
        "candidates_for_receiver",
    )
    key = new_candidate_key("r", "candidate_receiver")
    assert key[:3] == ("webrtc_signal", "r", "candidates_for_initiator")
    assert key != new_candidate_key("r", "candidate_receiver")
    assert parse_signal_key(list(key)) == key
    assert parse_signal_key(["webrtc_signal", "r", "answer"]) == description_key("r", "answer")


def test_in_call_description_keys_sort_in_the_order_they_were_made(monkeypatch):
    made = [new_description_key("r") for _ in range(200)]
    assert all(key[:3] == ("webrtc_signal", "r", "descriptions") for key in made)
    assert all(len(key[3]) == 32 and key[3] == key[3].lower() for key in made)
    assert sorted(made) == made and len(set(made)) == len(made)
    assert parse_signal_key(list(made[0])) == made[0]
    # A clock that stands still or steps back does not break the order.
    monkeypatch.setattr("time.time_ns", lambda: 5)
    later = [new_description_key("r") for _ in range(3)]
    assert sorted(made + later) == made + later


@pytest.mark.parametrize(
    "key",
    [
        None,
        ["webrtc_signal", "r", "descriptions", "0" * 31],
        ["webrtc_signal", "r", "descriptions", "A" * 32],
        ["webrtc_signal", "r", "description", "0" * 32],
        "webrtc_signal/r/offer",
        ["webrtc_signal", "r"],
        ["webrtc_signal", "r", "offer", "extra"],
        ["webrtc_signal", "r", "candidates_for_receiver"],
        ["webrtc_signal", "r", "candidates_for_receiver", "not-a-uuid"],
        ["webrtc_signal", "bad/room", "offer"],
        ["other", "r", "offer"],
        ["webrtc_signal", "r", "peers", "0"],
        ("webrtc_signal", "r", "offer"),
        ["webrtc_signal", "r", 5],
    ],
)
def test_bad_keys(key):
    with pytest.raises(InvalidRequest):
        parse_signal_key(key)
