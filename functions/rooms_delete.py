"""rooms-delete: delete a room (host only). Its comments stay, without the room."""

from __future__ import annotations

from functions._endpoint import Caller, Result, SqlFunction, endpoint
from functions._models import RoomsDeleteRequest
from watchium_client import RoomsDeleteResult

__all__ = ["handle", "ROOMS_DELETE"]

ROOMS_DELETE = SqlFunction("rooms_delete", p_room_id="text", p_user_id="text")


@endpoint(
    "rooms-delete",
    RoomsDeleteRequest,
    RoomsDeleteResult,
    summary="Delete a room",
    description=__doc__ or "",
)
async def handle(request: RoomsDeleteRequest, caller: Caller) -> Result:
    return await caller.call(ROOMS_DELETE, p_room_id=request.room_id, p_user_id=request.user_id)
