"""The room-name rule: names people can type, in any script.

A name is taken after Unicode NFC normalisation, with whitespace trimmed from both ends and
each run of whitespace inside it collapsed to one space (so "東京　会議", typed with an
ideographic space, is the room "東京 会議"). What is left is 1-64 characters (code points),
each a letter of any script (Unicode category L*), a combining mark (M*: many scripts need
one after a letter even in NFC), a decimal digit (Nd), a space, ``-``, ``_`` or ``.``, with
at least one letter or digit among them. Names that differ only in what normalisation
removes are the same room; case still counts ("Café" and "café" are two rooms).

public/rooms.js applies the same rule in the page; tests/room_names.json holds the cases
both are checked against.
"""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 64
ROOM_RULE = (
    "A room name is 1-64 letters, digits, spaces, '-', '_' or '.', "
    "with at least one letter or digit"
)
# Unicode's White_Space property, written out: Python's str.isspace() and JavaScript's \s
# each differ from it (and from each other) by a few code points.
WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
WHITESPACE += "\u2028\u2029\u202f\u205f\u3000"
_RUN = re.compile(f"[{WHITESPACE}]+")
_PUNCTUATION = frozenset(" -_.")


def _is_letter_or_digit(char: str) -> bool:
    """Whether ``char`` is a letter of any script (L*) or a decimal digit (Nd)."""
    category = unicodedata.category(char)
    return category[0] == "L" or category == "Nd"


def _allowed(char: str) -> bool:
    """Whether ``char`` may stand in a room name: a letter, mark, digit or one of " -_."."""
    return char in _PUNCTUATION or _is_letter_or_digit(char) or unicodedata.category(char)[0] == "M"


def normalize_room(raw: object) -> str | None:
    """The room ``raw`` names, normalised; None when it is not an allowed room name."""
    if not isinstance(raw, str):
        return None
    name = _RUN.sub(" ", unicodedata.normalize("NFC", raw).strip(WHITESPACE))
    if not 1 <= len(name) <= MAX_LENGTH or not all(_allowed(char) for char in name):
        return None
    # Only dots, dashes or marks is nothing a person would call a name (and "." or ".."
    # would look like a path wherever a name ends up in one).
    return name if any(_is_letter_or_digit(char) for char in name) else None
