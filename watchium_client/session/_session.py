"""``RoomSession``: one room, live: membership, Realtime, presence, heartbeats and the sync engine.

    async with RoomSession(client, "k3m9x2p7qa", username="mio", player=player) as session:
        session.on_comment(print).on_host_change(lambda e: print("host:", e.host_user_id))
        async for event in session.events():
            ...

Built on :class:`WatchiumClient` only: the functions through ``client.call`` and Realtime through
``client.supabase.channel(...)``, so there is one HTTP stack and one websocket per client.

What it keeps true, whatever the network does:

* **State is never lost.** Realtime does not replay what happened while a socket was down, and a
  change committed before a subscription is live is not delivered either. So on every
  ``SUBSCRIBED`` (the first one included), after a reconnect, after a rejoin (a heartbeat answered
  "not a member" because cleanup removed a silent member) and after the functions come back, the
  session fetches the room (``sync-get-host-time``), the members and the comments posted since
  the last one it saw, and reports what changed as events.
* **Rows are applied in order.** A function's answer can arrive after a newer Realtime change; a
  row is taken only if it is newer (``updated_at``), or if it was read after the current row
  arrived (a read issued later cannot see an older database).
* **The player follows the room.** Every room row, from Realtime or from an answer, is fed to the
  :class:`SyncEngine`; the host's own player follows the room row too, and the host's actions in
  the player's UI become room actions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from realtime import (
    AsyncRealtimeChannel,
    RealtimeChannelOptions,
    RealtimePostgresChangesListenEvent,
    RealtimeSubscribeStates,
)
from realtime.types import PostgresChangesPayload

from watchium_client._aio import wait_event
from watchium_client._api import WatchiumClient
from watchium_client._errors import (
    ConnectionFailed,
    NotHost,
    NotMember,
    RateLimited,
    RoomNotFound,
    ServerError,
    ServiceUnavailable,
    SignInRequired,
    WatchiumError,
)
from watchium_client.players import Player, PlayerError, PlayerEvent
from watchium_client.session._bus import EventBus
from watchium_client.session._events import (
    CommentPosted,
    ConnectionLost,
    ConnectionRestored,
    EventSource,
    HostChanged,
    MemberJoined,
    MemberLeft,
    MemberUpdated,
    PresenceSynced,
    RoomChanged,
    RoomDeleted,
    RoomEvent,
)
from watchium_client.session._host import HostControls
from watchium_client.session._mirror import RoomMirror, member_from_row
from watchium_client.session._reference import HostAction, PlannedChange, plan_change, player_change
from watchium_client.sync import (
    GroupWaitAction,
    GroupWaitPolicy,
    PlaybackState,
    SyncEngine,
    SyncStatus,
    SyncThresholds,
    parse_server_time,
)
from watchium_wire import (
    Comment,
    Member,
    MemberPresence,
    MemberStatusResult,
    RealtimeHints,
    RoomRow,
    RoomSnapshot,
)

__all__ = ["NewRoom", "RoomSession", "SessionTimings"]

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=RoomEvent)

# Failures that mean "no answer" rather than "no": retried, and reported as a connection loss.
_TRANSIENT = (ConnectionFailed, ServiceUnavailable, ServerError)
_COMMENT_PAGE = 100
_COMMENT_PAGES = 10  # at most 1,000 missed comments are fetched after a reconnect
_KEPT_COMMENTS = 500


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


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionTimings:
    """How often a session talks to the server (seconds)."""

    heartbeat_interval: float = 10.0
    """Member heartbeat (members-update-status); the server removes members silent for 30 s."""
    presence_interval: float = 3.0
    """Presence track; a change of playing, buffering or host role is tracked at once."""
    clock_interval: float = 5.0
    """Clock sample and room refresh (sync-get-host-time)."""
    join_samples: int = 5
    """Clock samples taken at join before the engine starts (the join answer is the first)."""
    join_sample_spacing: float = 0.05
    start_delay: float = 0.25
    """``play()`` starts the room this far in the future (a scheduled start), so every member,
    the host included, starts at the same instant instead of late by its own network delay."""
    seek_delay: float = 0.6
    """``seek()`` in a playing room restarts it this far in the future (a scheduled start):
    long enough for a player's seek to land first, short enough to pass for the seek itself."""
    subscribe_timeout: float = 30.0
    """How long ``open()`` waits for the channel and the first fetch."""
    group_wait_interval: float = 1.0
    retry_max: float = 5.0
    """Longest pause between retries while the server does not answer."""


