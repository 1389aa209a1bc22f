"""Comments: posting and reading threads, timed replay, reactions, read state, and the analytics
of rooms and threads."""

from __future__ import annotations

from watchium_client._api._transport import Transport
from watchium_wire import (
    COMMENTS_CREATE,
    COMMENTS_GET_BY_EPISODE,
    COMMENTS_GET_HISTORY,
    COMMENTS_MARK_READ,
    COMMENTS_REACT,
    COMMENTS_REPLAY,
    COMMENTS_UNREAD,
    ROOMS_STATS,
    Comment,
    CommentsHistory,
    CommentsPage,
    Reaction,
    ReactionResult,
    ReadState,
    ReplayWindow,
    RoomStats,
)

__all__ = ["CommentCalls"]


class CommentCalls(Transport):
    """The comment threads of episodes and rooms, and what they say about a room."""

    async def post_comment(
        self,
        *,
        anime_id: str,
        episode_number: int,
        message: str,
        username: str,
        room_id: str | None = None,
        parent_id: str | None = None,
        video_timestamp: float | None = None,
        avatar_url: str | None = None,
    ) -> Comment:
        """Post into the (anime, room, episode) thread, under the anchor unless given a parent."""
        return await self._call(
            COMMENTS_CREATE,
            anime_id=anime_id,
            episode_number=episode_number,
            message=message,
            username=username,
            room_id=room_id,
            parent_id=parent_id,
            video_timestamp=video_timestamp,
            avatar_url=avatar_url,
        )

    async def comments(
        self,
        *,
        anime_id: str,
        episode_number: int,
        room_id: str | None = None,
        limit: int = 100,
        before: str | None = None,
        position: float | None = None,
        reveal_spoilers: bool = False,
    ) -> CommentsPage:
        """A page of an episode thread, oldest to newest; page back with ``before=next_before``.

        Others' comments stamped after where you are (``position``, else your room's live
        position) come with ``is_spoiler`` and no text unless ``reveal_spoilers``."""
        return await self._call(
            COMMENTS_GET_BY_EPISODE,
            anime_id=anime_id,
            episode_number=episode_number,
            room_id=room_id,
            limit=limit,
            before=before,
            position=position,
            reveal_spoilers=reveal_spoilers or None,
        )

    async def replay_window(
        self,
        *,
        anime_id: str,
        episode_number: int,
        start: float,
        end: float,
        room_id: str | None = None,
        only_room: bool = False,
        per_second: int | None = None,
    ) -> ReplayWindow:
        """The timed comments of [start, end) of the episode's video, from every party."""
        return await self._call(
            COMMENTS_REPLAY,
            anime_id=anime_id,
            episode_number=episode_number,
            start=start,
            end=end,
            room_id=room_id,
            only_room=only_room or None,
            per_second=per_second,
        )

    async def react(
        self, comment_id: str, emoji: Reaction | str, *, on: bool = True
    ) -> ReactionResult:
        """Add (or, with ``on=False``, remove) your reaction to a comment."""
        return await self._call(
            COMMENTS_REACT, comment_id=comment_id, emoji=str(Reaction(emoji)), on=on
        )

    async def mark_read(
        self,
        *,
        anime_id: str,
        episode_number: int,
        room_id: str | None = None,
        comment_id: str | None = None,
    ) -> ReadState:
        """Move your read point of the thread to ``comment_id`` (default: its newest)."""
        return await self._call(
            COMMENTS_MARK_READ,
            anime_id=anime_id,
            episode_number=episode_number,
            room_id=room_id,
            comment_id=comment_id,
        )

    async def unread(
        self, *, anime_id: str, episode_number: int, room_id: str | None = None
    ) -> ReadState:
        """How many comments of the thread are new to you."""
        return await self._call(
            COMMENTS_UNREAD, anime_id=anime_id, episode_number=episode_number, room_id=room_id
        )

    async def room_stats(self, room_id: str) -> RoomStats:
        """The room's viewer analytics (host only)."""
        return await self._call(ROOMS_STATS, room_id=room_id)

    async def comment_history(
        self, *, room_id: str | None = None, anime_id: str | None = None, hours: int = 24
    ) -> CommentsHistory:
        """Comment analytics over the last ``hours`` for a room and/or an anime."""
        return await self._call(
            COMMENTS_GET_HISTORY, room_id=room_id, anime_id=anime_id, hours=hours
        )
