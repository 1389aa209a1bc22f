"""rooms-join: join a room (joining again is free and refreshes the membership).

A private room needs its 6-digit access key. A wrong key is answered 403 WRK03; the database
returns it as a result rather than raising, so that the attempt is counted (too many wrong keys:
429 WRL29). Returns the room, the membership and the Realtime channel to follow.
"""

from __future__ import annotations

from functions._endpoint import Caller, Result, SqlFunction, endpoint
from functions._errors import WrongAccessKey
from functions._models import RoomsJoinRequest
from functions._realtime import with_realtime
from watchium_client import RoomsJoinResult

__all__ = ["handle", "ROOMS_JOIN"]

ROOMS_JOIN = SqlFunction(
    "rooms_join",
    p_room_id="text",
    p_username="text",
    p_avatar_url="text",
    p_access_key="text",
    p_user_id="text",
)


@endpoint(
    "rooms-join",
    RoomsJoinRequest,
    RoomsJoinResult,
    summary="Join a room",
    description=__doc__ or "",
    errors=(400, 401, 403, 404, 409, 429),
)
async def handle(request: RoomsJoinRequest, caller: Caller) -> Result:
    result = (
        await caller.call(
            ROOMS_JOIN,
            p_room_id=request.room_id,
            p_username=request.username,
            p_avatar_url=request.avatar_url,
            p_access_key=request.access_key,
            p_user_id=request.user_id,
        )
    ).parse()
    error = result.get("error")
    if error is not None:
        # Committed on purpose (the guess is counted); reported like any other refusal.
        raise WrongAccessKey(error.get("message"), hint=error.get("hint"), code=error.get("code"))
    return with_realtime(result)
