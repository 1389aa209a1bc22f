"""rooms-leave: leave a room. When the host leaves, the earliest-joined member becomes host and a
system comment says so; the answer names the host now."""

from __future__ import annotations

from functions._endpoint import Caller, Result, SqlFunction, endpoint
from functions._models import RoomsLeaveRequest
from watchium_client import RoomsLeaveResult

__all__ = ["handle", "ROOMS_LEAVE"]

ROOMS_LEAVE = SqlFunction("rooms_leave", p_room_id="text", p_user_id="text")


@endpoint(
    "rooms-leave",
    RoomsLeaveRequest,
    RoomsLeaveResult,
    summary="Leave a room",
    description=__doc__ or "",
)
async def handle(request: RoomsLeaveRequest, caller: Caller) -> Result:
    return await caller.call(ROOMS_LEAVE, p_room_id=request.room_id, p_user_id=request.user_id)
