"""The Realtime subscription a member of a room needs, as returned by rooms-create and rooms-join.

A client opens the channel ``room:{room_id}`` (private for private rooms: Realtime then checks the
realtime.messages policies of migration 011, members only), listens to the three
``postgres_changes`` bindings below and tracks its presence under its user id.
"""

from __future__ import annotations

from typing import Any

__all__ = ["channel_name", "realtime_hints", "with_realtime"]


def channel_name(room_id: str) -> str:
    """The room's channel topic."""
    return f"room:{room_id}"


def realtime_hints(room_id: str, *, is_public: bool, user_id: str) -> dict[str, Any]:
    """Channel, privacy, presence key and postgres_changes bindings for one room and member."""
    room_filter = f"room_id=eq.{room_id}"
    return {
        "channel": channel_name(room_id),
        "private": not is_public,
        "presence_key": user_id,
        "postgres_changes": [
            {"event": "UPDATE", "schema": "public", "table": "rooms", "filter": room_filter},
            {"event": "*", "schema": "public", "table": "room_members", "filter": room_filter},
            {"event": "INSERT", "schema": "public", "table": "comments", "filter": room_filter},
        ],
    }


def with_realtime(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` ({room, member, ...}) plus ``realtime_channel`` and ``realtime``."""
    room = result["room"]
    room_id = str(room["room_id"])
    result["realtime_channel"] = channel_name(room_id)
    result["realtime"] = realtime_hints(
        room_id, is_public=bool(room["is_public"]), user_id=str(result["member"]["user_id"])
    )
    return result
