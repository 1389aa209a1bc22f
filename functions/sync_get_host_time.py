"""sync-get-host-time: the room's playback state, where the host is now (``live_position``) and
the database time it is for (``server_time``)."""

from __future__ import annotations

from functions._endpoint import Caller, Result, SqlFunction, endpoint
from functions._models import SyncGetHostTimeRequest
from watchium_client import LiveRoom

__all__ = ["handle", "SYNC_GET_HOST_TIME"]

SYNC_GET_HOST_TIME = SqlFunction("sync_get_host_time", p_room_id="text")


@endpoint(
    "sync-get-host-time",
    SyncGetHostTimeRequest,
    LiveRoom,
    summary="Get the host's playback position",
    description=__doc__ or "",
    errors=(400, 401, 404),
)
async def handle(request: SyncGetHostTimeRequest, caller: Caller) -> Result:
    return await caller.call(SYNC_GET_HOST_TIME, p_room_id=request.room_id)
