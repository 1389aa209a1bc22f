"""What a :class:`~watchium_client.RoomSession` reports: typed events.

Every event is a frozen dataclass carrying the wire rows as pydantic models (``RoomRow``,
``Member``, ``Comment``), so an app never handles a bare Realtime dict. ``RoomEvent`` is their
union, for ``match`` statements and ``async for event in session.events()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from watchium_client.sync import PlaybackState
from watchium_wire import (
    Comment,
    Member,
    MemberPresence,
    QueueEntry,
    ReadyCheck,
    ReplayComment,
    RoomRow,
)

__all__ = [
    "CommentPosted",
    "ConnectionLost",
    "ConnectionRestored",
    "EventSource",
    "HostChanged",
    "MemberJoined",
    "MemberLeft",
    "MemberUpdated",
    "PresenceSynced",
    "QueueChanged",
    "ReadyCheckChanged",
    "RoomChanged",
    "RoomDeleted",
    "RemovedFromRoom",
    "RoomEvent",
    "TimedComment",
    "ReactionsChanged",
]

EventSource = Literal["realtime", "rpc"]
"""Where a change was learned: a Realtime postgres_changes event, or an answer of a function."""


@dataclass(frozen=True, slots=True)
class RoomChanged:
    """The room's row changed (playback, host, title, episode, activity)."""

    room: RoomRow
    state: PlaybackState
    previous: PlaybackState | None
    playback_changed: bool
    """Whether position, reference time, play state, speed or episode changed (a host action)."""
    source: EventSource


@dataclass(frozen=True, slots=True)
class MemberJoined:
    member: Member
    source: EventSource


@dataclass(frozen=True, slots=True)
class MemberLeft:
    user_id: str
    member: Member | None
    """The member as last known (None if it left before this session saw it)."""
    source: EventSource


@dataclass(frozen=True, slots=True)
class MemberUpdated:
    """A member's row changed (heartbeat, buffering, sync status, host flag, name)."""

    member: Member
    previous: Member | None
    source: EventSource


@dataclass(frozen=True, slots=True)
class CommentPosted:
    comment: Comment
    missed: bool
    """True when it was fetched after a reconnect or rejoin rather than pushed live."""


@dataclass(frozen=True, slots=True)
class TimedComment:
    """Timed replay: a comment written at this moment of the video, by this room or another
    party that watched the episode, due now (show it over the video)."""

    comment: ReplayComment
    position: float
    """Where the room's playback was when it was handed over (seconds)."""


@dataclass(frozen=True, slots=True)
class ReactionsChanged:
    """The reaction counts of a comment of the room changed (someone reacted or took one back)."""

    comment_id: str
    counts: dict[str, int]
    """Count per emoji (emoji nobody reacted with left out)."""
    total: int


@dataclass(frozen=True, slots=True)
class QueueChanged:
    """The room's episode queue changed (an entry added, removed or moved, or fetched again)."""

    entries: tuple[QueueEntry, ...]
    """The queue in order."""
    source: EventSource


@dataclass(frozen=True, slots=True)
class ReadyCheckChanged:
    """The room's ready check opened, filled, or ended (docs/NIGHTS.md, "Ready check")."""

    check: ReadyCheck
    """Its state: ``status`` open, passed, timed_out or cancelled; who is ready; the deadline."""
    source: EventSource


@dataclass(frozen=True, slots=True)
class HostChanged:
    host_user_id: str
    previous_host_user_id: str | None
    is_me: bool
    """Whether this session's user is the host now (its host controls work from now on)."""


@dataclass(frozen=True, slots=True)
class PresenceSynced:
    """The channel's presence changed; ``presence`` is everyone tracked now, by user id."""

    presence: dict[str, MemberPresence]


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    """Realtime dropped or the functions stopped answering; the session keeps retrying."""

    reason: str


@dataclass(frozen=True, slots=True)
class ConnectionRestored:
    """Back after a loss, a rejoin or a resubscription: the room, the members and the comments
    missed meanwhile have been fetched again, so nothing is lost."""

    reason: str
    rejoined: bool
    """Whether the membership had to be renewed (e.g. cleanup removed a silent member)."""
    missed_comments: int


@dataclass(frozen=True, slots=True)
class RoomDeleted:
    """The room no longer exists (deleted, or cleaned up): the session stops following it."""

    room_id: str


@dataclass(frozen=True, slots=True)
class RemovedFromRoom:
    """A moderator removed this session's user: kicked (joining again is refused for a while)
    or banned. The session stops following the room, as for :class:`RoomDeleted`."""

    room_id: str
    banned: bool
    """True for a ban (until lifted), False for a kick (its cooldown, ``retry_after``)."""
    retry_after: float | None
    """For a kick: seconds until joining again is allowed."""
    message: str


RoomEvent = (
    RoomChanged
    | MemberJoined
    | MemberLeft
    | MemberUpdated
    | CommentPosted
    | TimedComment
    | ReactionsChanged
    | QueueChanged
    | ReadyCheckChanged
    | HostChanged
    | PresenceSynced
    | ConnectionLost
    | ConnectionRestored
    | RoomDeleted
    | RemovedFromRoom
)
