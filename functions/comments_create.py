"""comments-create: post a comment into the (anime, room, episode) thread, under ``parent_id`` or
the thread's anchor. In a room, members only (403 WRM03); at most 1000 characters (413 WR413);
5 comments per minute (429 WR429)."""

from __future__ import annotations

from functions._endpoint import Caller, Result, SqlFunction, endpoint
from functions._models import CommentsCreateRequest
from watchium_client import Comment

__all__ = ["handle", "COMMENTS_CREATE"]

COMMENTS_CREATE = SqlFunction(
    "comments_create",
    p_anime_id="text",
    p_episode_number="integer",
    p_message="text",
    p_username="text",
    p_room_id="text",
    p_parent_id="uuid",
    p_video_timestamp="numeric",
    p_avatar_url="text",
    p_user_id="text",
)


@endpoint(
    "comments-create",
    CommentsCreateRequest,
    Comment,
    summary="Post a comment",
    description=__doc__ or "",
    errors=(400, 401, 403, 404, 409, 413, 429),
    too_large_fields=frozenset({"message"}),
)
async def handle(request: CommentsCreateRequest, caller: Caller) -> Result:
    return await caller.call(
        COMMENTS_CREATE,
        p_anime_id=request.anime_id,
        p_episode_number=request.episode_number,
        p_message=request.message,
        p_username=request.username,
        p_room_id=request.room_id,
        p_parent_id=request.parent_id,
        p_video_timestamp=request.video_timestamp,
        p_avatar_url=request.avatar_url,
        p_user_id=request.user_id,
    )
