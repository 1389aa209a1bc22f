"""The wire types of Watchium's functions: what every endpoint answers inside ``{"data": ...}``.

The same models describe the answers in the server's OpenAPI document and parse them in the SDK,
so the two cannot drift apart. They accept fields they do not know (``extra="allow"``): a newer
server may add fields, an older client keeps working.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Room",
    "LiveRoom",
    "PublicRoom",
    "Member",
    "MemberStatus",
    "Comment",
    "RealtimeBinding",
    "RealtimeHints",
    "RoomsCreateResult",
    "RoomsJoinResult",
    "RoomsLeaveResult",
    "RoomsDeleteResult",
    "RoomsListPublicResult",
    "CommentsPage",
    "EpisodeActivity",
    "Commenter",
    "HourActivity",
    "CommentsHistory",
    "MembersList",
    "MemberStatusResult",
]


class _Out(BaseModel):
    # The database may add fields; clients should ignore what they do not know.
    model_config = ConfigDict(extra="allow")


Timestamp = Annotated[str, Field(description="ISO 8601 timestamp with time zone.")]


class Room(_Out):
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
    last_activity: Timestamp
    created_at: Timestamp
    updated_at: Timestamp


class LiveRoom(Room):
    """A room with where playback is now."""

    live_position: float = Field(description="Where the host is now (seconds).")
    server_time: Timestamp = Field(description="The database time live_position is for.")


class PublicRoom(LiveRoom):
    member_count: int


class Member(_Out):
    """A row of public.room_members."""

    id: str
    room_id: str
    user_id: str
    username: str
    avatar_url: str | None = None
    is_host: bool
    is_synced: bool
    is_buffering: bool
    current_playback_time: float
    last_heartbeat: Timestamp
    joined_at: Timestamp
    updated_at: Timestamp


class MemberStatus(Member):
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
    message: str
    video_timestamp: float | None = None
    is_anchor: bool
    is_system_message: bool
    is_public: bool
    created_at: Timestamp
    updated_at: Timestamp


class RealtimeBinding(_Out):
    """One ``postgres_changes`` subscription (supabase-js/-py ``channel.on(...)`` arguments)."""

    event: Literal["INSERT", "UPDATE", "DELETE", "*"]
    schema_: str = Field(alias="schema")
    table: str
    filter: str


class RealtimeHints(_Out):
    """How to follow the room live over Realtime."""

    channel: str = Field(description="The channel topic: room:{room_id}.")
    private: bool = Field(
        description="Open the channel with config {private: true} (private rooms)."
    )
    presence_key: str = Field(description="Your presence key: your user id.")
    postgres_changes: list[RealtimeBinding]


class RoomsCreateResult(_Out):
    room: LiveRoom
    member: Member
    access_key: str | None = Field(
        description="The private room's 6-digit key (null for public rooms): shown only here."
    )
    realtime_channel: str
    realtime: RealtimeHints


class RoomsJoinResult(_Out):
    room: LiveRoom
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


class RoomsDeleteResult(_Out):
    room_id: str
    deleted: bool


class RoomsListPublicResult(_Out):
    rooms: list[PublicRoom]
    limit: int
    offset: int


class CommentsPage(_Out):
    anchor: Comment | None
    comments: list[Comment]
    has_more: bool
    next_before: Timestamp | None


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
    room: LiveRoom
    members: list[MemberStatus]
    synced_count: int
    member_count: int


class MemberStatusResult(_Out):
    member: Member
    room: LiveRoom