class RoomSession:
    """A live session in one room: joins it, follows it over Realtime, keeps the membership
    alive and (given a player) keeps the player in step with the room.

    Args:
        client: a signed-in client. One session per room and client.
        room: the room id to join, or a :class:`NewRoom` to create (and host).
        username: the name shown to the others.
        access_key: a private room's 6-digit key (not needed for a room you create).
        avatar_url: optional avatar.
        player: the player to keep in sync (none: the session only follows the room).
        thresholds: the sync engine's tunables.
        group_wait: host side: pause the room while members buffer (see GroupWaitPolicy).
        on_episode_change: awaited when the room moves to another episode, before the player
            aligns (load the episode there).
        leave_on_close: leave the room on close (otherwise the membership lapses after 30 s
            without heartbeats, or a later session can pick it up).
        timings: intervals and timeouts.

    Use it as ``async with`` (or call :meth:`open` and :meth:`close`). Events come both as an
    async iterator (:meth:`events`) and as chainable callbacks (``on_room_change(cb)...``);
    callbacks may be plain functions or coroutines and run in order, one at a time.
    """

    def __init__(
        self,
        client: WatchiumClient,
        room: str | NewRoom,
        *,
        username: str,
        access_key: str | None = None,
        avatar_url: str | None = None,
        player: Player | None = None,
        thresholds: SyncThresholds | None = None,
        group_wait: GroupWaitPolicy | None = None,
        on_episode_change: Callable[[PlaybackState], Awaitable[None]] | None = None,
        leave_on_close: bool = True,
        timings: SessionTimings | None = None,
    ) -> None:
        self._client = client
        self._spec = room
        self._room_id: str | None = room if isinstance(room, str) else None
        self._username = username
        self._access_key = access_key
        self._avatar_url = avatar_url
        self._player = player
        self._thresholds = thresholds
        self._group_wait = group_wait
        self._on_episode_change = on_episode_change
        self._leave_on_close = leave_on_close
        self._timings = timings or SessionTimings()

        self._user_id: str | None = None
        self._view: RoomMirror | None = None
        self._hints: RealtimeHints | None = None
        self._presence: dict[str, MemberPresence] = {}

        self._engine: SyncEngine | None = None
        self._controls: HostControls | None = None
        self._channel: AsyncRealtimeChannel | None = None
        self._subscribed = False
        self._unsubscribed_at: float | None = None
        self._last_status_error: str | None = None
        self._lost: str | None = None
        self._needs_rejoin = False
        self._rejoined = False  # since the last ConnectionRestored
        self._missed = 0  # comments fetched after a loss, since the last ConnectionRestored
        self._joined = False
        self._deleted = False
        self._opened = False
        self._closing = False
        self._closed = False

        self._resync_wanted = asyncio.Event()
        self._resync_reasons: list[str] = []
        self._resync_lock = asyncio.Lock()
        self._resync_error: BaseException | None = None
        self._first_sync = asyncio.Event()
        self._group_wake = asyncio.Event()
        self._last_track = float("-inf")
        self._last_flags: tuple[bool, bool, bool] | None = None
        self._heartbeat_at = float("inf")
        self._heartbeat_wake = asyncio.Event()
        self._answered_at = float("-inf")  # local time of the last answer of a function

        self._bus = EventBus()
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ what it knows

    @property
    def client(self) -> WatchiumClient:
        return self._client

    @property
    def room_id(self) -> str:
        """The room's id (known before ``open`` when joining, after it when creating).

        Raises:
            RuntimeError: a room to be created that ``open`` has not created yet.
        """
        if self._room_id is None:
            raise RuntimeError("the room is created by open(): no room id yet")
        return self._room_id

    @property
    def user_id(self) -> str:
        """This session's user id (``auth.uid()``).

        Raises:
            RuntimeError: before ``open``.
        """
        if self._user_id is None:
            raise RuntimeError("the session is not open")
        return self._user_id

    @property
    def username(self) -> str:
        return self._username

    @property
    def access_key(self) -> str | None:
        """A private room's key: the one given, or the new one when this session created it."""
        return self._access_key

    @property
    def room(self) -> RoomRow | None:
        """The room's row as last seen."""
        return None if self._view is None else self._view.room

    @property
    def state(self) -> PlaybackState | None:
        """The room's playback model as last seen."""
        return None if self._view is None else self._view.state

    @property
    def host_user_id(self) -> str | None:
        return None if self._view is None else self._view.host_user_id

    @property
    def is_host(self) -> bool:
        """Whether this session's user hosts the room now."""
        return self._view is not None and self._view.is_host

    @property
    def members(self) -> dict[str, Member]:
        """The members by user id (a copy)."""
        return {} if self._view is None else dict(self._view.members)

    @property
    def presence(self) -> dict[str, MemberPresence]:
        """Everyone tracked on the room's channel, by user id (a copy)."""
        return dict(self._presence)

    @property
    def comments(self) -> list[Comment]:
        """Recent comments of the room's current thread, oldest first (the last 500)."""
        return [] if self._view is None else list(self._view.comments)

    @property
    def engine(self) -> SyncEngine | None:
        """The sync engine driving the player (None without a player)."""
        return self._engine

    @property
    def player(self) -> Player | None:
        return self._player

    @property
    def status(self) -> SyncStatus | None:
        """The engine's status (None without a player)."""
        return None if self._engine is None else self._engine.status

    @property
    def is_connected(self) -> bool:
        """Subscribed to the room's channel and not in a connection loss."""
        return self._subscribed and self._lost is None

    @property
    def is_open(self) -> bool:
        return self._opened and not self._closed

    @property
    def host_controls(self) -> HostControls | None:
        """The queue that sends this host's playback changes (None before ``open``)."""
        return self._controls

    # ------------------------------------------------------------------ events

    def events(self) -> AsyncIterator[RoomEvent]:
        """A new subscription to the session's events, from now on; it ends when the session
        closes."""
        return self._bus.subscribe()

    def __aiter__(self) -> AsyncIterator[RoomEvent]:
        return self.events()

    def on(self, kind: type[E], callback: Callable[[E], object]) -> Self:
        """Calls ``callback`` with every event of type ``kind`` (a plain function or a
        coroutine function); returns the session, for chaining."""
        self._bus.on(kind, callback)
        return self

    def on_room_change(self, callback: Callable[[RoomChanged], object]) -> Self:
        return self.on(RoomChanged, callback)

    def on_member_join(self, callback: Callable[[MemberJoined], object]) -> Self:
        return self.on(MemberJoined, callback)

    def on_member_leave(self, callback: Callable[[MemberLeft], object]) -> Self:
        return self.on(MemberLeft, callback)

    def on_member_update(self, callback: Callable[[MemberUpdated], object]) -> Self:
        return self.on(MemberUpdated, callback)

    def on_comment(self, callback: Callable[[CommentPosted], object]) -> Self:
        return self.on(CommentPosted, callback)

    def on_host_change(self, callback: Callable[[HostChanged], object]) -> Self:
        return self.on(HostChanged, callback)

    def on_presence_sync(self, callback: Callable[[PresenceSynced], object]) -> Self:
        return self.on(PresenceSynced, callback)

    def on_connection_lost(self, callback: Callable[[ConnectionLost], object]) -> Self:
        return self.on(ConnectionLost, callback)

    def on_connection_restored(self, callback: Callable[[ConnectionRestored], object]) -> Self:
        return self.on(ConnectionRestored, callback)

    def on_room_deleted(self, callback: Callable[[RoomDeleted], object]) -> Self:
        return self.on(RoomDeleted, callback)

    def _emit(self, event: RoomEvent) -> None:
        self._bus.emit(event)

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> Self:
        """Joins (or creates) the room, takes clock samples, starts the engine, subscribes to
        the room's channel and fetches the members and recent comments.

        Raises:
            SignInRequired: the client has no session.
            RoomNotFound, WrongAccessKey, RoomFull, RateLimited, ...: the join was refused.
            ConnectionFailed: the server or Realtime did not answer.
        """
        if self._opened:
            raise RuntimeError("a RoomSession can be opened once")
        self._opened = True
        user_id = await self._client.user_id()
        if user_id is None:
            raise SignInRequired("sign in first (WatchiumClient.connect signs in anonymously)")
        self._user_id = user_id
        self._view = RoomMirror(self._room_id, user_id, kept_comments=_KEPT_COMMENTS)
        self._bus.start()
        subscribing: asyncio.Task[None] | None = None
        try:
            await self._join()
            room_id = self.room_id
            self._spawn(self._resync_loop(), "resync")
            # The channel's handshake and the clock samples overlap: both are round trips.
            subscribing = asyncio.create_task(self._subscribe(), name="watchium-subscribe")
            await self._take_join_samples()
            self._controls = HostControls(
                self._client,
                room_id,
                server_now=self._client.clock.server_now,
                on_result=lambda room: self._accept_room(room.model_dump(), "rpc", None),
            )
            if self._player is not None:
                self._engine = SyncEngine(
                    self._player,
                    self._client.clock,
                    thresholds=self._thresholds,
                    on_user_action=self._on_user_action,
                    on_episode_change=self._on_episode_change,
                )
                if self.state is not None:
                    self._engine.update_room(self.state)
                self._engine.start()
            await subscribing
            await self._wait_first_sync()
            self._spawn(self._heartbeat_loop(), "heartbeat")
            self._spawn(self._presence_loop(), "presence")
            self._spawn(self._clock_loop(), "clock")
            self._spawn(self._watchdog_loop(), "watchdog")
            if self._group_wait is not None:
                self._spawn(self._group_wait_loop(), "group-wait")
        except BaseException:
            if subscribing is not None and not subscribing.done():
                subscribing.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await subscribing
            await self.close(leave=self._leave_on_close)
            raise
        logger.info("in room %s as %s (host: %s)", room_id, self._username, self.is_host)
        return self

    async def close(self, *, leave: bool | None = None) -> None:
        """Stops the engine and the heartbeats, untracks, unsubscribes, and leaves the room
        (``leave`` overrides ``leave_on_close``). The player is left open. Safe to call twice."""
        if self._closed or self._closing:
            return
        self._closing = True
        leave = self._leave_on_close if leave is None else leave
        tasks, self._tasks = self._tasks, []
        tasks.extend(self._background)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._controls is not None:
            await self._controls.close()
        if self._engine is not None:
            await self._engine.stop()
        channel, self._channel = self._channel, None
        self._subscribed = False
        if channel is not None:
            if channel.is_joined:
                with contextlib.suppress(Exception):
                    await channel.untrack()
            with contextlib.suppress(Exception):
                await self._client.supabase.remove_channel(channel)
        if leave and self._joined and not self._deleted and self._room_id is not None:
            try:
                await self._client.leave_room(self._room_id)
            except WatchiumError as exc:
                logger.info("leaving room %s: %s", self._room_id, exc)
        self._joined = False
        self._closed = True
        await self._bus.close()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=f"watchium-session-{name}"))

    def _background_task(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _join(self) -> None:
        client = self._client
        sent = client.clock.local_now()
        if isinstance(self._spec, NewRoom):
            spec = self._spec
            created = await client.create_room(
                title=spec.title,
                anime_id=spec.anime_id,
                anime_title=spec.anime_title,
                video_url=spec.video_url,
                username=self._username,
                episode_number=spec.episode_number,
                is_public=spec.is_public,
                source_id=spec.source_id,
                avatar_url=self._avatar_url,
            )
            self._room_id = created.room.room_id
            self._require_view().room_id = self._room_id
            self._access_key = created.access_key
            self._hints = created.realtime
            room: RoomSnapshot = created.room
            member: Member = created.member
        else:
            joined = await client.join_room(
                self.room_id,
                username=self._username,
                access_key=self._access_key,
                avatar_url=self._avatar_url,
            )
            self._hints = joined.realtime
            room, member = joined.room, joined.member
        self._joined = True
        self._accept_room(room.model_dump(), "rpc", sent)
        self._upsert_member(member, "rpc")

    async def _take_join_samples(self) -> None:
        # The join answer was the first sample; the clock filter keeps the best of these.
        for _ in range(max(0, self._timings.join_samples - 1)):
            await asyncio.sleep(self._timings.join_sample_spacing)
            await self._fetch_room()

    async def _wait_first_sync(self) -> None:
        try:
            await asyncio.wait_for(self._first_sync.wait(), self._timings.subscribe_timeout)
        except TimeoutError:
            error = self._resync_error
            if isinstance(error, WatchiumError):
                raise error from None
            raise ConnectionFailed(f"room {self.room_id}: the first fetch did not complete") from (
                error
            )
        if self._deleted:
            raise RoomNotFound(f"room {self.room_id} no longer exists", code="WR404")

    # ------------------------------------------------------------------ Realtime

    async def _subscribe(self) -> None:
        """Opens a new channel on the room's topic and waits for the join's answer.

        Raises:
            ConnectionFailed: the join was refused or did not complete.
        """
        assert self._hints is not None
        supabase = self._client.supabase
        session = await supabase.auth.get_session()
        if session is not None:
            # supabase-py hands a new token to Realtime in a background task; a channel joined
            # before it ran would join as anon (and a private room would refuse it).
            await supabase.realtime.set_auth(session.access_token)
        hints = self._hints
        params: RealtimeChannelOptions = {
            "config": {
                "broadcast": {"ack": False, "self": False},
                "presence": {"key": hints.presence_key, "enabled": True},
                "private": hints.private,
            }
        }
        channel = supabase.channel(hints.channel, params)
        handlers: dict[str, Callable[[PostgresChangesPayload], None]] = {
            "rooms": self._on_room_row,
            "room_members": self._on_member_row,
            "comments": self._on_comment_row,
        }
        for binding in hints.postgres_changes:
            handler = handlers.get(binding.table)
            if handler is None:
                logger.debug("no handler for %s changes: not subscribed", binding.table)
                continue
            channel.on_postgres_changes(
                RealtimePostgresChangesListenEvent(binding.event),
                _guarded(handler),
                table=binding.table,
                schema=binding.schema_,
                filter=binding.filter,
            )
        channel.on_presence_sync(_guarded_sync(self._on_presence_sync))
        self._channel = channel

        def on_status(status: RealtimeSubscribeStates, error: Exception | None) -> None:
            self._on_status(channel, status, error)

        try:
            await asyncio.wait_for(channel.subscribe(on_status), self._timings.subscribe_timeout)
        except Exception as exc:
            raise ConnectionFailed(f"Realtime: cannot subscribe to {hints.channel}: {exc}") from exc
        if not self._subscribed:
            raise ConnectionFailed(
                f"Realtime: cannot subscribe to {hints.channel}: "
                f"{self._last_status_error or 'no answer'}"
            )

    def _on_status(
        self,
        channel: AsyncRealtimeChannel,
        status: RealtimeSubscribeStates,
        error: Exception | None,
    ) -> None:
        if channel is not self._channel or self._closing:
            return
        if status == RealtimeSubscribeStates.SUBSCRIBED:
            self._subscribed = True
            self._unsubscribed_at = None
            self._last_status_error = None
            # Changes committed while unsubscribed, or before the subscription was live, are
            # not replayed: fetch the state again on every SUBSCRIBED.
            self._request_resync("subscribed")
            return
        was = self._subscribed
        self._subscribed = False
        if self._unsubscribed_at is None:
            self._unsubscribed_at = self._client.clock.local_now()
        self._last_status_error = f"{status.value}" + (f": {error}" if error else "")
        if was:
            self._mark_lost(f"Realtime {self._last_status_error}")

    def _on_room_row(self, payload: PostgresChangesPayload) -> None:
        record = payload["data"].get("record")
        if record:
            self._accept_room(record, "realtime", None)

    def _on_member_row(self, payload: PostgresChangesPayload) -> None:
        data = payload["data"]
        if data["type"] == RealtimePostgresChangesListenEvent.Delete:
            # DELETE events carry only the key under RLS, and reach every subscriber of the
            # table (they cannot be filtered): known rows only.
            row_id = str((data.get("old_record") or {}).get("id"))
            self._apply(self._require_view().member_row_deleted(row_id, "realtime"))
            return
        record = data.get("record")
        if record:
            self._upsert_member(member_from_row(record), "realtime")

    def _on_comment_row(self, payload: PostgresChangesPayload) -> None:
        record = payload["data"].get("record")
        if record:
            self._apply(
                self._require_view().add_comment(Comment.model_validate(record), missed=False)
            )

    def _on_presence_sync(self) -> None:
        channel = self._channel
        if channel is None:
            return
        presence: dict[str, MemberPresence] = {}
        for key, metas in channel.presence_state().items():
            if not metas:
                continue
            try:
                presence[key] = MemberPresence.model_validate(dict(metas[-1]))
            except ValueError:
                logger.debug("ignoring a presence of %s that is not a member's", key)
        self._presence = presence
        self._group_wake.set()
        self._emit(PresenceSynced(dict(presence)))

    # ------------------------------------------------------------------ applying rows

    def _now(self) -> float:
        return self._client.clock.local_now()

    def _accept_room(self, row: Mapping[str, Any], source: EventSource, sent: float | None) -> None:
        view = self._require_view()
        before = view.state
        events = view.accept_room(row, source, now=self._now(), sent=sent)
        if view.state is not before and view.state is not None and self._engine is not None:
            # The view takes rows in the order they were written.
            self._engine.update_room(view.state, ordered=True)
        self._apply(events)

    def _upsert_member(self, member: Member, source: EventSource) -> None:
        self._apply(self._require_view().upsert_member(member, source, now=self._now()))

    def _apply(self, events: list[RoomEvent]) -> None:
        """Acts on what the view reports, then passes it on."""
        for event in events:
            if isinstance(event, HostChanged):
                if event.is_me:
                    logger.info("%s is now the host of room %s", self._username, self._room_id)
                elif event.previous_host_user_id == self._user_id:
                    logger.info(
                        "%s is no longer the host of room %s", self._username, self._room_id
                    )
                    if self._controls is not None:
                        self._controls.cancel_pending(NotHost("no longer the host", code="WRH03"))
                self._group_wake.set()
            elif isinstance(event, RoomChanged) and event.playback_changed:
                # Once the players have aligned (well within 2 s), tell the server where we are.
                self._heartbeat_soon(2.0)
            elif isinstance(event, MemberLeft) and event.user_id == self._user_id:
                if not self._closing:
                    # Our membership is gone (cleanup removed a silent member): join again.
                    logger.info("removed from room %s: joining again", self._room_id)
                    self._needs_rejoin = True
                    self._request_resync("membership removed")
            self._emit(event)

    def _require_view(self) -> RoomMirror:
        if self._view is None:
            raise RuntimeError("the session is not open")
        return self._view

    # ------------------------------------------------------------------ refetching

    def _request_resync(self, reason: str) -> None:
        if self._closing:
            return
        self._resync_reasons.append(reason)
        self._resync_wanted.set()

    async def refresh(self) -> None:
        """Fetches the room, the members and the missed comments now (the session does this
        by itself after every reconnect and rejoin).

        Raises:
            WatchiumError: a fetch failed.
        """
        await self._resync()

    async def _resync_loop(self) -> None:
        delay = 0.5
        while True:
            await self._resync_wanted.wait()
            self._resync_wanted.clear()
            try:
                await self._resync()
            except _TRANSIENT as exc:
                self._resync_error = exc
                self._mark_lost(f"the functions do not answer: {exc}")
                self._resync_wanted.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._timings.retry_max)
                continue
            except RateLimited as exc:
                self._resync_error = exc
                logger.warning("rejoining room %s: %s", self._room_id, exc)
                self._resync_wanted.set()
                await asyncio.sleep(exc.retry_after)
                continue
            except WatchiumError as exc:
                self._resync_error = exc
                logger.warning("refetching room %s failed: %s", self._room_id, exc)
                self._resync_wanted.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._timings.retry_max)
                continue
            delay = 0.5

    async def _resync(self) -> None:
        async with self._resync_lock:
            reasons, self._resync_reasons = self._resync_reasons, []
            if self._deleted:
                return
            if self._needs_rejoin:
                if not await self._rejoin():
                    return
            try:
                await self._fetch_room()
                me = await self._fetch_members()
            except (NotMember, RoomNotFound):
                # A private room is invisible to non-members: rejoin, or learn it is gone.
                if not await self._rejoin():
                    return
                await self._fetch_room()
                me = await self._fetch_members()
            if not me:
                if not await self._rejoin():
                    return
                await self._fetch_members()
            self._missed += await self._fetch_comments()
            self._resync_error = None
            if self._subscribed and (self._lost is not None or self._rejoined):
                reason = self._lost or ", ".join(reasons) or "rejoined"
                rejoined, self._rejoined = self._rejoined, False
                missed, self._missed = self._missed, 0
                self._lost = None
                logger.info(
                    "room %s restored (%s): %d missed comment(s)", self._room_id, reason, missed
                )
                self._emit(ConnectionRestored(reason, rejoined, missed))
            elif self._lost is None and not self._rejoined:
                self._missed = 0
            self._first_sync.set()
            self._last_flags = None  # track at once: presence does not survive a reconnect

    async def _rejoin(self) -> bool:
        """Joins the room again; False when it no longer exists."""
        try:
            joined = await self._client.join_room(
                self.room_id,
                username=self._username,
                access_key=self._access_key,
                avatar_url=self._avatar_url,
            )
        except RoomNotFound:
            self._room_gone()
            return False
        self._needs_rejoin = False
        self._rejoined = True
        self._joined = True
        self._accept_room(joined.room.model_dump(), "rpc", None)
        self._upsert_member(joined.member, "rpc")
        logger.info("joined room %s again", self._room_id)
        return True

    async def _fetch_room(self) -> None:
        sent = self._client.clock.local_now()
        live = await self._client.host_time(self.room_id)
        self._accept_room(live.model_dump(), "rpc", sent)

    async def _fetch_members(self) -> bool:
        """Fetches the member list; returns whether this user is in it."""
        view = self._require_view()
        sent = self._now()
        listed = await self._client.members(self.room_id)
        self._accept_room(listed.room.model_dump(), "rpc", sent)
        members = [member_from_row(m.model_dump()) for m in listed.members]
        self._apply(view.reconcile_members(members, sent=sent, now=self._now()))
        return any(m.user_id == self._user_id for m in members)

    async def _fetch_comments(self) -> int:
        """Loads the thread's recent comments the first time; afterwards, the comments posted
        since the last one seen (each reported as missed). Returns how many were new."""
        view = self._require_view()
        room = view.room
        if room is None:
            return 0
        new: list[Comment] = []
        before: str | None = None
        since = view.comments_since
        for _ in range(_COMMENT_PAGES):
            page = await self._client.comments(
                anime_id=room.anime_id,
                episode_number=room.episode_number,
                room_id=self.room_id,
                limit=_COMMENT_PAGE,
                before=before,
            )
            new = page.comments + new
            if not view.comments_loaded or not page.has_more or not page.comments:
                break
            # created_at is the transaction's start: a comment committed after a newer one can
            # carry an older time, so look a little further back than the last one seen.
            if since is not None and _time(page.comments[0].created_at) < since - 5.0:
                break
            before = page.next_before
        if not view.comments_loaded:
            view.load_comments(new)
            return 0
        count = 0
        for comment in sorted(new, key=lambda c: _time(c.created_at)):
            events = view.add_comment(comment, missed=True)
            count += len(events)
            self._apply(events)
        return count

    def _room_gone(self) -> None:
        if self._deleted:
            return
        self._deleted = True
        self._joined = False
        logger.info("room %s no longer exists", self._room_id)
        if self._engine is not None:
            self._background_task(self._engine.stop())
        self._first_sync.set()
        self._emit(RoomDeleted(self.room_id))

    def _mark_lost(self, reason: str) -> None:
        if self._closing or self._lost is not None:
            return
        self._lost = reason
        logger.info("room %s: connection lost (%s)", self._room_id, reason)
        self._emit(ConnectionLost(reason))

    # ------------------------------------------------------------------ background loops

    def _heartbeat_soon(self, delay: float) -> None:
        """Brings the next heartbeat forward, so the server's view of this member (position,
        is_synced, is_buffering) follows a host action or a stall within seconds."""
        at = self._client.clock.local_now() + delay
        if at < self._heartbeat_at:
            self._heartbeat_at = at
            self._heartbeat_wake.set()

    async def _heartbeat_loop(self) -> None:
        clock = self._client.clock
        interval = self._timings.heartbeat_interval
        self._heartbeat_at = min(self._heartbeat_at, clock.local_now() + interval)
        while not self._deleted:
            wait = self._heartbeat_at - clock.local_now()
            if wait > 0:
                self._heartbeat_wake.clear()
                await wait_event(self._heartbeat_wake, wait)
                continue
            self._heartbeat_at = clock.local_now() + interval
            try:
                await self.heartbeat()
            except (NotMember, RoomNotFound) as exc:
                logger.info("heartbeat in room %s: %s", self._room_id, exc)
                self._needs_rejoin = True
                self._request_resync("heartbeat refused: not a member")
            except _TRANSIENT as exc:
                self._mark_lost(f"heartbeat: {exc}")
                self._heartbeat_at = min(self._heartbeat_at, clock.local_now() + 1.0)
            except WatchiumError as exc:
                logger.warning("heartbeat in room %s: %s", self._room_id, exc)

    async def heartbeat(self) -> MemberStatusResult:
        """Reports this member's position and buffering now (members-update-status).

        The session does this every ``heartbeat_interval``, 2 s after each host action and
        at each change of buffering; call it to update the server's view at once.

        Raises:
            NotMember, RoomNotFound: the membership is gone (the session joins again by
                itself); ConnectionFailed: no answer.
        """
        position, buffering = await self._player_report()
        clock = self._client.clock
        sent = clock.local_now()
        result = await self._client.update_status(
            self.room_id, current_time=position, is_buffering=buffering
        )
        self._answered_at = clock.local_now()
        self._accept_room(result.room.model_dump(), "rpc", sent)
        self._upsert_member(result.member, "rpc")
        if self._lost is not None:
            self._request_resync("the functions answer again")
        return result

    async def _clock_loop(self) -> None:
        while not self._deleted:
            await asyncio.sleep(self._timings.clock_interval)
            try:
                await self._fetch_room()
            except RoomNotFound:
                self._request_resync("room not found")
            except _TRANSIENT as exc:
                self._mark_lost(f"clock sample: {exc}")
            except WatchiumError as exc:
                logger.debug("clock sample in room %s: %s", self._room_id, exc)
            else:
                self._answered_at = self._client.clock.local_now()
                if self._lost is not None:
                    self._request_resync("the functions answer again")

    async def _presence_loop(self) -> None:
        while not self._deleted:
            await asyncio.sleep(0.25)
            channel = self._channel
            if channel is None or not self._subscribed:
                continue
            position, buffering = await self._player_report()
            playing = self._player.is_playing if self._player is not None else False
            flags = (playing, bool(buffering), self.is_host)
            if self._last_flags is not None and flags[1] != self._last_flags[1]:
                # A stall is reported at once; its end once the player has caught up.
                self._heartbeat_soon(0.0 if flags[1] else 2.0)
            now = self._client.clock.local_now()
            if (
                flags == self._last_flags
                and now - self._last_track < self._timings.presence_interval
            ):
                continue
            status = self.status
            presence = MemberPresence(
                user_id=self.user_id,
                username=self._username,
                position=position,
                playing=playing,
                buffering=bool(buffering),
                drift=None if status is None else status.drift,
                synced=None if status is None or status.drift is None else status.is_synced,
                host=self.is_host,
                at=self._client.clock.server_now(),
            )
            try:
                await channel.track(presence.model_dump())
            except Exception as exc:
                logger.debug("presence track failed: %s", exc)
                continue
            self._last_track, self._last_flags = now, flags

    async def _watchdog_loop(self) -> None:
        """Repairs what realtime-py does not: it stops reconnecting after a few failed
        attempts, and a channel the server closed is never joined again."""
        realtime = self._client.supabase.realtime
        while not self._deleted:
            await asyncio.sleep(1.0)
            if self._subscribed or self._unsubscribed_at is None:
                continue
            down_for = self._client.clock.local_now() - self._unsubscribed_at
            channel = self._channel
            try:
                if channel is None or realtime.channels.get(channel.topic) is not channel:
                    if down_for > 3.0:
                        logger.info(
                            "room %s: the channel was closed: subscribing again", self._room_id
                        )
                        await self._subscribe()
                elif not realtime.is_connected and (
                    down_for > 20.0 or self._answered_at > self._unsubscribed_at + 1.0
                ):
                    # realtime-py's backoff grows to 8 s and it gives up after 5 attempts; when
                    # the functions answer again the server is back: do not wait for it.
                    logger.info("room %s: connecting to Realtime again", self._room_id)
                    await realtime.connect()
            except Exception as exc:
                logger.debug("room %s: Realtime still down: %s", self._room_id, exc)

    async def _group_wait_loop(self) -> None:
        policy = self._group_wait
        assert policy is not None
        while not self._deleted:
            await wait_event(self._group_wake, self._timings.group_wait_interval)
            self._group_wake.clear()
            state = self.state
            if not self.is_host or state is None:
                continue
            buffering = {uid: p.buffering for uid, p in self._presence.items()}
            decision = policy.update(self._client.clock.local_now(), state.is_playing, buffering)
            try:
                if decision.action is GroupWaitAction.PAUSE:
                    logger.info(
                        "group wait: pausing for %s", ", ".join(sorted(decision.waiting_for))
                    )
                    await self.pause()
                elif decision.action is GroupWaitAction.RESUME:
                    logger.info("group wait: resuming")
                    await self.play()
            except WatchiumError as exc:
                logger.warning("group wait: %s", exc)

    async def _player_report(self) -> tuple[float | None, bool | None]:
        if self._player is None:
            return None, None
        try:
            return await self._player.position(), self._player.is_buffering
        except PlayerError:
            return None, None

    # ------------------------------------------------------------------ host controls

    def _require_control(self) -> tuple[HostControls, PlaybackState]:
        state = self.state
        if self._controls is None or state is None or self._closing:
            raise RuntimeError("the session is not open")
        return self._controls, state

    async def play(
        self, *, position: float | None = None, start_delay: float | None = None
    ) -> RoomSnapshot:
        """Host: start playback, from ``position`` or from where the room is paused.

        The room starts ``start_delay`` seconds from now (default ``timings.start_delay``), a
        scheduled start that every member's engine honours to the millisecond.

        Raises:
            NotHost: this user is not the host.
        """
        delay = self._timings.start_delay if start_delay is None else max(0.0, start_delay)
        return await self._submit("play", position=position, delay=delay)

    async def pause(self, *, position: float | None = None) -> RoomSnapshot:
        """Host: pause, at ``position`` or exactly where the room is now.

        Raises:
            NotHost: this user is not the host.
        """
        return await self._submit("pause", position=position)

    async def seek(self, position: float, *, start_delay: float | None = None) -> RoomSnapshot:
        """Host: move playback to ``position`` seconds.

        While the room plays, it restarts from ``position`` ``start_delay`` seconds from now
        (default ``timings.seek_delay``): every player lands there paused and they all start
        at the same instant, instead of each chasing the room by its own network and seek
        delays. A burst of seeks is coalesced: only the last target is sent once the rate limit
        allows.

        Raises:
            NotHost: this user is not the host.
            InvalidInput: a negative position.
        """
        delay = self._timings.seek_delay if start_delay is None else max(0.0, start_delay)
        return await self._submit("seek", position=position, delay=delay)

    async def set_speed(self, speed: float) -> RoomSnapshot:
        """Host: change the playback speed (0.25 to 4, to the hundredth), continuing from where
        the room is now.

        Raises:
            NotHost: this user is not the host.
            InvalidInput: a speed out of range.
        """
        return await self._submit("speed", speed=speed)

    async def _submit(
        self,
        action: HostAction,
        *,
        position: float | None = None,
        speed: float | None = None,
        delay: float = 0.0,
    ) -> RoomSnapshot:
        controls, state = self._require_control()
        now = self._client.clock.server_now()
        change = plan_change(action, state, now, position=position, speed=speed, delay=delay)
        return await _send(controls, change)

    async def post_comment(
        self,
        message: str,
        *,
        video_timestamp: float | None = None,
        parent_id: str | None = None,
    ) -> Comment:
        """Posts into the room's thread for its current episode, at the player's position (or
        the room's) unless ``video_timestamp`` is given.

        Raises:
            NotMember, RateLimited (5 per minute), TooLarge (over 1000 characters), ...
        """
        room, state = self.room, self.state
        if room is None or state is None:
            raise RuntimeError("the session is not open")
        if video_timestamp is None:
            position, _ = await self._player_report()
            if position is None:
                position = state.target_position(self._client.clock.server_now())
            video_timestamp = round(position, 2)
        comment = await self._client.post_comment(
            anime_id=room.anime_id,
            episode_number=room.episode_number,
            message=message,
            username=self._username,
            room_id=self.room_id,
            parent_id=parent_id,
            video_timestamp=video_timestamp,
            avatar_url=self._avatar_url,
        )
        self._apply(self._require_view().add_comment(comment, missed=False))
        return comment

    def _on_user_action(self, event: PlayerEvent) -> None:
        if not self.is_host or self._closing:
            logger.debug("%s in the player: not the host, the room decides", event.kind)
            return
        self._background_task(self._apply_user_action(event))

    async def _apply_user_action(self, event: PlayerEvent) -> None:
        """Turns the host's action in the player's own UI into the room action."""
        player = self._player
        state = self.state
        controls = self._controls
        if player is None or state is None or controls is None:
            return
        now = self._client.clock.server_now()
        try:
            position = await player.position()
            change = player_change(event, state, now, position=position, playing=player.is_playing)
            if change is not None:
                await _send(controls, change)
        except WatchiumError as exc:
            logger.warning("room action for %s in the player failed: %s", event.kind, exc)
        except PlayerError as exc:
            logger.warning("reading the player for %s failed: %s", event.kind, exc)


async def _send(controls: HostControls, change: PlannedChange) -> RoomSnapshot:
    return await controls.submit(
        change.action, position=change.position, speed=change.speed, at=change.at
    )


def _guarded(
    handler: Callable[[PostgresChangesPayload], None],
) -> Callable[[PostgresChangesPayload], None]:
    # realtime-py calls handlers inside its receive loop: an exception would end the loop.
    def guarded(payload: PostgresChangesPayload) -> None:
        try:
            handler(payload)
        except Exception:
            logger.exception("handling a Realtime change failed")

    return guarded


def _guarded_sync(handler: Callable[[], None]) -> Callable[[], None]:
    def guarded() -> None:
        try:
            handler()
        except Exception:
            logger.exception("handling a presence change failed")

    return guarded


def _time(value: str) -> float:
    try:
        return parse_server_time(value)
    except (TypeError, ValueError):
        return float("-inf")
