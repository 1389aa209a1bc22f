# Over 500 lines: every request body of the API in one module, as the endpoint table reads them.
"""Request bodies of the functions, in pydantic v2.

Request models mirror the SQL functions' parameters and the columns they write: lengths as the
columns (title 255, anime_id 100, usernames 100), http(s) URLs, the playback actions, ranges.
Unknown fields are refused (``extra="forbid"``) and types are strict (JSON ``"1"`` is not an
integer). Every request field is the SQL function's parameter ``p_<name>``: the function app
derives each call from the model (see :mod:`watchium_wire.endpoints`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

__all__ = [
    "RequestModel",
    "COMMENT_MAX_LENGTH",
    "PlaybackAction",
    # requests
    "RoomsCreateRequest",
    "RoomsJoinRequest",
    "RoomsLeaveRequest",
    "RoomsDeleteRequest",
    "RoomsListPublicRequest",
    "SyncControlRequest",
    "SyncGetHostTimeRequest",
    "CommentsCreateRequest",
    "CommentsGetByEpisodeRequest",
    "CommentsGetHistoryRequest",
    "CommentsReplayRequest",
    "CommentsReactRequest",
    "CommentsMarkReadRequest",
    "CommentsUnreadRequest",
    "Reaction",
    "RoomsStatsRequest",
    "MembersGetListRequest",
    "MembersUpdateStatusRequest",
    "RoomsCreateInviteRequest",
    "RoomsRotateAccessKeyRequest",
    "ModerationAction",
    "RoomsModerateRequest",
    "MembersSetCohostRequest",
    "QueueAddRequest",
    "QueueRemoveRequest",
    "QueueMoveRequest",
    "QueueGoRequest",
    "QueueDestination",
    "QueueAutoAdvanceRequest",
    "QueueGetRequest",
    "SkipMarks",
    "RoomsSetSkipsRequest",
    "SkipSegment",
    "RoomsSkipRequest",
    "ReadyCheckDestination",
    "ReadyCheckStartRequest",
    "ReadyCheckRespondRequest",
    "ReadyCheckSettleRequest",
    "MAX_POSITION",
]

# The default of watchium.settings.comment_max_length; the database enforces the live setting.
COMMENT_MAX_LENGTH = 1000
# numeric(10, 2) positions: the largest one stored is 99999999.99 (the SQL functions check the
# value rounded as stored, so 99999999.995 is refused as well).
MAX_POSITION = 99_999_999.99
_INT32_MAX = 2_147_483_647


def _storable(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and a lone surrogate cannot be encoded as UTF-8: both would
    # fail inside the driver, so refuse them here as invalid input.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


_STORABLE = AfterValidator(_storable)
_NOT_BLANK = r"\S"
_URL = r"^[hH][tT][tT][pP][sS]?://[^\s]+$"

RoomId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=10),
    _STORABLE,
    Field(description="The room id (10 characters).", examples=["k3m9x2p7qa"]),
]
UserId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100),
    _STORABLE,
    Field(
        description=(
            "Act for this user. Leave it out: the user comes from the access token. Only a "
            "service_role caller may name another user (otherwise 403 WR403)."
        )
    ),
]
HttpUrl = Annotated[
    str,
    StringConstraints(min_length=8, max_length=2048, pattern=_URL),
    _STORABLE,
    Field(
        description="An http(s) URL (at most 2048 characters).",
        examples=["https://example.com/ep1.mp4"],
    ),
]
Username = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, pattern=_NOT_BLANK),
    _STORABLE,
    Field(description="Display name (1 to 100 characters).", examples=["AnimeFan99"]),
]
AnimeId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, pattern=_NOT_BLANK),
    _STORABLE,
    Field(description="External anime identifier (1 to 100 characters).", examples=["frieren"]),
]
Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255, pattern=_NOT_BLANK),
    _STORABLE,
    Field(description="1 to 255 characters.", examples=["Frieren night"]),
]
SourceId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100),
    _STORABLE,
    Field(description="Optional video source id (at most 100 characters)."),
]
AccessKey = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{6}$"),
    Field(description="The 6-digit key of a private room.", examples=["042917"]),
]
InviteToken = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=200, pattern=r"^[a-z0-9]{10}\.[0-9]{1,12}\.[A-Za-z0-9_-]{43}$"
    ),
    Field(
        description="A signed invite to a private room (rooms-create-invite).",
        examples=["k3m9x2p7qa.1767225600.q0yzJ6tHUx8c0m1y0b5PqU2Ywz3n4yqk2iXr0n0b7xA"],
    ),
]
Message = Annotated[
    str,
    StringConstraints(min_length=1, max_length=COMMENT_MAX_LENGTH, pattern=_NOT_BLANK),
    _STORABLE,
    Field(description="The text: 1 to 1000 characters (longer: 413 WR413)."),
]
Episode = Annotated[int, Field(ge=1, le=_INT32_MAX, description="Episode number (from 1).")]
Position = Annotated[
    float,
    Field(
        ge=0,
        le=MAX_POSITION,
        allow_inf_nan=False,
        description="A position in seconds (0 to 99999999.99).",
    ),
]
Speed = Annotated[
    float, Field(ge=0.25, le=4, allow_inf_nan=False, description="Playback speed (0.25 to 4).")
]


class RequestModel(BaseModel):
    """Base of every request body: strict JSON types, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PlaybackAction(StrEnum):
    play = "play"
    pause = "pause"
    seek = "seek"
    speed = "speed"


