"""Request bodies of the episode-night functions (docs/NIGHTS.md): moderation and co-hosts,
the queue, skip together and the ready check. The same rules as :mod:`watchium_wire.requests`,
whose field types they share.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints, model_validator

from watchium_wire.requests import (
    _INT32_MAX,
    _NOT_BLANK,
    _STORABLE,
    MAX_POSITION,
    AnimeId,
    HttpUrl,
    Position,
    RequestModel,
    RoomId,
    UserId,
)

__all__ = [
    "ModerationAction",
    "RoomsModerateRequest",
    "MembersSetCohostRequest",
    "SkipMarks",
    "QueueAddRequest",
    "QueueRemoveRequest",
    "QueueMoveRequest",
    "QueueDestination",
    "QueueGoRequest",
    "QueueAutoAdvanceRequest",
    "QueueGetRequest",
    "RoomsSetSkipsRequest",
    "SkipSegment",
    "RoomsSkipRequest",
    "ReadyCheckDestination",
    "ReadyCheckStartRequest",
    "ReadyCheckRespondRequest",
    "ReadyCheckSettleRequest",
]


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
