"""A session's picture of its room: the room row, the members, the comments seen, the host.

Pure bookkeeping, no I/O: each method takes a row (from a Realtime change or a function's
answer, with the local time it arrived) and returns the events it implies, in order. The rules
that keep the picture right when answers and Realtime changes cross:

* **Rooms rows in order.** Realtime delivers changes in commit order, so a Realtime row is taken
  when its ``updated_at`` is not older than the held row's (two changes of one transaction share
  ``updated_at``). A row from an answer is taken when it is newer, or when its request was sent
  after the held row arrived: a read issued later cannot see an older database.
* **Members by ``updated_at``**, per member. A member missing from a fetched list has left,
  unless its row arrived after the list was requested (it may have joined meanwhile).
* **Comments once**, by id, skipping the thread anchors.
* **The host** is whoever the newest room row or member row names.
* **Queue entries** as members: by id, a fetched queue dropping only the entries whose last
  Realtime row arrived before it was requested.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from watchium_client.session._events import (
    CommentPosted,
    EventSource,
    HostChanged,
    MemberJoined,
    MemberLeft,
    MemberUpdated,
    QueueChanged,
    ReadyCheckChanged,
    RoomChanged,
    RoomEvent,
)
from watchium_client.sync import PlaybackState, parse_server_time
from watchium_wire.responses import Comment, Member, QueueEntry, ReadyCheck, RoomRow

__all__ = ["RoomMirror", "member_from_row", "row_time"]

logger = logging.getLogger(__name__)

_ROOM_FIELDS = frozenset(RoomRow.model_fields)
_ROOM_TIMES = frozenset({"playback_updated_at", "last_activity", "created_at", "updated_at"})
_MEMBER_FIELDS = frozenset(Member.model_fields)


def member_from_row(row: Mapping[str, Any]) -> Member:
    """A ``Member`` from a room_members row (extra fields such as a list's ``drift`` dropped).

    Raises:
        pydantic.ValidationError: a column is missing or malformed.
    """
    return Member.model_validate({k: v for k, v in row.items() if k in _MEMBER_FIELDS})


class RoomMirror:
    """What a session knows about one room (see the module docstring).

    Args:
        room_id: the room (None until a room being created has its id).
        user_id: the session's user (None until the session is open).
        kept_comments: how many recent comments to keep.
    """

    def __init__(
        self, room_id: str | None, user_id: str | None, *, kept_comments: int = 500
    ) -> None:
        self.room_id = room_id
        self.user_id = user_id
        self.room: RoomRow | None = None
        self.state: PlaybackState | None = None
        self.host_user_id: str | None = None
        self.members: dict[str, Member] = {}
        self.comments: deque[Comment] = deque(maxlen=kept_comments)
        self.comments_since: float | None = None
        """created_at (epoch seconds) of the newest comment seen."""
        self.comments_loaded = False
        self._kept = kept_comments
        self._room_updated = float("-inf")
        self._room_received = float("-inf")
        self._member_rows: dict[str, str] = {}  # room_members.id -> user id
        self._member_seen: dict[str, float] = {}  # user id -> local time its row arrived
        self._seen_comments: dict[str, None] = {}
        self.queue: dict[str, QueueEntry] = {}
        self._queue_seen: dict[str, float] = {}  # entry id -> local time its row arrived
        self.ready_check: ReadyCheck | None = None

    @property
    def is_host(self) -> bool:
        return self.host_user_id is not None and self.host_user_id == self.user_id

    # ------------------------------------------------------------------ rooms

    def accept_room(
        self, row: Mapping[str, Any], source: EventSource, *, now: float, sent: float | None = None
    ) -> list[RoomEvent]:
        """Takes a rooms row if it is newer than the one held; returns the events it implies
        (``state`` is a new object exactly when the row was taken).

        Args:
            row: the row (Realtime record or an answer's room, extra fields ignored).
            source: where it came from.
            now: local time it arrived.
            sent: for an answer, local time its request was sent.
        """
        try:
            room = RoomRow.model_validate({k: v for k, v in row.items() if k in _ROOM_FIELDS})
            state = PlaybackState.from_row(row)
            updated = parse_server_time(room.updated_at)
        except ValueError as exc:
            logger.warning("ignoring a malformed room row (%s): %s", source, exc)
            return []
        if self.room_id is not None and room.room_id != self.room_id:
            return []
        previous_room, previous = self.room, self.state
        if previous_room is not None:
            if source == "realtime":
                newer = updated >= self._room_updated
            else:
                newer = updated > self._room_updated or (
                    sent is not None and sent > self._room_received
                )
            if not newer:
                return []
        self.room, self.state = room, state
        self.room_id = room.room_id
        self._room_updated = max(self._room_updated, updated)
        self._room_received = now
        events: list[RoomEvent] = []
        if state.host_user_id and state.host_user_id != self.host_user_id:
            events.extend(self._set_host(state.host_user_id))
        if previous_room is None or _room_key(previous_room) == _room_key(room):
            return events
        playback_changed = previous is None or not previous.same_playback(state)
        if previous is not None and previous.episode_number != state.episode_number:
            # Another thread: the comments kept belong to the previous episode.
            self.comments.clear()
        events.append(RoomChanged(room, state, previous, playback_changed, source))
        return events

    def _set_host(self, host: str) -> list[RoomEvent]:
        previous, self.host_user_id = self.host_user_id, host
        if previous is None:
            return []
        return [HostChanged(host, previous, host == self.user_id)]

    # ------------------------------------------------------------------ members

    def upsert_member(self, member: Member, source: EventSource, *, now: float) -> list[RoomEvent]:
        """Takes a member's row unless an older one than held; returns the events."""
        if self.room_id is not None and member.room_id != self.room_id:
            return []
        uid = member.user_id
        previous = self.members.get(uid)
        if previous is not None and row_time(member.updated_at) < row_time(previous.updated_at):
            return []
        self.members[uid] = member
        self._member_rows[member.id] = uid
        self._member_seen[uid] = now
        events: list[RoomEvent] = []
        if member.is_host and uid != self.host_user_id:
            events.extend(self._set_host(uid))
        if previous is None:
            events.append(MemberJoined(member, source))
        elif _member_key(previous) != _member_key(member):
            events.append(MemberUpdated(member, previous, source))
        return events

    def member_row_deleted(self, row_id: str, source: EventSource) -> list[RoomEvent]:
        """A room_members row was deleted (Realtime sends only its key): the member left, if
        it is one of this room's."""
        user = self._member_rows.get(row_id)
        return [] if user is None else self.member_gone(user, source)

    def member_gone(self, user_id: str, source: EventSource) -> list[RoomEvent]:
        member = self.members.pop(user_id, None)
        self._member_seen.pop(user_id, None)
        if member is not None:
            self._member_rows.pop(member.id, None)
        return [MemberLeft(user_id, member, source)]

    def reconcile_members(
        self, listed: Iterable[Member], *, sent: float, now: float
    ) -> list[RoomEvent]:
        """Takes a fetched member list (requested at local time ``sent``): updates, joins and
        the departures it shows. This session's own user is never removed here (the caller
        decides what its absence means)."""
        events: list[RoomEvent] = []
        seen: set[str] = set()
        for member in listed:
            seen.add(member.user_id)
            events.extend(self.upsert_member(member, "rpc", now=now))
        for user in list(self.members):
            if user in seen or user == self.user_id:
                continue
            if self._member_seen.get(user, float("-inf")) < sent:
                events.extend(self.member_gone(user, "rpc"))
        return events

    # ------------------------------------------------------------------ the queue

    def queue_entries(self) -> tuple[QueueEntry, ...]:
        """The queue in order."""
        return tuple(sorted(self.queue.values(), key=lambda e: (e.sort_key, e.id)))

    def queue_row(self, entry: QueueEntry, *, now: float) -> list[RoomEvent]:
        """A queue entry added or moved (a Realtime row)."""
        if self.room_id is not None and entry.room_id != self.room_id:
            return []
        before = self.queue.get(entry.id)
        self.queue[entry.id] = entry
        self._queue_seen[entry.id] = now
        return [] if before == entry else [QueueChanged(self.queue_entries(), "realtime")]

    def queue_row_deleted(self, entry_id: str) -> list[RoomEvent]:
        """A queue entry removed (Realtime sends only its key)."""
        self._queue_seen.pop(entry_id, None)
        if self.queue.pop(entry_id, None) is None:
            return []
        return [QueueChanged(self.queue_entries(), "realtime")]

    def reconcile_queue(
        self, listed: Iterable[QueueEntry], *, sent: float, now: float
    ) -> list[RoomEvent]:
        """Takes a fetched queue (requested at local time ``sent``)."""
        before = self.queue_entries()
        seen: set[str] = set()
        for entry in listed:
            seen.add(entry.id)
            if self._queue_seen.get(entry.id, float("-inf")) < sent:
                self.queue[entry.id] = entry
                self._queue_seen[entry.id] = now
        for entry_id in list(self.queue):
            if entry_id not in seen and self._queue_seen.get(entry_id, float("-inf")) < sent:
                del self.queue[entry_id]
                self._queue_seen.pop(entry_id, None)
        after = self.queue_entries()
        return [] if after == before else [QueueChanged(after, "rpc")]

    # ------------------------------------------------------------------ the ready check

    def ready_check_row(self, check: ReadyCheck, source: EventSource) -> list[RoomEvent]:
        """The room's ready check as a row or an answer carries it: kept when it is a newer
        check, or the same check written later (a row's ``published_at`` orders its versions;
        a check that ended never reopens)."""
        if self.room_id is not None and check.room_id != self.room_id:
            return []
        known = self.ready_check
        if known is not None and known.check_id == check.check_id:
            newer = parse_server_time(check.published_at) > parse_server_time(known.published_at)
            if not newer or not known.is_open:
                return []
        elif known is not None and parse_server_time(check.started_at) < parse_server_time(
            known.started_at
        ):
            return []
        self.ready_check = check
        return [ReadyCheckChanged(check, source)]

    # ------------------------------------------------------------------ comments

    def add_comment(self, comment: Comment, *, missed: bool) -> list[RoomEvent]:
        """A comment of the room's thread, reported once (anchors and other episodes skipped)."""
        if comment.is_anchor or comment.id in self._seen_comments:
            return []
        if self.room is not None and comment.episode_number != self.room.episode_number:
            return []
        self._remember(comment)
        return [CommentPosted(comment, missed)]

    def load_comments(self, comments: Iterable[Comment]) -> None:
        """The thread's recent comments at join: kept, not reported."""
        for comment in comments:
            if not comment.is_anchor and comment.id not in self._seen_comments:
                self._remember(comment)
        self.comments_loaded = True

    def _remember(self, comment: Comment) -> None:
        self._seen_comments[comment.id] = None
        if len(self._seen_comments) > 4 * self._kept:
            for key in list(self._seen_comments)[: 2 * self._kept]:
                del self._seen_comments[key]
        self.comments.append(comment)
        created = row_time(comment.created_at)
        if self.comments_since is None or created > self.comments_since:
            self.comments_since = created


def row_time(value: str) -> float:
    """A row's timestamp in epoch seconds; a missing or malformed one sorts first."""
    try:
        return parse_server_time(value)
    except (TypeError, ValueError):
        return float("-inf")


def _room_key(room: RoomRow) -> tuple[Any, ...]:
    # Timestamps compared as instants: Realtime and the functions may format them differently.
    return tuple(
        row_time(getattr(room, name)) if name in _ROOM_TIMES else getattr(room, name)
        for name in sorted(_ROOM_FIELDS)
    )


def _member_key(member: Member) -> tuple[Any, ...]:
    # A heartbeat changes the position and the times only: not worth an event.
    return (
        member.username,
        member.avatar_url,
        member.is_host,
        member.is_synced,
        member.is_buffering,
    )
