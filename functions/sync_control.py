"""sync-control: the host's playback control: play, pause, seek, speed.

``current_time`` is the position (required for seek; for play and pause it defaults to where
playback is now); ``at`` is the server time at which the host was there. Only the host may call
it (403 WRH03), at most 2 changes per second (429 WR429). Returns the room with its live position.
"""

from __future__ import annotations

from functions._endpoint import Caller, Result, SqlFunction, endpoint
from functions._models import SyncControlRequest
from watchium_client import LiveRoom

__all__ = ["handle", "SYNC_CONTROL"]

SYNC_CONTROL = SqlFunction(
    "sync_control",
    p_room_id="text",
    p_action="text",
    p_current_time="numeric",
    p_playback_speed="numeric",
    p_at="timestamptz",
    p_user_id="text",
)


@endpoint(
    "sync-control",
    SyncControlRequest,
    LiveRoom,
    summary="Control playback (host)",
    description=__doc__ or "",
)
async def handle(request: SyncControlRequest, caller: Caller) -> Result:
    return await caller.call(
        SYNC_CONTROL,
        p_room_id=request.room_id,
        p_action=request.action.value,
        p_current_time=request.current_time,
        p_playback_speed=request.playback_speed,
        p_at=request.at,
        p_user_id=request.user_id,
    )
