# Over 500 lines: every response body of the API in one module, as the endpoint table names them.
"""What the functions answer: the ``data`` of every endpoint, and the envelopes around it.

The same models describe the answers in the server's OpenAPI document and parse them in the SDK,
so the two cannot drift apart. They accept fields they do not know (``extra="allow"``): a newer
server may add fields, an older client keeps working. The function app passes the database's JSON
through without re-validating it (it is the database's own output).

Three shapes of a room, by what they carry:

| model | is |
| --- | --- |
| :class:`RoomRow` | a row of ``public.rooms`` as stored (also what Realtime sends) |
| :class:`RoomSnapshot` | a row read at ``server_time``, with ``live_position`` (playback then) |
| :class:`RoomListing` | a snapshot in the public list, with its ``member_count`` |
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from watchium_wire.realtime import RealtimeHints

__all__ = [
    "RoomRow",
    "RoomSnapshot",
    "RoomListing",
    "Member",
    "MemberStatus",
    "Comment",
    "RoomsCreateResult",
    "RoomsJoinResult",
    "RoomsLeaveResult",
    "RoomsDeleteResult",
    "RoomsRotateAccessKeyResult",
    "RoomsModerateResult",
    "MembersSetCohostResult",
    "QueueEntry",
    "QueueEntryResult",
    "QueueRemoveResult",
    "QueueGoResult",
    "RoomQueue",
    "ReadyCheck",
    "ReadyCheckStartResult",
    "RoomsSkipResult",
    "RoomsCreateInviteResult",
    "RoomsListPublicResult",
    "CommentsPage",
    "ThreadProgress",
    "ReplayComment",
    "ReplayWindow",
    "ReactionResult",
    "ReadState",
    "StatsMinute",
    "RoomStats",
    "EpisodeActivity",
    "Commenter",
    "HourActivity",
    "CommentsHistory",
    "MembersList",
    "MemberStatusResult",
    "Success",
    "ErrorBody",
    "ErrorResponse",
    "FieldError",
]


class _Out(BaseModel):
    # The database may add fields; clients should ignore what they do not know.
    model_config = ConfigDict(extra="allow")


Timestamp = Annotated[str, Field(description="ISO 8601 timestamp with time zone.")]


class RoomRow(_Out):
    """A row of public.rooms."""

    id: str
    room_id: str
    title: str
    anime_id: str
    anime_title: str
    episode_number: int
    video_url: str
    source_id: str | None = None
    host_user_id: str
    host_username: str
    is_public: bool
    current_playback_time: float
    is_playing: bool
    playback_speed: float
    playback_updated_at: Timestamp
    current_entry_id: str | None = Field(
        None, description="The queue entry the room plays (docs/NIGHTS.md), if any."
    )
    auto_advance: bool = Field(
        False, description="Whether the room moves to the next entry when this one ends."
    )
    opening_start: float | None = Field(
        None, description="Where the episode's opening starts (seconds; None: not marked)."
    )
    opening_end: float | None = None
    ending_start: float | None = Field(
        None, description="Where the episode's ending starts (seconds; None: not marked)."
    )
    ending_end: float | None = None
    last_activity: Timestamp
    created_at: Timestamp
    updated_at: Timestamp


class RoomSnapshot(RoomRow):
    """A room row as read at ``server_time``, with where playback was at that instant."""

    live_position: float = Field(description="Where the host is now (seconds).")
    server_time: Timestamp = Field(description="The database time live_position is for.")


class RoomListing(RoomSnapshot):
    """A public room as listed, with its member count."""

    member_count: int


class Member(_Out):
    """A member of a room: a row of public.room_members (what Realtime sends) and, in the
    functions' answers, the member's last heartbeat from public.member_heartbeats."""

    id: str
    room_id: str
    user_id: str
    username: str
    avatar_url: str | None = None
    is_host: bool
    is_cohost: bool = Field(
        False, description="Granted by the host: may control playback and moderate members."
    )
    is_synced: bool
    is_buffering: bool
    current_playback_time: float | None = Field(
        None,
        description=(
            "The member's position at last_heartbeat, seconds (in the functions' answers; "
            "Realtime rows do not carry it)."
        ),
    )
    last_heartbeat: Timestamp | None = Field(
        None,
        description="Server time of the last heartbeat (in the functions' answers only).",
    )
    joined_at: Timestamp
    updated_at: Timestamp = Field(
        description="Last change of a value the members see (not of the heartbeat)."
    )


class MemberStatus(Member):
    current_playback_time: float = Field(
        description="The member's position at last_heartbeat, seconds."
    )
    last_heartbeat: Timestamp = Field(description="Server time of the last heartbeat.")
    drift: float = Field(description="Seconds ahead of the live host position (estimated now).")
    online: bool = Field(description="Heard from within the member timeout.")


class Comment(_Out):
    """A row of public.comments."""

    id: str
    anime_id: str
    room_id: str | None = None
    origin_room_id: str | None = None
    episode_number: int
    parent_id: str | None = None
    user_id: str
    username: str
    avatar_url: str | None = None
    message: str | None = Field(
        description="The text; null for a spoiler withheld by a thread read (is_spoiler)."
    )
    video_timestamp: float | None = None
    is_spoiler: bool = Field(
        False, description="A thread read's mark: stamped after where the reader is."
    )
    is_anchor: bool
    is_system_message: bool
    is_public: bool
    created_at: Timestamp
    updated_at: Timestamp


class RoomsCreateResult(_Out):
    room: RoomSnapshot
    member: Member
    access_key: str | None = Field(
        description="The private room's 6-digit key (null for public rooms): shown only here."
    )
    realtime_channel: str
    realtime: RealtimeHints


class RoomsJoinResult(_Out):
    room: RoomSnapshot
    member: Member
    rejoined: bool
    realtime_channel: str
    realtime: RealtimeHints


class RoomsLeaveResult(_Out):
    room_id: str
    left: bool
    was_host: bool
    host_user_id: str | None = Field(description="The host now (null when the room is empty).")
    members_left: int


class RoomsRotateAccessKeyResult(_Out):
    room_id: str
    access_key: str = Field(description="The room's new 6-digit key (the old one no longer works).")


class RoomsModerateResult(_Out):
    room_id: str
    action: str
    target_user_id: str
    changed: bool = Field(
        description="Whether anything changed (banning a banned user again changes nothing)."
    )


class QueueEntry(_Out):
    """A row of public.room_queue: one episode of a room's queue."""

    id: str
    room_id: str
    sort_key: float = Field(description="Order in the queue (ascending).")
    anime_id: str
    anime_title: str
    episode_number: int
    title: str | None = None
    video_url: str
    duration: float = Field(description="The video's length, seconds.")
    opening_start: float | None = None
    opening_end: float | None = None
    ending_start: float | None = None
    ending_end: float | None = None
    added_by: str
    created_at: Timestamp