# -- rooms ------------------------------------------------------------------------------------


class RoomsCreateRequest(RequestModel):
    """Create a room hosted by the caller."""

    title: Title
    anime_id: AnimeId
    anime_title: Title
    episode_number: Episode = 1
    video_url: HttpUrl
    host_username: Username
    is_public: bool = Field(True, description="Public rooms are listed and need no key.")
    source_id: SourceId | None = None
    avatar_url: HttpUrl | None = None
    host_user_id: UserId | None = None


class RoomsJoinRequest(RequestModel):
    """Join a room (again: joining is idempotent)."""

    room_id: RoomId
    username: Username
    avatar_url: HttpUrl | None = None
    access_key: AccessKey | None = None
    invite_token: InviteToken | None = Field(
        None, description="Join a private room with a host's invite instead of its key."
    )
    user_id: UserId | None = None


class RoomsRotateAccessKeyRequest(RequestModel):
    """Give a private room a new access key (host only): the old key and invites stop working."""

    room_id: RoomId
    user_id: UserId | None = None


class ModerationAction(StrEnum):
    kick = "kick"
    ban = "ban"
    unban = "unban"
    mute = "mute"
    unmute = "unmute"


class RoomsModerateRequest(RequestModel):
    """Kick, ban, unban, mute or unmute a member (host or co-host)."""

    room_id: RoomId
    action: ModerationAction = Field(
        description=(
            "kick: remove the member (they may join again); ban: remove them and refuse every "
            "later join; mute: refuse their comments in the room; unban, unmute: lift those."
        )
    )
    target_user_id: Annotated[
        str,
        StringConstraints(min_length=1, max_length=100),
        _STORABLE,
        Field(description="The user to act on (a ban may name a user who is not in the room)."),
    ]
    reason: (
        Annotated[
            str,
            StringConstraints(max_length=200),
            _STORABLE,
            Field(description="Why (at most 200 characters): kept in the audit log and the ban."),
        ]
        | None
    ) = None
    user_id: UserId | None = None


class MembersSetCohostRequest(RequestModel):
    """Grant or revoke co-host (host only)."""

    room_id: RoomId
    target_user_id: Annotated[
        str,
        StringConstraints(min_length=1, max_length=100),
        _STORABLE,
        Field(description="The member to make co-host (or no longer)."),
    ]
    is_cohost: bool = Field(True, description="true grants co-host, false revokes it.")
    user_id: UserId | None = None


class SkipMarks(RequestModel):
    """The opening and ending of an episode: each both ends (seconds) or neither."""

    opening_start: Position | None = None
    opening_end: Position | None = None
    ending_start: Position | None = None
    ending_end: Position | None = None

    @model_validator(mode="after")
    def _segments(self) -> SkipMarks:
        for name in ("opening", "ending"):
            start = getattr(self, f"{name}_start")
            end = getattr(self, f"{name}_end")
            if (start is None) != (end is None):
                raise ValueError(f"the {name} needs both {name}_start and {name}_end, or neither")
            if start is not None and end is not None and round(start, 2) >= round(end, 2):
                raise ValueError(f"the {name} must end after it starts ({start} >= {end})")
        return self


class QueueAddRequest(SkipMarks):
    """Append an episode to the room's queue (host or co-host), with its opening and ending if
    known."""

    room_id: RoomId
    episode_number: int = Field(ge=1, le=_INT32_MAX, description="The episode (from 1).")
    video_url: HttpUrl
    duration: float = Field(
        gt=0, le=MAX_POSITION, allow_inf_nan=False, description="The video's length, seconds."
    )
    title: (
        Annotated[
            str,
            StringConstraints(min_length=1, max_length=255, pattern=_NOT_BLANK),
            _STORABLE,
            Field(description="The episode's title (at most 255 characters)."),
        ]
        | None
    ) = None
    anime_id: AnimeId | None = Field(None, description="The anime (default: the room's).")
    anime_title: (
        Annotated[
            str,
            StringConstraints(min_length=1, max_length=255, pattern=_NOT_BLANK),
            _STORABLE,
            Field(description="The anime's title (default: the room's, for its anime)."),
        ]
        | None
    ) = None
    user_id: UserId | None = None


