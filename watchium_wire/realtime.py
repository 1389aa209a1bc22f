"""How a member follows a room over Realtime: the channel, its bindings and the presence payload.

A member opens the channel ``room:{room_id}`` (private for private rooms: Realtime then checks the
``realtime.messages`` policies, members only), listens to the ``postgres_changes`` bindings of
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
        description="Open the channel with config {private: true} (private rooms)."
    )
    presence_key: str = Field(description="Your presence key: your user id.")
    postgres_changes: list[RealtimeBinding]


def _binding(event: str, table: str, row_filter: str) -> RealtimeBinding:
    return RealtimeBinding.model_validate(
        {"event": event, "schema": "public", "table": table, "filter": row_filter}
    )


def realtime_hints(room_id: str, *, is_public: bool, user_id: str) -> RealtimeHints:
    """Channel, privacy, presence key and postgres_changes bindings for one room and member."""
    room_filter = f"room_id=eq.{room_id}"
    return RealtimeHints(
        channel=channel_name(room_id),
        private=not is_public,
        presence_key=user_id,
        postgres_changes=[
            _binding("UPDATE", "rooms", room_filter),
            _binding("*", "room_members", room_filter),
            _binding("INSERT", "comments", room_filter),
        ],
    )


class MemberPresence(BaseModel):
    """What each member tracks on the room's channel (presence keyed by user id).

    A session tracks it every few seconds and at once when playing or buffering changes, so the
    host sees who is stalled without waiting for heartbeats.
    """

    model_config = ConfigDict(extra="allow")

    user_id: str
    username: str
    position: float | None = None
    """The member's player position, seconds (None without a player)."""
    playing: bool = False
    buffering: bool = False
    drift: float | None = None
    """Player position minus the room's position, seconds, as the member's engine measures it."""
    synced: bool | None = None
    """|drift| within the database's 2 s rule (None without a player)."""
    host: bool = False
    at: float | None = None
    """Server time (epoch seconds) at which this was tracked."""
