"""comments-get-by-episode: a page of an episode thread (a room's, or the global one without
``room_id``), oldest to newest, with the thread's anchor. Page back with ``before`` =
``next_before``."""

from __future__ import annotations

from functions._endpoint import Caller, Result, SqlFunction, endpoint
from functions._models import CommentsGetByEpisodeRequest
from watchium_client import CommentsPage

__all__ = ["handle", "COMMENTS_GET_BY_EPISODE"]

COMMENTS_GET_BY_EPISODE = SqlFunction(
    "comments_get_by_episode",
    p_anime_id="text",
    p_episode_number="integer",
    p_room_id="text",
    p_limit="integer",
    p_before="timestamptz",
)


@endpoint(
    "comments-get-by-episode",
    CommentsGetByEpisodeRequest,
    CommentsPage,
    summary="Read an episode thread",
    description=__doc__ or "",
    errors=(400, 401, 404),
)
async def handle(request: CommentsGetByEpisodeRequest, caller: Caller) -> Result:
    return await caller.call(
        COMMENTS_GET_BY_EPISODE,
        p_anime_id=request.anime_id,
        p_episode_number=request.episode_number,
        p_room_id=request.room_id,
        p_limit=request.limit,
        p_before=request.before,
    )
