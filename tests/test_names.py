"""The room-name rule of the core, on the cases public/rooms.js is checked against too."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from webrtc_signal import InvalidRequest
from webrtc_signal.keys import check_room, parse_signal_key
from webrtc_signal.names import ROOM_RULE, normalize_room

CASES = json.loads((Path(__file__).parent / "room_names.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES["cases"], ids=lambda case: case["why"])
def test_shared_case(case):
    assert normalize_room(case["input"]) == case["expected"]
    if case["expected"] is None:
        with pytest.raises(InvalidRequest) as raised:
            check_room(case["input"])
        assert raised.value.message == ROOM_RULE
    else:
        assert check_room(case["input"]) == case["expected"]


def test_the_cases_cover_both_answers_and_every_kind_of_name():
    expected = [case["expected"] for case in CASES["cases"]]
    assert None in expected
    assert {"café", "東京 会議", "my room.2", "default-room"} <= set(expected)


@pytest.mark.parametrize("room", [None, 7, ["a"], {"a": 1}, b"room"])
def test_only_strings_are_names(room):
    assert normalize_room(room) is None
    with pytest.raises(InvalidRequest):
        check_room(room)


def test_the_rule_says_what_is_allowed():
    assert ROOM_RULE.startswith("A room name is 1-64 letters, digits, spaces, '-', '_' or '.'")


def test_normalising_twice_changes_nothing():
    for case in CASES["cases"]:
        if case["expected"] is not None:
            assert normalize_room(case["expected"]) == case["expected"]


@pytest.mark.parametrize(
    ("sent", "room"),
    [("東京 会議", "東京 会議"), ("cafe\u0301", "café"), (" my  room.2 ", "my room.2")],
)
def test_signal_keys_name_the_room_as_stored(sent, room):
    key = parse_signal_key(["webrtc_signal", sent, "candidates_for_receiver", "ab" * 16])
    assert key == ("webrtc_signal", room, "candidates_for_receiver", "ab" * 16)
    assert parse_signal_key(["webrtc_signal", sent, "offer"]) == ("webrtc_signal", room, "offer")


@pytest.mark.parametrize("room", ["..", "a/b", "", "x" * 65])
def test_signal_keys_with_a_bad_room_are_refused(room):
    with pytest.raises(InvalidRequest):
        parse_signal_key(["webrtc_signal", room, "offer"])


def test_the_page_words_a_refusal_as_the_server_does():
    """public/rooms.js's ROOM_RULE is this rule's text, word for word."""
    rooms_js = (Path(__file__).parent.parent / "public" / "rooms.js").read_text(encoding="utf-8")
    found = re.search(r'export const ROOM_RULE =\s*"([^"]+)";', rooms_js)
    assert found, "public/rooms.js exports no ROOM_RULE string"
    assert found[1] == ROOM_RULE
