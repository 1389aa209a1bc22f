# Over 500 lines: one typed method per API endpoint (twenty-seven of them), each a few lines.
"""``WatchiumClient``: typed calls to every Watchium function, on supabase-py's async client.

There is no second HTTP stack: calls go through ``supabase.functions.invoke`` with the session's
token, and Realtime (see :class:`~watchium_client.RoomSession`) through ``supabase.channel``. Every
successful answer carries the server's clock, so every call is also a clock sample: after a few
calls :attr:`WatchiumClient.clock` knows the offset to the server within a few milliseconds.

    client = await WatchiumClient.connect("http://127.0.0.1:54321", PUBLISHABLE_KEY)  # signs in
    created = await client.create_room(title="Frieren night", anime_id="frieren",
                                       anime_title="Frieren", video_url="https://...",
                                       username="me")
    await client.play(created.room.room_id, at_position=0)
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel
from supabase import AsyncClient, AsyncClientOptions, acreate_client
from supabase_auth.errors import AuthRetryableError
from supabase_functions.errors import FunctionsError

from watchium_client._errors import ConnectionFailed, SignInRequired, error_from_response
from watchium_client.sync import ClockSync
from watchium_wire import (
    COMMENTS_CREATE,
    COMMENTS_GET_BY_EPISODE,
    COMMENTS_GET_HISTORY,
    COMMENTS_MARK_READ,
    COMMENTS_REACT,
    COMMENTS_REPLAY,
    COMMENTS_UNREAD,
    MEMBERS_GET_LIST,
    MEMBERS_SET_COHOST,
    MEMBERS_UPDATE_STATUS,
    QUEUE_ADD,
    QUEUE_AUTO_ADVANCE,
    QUEUE_GET,
    QUEUE_GO,
    QUEUE_MOVE,
    QUEUE_REMOVE,
    READY_CHECK_RESPOND,
    READY_CHECK_SETTLE,
    READY_CHECK_START,
    ROOMS_CREATE,
    ROOMS_CREATE_INVITE,
    ROOMS_DELETE,
    ROOMS_JOIN,
    ROOMS_LEAVE,
    ROOMS_LIST_PUBLIC,
    ROOMS_MODERATE,
    ROOMS_ROTATE_ACCESS_KEY,
    ROOMS_SET_SKIPS,
    ROOMS_SKIP,
    ROOMS_STATS,
    SYNC_CONTROL,
    SYNC_GET_HOST_TIME,
    Comment,
    CommentsHistory,
    CommentsPage,
    Endpoint,
    MembersList,
    MembersSetCohostResult,
    MemberStatusResult,
    QueueEntryResult,
    QueueGoResult,
    QueueRemoveResult,
    Reaction,
    ReactionResult,
    ReadState,
    ReadyCheck,
    ReadyCheckStartResult,
    ReplayWindow,
    RoomQueue,
    RoomsCreateInviteResult,
    RoomsCreateResult,
    RoomsDeleteResult,
    RoomsJoinResult,
    RoomsLeaveResult,
    RoomsListPublicResult,
    RoomsModerateResult,
    RoomSnapshot,
    RoomsRotateAccessKeyResult,
    RoomsSkipResult,
    RoomStats,
)

__all__ = ["WatchiumClient", "invite_room_id", "key_role"]

logger = logging.getLogger(__name__)

R = TypeVar("R", bound=BaseModel)


def key_role(key: str) -> str | None:
    """The role a project's API key acts as: ``anon`` for a publishable key
    (``sb_publishable_...``) or the legacy anon key, ``service_role`` for a secret key
    (``sb_secret_...``) or the legacy service_role key; None when the key says nothing (this
    reads the key; only the server can tell whether it is valid)."""
    if key.startswith("sb_publishable_"):
        return "anon"
    if key.startswith("sb_secret_"):
        return "service_role"
    parts = key.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    role = payload.get("role") if isinstance(payload, dict) else None
    return role if role in ("anon", "service_role") else None


def invite_room_id(invite_token: str) -> str:
    """The room an invite token (``<room_id>.<expires>.<signature>``) is for.

    Raises:
        ValueError: it is not an invite token.
    """
    room_id, dot, _rest = invite_token.strip().partition(".")
    if not dot or not room_id:
        raise ValueError("not an invite token: expected <room_id>.<expires>.<signature>")
    return room_id


def _body(fields: dict[str, Any]) -> dict[str, Any]:
    """A request body without the fields left unset (the server applies its defaults)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None:
            continue
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    return out


