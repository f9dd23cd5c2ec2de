"""A room's two places: who holds them, their tokens, and when a holder counts as gone.

A peer that sends a peer id takes one of the room's two places and keeps it while a request
of its arrives at least every ``peer_timeout`` seconds; after that it is dead, and the next
request to the room removes it with every signal it sent. A room with members is private to
them (docs/protocol.md, "Private rooms"), with one opening for clients without a peer id
("Clients that send no peer id").
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any

from . import keys, protocol
from .errors import InvalidRequest, NotAMember, RoomFull
from .notify import Notifier
from .store import Store

SLOTS = (0, 1)
# A member's "last seen" is rewritten at most this often (or a quarter of the peer timeout,
# when that is shorter), to spare the store a write per request.
SEEN_RESOLUTION = 1.0

Member = dict[str, Any]  # {"peer", "seen", "token" (its digest), ...}
Slots = dict[int, Member]  # a room's live members by slot


class Members:
    """The places of every room in ``store``; wakes the room's held requests on changes."""

    def __init__(
        self,
        store: Store,
        *,
        ttl: float,
        peer_timeout: float,
        notifier: Notifier,
        clock: Callable[[], float],
        open_rooms: bool = False,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.peer_timeout = peer_timeout
        self.notifier = notifier
        self.clock = clock
        self.open_rooms = open_rooms

    def live(self, room: str) -> Slots:
        """The room's live members by slot, after removing dead ones and what they sent."""
        live = {}
        deadline = self.clock() - self.peer_timeout
        # Every request asks this first: both places in one read.
        members = self.store.get_many([keys.peer_key(room, slot) for slot in SLOTS])
        for slot, member in zip(SLOTS, members, strict=True):
            if member is None:
                continue
            if member["seen"] >= deadline:
                live[slot] = member
            else:
                self._remove(room, slot, member["peer"])
        return live

    def enter(self, room: str, peer: str, token: str | None = None) -> str | None:
        """Take one of the room's two places, or prove the caller holds one.

        A new member gets a secret token, returned here once: every later request of that
        peer must carry it. A member proving its place gets None. Raises RoomFull for a
        third live peer, NotAMember for a wrong token.
        """
        room = keys.check_room(room)
        if keys.check_peer(peer) is None:
            raise InvalidRequest("entering a room takes a peer id")
        slots = self.live(room)
        if any(member["peer"] == peer for member in slots.values()):
            self.admit(room, peer, token, slots)
            return None
        if any(member.get("open") for member in slots.values()):
            raise RoomFull("two people are already in a call in this room")
        new_token = secrets.token_urlsafe(protocol.TOKEN_BYTES)
        member = {"peer": peer, "seen": self.clock(), "token": _digest(new_token)}
        # One read of the room. What a peer holding no place sent (a post that landed after
        # its hang-up) would never be answered, and must not reach the newcomer: it goes.
        holders = {m["peer"] for m in slots.values()}
        signals = [
            (k, r) for k, r in self.store.list(keys.room_prefix(room)) if k[2] != protocol.PEERS
        ]
        strays = [k for k, r in signals if r.get("peer") not in (None, *holders)]
        if strays:
            self.store.delete_many(strays)
        offer_key = keys.description_key(room, protocol.OFFER)
        if any(k == offer_key and r.get("peer") is None for k, r in signals):
            # Entering to answer an offer posted without a peer id: that client can neither
            # enter nor show a token, so the room stays open to it for this member's call.
            member["open"] = True
        for slot in SLOTS:
            if slot not in slots and self.store.create(keys.peer_key(room, slot), member, self.ttl):
                self.notifier.notify(room)  # the one waiting learns that the room filled
                return new_token
        raise RoomFull("two people are already in this room")

    def admit(
        self, room: object, peer: object, token: object, slots: Slots | None = None
    ) -> tuple[str, str | None]:
        """The request's room and peer id, checked, once the caller may act in the room.

        ``slots`` are the room's live members when the caller already read them. A member's
        request is a sign of life: it keeps the member's place.
        """
        room, peer = room_name(room), keys.check_peer(peer)
        if slots is None:
            slots = self.live(room)
        place = self.authorise(slots, peer, token)
        if place is not None:
            self._refresh(room, *place)
        return room, peer

    def authorise(self, slots: Slots, peer: str | None, token: object) -> tuple[int, Member] | None:
        """The caller's place (slot and record) when it is a member showing its token; None
        for a caller without a peer id that the room serves; else NotAMember.

        A room with members is private to them. A room without members serves anyone, as
        the seed did; so does a room whose member answers a peer-less client's offer, and
        any room when ``open_rooms`` is set, to callers without a peer id.
        """
        for slot, member in slots.items():
            if peer is not None and member["peer"] == peer:
                if not (
                    isinstance(token, str) and hmac.compare_digest(member["token"], _digest(token))
                ):
                    raise NotAMember("this peer's token is missing or wrong")
                return slot, member
        if slots and not (self.open_rooms or any(m.get("open") for m in slots.values())):
            raise NotAMember(
                "this room is private to its two members: enter it with a peer id and "
                "send the token you were given"
            )
        if peer is not None:
            raise NotAMember("enter the room first: a peer id takes a place with enter()")
        return None

    def save(self, room: str, slot: int, member: Member) -> bool:
        """Write a member's record back (the push channel keeps its cursor there) while the
        member still holds that place; True when written.

        The record was read earlier in the request. Had the member hung up or been dropped
        as dead meanwhile, an unconditional write would bring it back as a ghost holding a
        place, or overwrite whoever entered since (the member itself, entering again, holds
        a new token): the write lands only on the very record it was read from.
        """
        return self.store.replace(
            keys.peer_key(room, slot),
            member,
            self.ttl,
            where={"peer": member["peer"], "token": member["token"]},
        )

    def leave(self, room: str, peer: str) -> int:
        """Free ``peer``'s place and remove what it sent; how many signals went."""
        removed = self.remove_signals_of(room, peer)
        self.free(room, peer)
        return removed

    def free(self, room: str, peer: str) -> None:
        """Free ``peer``'s place in ``room``, if it holds one."""
        places = [keys.peer_key(room, slot) for slot in SLOTS]
        self.store.delete_many(
            [
                place
                for place, member in zip(places, self.store.get_many(places), strict=True)
                if member is not None and member["peer"] == peer
            ]
        )

    def remove_signals_of(self, room: str, peer: str) -> int:
        """Delete every signal ``peer`` sent to ``room``; how many there were."""
        return self.store.delete_many(
            [
                key
                for key, record in self.store.list(keys.room_prefix(room))
                if key[2] != protocol.PEERS and record.get("peer") == peer
            ]
        )

    def _refresh(self, room: str, slot: int, member: Member) -> None:
        """Record a member's sign of life; at most every SEEN_RESOLUTION, to spare writes.

        Only while the member still holds its place (see :meth:`save`): a request that read
        the place before its member left keeps no one in the room.
        """
        now = self.clock()
        if now - member["seen"] >= min(SEEN_RESOLUTION, self.peer_timeout / 4):
            self.save(room, slot, {**member, "seen": now})

    def _remove(self, room: str, slot: int, peer: str) -> None:
        """Delete a dead peer's signals, then its place; wake the room's held requests."""
        self.remove_signals_of(room, peer)
        self.store.delete(keys.peer_key(room, slot))
        self.notifier.notify(room)


def member_of(slots: Slots, peer: str, known: Member | None = None) -> tuple[int, Member]:
    """The slot ``peer`` holds and its record (the delivery fields from ``known`` kept);
    NotAMember when it holds none."""
    for slot, member in slots.items():
        if member["peer"] == peer:
            if known is not None:
                delivery = {name: known.get(name) for name in ("cursor", "delivered")}
                member = {**member, **delivery}
            return slot, member
    raise NotAMember("you are no longer in this room")


def room_name(room: object) -> str:
    """The request's room, checked; the default room when it names none."""
    return keys.check_room(protocol.DEFAULT_ROOM if room is None else room)


def _digest(token: str) -> str:
    """What the store keeps of a token: its SHA-256, so a copy of the store grants nothing."""
    return hashlib.sha256(token.encode()).hexdigest()
