"""A session's membership of its room, and what the functions say about the room.

``Membership`` joins the room (or creates it), joins again when the membership is gone, leaves,
and reads the room, its members and its comments through the functions. Every row it gets goes
to the session's :class:`RowSink` with the local time its request was sent, so the mirror can
order answers against Realtime changes.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from watchium_client._api import WatchiumClient
from watchium_client._errors import WatchiumError
from watchium_client.session._context import RowSink, SessionContext
from watchium_client.session._mirror import RoomMirror, member_from_row, row_time
from watchium_wire import Comment, Member, MemberStatusResult, RealtimeHints, RoomSnapshot

__all__ = ["Membership", "NewRoom"]

logger = logging.getLogger(__name__)

_COMMENT_PAGE = 100
_COMMENT_PAGES = 10  # at most 1,000 missed comments are fetched after a reconnect
# created_at is the transaction's start: a comment committed after a newer one can carry an
# older time, so the fetch of missed comments looks this much further back than the last seen.
_COMMENT_SLACK = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class NewRoom:
    """The room a session creates (and hosts) instead of joining one."""

    title: str
    anime_id: str
    anime_title: str
    video_url: str
    episode_number: int = 1
    is_public: bool = True
    source_id: str | None = None


class Membership:
    """This user in one room: join, rejoin, leave, and the reads a resync makes.

    Args:
        client: the session's client.
        ctx: the session's shared facts (the room id is set here when the room is created).
        mirror: the session's picture of the room (read for the comment thread).
        sink: where rows go.
        room: the room id to join, or a :class:`NewRoom` to create.
        username, access_key, avatar_url: as the member is known in the room.
        invite_token: a host's invite to a private room (instead of its key).
        leave_on_close: whether closing the session leaves the room.
    """

    def __init__(
        self,
        client: WatchiumClient,
        ctx: SessionContext,
        mirror: RoomMirror,
        sink: RowSink,
        room: str | NewRoom,
        *,
        username: str,
        access_key: str | None,
        avatar_url: str | None,
        leave_on_close: bool,
        invite_token: str | None = None,
    ) -> None:
        self._client = client
        self._ctx = ctx
        self._mirror = mirror
        self._sink = sink
        self._spec = room
        self.username = username
        self.access_key = access_key
        """A private room's key: the one given, or the new one when this session created it."""
        self.invite_token = invite_token
        self.avatar_url = avatar_url
        self.leave_on_close = leave_on_close
        self.hints: RealtimeHints | None = None
        """How to subscribe to the room's channel (from the join's answer)."""
        self.joined = False

    async def join(self) -> None:
        """Creates or joins the room and takes its row and this member's.

        Raises:
            RoomNotFound (also a wrong key), RoomFull, RateLimited, ...: the join was refused.
        """
        client = self._client
        sent = client.clock.local_now()
        if isinstance(self._spec, NewRoom):
            spec = self._spec
            created = await client.create_room(
                title=spec.title,
                anime_id=spec.anime_id,
                anime_title=spec.anime_title,
                video_url=spec.video_url,
                username=self.username,
                episode_number=spec.episode_number,
                is_public=spec.is_public,
                source_id=spec.source_id,
                avatar_url=self.avatar_url,
            )
            self._ctx.room_id = self._mirror.room_id = created.room.room_id
            self.access_key = created.access_key
            self.hints = created.realtime
            room: RoomSnapshot = created.room
            member: Member = created.member
        else:
            joined = await client.join_room(
                self._ctx.require_room_id(),
                username=self.username,
                access_key=self.access_key,
                invite_token=self.invite_token,
                avatar_url=self.avatar_url,
            )
            self.hints = joined.realtime
            room, member = joined.room, joined.member
        self.joined = True
        self._sink.room(room.model_dump(), "rpc", sent)
        self._sink.member(member, "rpc")

    async def rejoin(self) -> None:
        """Joins the room again (cleanup removed this member, or a private room stopped
        answering to it).

        Raises:
            RoomNotFound: the room no longer exists.
        """
        joined = await self._client.join_room(
            self._ctx.require_room_id(),
            username=self.username,
            access_key=self.access_key,
            invite_token=self.invite_token,
            avatar_url=self.avatar_url,
        )
        self.joined = True
        self._sink.room(joined.room.model_dump(), "rpc", None)
        self._sink.member(joined.member, "rpc")
        logger.info("joined room %s again", self._ctx.room_id)

    async def leave(self, leave: bool) -> None:
        """Leaves the room if ``leave`` and still a member of a room that exists; a refusal is
        logged, not raised (the membership lapses anyway)."""
        room_id = self._ctx.room_id
        if leave and self.joined and not self._ctx.gone and room_id is not None:
            try:
                await self._client.leave_room(room_id)
            except WatchiumError as exc:
                logger.info("leaving room %s: %s", room_id, exc)
        self.joined = False

    async def take_clock_samples(self) -> None:
        """Fetches the room ``join_samples - 1`` times: the join's answer was the first clock
        sample, and the clock filter keeps the best of them."""
        timings = self._ctx.timings
        for _ in range(max(0, timings.join_samples - 1)):
            await asyncio.sleep(timings.join_sample_spacing)
            await self.fetch_room()

    async def report_status(
        self, position: float | None, buffering: bool | None
    ) -> MemberStatusResult:
        """Sends the heartbeat (members-update-status) with the player's position and
        buffering, and takes the rows it returns.

        Raises:
            NotMember, RoomNotFound: the membership is gone; ConnectionFailed: no answer.
        """
        sent = self._client.clock.local_now()
        result = await self._client.update_status(
            self._ctx.require_room_id(), current_time=position, is_buffering=buffering
        )
        self._sink.room(result.room.model_dump(), "rpc", sent)
        self._sink.member(result.member, "rpc")
        return result

    async def post_comment(
        self, message: str, *, video_timestamp: float, parent_id: str | None
    ) -> Comment:
        """Posts into the room's thread for its current episode and takes the comment.

        Raises:
            RuntimeError: the room is not known yet.
            NotMember, RateLimited, TooLarge, ...: the post was refused.
        """
        room = self._mirror.room
        if room is None:
            raise RuntimeError("the session is not open")
        comment = await self._client.post_comment(
            anime_id=room.anime_id,
            episode_number=room.episode_number,
            message=message,
            username=self.username,
            room_id=self._ctx.require_room_id(),
            parent_id=parent_id,
            video_timestamp=video_timestamp,
            avatar_url=self.avatar_url,
        )
        self._sink.events(self._mirror.add_comment(comment, missed=False))
        return comment

    async def fetch_room(self) -> None:
        """Fetches the room's row (``sync-get-host-time``, also a clock sample)."""
        sent = self._client.clock.local_now()
        live = await self._client.host_time(self._ctx.require_room_id())
        self._sink.room(live.model_dump(), "rpc", sent)

    async def fetch_members(self) -> bool:
        """Fetches the member list; returns whether this user is in it."""
        clock = self._client.clock
        sent = clock.local_now()
        listed = await self._client.members(self._ctx.require_room_id())
        self._sink.room(listed.room.model_dump(), "rpc", sent)
        members = [member_from_row(m.model_dump()) for m in listed.members]
        self._sink.events(self._mirror.reconcile_members(members, sent=sent, now=clock.local_now()))
        return any(m.user_id == self._mirror.user_id for m in members)

    async def fetch_queue(self) -> None:
        """Fetches the room's episode queue and its ready check."""
        clock = self._client.clock
        sent = clock.local_now()
        queue = await self._client.queue(self._ctx.require_room_id())
        self._sink.events(
            self._mirror.reconcile_queue(queue.entries, sent=sent, now=clock.local_now())
        )
        if queue.ready_check is not None:
            self._sink.events(self._mirror.ready_check_row(queue.ready_check, "rpc"))

    async def fetch_comments(self) -> int:
        """Loads the thread's recent comments the first time; afterwards, the comments posted
        since the last one seen (each reported as missed). Returns how many were new."""
        mirror = self._mirror
        room = mirror.room
        if room is None:
            return 0
        new: list[Comment] = []
        before: str | None = None
        since = mirror.comments_since
        for _ in range(_COMMENT_PAGES):
            page = await self._client.comments(
                anime_id=room.anime_id,
                episode_number=room.episode_number,
                room_id=self._ctx.require_room_id(),
                limit=_COMMENT_PAGE,
                before=before,
            )
            new = page.comments + new
            if not mirror.comments_loaded or not page.has_more or not page.comments:
                break
            if since is not None and row_time(page.comments[0].created_at) < since - _COMMENT_SLACK:
                break
            before = page.next_before
        if not mirror.comments_loaded:
            mirror.load_comments(new)
            return 0
        count = 0
        for comment in sorted(new, key=lambda c: row_time(c.created_at)):
            events = mirror.add_comment(comment, missed=True)
            count += len(events)
            self._sink.events(events)
        return count