class QueueRemoveRequest(RequestModel):
    """Remove an entry from the room's queue (host or co-host)."""

    room_id: RoomId
    entry_id: UUID
    user_id: UserId | None = None


class QueueMoveRequest(RequestModel):
    """Move an entry of the room's queue (host or co-host)."""

    room_id: RoomId
    entry_id: UUID
    after_entry_id: UUID | None = Field(
        None, description="The entry it follows from now on (leave it out: to the front)."
    )
    user_id: UserId | None = None


class QueueDestination(StrEnum):
    next = "next"
    previous = "previous"
    entry = "entry"
    ended = "ended"


class QueueGoRequest(RequestModel):
    """Move the room to an entry of its queue, or report that the current one ended."""

    room_id: RoomId
    to: QueueDestination = Field(
        QueueDestination.next,
        description=(
            "next, previous, entry (``entry_id``): host or co-host. ended (``entry_id``: the "
            "entry that ended): any member, with auto-advance on."
        ),
    )
    entry_id: UUID | None = None
    user_id: UserId | None = None


class QueueAutoAdvanceRequest(RequestModel):
    """Turn the room's auto-advance on or off (host or co-host)."""

    room_id: RoomId
    on: bool = True
    user_id: UserId | None = None


class QueueGetRequest(RequestModel):
    """The room's queue and its ready check."""

    room_id: RoomId


class RoomsSetSkipsRequest(SkipMarks):
    """Mark the opening and ending of the episode the room plays (host or co-host); a pair left
    out clears that segment."""

    room_id: RoomId
    user_id: UserId | None = None


class SkipSegment(StrEnum):
    opening = "opening"
    ending = "ending"


class RoomsSkipRequest(RequestModel):
    """Skip the opening or ending for the whole room (host or co-host)."""

    room_id: RoomId
    segment: SkipSegment | None = Field(
        None, description="opening or ending (left out: the one the room is in now)."
    )
    user_id: UserId | None = None


class ReadyCheckDestination(StrEnum):
    none = "none"
    next = "next"
    entry = "entry"


class ReadyCheckStartRequest(RequestModel):
    """Open a ready check (host or co-host), moving the room to an episode first if asked."""

    room_id: RoomId
    to: ReadyCheckDestination = Field(
        ReadyCheckDestination.none,
        description="none (this episode), next (the queue's next), entry (``entry_id``).",
    )
    entry_id: UUID | None = None
    timeout: float | None = Field(
        None,
        ge=5,
        le=300,
        allow_inf_nan=False,
        description="Seconds until the room starts anyway (5 to 300; default 30).",
    )
    user_id: UserId | None = None

    @model_validator(mode="after")
    def _entry(self) -> ReadyCheckStartRequest:
        if self.to is ReadyCheckDestination.entry and self.entry_id is None:
            raise ValueError("to = entry needs entry_id")
        return self


class ReadyCheckRespondRequest(RequestModel):
    """A member answers the room's ready check."""

    room_id: RoomId
    check_id: UUID
    ready: bool = True
    user_id: UserId | None = None


class ReadyCheckSettleRequest(RequestModel):
    """Bring the room's ready check up to date (any member), or cancel it (host or co-host)."""

    room_id: RoomId
    check_id: UUID
    cancel: bool = False
    user_id: UserId | None = None


class RoomsCreateInviteRequest(RequestModel):
    """A signed invite to a private room (host only)."""

    room_id: RoomId
    ttl_seconds: int = Field(
        86_400, ge=60, le=604_800, description="How long the invite works: 60 s to 7 days."
    )
    user_id: UserId | None = None


class RoomsLeaveRequest(RequestModel):
    """Leave a room; a leaving host hands the role to the earliest-joined member."""

    room_id: RoomId
    user_id: UserId | None = None


class RoomsDeleteRequest(RequestModel):
    """Delete a room (host only)."""

    room_id: RoomId
    user_id: UserId | None = None


class RoomsListPublicRequest(RequestModel):
    """List public rooms with members, most recently active first."""

    anime_id: AnimeId | None = None
    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0, le=10_000)


# -- playback ---------------------------------------------------------------------------------


