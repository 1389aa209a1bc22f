"""rooms-create: create a room hosted by the caller.

Returns the room (with its live position), the host's membership, the private room's access key
(shown only here) and the Realtime channel to follow. Limited to 10 rooms per hour per user.
"""

from __future__ import annotations

from functions._endpoint import Caller, Result, SqlFunction, endpoint
from functions._models import RoomsCreateRequest
from functions._realtime import with_realtime
from watchium_client import RoomsCreateResult

__all__ = ["handle", "ROOMS_CREATE"]

ROOMS_CREATE = SqlFunction(
    "rooms_create",
    p_title="text",
    p_anime_id="text",
    p_anime_title="text",
    p_video_url="text",
    p_host_username="text",
    p_episode_number="integer",
    p_is_public="boolean",
    p_source_id="text",
    p_avatar_url="text",
    p_host_user_id="text",
)


@endpoint(
    "rooms-create",
    RoomsCreateRequest,
    RoomsCreateResult,
    summary="Create a room",
    description=__doc__ or "",
    errors=(400, 401, 403, 429),
)
async def handle(request: RoomsCreateRequest, caller: Caller) -> Result:
    result = await caller.call(
        ROOMS_CREATE,
        p_title=request.title,
        p_anime_id=request.anime_id,
        p_anime_title=request.anime_title,
        p_video_url=request.video_url,
        p_host_username=request.host_username,
        p_episode_number=request.episode_number,
        p_is_public=request.is_public,
        p_source_id=request.source_id,
        p_avatar_url=request.avatar_url,
        p_host_user_id=request.host_user_id,
    )
    return with_realtime(result.parse())
