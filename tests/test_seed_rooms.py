"""Clients that send no peer id (the seed's) and ours in one room: the rule in the core."""

from __future__ import annotations

import pytest

from webrtc_signal import MemoryStore, NotAMember, RoomFull, Settings, Signaling

OFFER = {"type": "offer", "sdp": "seed offer"}
ANSWER = {"type": "answer", "sdp": "page answer"}
CAND = {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host"}


def member(signaling: Signaling, peer: str, room: str = "r") -> dict[str, str]:
    return {"peer": peer, "token": signaling.enter(room, peer)}


@pytest.fixture
def signaling() -> Signaling:
    return Signaling(MemoryStore())


def test_a_room_whose_offer_came_without_a_peer_id_stays_open_for_that_call(signaling):
    signaling.post("r", "offer", OFFER)  # the seed client, first in the room
    page = member(signaling, "page")
    assert signaling.read("r", "offer", **page) == OFFER
    signaling.post("r", "answer", ANSWER, **page)
    signaling.post("r", "candidate_receiver", CAND, **page)
    signaling.delete("r", "offer", **page)

    # The seed client goes on with its flow: answer, candidates, deletes, its own posts.
    assert signaling.read("r", "answer") == ANSWER
    [item] = signaling.read("r", "candidate_receiver")
    assert signaling.delete_key(item["key"]) == 1
    signaling.post("r", "candidate_initiator", CAND)
    got = signaling.events("r", **page)
    assert [c["payload"] for c in got["candidates"]] == [CAND]
    assert got["peers"] == 1  # the seed client takes no place

    # Nobody else gets in while that call lasts; the page's own requests still need its token.
    with pytest.raises(RoomFull):
        signaling.enter("r", "intruder")
    with pytest.raises(NotAMember):
        signaling.read("r", "answer", peer="page", token="wrong")

    assert signaling.hang_up("r") >= 1  # the seed client hangs up: the room's signals go
    signaling.leave("r", **page)
    assert signaling.room_state("r") == {
        "peers": 0,
        "offer": 0,
        "answer": 0,
        "candidates_for_initiator": 0,
        "candidates_for_receiver": 0,
        "descriptions": 0,
    }


def test_rooms_our_clients_open_stay_private(signaling):
    alice = member(signaling, "alice")
    signaling.post("r", "offer", {"type": "offer", "sdp": "page offer"}, **alice)
    bob = member(signaling, "bob")
    assert signaling.read("r", "offer", **bob)
    for outsider_call in (
        lambda: signaling.read("r", "offer"),
        lambda: signaling.post("r", "answer", ANSWER),
        lambda: signaling.hang_up("r"),
    ):
        with pytest.raises(NotAMember):
            outsider_call()


def test_a_page_that_entered_before_the_seed_offer_keeps_its_room_private(signaling):
    member(signaling, "page")
    with pytest.raises(NotAMember):
        signaling.post("r", "offer", OFFER)


def test_open_rooms_serve_clients_without_a_peer_id_in_both_roles():
    signaling = Signaling(MemoryStore(), open_rooms=True)
    page = member(signaling, "page")
    signaling.post("r", "offer", {"type": "offer", "sdp": "page offer"}, **page)
    assert signaling.read("r", "offer") == {"type": "offer", "sdp": "page offer"}
    signaling.post("r", "answer", ANSWER)
    signaling.delete("r", "offer")
    assert signaling.events("r", **page)["answer"] == ANSWER


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, False), ("", False), ("off", False), ("1", True), ("yes", True)]
)
def test_the_open_rooms_setting(raw, expected):
    env = {} if raw is None else {"SIGNAL_OPEN_ROOMS": raw}
    assert Settings.from_mapping(env).open_rooms is expected


def test_a_bad_open_rooms_setting_is_a_config_error():
    from webrtc_signal import ConfigError

    with pytest.raises(ConfigError, match="SIGNAL_OPEN_ROOMS"):
        Settings.from_mapping({"SIGNAL_OPEN_ROOMS": "maybe"})