class SyncControlRequest(RequestModel):
    """Host playback control."""

    room_id: RoomId
    action: PlaybackAction
    current_time: Position | None = Field(
        None,
        description=(
            "The position in seconds: required for seek; for play/pause optional (default: "
            "continue from the live position). Sent to SQL as p_current_time."
        ),
    )
    playback_speed: Speed | None = Field(None, description="Required for speed.")
    at: AwareDatetime | None = Field(
        None,
        description="Server time at which the host was at current_time (within 5 s of now).",
    )
    user_id: UserId | None = None

    @model_validator(mode="after")
    def _action_needs(self) -> SyncControlRequest:
        if self.action is PlaybackAction.seek and self.current_time is None:
            raise ValueError("seek needs current_time (the target position)")
        if self.action is PlaybackAction.speed and self.playback_speed is None:
            raise ValueError("speed needs playback_speed")
        return self


class SyncGetHostTimeRequest(RequestModel):
    """The room's playback state and where the host is now."""

    room_id: RoomId


# -- comments ---------------------------------------------------------------------------------


class CommentsCreateRequest(RequestModel):
    """Post a comment into an episode thread."""

    anime_id: AnimeId
    episode_number: Episode
    message: Message
    username: Username
    room_id: RoomId | None = None
    parent_id: UUID | None = Field(None, description="Reply to this comment.")
    video_timestamp: Position | None = None
    avatar_url: HttpUrl | None = None
    user_id: UserId | None = None


class CommentsGetByEpisodeRequest(RequestModel):
    """A page of an episode thread, oldest to newest; spoilers withheld unless asked."""

    anime_id: AnimeId
    episode_number: Episode
    room_id: RoomId | None = None
    limit: int = Field(100, ge=1, le=500)
    before: AwareDatetime | None = Field(None, description="Page back: next_before of a page.")
    position: Position | None = Field(
        None,
        description=(
            "Where you are in this episode (seconds). Left out: your room's live position if you "
            "are a member of room_id, else the episode's start. Comments of others stamped later "
            "come without their text (is_spoiler)."
        ),
    )
    reveal_spoilers: bool = Field(False, description="Show spoilers' text (still marked).")


class CommentsReplayRequest(RequestModel):
    """One window of an episode's timed comments, from every party, for replay."""

    anime_id: AnimeId
    episode_number: Episode
    start: Position = Field(description="Start of the window in the video (seconds, included).")
    end: Position = Field(
        description="End of the window (seconds, excluded); at most 120 s after start."
    )
    room_id: RoomId | None = Field(None, description="Your room: its comments come first.")
    only_room: bool = Field(False, description="Only your room's comments (needs room_id).")
    per_second: int | None = Field(
        None, ge=1, le=50, description="At most this many per second of video (default 4)."
    )

    @model_validator(mode="after")
    def _window(self) -> CommentsReplayRequest:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.only_room and self.room_id is None:
            raise ValueError("only_room needs a room_id")
        return self


class Reaction(StrEnum):
    """The reactions a comment takes (the SQL function comments_react checks the same set)."""

    thumbs_up = "👍"
    laugh = "😂"
    wow = "😮"
    sad = "😢"
    fire = "🔥"
    clap = "👏"


class CommentsReactRequest(RequestModel):
    """Add or remove your reaction to a comment."""

    comment_id: UUID
    emoji: Reaction
    on: bool = Field(True, description="True adds the reaction, false removes it.")
    user_id: UserId | None = None


class CommentsMarkReadRequest(RequestModel):
    """Mark an episode thread read, up to a comment or to its newest."""

    anime_id: AnimeId
    episode_number: Episode
    room_id: RoomId | None = None
    comment_id: UUID | None = Field(None, description="Read up to this comment (default: newest).")
    user_id: UserId | None = None


class CommentsUnreadRequest(RequestModel):
    """How many comments of an episode thread are new to you."""

    anime_id: AnimeId
    episode_number: Episode
    room_id: RoomId | None = None
    user_id: UserId | None = None


class CommentsGetHistoryRequest(RequestModel):
    """Comment analytics over the last hours, for a room and/or an anime."""

    room_id: RoomId | None = None
    anime_id: AnimeId | None = None
    hours: int = Field(24, ge=1, le=720)

    @model_validator(mode="after")
    def _needs_scope(self) -> CommentsGetHistoryRequest:
        if self.room_id is None and self.anime_id is None:
            raise ValueError("give a room_id, an anime_id or both")
        return self


class RoomsStatsRequest(RequestModel):
    """A room's viewer analytics (host only)."""

    room_id: RoomId
    user_id: UserId | None = None


# -- members ----------------------------------------------------------------------------------


class MembersGetListRequest(RequestModel):
    """The room's members with their sync status."""

    room_id: RoomId


class MembersUpdateStatusRequest(RequestModel):
    """The member heartbeat: position, buffering, optionally a new name or avatar."""

    room_id: RoomId
    current_time: Position | None = Field(None, description="Your player's position (seconds).")
    is_buffering: bool | None = None
    username: Username | None = None
    avatar_url: HttpUrl | None = None
    user_id: UserId | None = None
