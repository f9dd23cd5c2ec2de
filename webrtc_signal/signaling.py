"""The signaling protocol: the offer/answer/candidate flow and the push channel,
over a store, with expiry and limits. Who may act in a room is :mod:`.members`' business."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from . import keys, protocol
from .errors import InvalidRequest, OfferExists, TooManySignals
from .keys import Key
from .members import Members, Slots, member_of, room_name
from .notify import Listener, Notifier
from .settings import Settings
from .store import Store, open_store

Item = tuple[Key, Any]  # a stored signal: its key and its record

# Expired entries are purged by a write at most this often (or every TTL, when shorter).
PURGE_INTERVAL = 60.0


class Signaling:
    """The signaling protocol over a :class:`~webrtc_signal.store.Store`.

    ``peer`` is an optional client-chosen id: a peer that sends one takes one of the room's
    two places (:class:`~webrtc_signal.members.Members`). Requests without a peer id are
    served without a place, in rooms without members, in a room whose member answers such
    a client's offer, and in every room when ``open_rooms`` is set (docs/protocol.md,
    "Clients that send no peer id").
    """

    def __init__(
        self,
        store: Store,
        *,
        ttl: float = 300.0,
        peer_timeout: float = 10.0,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.time,
        open_rooms: bool = False,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.peer_timeout = peer_timeout
        self.notifier = notifier or store.notifier()
        self.members = Members(
            store,
            ttl=ttl,
            peer_timeout=peer_timeout,
            notifier=self.notifier,
            clock=clock,
            open_rooms=open_rooms,
        )
        self._clock = clock
        self._purge_interval = min(PURGE_INTERVAL, ttl)
        self._next_purge = clock() + self._purge_interval

    @classmethod
    def from_settings(cls, settings: Settings) -> Signaling:
        """Open the store the settings name and serve the protocol over it."""
        store = open_store(settings.store_url, settings.instance_path)
        return cls(
            store,
            ttl=settings.ttl,
            peer_timeout=settings.peer_timeout,
            open_rooms=settings.open_rooms,
        )

    # -- signals by type and key -------------------------------------------------------------

    def post(
        self,
        room: str,
        signal_type: str,
        payload: Any,
        peer: str | None = None,
        token: str | None = None,
    ) -> Key:
        """Store a signal; the key it was stored under. An offer is create-if-absent."""
        if signal_type in protocol.CANDIDATE_TYPES:
            return self.post_candidates(room, signal_type, [payload], peer, token)[0]
        if signal_type == protocol.DESCRIPTION:
            return self.post_description(room, payload, peer, token)
        room, peer = self.members.admit(room, peer, token)
        keys.check_type(signal_type)
        record = {"payload": keys.check_payload(signal_type, payload), "peer": peer}
        self._maybe_purge()
        key = keys.description_key(room, signal_type)
        if signal_type == protocol.ANSWER:
            self.store.set(key, record, self.ttl)
            if peer is not None:
                # A member's answer takes the answered offer along: the seed's DELETE that
                # follows it is then one request and one round trip less.
                self.store.delete(keys.description_key(room, protocol.OFFER))
        elif not self.store.create(key, record, self.ttl):
            # A peer may replace its own offer (an ICE restart, a retried request).
            current = self.store.get(key)
            if peer is None or current is None or current["peer"] != peer:
                raise OfferExists("an offer is already waiting in this room: answer it")
            self.store.set(key, record, self.ttl)
        self.notifier.notify(room)
        return key

    def post_description(
        self, room: str, payload: Any, peer: str | None = None, token: str | None = None
    ) -> Key:
        """Store an in-call offer or answer for the other member; its time-ordered key.

        For members only, also in an open room: without a peer id, InvalidRequest. At most
        MAX_DESCRIPTIONS of one member may wait unread (TooManySignals beyond); the other
        member gets them through :meth:`events`, oldest first.
        """
        room = room_name(room)
        if keys.check_peer(peer) is None:
            raise InvalidRequest(
                "in-call descriptions are for members: send your peer id and token"
            )
        room, peer = self.members.admit(room, peer, token)
        record = {"payload": keys.check_payload(protocol.DESCRIPTION, payload), "peer": peer}
        prefix = keys.descriptions_prefix(room)
        # One read of the room's few descriptions: both members' share the prefix.
        waiting = sum(r.get("peer") == peer for _, r in self.store.list(prefix))
        if waiting >= protocol.MAX_DESCRIPTIONS:
            raise TooManySignals(
                f"at most {protocol.MAX_DESCRIPTIONS} descriptions of one member may wait "
                f"unread in a room; {waiting} of yours are waiting"
            )
        self._maybe_purge()
        key = keys.new_description_key(room)
        self.store.set(key, record, self.ttl)
        self.notifier.notify(room)
        return key

    def post_candidates(
        self,
        room: str,
        signal_type: str,
        payloads: Any,
        peer: str | None = None,
        token: str | None = None,
    ) -> list[Key]:
        """Store several candidates of one side in one step; their keys, in order."""
        room, peer = self.members.admit(room, peer, token)
        keys.check_type(signal_type, protocol.CANDIDATE_TYPES)
        if not isinstance(payloads, list) or not 0 < len(payloads) <= protocol.MAX_BATCH:
            raise InvalidRequest(f"payloads must be a list of 1-{protocol.MAX_BATCH} candidates")
        items = [
            (
                keys.new_candidate_key(room, signal_type),
                {"payload": keys.check_payload(signal_type, p), "peer": peer},
            )
            for p in payloads
        ]
        waiting = self.store.count(keys.candidates_prefix(room, signal_type))
        if waiting + len(items) > protocol.MAX_CANDIDATES:
            raise TooManySignals(
                f"at most {protocol.MAX_CANDIDATES} candidates of one side may wait in a room; "
                f"{waiting} are waiting: read and delete them first"
            )
        self._maybe_purge()
        self.store.set_many(items, self.ttl)
        self.notifier.notify(room)
        return [key for key, _ in items]

    def read(
        self,
        room: str,
        signal_type: str,
        peer: str | None = None,
        wait: float | None = None,
        token: str | None = None,
    ) -> Any:
        """The room's offer or answer payload (or None); for a candidate type, a list.

        Reading ``candidate_receiver`` returns the candidates the receiver sent, oldest first,
        each as ``{"key": [...], "payload": {...}}``. With ``wait`` (0 < wait <= 30 seconds)
        an empty answer is held back until a matching signal is posted or the time is up.
        In-call descriptions are not read here: :meth:`events` delivers them.
        """
        if signal_type == protocol.DESCRIPTION:
            raise InvalidRequest("descriptions come through /events")
        room, peer = self.members.admit(room, peer, token)
        keys.check_type(signal_type)
        if wait is None:
            return self._read(room, signal_type)
        deadline = time.monotonic() + _check_hold(wait)
        # Listen before the first read: a post landing between read and wait still wakes us.
        with self.notifier.listen(room) as listener:
            while True:
                result = self._read(room, signal_type)
                remaining = deadline - time.monotonic()
                if result or remaining <= 0:
                    return result
                self._hold(room, peer, token, listener, remaining)

    # -- the push channel ----------------------------------------------------------------

    def events(
        self,
        room: str,
        peer: str | None = None,
        token: str | None = None,
        *,
        cursor: str | None = None,
        peers: int | None = None,
        wait: float | None = None,
    ) -> dict[str, Any]:
        """Everything addressed to a member, in one answer held until something is new.

        The answer is ``{"cursor", "peers", "offer", "answer", "candidates",
        "descriptions"}``: how many live peers hold the room, the offer and the answer another
        client posted (payloads, or None; the offer waits to be answered, so it is never
        acknowledged and does not wake a held request),
        the candidates other clients sent and the in-call descriptions the other member sent
        (each ``{"key", "payload"}``, oldest first). Sending the last
        answer's ``cursor`` back acknowledges what it delivered: those signals are deleted
        and do not come again. Without it (an answer lost on the way) they come again, so a
        client applies each key once.

        With ``wait``, an answer with nothing new (no signal, and ``peers`` what the caller
        last saw) is held until something changes, for at most half the peer timeout: a
        client that asks again at once keeps its place without a heartbeat of its own.
        """
        arrived = self._clock()
        room = room_name(room)
        slots = self.members.live(room)
        room, peer = self.members.admit(room, peer, token, slots)
        if peer is None:
            raise InvalidRequest("events are for members: send your peer id and token")
        if wait is not None:
            _check_hold(wait)
        slot, member = member_of(slots, peer)
        if cursor is not None and cursor == member.get("cursor"):
            self.store.delete_many([tuple(key) for key in member.get("delivered", ())])
            member = {**member, "delivered": []}
        deadline = time.monotonic() + min(wait or 0, self.peer_timeout / 2)
        with self.notifier.listen(room) as listener:
            while True:
                offer, answer, candidates, descriptions = self._addressed_to(room, peer)
                remaining = deadline - time.monotonic()
                if answer or candidates or descriptions or len(slots) != peers or remaining <= 0:
                    break
                slots = self._hold(room, peer, token, listener, remaining)
        slot, member = member_of(slots, peer, member)
        signals = ([answer] if answer else []) + candidates + descriptions
        delivered = [list(key) for key, _ in signals]
        if delivered or member.get("delivered"):
            member = {
                **member,
                "seen": max(member["seen"], arrived),
                "cursor": secrets.token_urlsafe(protocol.CURSOR_BYTES) if delivered else None,
                "delivered": delivered,
            }
            self.members.save(room, slot, member)
        return {
            "cursor": member["cursor"] if delivered else None,
            "peers": len(slots),
            "offer": offer[1]["payload"] if offer else None,
            "answer": answer[1]["payload"] if answer else None,
            "candidates": _items(candidates),
            "descriptions": _items(descriptions),
        }

    def _addressed_to(
        self, room: str, peer: str
    ) -> tuple[Item | None, Item | None, list[Item], list[Item]]:
        """The offer and the answer (each a ``(key, record)``, or None), the candidates and
        the in-call descriptions others sent; one read."""
        offer, answer, candidates, descriptions = None, None, [], []
        for key, record in self.store.list(keys.room_prefix(room)):
            if record.get("peer") == peer:
                continue
            if key[2] == protocol.OFFER:
                offer = (key, record)
            elif key[2] == protocol.ANSWER:
                answer = (key, record)
            elif key[2] in protocol.CANDIDATES_FOR.values():
                candidates.append((key, record))
            elif key[2] == protocol.DESCRIPTIONS:
                descriptions.append((key, record))
        # Their ids are time-ordered: the key order is the posting order on every backend.
        return offer, answer, candidates, sorted(descriptions, key=lambda item: item[0])

    def _hold(
        self, room: str, peer: str | None, token: object, listener: Listener, remaining: float
    ) -> Slots:
        """Wait for the room to change, then re-check the caller's place; the live slots.

        A held request is no sign of life (its tab may have closed), and the caller may have
        hung up or been dropped meanwhile: woken or not, the wait ends with NotAMember once
        the caller is no longer a member. It waits at most a third of the peer timeout, so
        a dead peer of the room is noticed while the request is held.
        """
        listener.wait(min(remaining, self.peer_timeout / 3))
        slots = self.members.live(room)
        if peer is not None:
            self.members.authorise(slots, peer, token)
        return slots

    def _read(self, room: str, signal_type: str) -> Any:
        if signal_type in protocol.DESCRIPTION_TYPES:
            record = self.store.get(keys.description_key(room, signal_type))
            return None if record is None else record["payload"]
        return [
            {"key": list(key), "payload": record["payload"]}
            for key, record in self.store.list(keys.candidates_prefix(room, signal_type))
        ]

    def delete(
        self, room: str, signal_type: str, peer: str | None = None, token: str | None = None
    ) -> int:
        """Remove the room's offer or answer; the number removed (0 or 1)."""
        room, peer = self.members.admit(room, peer, token)
        signal_type = keys.check_type(signal_type, protocol.DESCRIPTION_TYPES)
        return int(self.store.delete(keys.description_key(room, signal_type)))

    def delete_key(self, key: object, peer: str | None = None, token: str | None = None) -> int:
        """Remove one signal by the key it was returned under; the number removed."""
        parsed = keys.parse_signal_key(key)
        self.members.admit(parsed[1], peer, token)
        return int(self.store.delete(parsed))

    def delete_keys(
        self, key_list: object, peer: str | None = None, token: str | None = None
    ) -> int:
        """Remove several signals by their keys; the number removed."""
        if not isinstance(key_list, list) or not 0 < len(key_list) <= protocol.MAX_BATCH:
            raise InvalidRequest(f"keys must be a list of 1-{protocol.MAX_BATCH} signal keys")
        parsed = [keys.parse_signal_key(key) for key in key_list]
        rooms = {key[1] for key in parsed}
        if len(rooms) > 1:
            raise InvalidRequest("keys must all belong to one room")
        self.members.admit(rooms.pop(), peer, token)
        return self.store.delete_many(parsed)

    def hang_up(self, room: str, peer: str | None = None, token: str | None = None) -> int:
        """Clear the room's signals and free the caller's slot; the number of signals removed."""
        room, peer = self.members.admit(room, peer, token)
        # Every signal of the room, whatever its kind, in one read and one delete.
        removed = self.store.delete_many(
            [key for key, _ in self.store.list(keys.room_prefix(room)) if key[2] != protocol.PEERS]
        )
        if peer is not None:
            self.members.free(room, peer)
        self.notifier.notify(room)  # the leaver's own held reads end now, with a 403
        return removed

    def leave(self, room: str, peer: str, token: str | None = None) -> int:
        """Free the caller's place and remove what it sent, leaving the other peer's signals.

        What the one who stays does when the other left: unlike :meth:`hang_up`, an offer
        the next caller may already have posted survives. The number of signals removed.
        """
        room, peer = self.members.admit(room, peer, token)
        if peer is None:
            raise InvalidRequest("leaving a room takes a peer id")
        removed = self.members.leave(room, peer)
        self.notifier.notify(room)
        return removed

    def room_state(self, room: str) -> dict[str, int]:
        """What a room holds, for operators and tests: live peers and signals of each kind.

        Not a member's view, so not served over HTTP.
        """
        room = keys.check_room(room)
        kinds = [
            *protocol.DESCRIPTION_TYPES,
            *protocol.CANDIDATES_FOR.values(),
            protocol.DESCRIPTIONS,
        ]
        peers = len(self.members.live(room))  # first: a dead peer's signals go with it
        stored = [key[2] for key, _ in self.store.list(keys.room_prefix(room))]
        return {"peers": peers, **{k: stored.count(k) for k in kinds}}

    # -- peers ---------------------------------------------------------------------------

    def enter(self, room: str, peer: str, token: str | None = None) -> str | None:
        """Take one of the room's two places (a new member's token), or prove the caller
        holds one (None); see :meth:`Members.enter`."""
        return self.members.enter(room, peer, token)

    def waiting(self, room: str) -> int:
        """How many live peers hold the room, told to anyone before they start a call.

        It takes no place and needs no token; the count is all it tells of the room.
        """
        return len(self.members.live(keys.check_room(room)))

    def presence(self, room: str, peer: str | None = None, token: str | None = None) -> dict:
        """How many live peers hold the room; also keeps the caller's place."""
        room = room_name(room)
        slots = self.members.live(room)  # read once: this is every page's heartbeat
        self.members.admit(room, peer, token, slots)
        return {"room": room, "peers": len(slots)}

    # -- housekeeping --------------------------------------------------------------------

    def _maybe_purge(self) -> None:
        now = self._clock()
        if now >= self._next_purge:
            self._next_purge = now + self._purge_interval
            self.store.purge_expired()

    def clear_rooms(self, room: str | None = None) -> dict[str, int]:
        """Remove every entry of one room, or of every room; entries removed per room."""
        if room is not None:
            room = keys.check_room(room)
            return {room: self.store.delete_prefix(keys.room_prefix(room))}
        rooms = {key[1] for key, _ in self.store.list((protocol.NAMESPACE,))}
        return {name: self.store.delete_prefix(keys.room_prefix(name)) for name in sorted(rooms)}


def _items(signals: list[Item]) -> list[dict[str, Any]]:
    """Stored signals as a client gets them: ``{"key", "payload"}`` each."""
    return [{"key": list(key), "payload": record["payload"]} for key, record in signals]


def _check_hold(wait: float) -> float:
    """``wait``, if a request may be held that long; else InvalidRequest."""
    if not 0 < wait <= protocol.MAX_WAIT:
        raise InvalidRequest(f"wait must be more than 0 and at most {protocol.MAX_WAIT:g} seconds")
    return wait
