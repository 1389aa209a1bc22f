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