class QueueEntryResult(_Out):
    entry: QueueEntry


class QueueRemoveResult(_Out):
    room_id: str
    entry_id: str
    removed: bool


class QueueGoResult(RoomSnapshot):
    """The room after queue-go."""

    advanced: bool = Field(
        description="Whether the room moved (false: a reported end that was not, or no longer, "
        "one)."
    )


class ReadyCheck(_Out):
    """A row of public.ready_checks: the room's latest ready check (docs/NIGHTS.md)."""

    room_id: str
    check_id: str
    status: Literal["open", "passed", "timed_out", "cancelled"]
    started_by: str
    started_at: Timestamp
    deadline: Timestamp = Field(description="When the room starts whoever is ready.")
    entry_id: str | None = Field(None, description="The queue entry the room moved to for it.")
    ready_user_ids: list[str] = Field(description="Members who answered ready.")
    ready_count: int
    expected_count: int = Field(description="Members of the room when the row was written.")
    settled_at: Timestamp | None = None
    published_at: Timestamp
    held: float = Field(
        0.0,
        description=(
            "In an answer: seconds after which ready-check-settle publishes an answer held back "
            "(0: nothing held)."
        ),
    )

    @property
    def is_open(self) -> bool:
        return self.status == "open"


class ReadyCheckStartResult(_Out):
    check: ReadyCheck
    room: RoomSnapshot


class RoomsSkipResult(RoomSnapshot):
    """The room after rooms-skip."""

    skipped: Literal["opening", "ending"]
    to: float = Field(description="The position the room moved to (the segment's end).")


class RoomQueue(_Out):
    room_id: str
    current_entry_id: str | None = None
    auto_advance: bool
    entries: list[QueueEntry]
    ready_check: ReadyCheck | None = Field(None, description="The room's latest ready check.")


