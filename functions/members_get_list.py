"""members-get-list: the room's members in join order with ``is_synced``, ``drift`` (seconds
ahead of the live host position) and ``online``, plus the room's state."""

from __future__ import annotations

from functions._endpoint import Caller, Result, SqlFunction, endpoint
from functions._models import MembersGetListRequest
from watchium_client import MembersList

__all__ = ["handle", "MEMBERS_GET_LIST"]

MEMBERS_GET_LIST = SqlFunction("members_get_list", p_room_id="text")


@endpoint(
    "members-get-list",
    MembersGetListRequest,
    MembersList,
    summary="List a room's members",
    description=__doc__ or "",
    errors=(400, 401, 404),
)
async def handle(request: MembersGetListRequest, caller: Caller) -> Result:
    return await caller.call(MEMBERS_GET_LIST, p_room_id=request.room_id)