class WatchiumClient:
    """Every Watchium function as a typed async method.

    Args:
        supabase: a supabase-py ``AsyncClient`` (signed in, for anything but the public reads).
        clock: where to keep the server clock estimate (a new one by default).

    Every method raises a :class:`~watchium_client.WatchiumError` subclass for a refusal (by error
    code: ``RoomNotFound``, ``NotHost``, ``RateLimited``...) and ``ConnectionFailed`` when no answer
    comes back.
    """

    def __init__(
        self,
        supabase: AsyncClient,
        *,
        clock: ClockSync | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.supabase = supabase
        self.clock = clock or ClockSync()
        self._http = http  # the HTTP client connect() made, closed with this one

    @classmethod
    async def connect(
        cls,
        url: str,
        key: str,
        *,
        access_token: str | None = None,
        refresh_token: str | None = None,
        sign_in: bool = True,
        options: AsyncClientOptions | None = None,
    ) -> WatchiumClient:
        """Create the supabase-py client and start a session.

        ``key`` is the project's publishable key (``sb_publishable_...``) or, on a project still
        using them, its legacy anon key: both act as ``anon`` until the session names a user.
        (A secret or service_role key works too, but bypasses row level security: keep it on
        servers.)

        With ``access_token`` and ``refresh_token`` the given session is used; otherwise, with
        ``sign_in``, the client signs in anonymously (a new user id, no account needed). Without
        ``options``, the session lives in memory and refreshes itself before it expires.

        Raises:
            ConnectionFailed: the server did not answer.
            SignInRequired: the session was refused.
        """
        if key_role(key) == "service_role":
            logger.warning("connecting with a secret key: it bypasses row level security")
        http: httpx.AsyncClient | None = None
        if options is None:
            http = httpx.AsyncClient(timeout=30)
            options = AsyncClientOptions(httpx_client=http, persist_session=False)
        try:
            supabase = await acreate_client(url, key, options)
            if access_token and refresh_token:
                await supabase.auth.set_session(access_token, refresh_token)
            elif sign_in:
                await supabase.auth.sign_in_anonymously()
        except Exception as exc:
            if http is not None:
                await http.aclose()
            # supabase-auth wraps an unreachable server in its "retryable" error.
            if isinstance(exc, httpx.HTTPError | AuthRetryableError):
                raise ConnectionFailed(f"cannot reach {url}: {exc}") from exc
            if type(exc).__module__.startswith("supabase_auth"):
                raise SignInRequired(f"sign-in failed: {exc}", code="WR401") from exc
            raise
        return cls(supabase, http=http)

    async def user_id(self) -> str | None:
        """The signed-in user's id (``auth.uid()`` on the server), or None."""
        session = await self.supabase.auth.get_session()
        return session.user.id if session and session.user else None

    async def close(self) -> None:
        """Leave Realtime channels, close the connections, stop refreshing the session.

        The session itself stays valid (this is not a sign-out).
        """
        try:
            await self.supabase.remove_all_channels()
            if self.supabase.realtime.is_connected:
                await self.supabase.realtime.close()
        finally:
            # supabase-py has no close(): its refresh timer would outlive the client.
            timer = getattr(self.supabase.auth, "_refresh_token_timer", None)
            if timer is not None:
                timer.cancel()
                self.supabase.auth._refresh_token_timer = None
            if self._http is not None:
                await self._http.aclose()

    async def __aenter__(self) -> WatchiumClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- transport --------------------------------------------------------------------------

    async def call(self, function: str, body: dict[str, Any]) -> Any:
        """Invoke ``function`` with a JSON body and return the answer's ``data``.

        Raises:
            WatchiumError: the subclass for the refusal's code; ConnectionFailed without an answer.
        """
        sent_at = self.clock.local_now()
        try:
            answer = await self.supabase.functions.invoke(
                function, {"body": body, "responseType": "json"}
            )
        except FunctionsError as exc:
            raise error_from_response(exc.status, exc.message) from None
        except httpx.HTTPError as exc:
            raise ConnectionFailed(f"{function}: no answer from the server: {exc}") from exc
        received_at = self.clock.local_now()
        if not isinstance(answer, dict) or "data" not in answer:
            raise error_from_response(None, f"{function}: unexpected answer {answer!r:.200}")
        server_time = answer.get("server_time")
        if server_time is not None:
            try:
                self.clock.add_sample(sent_at, server_time, received_at)
            except ValueError:
                logger.warning("%s: unusable server_time %r", function, server_time)
        return answer["data"]

    async def _call(self, endpoint: Endpoint[Any, R], **fields: Any) -> R:
        """Calls ``endpoint`` with the fields that are set; the answer as its response model."""
        return endpoint.response.model_validate(await self.call(endpoint.name, _body(fields)))

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

    async def moderate(
        self, room_id: str, action: str, user_id: str, *, reason: str | None = None
    ) -> RoomsModerateResult:
        """Moderate a member of a room you host or co-host: ``action`` is kick, ban, unban, mute
        or unmute (``watchium_wire.ModerationAction``). Raises :class:`NotHost` for a member, or
        for a co-host acting on the host or another co-host."""
        return await self._call(
            ROOMS_MODERATE, room_id=room_id, action=action, target_user_id=user_id, reason=reason
        )

    async def kick(
        self, room_id: str, user_id: str, *, reason: str | None = None
    ) -> RoomsModerateResult:
        """Remove a member: their Realtime channel ends at once; they may join again."""
        return await self.moderate(room_id, "kick", user_id, reason=reason)

    async def ban(
        self, room_id: str, user_id: str, *, reason: str | None = None
    ) -> RoomsModerateResult:
        """Remove a user and refuse their joins (any key or invite) until :meth:`unban`."""
        return await self.moderate(room_id, "ban", user_id, reason=reason)

    async def unban(self, room_id: str, user_id: str) -> RoomsModerateResult:
        """Lift a ban."""
        return await self.moderate(room_id, "unban", user_id)

    async def mute(
        self, room_id: str, user_id: str, *, reason: str | None = None
    ) -> RoomsModerateResult:
        """Refuse a member's comments in the room until :meth:`unmute`."""
        return await self.moderate(room_id, "mute", user_id, reason=reason)

    async def unmute(self, room_id: str, user_id: str) -> RoomsModerateResult:
        """Lift a mute."""
        return await self.moderate(room_id, "unmute", user_id)

    async def set_cohost(
        self, room_id: str, user_id: str, is_cohost: bool = True
    ) -> MembersSetCohostResult:
        """Grant (or with ``is_cohost=False`` revoke) co-host to a member of a room you host:
        playback control and moderation."""
        return await self._call(
            MEMBERS_SET_COHOST, room_id=room_id, target_user_id=user_id, is_cohost=is_cohost
        )

    # -- the episode queue (docs/NIGHTS.md) ------------------------------------------------------

    async def queue(self, room_id: str) -> RoomQueue:
        """The room's queue in order, the entry it plays and whether it auto-advances."""
        return await self._call(QUEUE_GET, room_id=room_id)

    async def queue_add(
        self,
        room_id: str,
        *,
        episode_number: int,
        video_url: str,
        duration: float,
        title: str | None = None,
        anime_id: str | None = None,
        anime_title: str | None = None,
        opening: tuple[float, float] | None = None,
        ending: tuple[float, float] | None = None,
    ) -> QueueEntryResult:
        """Append an episode to the queue of a room you host or co-host, with its ``opening``
        and ``ending`` as (start, end) in seconds if known."""
        return await self._call(
            QUEUE_ADD,
            room_id=room_id,
            episode_number=episode_number,
            video_url=video_url,
            duration=duration,
            title=title,
            anime_id=anime_id,
            anime_title=anime_title,
            **_segments(opening, ending),
        )

    async def queue_remove(self, room_id: str, entry_id: str) -> QueueRemoveResult:
        """Remove an entry from the queue (host or co-host)."""
        return await self._call(QUEUE_REMOVE, room_id=room_id, entry_id=entry_id)

    async def queue_move(
        self, room_id: str, entry_id: str, *, after_entry_id: str | None = None
    ) -> QueueEntryResult:
        """Move an entry after ``after_entry_id`` (None: to the front)."""
        return await self._call(
            QUEUE_MOVE, room_id=room_id, entry_id=entry_id, after_entry_id=after_entry_id
        )

    async def queue_go(
        self, room_id: str, to: str = "next", *, entry_id: str | None = None
    ) -> QueueGoResult:
        """Move the room to the ``next``, ``previous`` or an ``entry`` of its queue (host or
        co-host); ``ended`` with ``entry_id`` reports that entry's end (any member)."""
        return await self._call(QUEUE_GO, room_id=room_id, to=to, entry_id=entry_id)

    async def queue_auto_advance(self, room_id: str, on: bool = True) -> RoomSnapshot:
        """Turn the room's auto-advance on or off (host or co-host)."""
        return await self._call(QUEUE_AUTO_ADVANCE, room_id=room_id, on=on)

    # -- skip together and the ready check (docs/NIGHTS.md) --------------------------------------

    async def set_skips(
        self,
        room_id: str,
        *,
        opening: tuple[float, float] | None = None,
        ending: tuple[float, float] | None = None,
    ) -> RoomSnapshot:
        """Mark the opening and ending (start, end in seconds) of the episode the room plays;
        one left out is cleared (host or co-host)."""
        return await self._call(ROOMS_SET_SKIPS, room_id=room_id, **_segments(opening, ending))

    async def skip(self, room_id: str, segment: str | None = None) -> RoomsSkipResult:
        """Skip the ``opening`` or ``ending`` (None: the one playing now) for the whole room
        (host or co-host)."""
        return await self._call(ROOMS_SKIP, room_id=room_id, segment=segment)

    async def ready_check_start(
        self,
        room_id: str,
        to: str = "none",
        *,
        entry_id: str | None = None,
        timeout: float | None = None,
    ) -> ReadyCheckStartResult:
        """Open a ready check (host or co-host), moving the room to the ``next`` episode or an
        ``entry`` first if asked; it starts after ``timeout`` seconds (default 30) at the latest."""
        return await self._call(
            READY_CHECK_START, room_id=room_id, to=to, entry_id=entry_id, timeout=timeout
        )

    async def ready_check_respond(
        self, room_id: str, check_id: str, ready: bool = True
    ) -> ReadyCheck:
        """Answer the room's ready check. ``held`` > 0 in the answer: call
        :meth:`ready_check_settle` after that many seconds so the room sees it."""
        return await self._call(
            READY_CHECK_RESPOND, room_id=room_id, check_id=check_id, ready=ready
        )

    async def ready_check_settle(
        self, room_id: str, check_id: str, *, cancel: bool = False
    ) -> ReadyCheck:
        """Bring the room's ready check up to date (any member: the room starts once everyone
        is ready or the deadline passed), or ``cancel`` it (host or co-host)."""
        return await self._call(
            READY_CHECK_SETTLE, room_id=room_id, check_id=check_id, cancel=cancel
        )

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

    # -- comments -----------------------------------------------------------------------------

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


def _segments(
    opening: tuple[float, float] | None, ending: tuple[float, float] | None
) -> dict[str, float | None]:
    """(start, end) pairs as the request fields ``opening_start`` ... ``ending_end``."""
    return {
        "opening_start": opening[0] if opening else None,
        "opening_end": opening[1] if opening else None,
        "ending_start": ending[0] if ending else None,
        "ending_end": ending[1] if ending else None,
    }
