"""How a member follows a room over Realtime: the channel, its bindings and the presence payload.

A member opens the channel ``room:{room_id}``, always private (public rooms too: Realtime then
checks the ``realtime.messages`` policies, members only, so nobody else can join it, send on it or
track presence on it), listens to the ``postgres_changes`` bindings of
:func:`realtime_hints` and tracks a :class:`MemberPresence` under its user id. ``rooms-create`` and
``rooms-join`` answer these hints, and the SDK subscribes from them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MemberPresence",
    "RealtimeBinding",
    "RealtimeHints",
    "channel_name",
    "realtime_hints",
]


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


def channel_name(room_id: str) -> str:
    """The room's channel topic."""
    return f"room:{room_id}"


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
        description=(
            "Open the channel with config {private: true} (always true: every room's channel "
            "is private)."
        )
    )
    presence_key: str = Field(description="Your presence key: your user id.")
    postgres_changes: list[RealtimeBinding]


def _binding(event: str, table: str, row_filter: str) -> RealtimeBinding:
    return RealtimeBinding.model_validate(
        {"event": event, "schema": "public", "table": table, "filter": row_filter}
    )


def realtime_hints(room_id: str, *, is_public: bool, user_id: str) -> RealtimeHints:
    """Channel, privacy, presence key and postgres_changes bindings for one room and member
    (``is_public`` no longer changes them: every room's channel is private)."""
    room_filter = f"room_id=eq.{room_id}"
    return RealtimeHints(
        channel=channel_name(room_id),
        private=True,  # public rooms too: only members may join, send and track
        presence_key=user_id,
        postgres_changes=[
            _binding("UPDATE", "rooms", room_filter),
            _binding("*", "room_members", room_filter),
            _binding("INSERT", "comments", room_filter),
            # A comment's reaction counts: a compact row, changed only by a real change.
            _binding("*", "comment_reaction_counts", room_filter),
            # The episode queue (docs/NIGHTS.md): one change per entry added, moved or removed.
            _binding("*", "room_queue", room_filter),
            # The ready check: one row per room, rewritten at most once a second while it fills.
            _binding("*", "ready_checks", room_filter),
        ],
    )


class MemberPresence(BaseModel):
    """What each member tracks on the room's channel (presence keyed by user id): what the others
    show of it.

    Each track is a presence message to every member of the room, so a session tracks this when
    its channel is subscribed and when one of these values changes (buffering and sync status
    debounced), never on a timer. ``playing``, ``position``, ``drift`` and ``at`` are no longer
    tracked: they changed at every host action or all the time, and a member plays when the room
    plays unless it is buffering or out of sync. They stay here, empty, for what older sessions
    tracked.
    """

    model_config = ConfigDict(extra="allow")

    user_id: str
    username: str
    buffering: bool = False
    """The member's player is stalled (shown once a stall has lasted half a second)."""
    synced: bool | None = None
    """The member's player is within the database's 2 s rule of the room (None without a player;
    shown out of sync once it has been out for a few seconds)."""
    host: bool = False
    playing: bool | None = None
    """Not tracked any more (older sessions: whether the player was playing)."""
    position: float | None = None
    """Not tracked any more (older sessions: the player position, seconds)."""
    drift: float | None = None
    """Not tracked any more (older sessions: player position minus the room's, seconds)."""
    at: float | None = None
    """Not tracked any more (older sessions: server time of the track, epoch seconds)."""
