"""members-update-status: the member heartbeat. Records your position (``current_time``) and
buffering state, optionally a new username or avatar; the database computes ``is_synced``. Call it
every few seconds (members silent for 30 s are removed)."""

from __future__ import annotations

from functions._endpoint import Caller, Result, SqlFunction, endpoint
from functions._models import MembersUpdateStatusRequest
from watchium_client import MemberStatusResult

__all__ = ["handle", "MEMBERS_UPDATE_STATUS"]

MEMBERS_UPDATE_STATUS = SqlFunction(
    "members_update_status",
    p_room_id="text",
    p_current_time="numeric",
    p_is_buffering="boolean",
    p_username="text",
    p_avatar_url="text",
    p_user_id="text",
)


@endpoint(
    "members-update-status",
    MembersUpdateStatusRequest,
    MemberStatusResult,
    summary="Member heartbeat",
    description=__doc__ or "",
)
async def handle(request: MembersUpdateStatusRequest, caller: Caller) -> Result:
    return await caller.call(
        MEMBERS_UPDATE_STATUS,
        p_room_id=request.room_id,
        p_current_time=request.current_time,
        p_is_buffering=request.is_buffering,
        p_username=request.username,
        p_avatar_url=request.avatar_url,
        p_user_id=request.user_id,
    )
