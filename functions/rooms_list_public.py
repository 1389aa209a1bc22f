"""rooms-list-public: public rooms with at least one member, most recently active first,
optionally for one anime. No sign-in needed."""

from __future__ import annotations

from functions._endpoint import Caller, Result, SqlFunction, endpoint
from functions._models import RoomsListPublicRequest
from watchium_client import RoomsListPublicResult

__all__ = ["handle", "ROOMS_LIST_PUBLIC"]

ROOMS_LIST_PUBLIC = SqlFunction(
    "rooms_list_public", p_anime_id="text", p_limit="integer", p_offset="integer"
)


@endpoint(
    "rooms-list-public",
    RoomsListPublicRequest,
    RoomsListPublicResult,
    summary="List public rooms",
    description=__doc__ or "",
    errors=(400, 401),
    body_required=False,
)
async def handle(request: RoomsListPublicRequest, caller: Caller) -> Result:
    return await caller.call(
        ROOMS_LIST_PUBLIC,
        p_anime_id=request.anime_id,
        p_limit=request.limit,
        p_offset=request.offset,
    )