class RoomsCreateInviteResult(_Out):
    room_id: str
    invite_token: str = Field(
        description="For whom you invite: rooms-join with invite_token joins without the key."
    )
    expires_at: datetime = Field(description="When it stops working (or at the next key rotation).")


class RoomsDeleteResult(_Out):
    room_id: str
    deleted: bool


class RoomsListPublicResult(_Out):
    rooms: list[RoomListing]
    limit: int
    offset: int


class ThreadProgress(_Out):
    """Where the reader is, as the thread read took it (spoilers are what comes after)."""

    episode_number: int
    position: float


class CommentsPage(_Out):
    anchor: Comment | None
    comments: list[Comment]
    has_more: bool
    next_before: Timestamp | None
    progress: ThreadProgress | None = None
    spoilers_hidden: int = Field(0, description="Comments of this page whose text is withheld.")


class ReplayComment(_Out):
    """A timed comment to show when the video reaches ``video_timestamp``."""

    id: str
    user_id: str
    username: str
    message: str
    video_timestamp: float
    in_room: bool = Field(description="Written in the room named in the request.")


class ReplayWindow(_Out):
    start: float
    end: float
    per_second: int = Field(description="The cap applied: comments per second of video.")
    comments: list[ReplayComment] = Field(description="In video order.")


class ReactionResult(_Out):
    comment_id: str
    emoji: str
    reacted: bool
    changed: bool = Field(description="False when the reaction was already there (or gone).")
    counts: dict[str, int] = Field(description="Count per emoji.")
    total: int


class ReadState(_Out):
    anchor_id: str | None = Field(description="The thread (null before its first comment).")
    last_read_at: Timestamp | None
    last_read_comment_id: str | None
    new_count: int = Field(description="Others' comments written after the read point.")
    latest_at: Timestamp | None


class StatsMinute(_Out):
    minute: Timestamp
    viewers: int = Field(description="Viewers present at some time in the minute.")
    comments: int


class RoomStats(_Out):
    """A room's episode session: viewers, comments, retention, sync quality."""

    room_id: str
    anime_id: str
    episode_number: int
    title: str
    started_at: Timestamp | None
    ended_at: Timestamp | None
    duration_seconds: float
    viewers_now: int
    unique_viewers: int
    stays: int
    average_viewers: float
    peak_viewers: int
    peak_at: Timestamp | None
    retention: float | None = Field(description="Viewers there in the last minute / viewers.")
    bounce_rate: float | None = Field(description="Viewers gone within a minute / viewers.")
    comments: int
    comments_per_minute: float
    busiest_minute: Timestamp | None
    busiest_minute_comments: int
    sync_samples: int
    in_sync_share: float | None
    median_drift: float | None
    timeline: list[StatsMinute]


class EpisodeActivity(_Out):
    episode_number: int
    comments: int
    last_comment_at: Timestamp


class Commenter(_Out):
    user_id: str
    username: str
    comments: int


class HourActivity(_Out):
    hour: Timestamp
    comments: int


class CommentsHistory(_Out):
    since: Timestamp
    total: int
    participants: int
    by_episode: list[EpisodeActivity]
    top_commenters: list[Commenter]
    per_hour: list[HourActivity]


class MembersList(_Out):
    room: RoomSnapshot
    members: list[MemberStatus]
    synced_count: int
    member_count: int


class MembersSetCohostResult(_Out):
    member: Member


class MemberStatusResult(_Out):
    member: Member
    room: RoomSnapshot


# -- envelopes ------------------------------------------------------------------------------


T = TypeVar("T")


class Success(BaseModel, Generic[T]):
    """A successful answer."""

    data: T
    server_time: datetime = Field(description="The server's clock when it answered.")


class FieldError(BaseModel):
    """One invalid field of a request body."""

    field: str = Field(description="Dotted path of the field ('' for the body as a whole).")
    loc: list[str | int] = Field(description="Where the field is: ['body', 'title'].")
    message: str
    type: str = Field(description="The kind of problem (pydantic's error type).")


class ErrorBody(BaseModel):
    code: str = Field(description="Stable error code: docs/ERRORS.md.", examples=["WRH03"])
    message: str
    hint: str | None = None
    details: dict[str, Any] | None = Field(
        None,
        description=(
            "Structured details: {'fields': [FieldError...]} for validation; {'action', "
            "'retry_after'} for rate limits; {'constraint'} for constraint violations."
        ),
    )


class ErrorResponse(BaseModel):
    """A refusal."""

    error: ErrorBody
    server_time: datetime
