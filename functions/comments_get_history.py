"""comments-get-history: comment analytics over the last ``hours`` (1 to 720) for a room and/or an
anime: totals, participants, per episode, top commenters, per hour."""

from __future__ import annotations

from functions._endpoint import Caller, Result, SqlFunction, endpoint
from functions._models import CommentsGetHistoryRequest
from watchium_client import CommentsHistory

__all__ = ["handle", "COMMENTS_GET_HISTORY"]

COMMENTS_GET_HISTORY = SqlFunction(
    "comments_get_history", p_room_id="text", p_anime_id="text", p_hours="integer"
)


@endpoint(
    "comments-get-history",
    CommentsGetHistoryRequest,
    CommentsHistory,
    summary="Comment analytics",
    description=__doc__ or "",
    errors=(400, 401, 404),
)
async def handle(request: CommentsGetHistoryRequest, caller: Caller) -> Result:
    return await caller.call(
        COMMENTS_GET_HISTORY,
        p_room_id=request.room_id,
        p_anime_id=request.anime_id,
        p_hours=request.hours,
    )
