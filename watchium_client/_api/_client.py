"""``WatchiumClient``: the rooms, playback and members calls, with the episode-night and
comment calls of its bases (:mod:`._nights`, :mod:`._comments`)."""

from __future__ import annotations

from datetime import datetime

from watchium_client._api._comments import CommentCalls
from watchium_client._api._keys import invite_room_id
from watchium_client._api._nights import NightCalls
from watchium_wire import (
    MEMBERS_GET_LIST,
    MEMBERS_UPDATE_STATUS,
    ROOMS_CREATE,
    ROOMS_CREATE_INVITE,
    ROOMS_DELETE,
    ROOMS_JOIN,
    ROOMS_LEAVE,
    ROOMS_LIST_PUBLIC,
    ROOMS_ROTATE_ACCESS_KEY,
    SYNC_CONTROL,
    SYNC_GET_HOST_TIME,
    MembersList,
    MemberStatusResult,
    RoomsCreateInviteResult,
    RoomsCreateResult,
    RoomsDeleteResult,
    RoomsJoinResult,
    RoomsLeaveResult,
    RoomsListPublicResult,
    RoomSnapshot,
    RoomsRotateAccessKeyResult,
)

__all__ = ["WatchiumClient"]


class WatchiumClient(NightCalls, CommentCalls):
    """Every Watchium function as a typed async method (``WatchiumClient(supabase, clock=...)``,
    or :meth:`connect`: see :class:`~watchium_client._api._transport.Transport`).

    Every method raises a :class:`~watchium_client.WatchiumError` subclass for a refusal (by error
    code: ``RoomNotFound``, ``NotHost``, ``RateLimited``...) and ``ConnectionFailed`` when no answer
    comes back.
    """

    # -- rooms --------------------------------------------------------------------------------

    async def create_room(
        self,
        *,
        title: str,
        anime_id: str,
        anime_title: str,
        video_url: str,
        username: str,
        episode_number: int = 1,
        is_public: bool = True,
        source_id: str | None = None,
        avatar_url: str | None = None,
    ) -> RoomsCreateResult:
        """Create a room hosted by you. A private room's 6-digit key is in ``access_key``."""
        return await self._call(
            ROOMS_CREATE,
            title=title,
            anime_id=anime_id,
            anime_title=anime_title,
            video_url=video_url,
            host_username=username,
            episode_number=episode_number,
            is_public=is_public,
            source_id=source_id,
            avatar_url=avatar_url,
        )

    async def join_room(
        self,
        room_id: str,
        *,
        username: str,
        access_key: str | None = None,
        invite_token: str | None = None,
        avatar_url: str | None = None,
    ) -> RoomsJoinResult:
        """Join a room (again: joining is idempotent). Private rooms need the access key or an
        invite token (:meth:`create_invite`). A room that does not exist and a private room
        without the right key or invite both raise :class:`RoomNotFound`."""
        return await self._call(
            ROOMS_JOIN,
            room_id=room_id,
            username=username,
            access_key=access_key,
            invite_token=invite_token,
            avatar_url=avatar_url,
        )

    async def join_with_invite(
        self, invite_token: str, *, username: str, avatar_url: str | None = None
    ) -> RoomsJoinResult:
        """Join the private room an invite token names (the token carries the room id)."""
        return await self.join_room(
            invite_room_id(invite_token),
            username=username,
            invite_token=invite_token,
            avatar_url=avatar_url,
        )

    async def rotate_access_key(self, room_id: str) -> RoomsRotateAccessKeyResult:
        """Give a private room you host a new access key: the old key and every invite stop
        working; members stay."""
        return await self._call(ROOMS_ROTATE_ACCESS_KEY, room_id=room_id)

    async def create_invite(
        self, room_id: str, *, ttl_seconds: int = 86_400
    ) -> RoomsCreateInviteResult:
        """A signed invite to a private room you host, valid ``ttl_seconds`` (60 s to 7 days)
        or until the key is rotated; unlike the 6-digit key it cannot be guessed."""
        return await self._call(ROOMS_CREATE_INVITE, room_id=room_id, ttl_seconds=ttl_seconds)

    async def leave_room(self, room_id: str) -> RoomsLeaveResult:
        """Leave a room; a leaving host hands over to the earliest-joined member."""
        return await self._call(ROOMS_LEAVE, room_id=room_id)

    async def delete_room(self, room_id: str) -> RoomsDeleteResult:
        """Delete a room you host."""
        return await self._call(ROOMS_DELETE, room_id=room_id)

    async def list_public_rooms(
        self, *, anime_id: str | None = None, limit: int = 20, offset: int = 0
    ) -> RoomsListPublicResult:
        """Public rooms with members, most recently active first."""
        return await self._call(ROOMS_LIST_PUBLIC, anime_id=anime_id, limit=limit, offset=offset)

    # -- playback -----------------------------------------------------------------------------

    async def sync_control(
        self,
        room_id: str,
        action: str,
        *,
        current_time: float | None = None,
        playback_speed: float | None = None,
        at: datetime | None = None,
    ) -> RoomSnapshot:
        """Host control: ``action`` is play, pause, seek or speed.

        ``current_time`` is the position (required for seek); ``at`` the server time at which the
        host's player was there (see :meth:`server_time_of`), so the room's reference point is
        exact instead of "when the request arrived".
        """
        return await self._call(
            SYNC_CONTROL,
            room_id=room_id,
            action=action,
            current_time=current_time,
            playback_speed=playback_speed,
            at=at,
        )

    async def play(
        self, room_id: str, *, at_position: float | None = None, at: datetime | None = None
    ) -> RoomSnapshot:
        """Start playback (from ``at_position``, or from where it is)."""
        return await self.sync_control(room_id, "play", current_time=at_position, at=at)

    async def pause(
        self, room_id: str, *, at_position: float | None = None, at: datetime | None = None
    ) -> RoomSnapshot:
        """Pause playback (at ``at_position``, or where it is now)."""
        return await self.sync_control(room_id, "pause", current_time=at_position, at=at)

    async def seek(
        self, room_id: str, position: float, *, at: datetime | None = None
    ) -> RoomSnapshot:
        """Seek to ``position`` seconds."""
        return await self.sync_control(room_id, "seek", current_time=position, at=at)

    async def set_speed(self, room_id: str, speed: float) -> RoomSnapshot:
        """Change the playback speed (0.25 to 4)."""
        return await self.sync_control(room_id, "speed", playback_speed=speed)

    async def host_time(self, room_id: str) -> RoomSnapshot:
        """The room's playback state with ``live_position`` (where the host is now)."""
        return await self._call(SYNC_GET_HOST_TIME, room_id=room_id)

    def server_time_of(self, local_time: float) -> datetime:
        """A local :meth:`ClockSync.local_now` reading as a server ``datetime`` (for ``at=``)."""
        from datetime import UTC

        return datetime.fromtimestamp(self.clock.to_server(local_time), UTC)

    # -- members ------------------------------------------------------------------------------

    async def members(self, room_id: str) -> MembersList:
        """The room's members with sync status and drift, and the room's state."""
        return await self._call(MEMBERS_GET_LIST, room_id=room_id)

    async def update_status(
        self,
        room_id: str,
        *,
        current_time: float | None = None,
        is_buffering: bool | None = None,
        username: str | None = None,
        avatar_url: str | None = None,
    ) -> MemberStatusResult:
        """The member heartbeat: report your position and buffering (keeps your membership)."""
        return await self._call(
            MEMBERS_UPDATE_STATUS,
            room_id=room_id,
            current_time=current_time,
            is_buffering=is_buffering,
            username=username,
            avatar_url=avatar_url,
        )
