# Over 500 lines: the public API of RoomSession (docs/CLIENT.md); the work is in its parts.
"""``RoomSession``: one room, live: membership, Realtime, presence, heartbeats and the sync engine.

    async with RoomSession(client, "k3m9x2p7qa", username="mio", player=player) as session:
        session.on_comment(print).on_host_change(lambda e: print("host:", e.host_user_id))
        async for event in session.events():
            ...

Built on :class:`WatchiumClient` only: the functions through ``client.call`` and Realtime through
``client.supabase.channel(...)``, so there is one HTTP stack and one websocket per client.

What it keeps true, whatever the network does:

* **State is never lost.** Realtime does not replay what happened while a socket was down, so on
  every ``SUBSCRIBED``, reconnect, rejoin and return of the functions the session refetches the
  room, the members and the comments it missed (``_resync``).
* **Rows are applied in order.** A function's answer can arrive after a newer Realtime change; a
  row is taken only if it is newer, or was read after the current row arrived (``_mirror``).
* **The player follows the room.** Every room row, from Realtime or from an answer, is fed to the
  :class:`SyncEngine`; the host's own player follows the room row too, and the host's actions in
  the player's UI become room actions (``_hosting``).

``RoomSession`` is the coordinator: it builds the parts, starts and stops their loops, and routes
what they report. Every row goes through one intake (``_take_room``, ``_take_member``,
``_apply``) that updates the mirror, feeds the engine, and acts on the events before publishing
them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Self

from watchium_client._api import WatchiumClient
from watchium_client._errors import SignInRequired
from watchium_client.comments import ReplayMode, ReplayTimings
from watchium_client.players import Player
from watchium_client.session._bus import EventBus
from watchium_client.session._channel import RoomChannel
from watchium_client.session._context import RowSink, SessionContext, SessionTimings
from watchium_client.session._events import (
    EventSource,
    HostChanged,
    MemberLeft,
    PresenceSynced,
    RemovedFromRoom,
    RoomDeleted,
    RoomEvent,
)
from watchium_client.session._heartbeat import Heartbeat, sample_clock
from watchium_client.session._host import HostControls
from watchium_client.session._hosting import Hosting
from watchium_client.session._membership import Membership, NewRoom
from watchium_client.session._mirror import RoomMirror
from watchium_client.session._night import NightSession
from watchium_client.session._player_link import PlayerLink
from watchium_client.session._presence import PresenceTracker
from watchium_client.session._queue import AutoAdvance
from watchium_client.session._ready import ReadyFollower
from watchium_client.session._replay import SessionReplay
from watchium_client.session._resync import Resync
from watchium_client.session._subscriptions import RoomSubscriptions
from watchium_client.sync import (
    GroupWaitPolicy,
    PlaybackState,
    SyncEngine,
    SyncStatus,
    SyncThresholds,
)
from watchium_wire import (
    Comment,
    Member,
    MemberPresence,
    MemberStatusResult,
    RoomRow,
    RoomSnapshot,
)

__all__ = ["RoomSession"]

logger = logging.getLogger(__name__)


_KEPT_COMMENTS = 500


class RoomSession(RoomSubscriptions, NightSession):
    """A live session in one room: joins it, follows it over Realtime, keeps the membership
    alive and (given a player) keeps the player in step with the room.

    Args:
        client: a signed-in client. One session per room and client.
        room: the room id to join, or a :class:`NewRoom` to create (and host).
        username: the name shown to the others.
        access_key: a private room's 6-digit key (not needed for a room you create).
        invite_token: a host's invite to a private room, instead of its key
            (``WatchiumClient.create_invite``).
        avatar_url: optional avatar.
        player: the player to keep in sync (none: the session only follows the room).
        thresholds: the sync engine's tunables.
        group_wait: host side: pause the room while members buffer (see GroupWaitPolicy).
        on_episode_change: awaited when the room moves to another episode, before the player
            aligns (load the episode there).
        auto_ready: answer the room's ready checks ready by itself once the player has the
            room's episode (False: the app asks its user and calls :meth:`ready`).
        leave_on_close: leave the room on close (otherwise the membership lapses after 30 s
            without heartbeats, or a later session can pick it up).
        timings: intervals and timeouts.
        replay: timed replay of the episode's comments as :class:`TimedComment` events: "all"
            parties' (the default), this "room"'s only, or "off".
        replay_timings: the replay's window and sleep tunables.

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
        invite_token: str | None = None,
        avatar_url: str | None = None,
        player: Player | None = None,
        thresholds: SyncThresholds | None = None,
        group_wait: GroupWaitPolicy | None = None,
        on_episode_change: Callable[[PlaybackState], Awaitable[None]] | None = None,
        auto_ready: bool = True,
        leave_on_close: bool = True,
        timings: SessionTimings | None = None,
        replay: ReplayMode = "all",
        replay_timings: ReplayTimings | None = None,
    ) -> None:
        self._client = client
        ctx = self._ctx = SessionContext(
            client.clock,
            timings or SessionTimings(),
            room_id=room if isinstance(room, str) else None,
        )
        mirror = self._view = RoomMirror(ctx.room_id, None, kept_comments=_KEPT_COMMENTS)
        sink = RowSink(self._take_room, self._take_member, self._apply)
        self._tasks: set[asyncio.Task[None]] = set()
        self._bus = EventBus()
        self._link = PlayerLink(
            player, client.clock, thresholds=thresholds, on_episode_change=on_episode_change
        )
        self._membership = Membership(
            client,
            ctx,
            mirror,
            sink,
            room,
            username=username,
            access_key=access_key,
            avatar_url=avatar_url,
            leave_on_close=leave_on_close,
            invite_token=invite_token,
        )
        self._resync = Resync(
            self._membership,
            ctx,
            self._deliver,
            is_subscribed=lambda: self._channel.subscribed,
        )
        self._channel = RoomChannel(
            client, ctx, mirror, sink, self._resync, on_presence=self._presence_synced
        )
        self._heartbeat = Heartbeat(self.heartbeat, ctx, self._resync)
        self._tracker = PresenceTracker(
            ctx, self._channel, self._presence_snapshot, self._heartbeat.soon
        )
        self._replay = SessionReplay(
            client, ctx, mirror, self._deliver, mode=replay, timings=replay_timings
        )
        self._auto_advance = AutoAdvance(client, ctx, mirror)
        self._ready = ReadyFollower(
            client,
            ctx,
            mirror,
            sink,
            episode_loaded=self._episode_loaded,
            auto_ready=auto_ready,
        )
        self._host = Hosting(
            ctx,
            mirror,
            self._link,
            sink,
            spawn=self._background,
            group_wait=group_wait,
            presence=lambda: self._channel.presence,
        )

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
        return self._ctx.require_room_id()

    @property
    def user_id(self) -> str:
        """This session's user id (``auth.uid()``).

        Raises:
            RuntimeError: before ``open``.
        """
        if self._view.user_id is None:
            raise RuntimeError("the session is not open")
        return self._view.user_id

    @property
    def username(self) -> str:
        return self._membership.username

    @property
    def access_key(self) -> str | None:
        """A private room's key: the one given, or the new one when this session created it."""
        return self._membership.access_key

    @property
    def room(self) -> RoomRow | None:
        """The room's row as last seen."""
        return self._view.room

    @property
    def state(self) -> PlaybackState | None:
        """The room's playback model as last seen."""
        return self._view.state

    @property
    def host_user_id(self) -> str | None:
        return self._view.host_user_id

    @property
    def is_host(self) -> bool:
        """Whether this session's user hosts the room now."""
        return self._view.is_host

    def _episode_loaded(self) -> bool:
        engine = self._link.engine
        return engine.episode_loaded if engine is not None else self._link.player is None

    @property
    def is_cohost(self) -> bool:
        """Whether the host made this session's user a co-host: its :meth:`play`, :meth:`pause`,
        :meth:`seek` and :meth:`set_speed` control the room as the host's do (docs/NIGHTS.md)."""
        me = self._view.members.get(self._view.user_id or "")
        return me is not None and me.is_cohost

    @property
    def members(self) -> dict[str, Member]:
        """The members by user id (a copy)."""
        return dict(self._view.members)

    @property
    def presence(self) -> dict[str, MemberPresence]:
        """Everyone tracked on the room's channel, by user id (a copy)."""
        return dict(self._channel.presence)

    @property
    def comments(self) -> list[Comment]:
        """Recent comments of the room's current thread, oldest first (the last 500)."""
        return list(self._view.comments)

    @property
    def engine(self) -> SyncEngine | None:
        """The sync engine driving the player (None without a player)."""
        return self._link.engine

    @property
    def player(self) -> Player | None:
        return self._link.player

    @property
    def status(self) -> SyncStatus | None:
        """The engine's status (None without a player)."""
        return self._link.status

    @property
    def is_connected(self) -> bool:
        """Subscribed to the room's channel and not in a connection loss."""
        return self._channel.subscribed and self._resync.lost is None

    @property
    def is_open(self) -> bool:
        return self._ctx.opened and not self._ctx.closed

    @property
    def host_controls(self) -> HostControls | None:
        """The queue that sends this host's playback changes (None before ``open``)."""
        return self._host.controls

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
            RoomNotFound (also a wrong key), RoomFull, RateLimited, ...: the join was refused.
            ConnectionFailed: the server or Realtime did not answer.
        """
        ctx = self._ctx
        if ctx.opened:
            raise RuntimeError("a RoomSession can be opened once")
        ctx.opened = True
        user_id = await self._client.user_id()
        if user_id is None:
            raise SignInRequired("sign in first (WatchiumClient.connect signs in anonymously)")
        self._view.user_id = user_id
        self._bus.start()
        subscribing: asyncio.Task[None] | None = None
        try:
            membership = self._membership
            await membership.join()
            room_id = self.room_id
            assert membership.hints is not None
            self._spawn(self._resync.run(), "resync")
            # The channel's handshake and the clock samples overlap: both are round trips.
            subscribing = asyncio.create_task(
                self._channel.subscribe(membership.hints), name="watchium-subscribe"
            )
            await membership.take_clock_samples()
            self._host.start(self._client, room_id)
            self._link.start(self.state, self._host.on_user_action, self._host)
            await subscribing
            await self._resync.wait_first(ctx.timings.subscribe_timeout)
            self._spawn(self._heartbeat.run(), "heartbeat")
            self._spawn(self._tracker.run(), "presence")
            self._spawn(sample_clock(membership.fetch_room, ctx, self._resync), "clock")
            self._spawn(self._channel.watchdog(), "watchdog")
            self._spawn(self._replay.run(), "replay")
            self._spawn(self._auto_advance.run(), "auto-advance")
            self._spawn(self._ready.run(), "ready-check")
            if self._host.group is not None:
                self._spawn(self._host.group.run(), "group-wait")
        except BaseException:
            if subscribing is not None and not subscribing.done():
                subscribing.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await subscribing
            await self.close(leave=self._membership.leave_on_close)
            raise
        logger.info("in room %s as %s (host: %s)", room_id, self.username, self.is_host)
        return self

    async def close(self, *, leave: bool | None = None) -> None:
        """Stops the engine and the heartbeats, untracks, unsubscribes, and leaves the room
        (``leave`` overrides ``leave_on_close``). The player is left open. Safe to call twice."""
        ctx = self._ctx
        if ctx.closed or ctx.closing:
            return
        ctx.closing = True
        leave = self._membership.leave_on_close if leave is None else leave
        tasks = list(self._tasks)
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._host.close()
        await self._link.stop()
        await self._channel.close()
        await self._membership.leave(leave)
        ctx.closed = True
        await self._bus.close()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Runs one of the session's loops until the session closes."""
        self._tasks.add(asyncio.create_task(coro, name=f"watchium-session-{name}"))

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        """Runs a one-off job; closing the session cancels it if still running."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ the intake

    def _take_room(self, row: Mapping[str, Any], source: EventSource, sent: float | None) -> None:
        view = self._view
        before = view.state
        events = view.accept_room(row, source, now=self._ctx.clock.local_now(), sent=sent)
        if view.state is not before and view.state is not None:
            self._link.follow(view.state)
        self._apply(events)

    def _take_member(self, member: Member, source: EventSource) -> None:
        self._apply(self._view.upsert_member(member, source, now=self._ctx.clock.local_now()))

    def _apply(self, events: list[RoomEvent]) -> None:
        for event in events:
            self._deliver(event)

    def _deliver(self, event: RoomEvent) -> None:
        """Acts on one event, then publishes it."""
        me = self._view.user_id
        if isinstance(event, HostChanged):
            lost = not event.is_me and event.previous_host_user_id == me
            if event.is_me:
                logger.info("%s is now the host of room %s", self.username, self._ctx.room_id)
            elif lost:
                logger.info("%s is no longer the host of room %s", self.username, self._ctx.room_id)
            self._host.host_changed(lost=lost)
        elif isinstance(event, MemberLeft) and event.user_id == me:
            if not self._ctx.closing:
                # Our membership is gone (cleanup removed a silent member): join again.
                logger.info("removed from room %s: joining again", self._ctx.room_id)
                self._resync.rejoin_needed("membership removed")
        elif isinstance(event, RoomDeleted | RemovedFromRoom):
            self._membership.joined = False
            self._background(self._link.stop())
        self._bus.emit(event)

    def _presence_synced(self, presence: dict[str, MemberPresence]) -> None:
        self._host.wake_group()
        self._bus.emit(PresenceSynced(presence))

    async def _presence_snapshot(self) -> MemberPresence:
        """This member as the others see it, with the player's raw flags (the tracker debounces
        them). A player not measured yet counts as in sync, as the database's default."""
        player = self._link.player
        status = self._link.status
        synced: bool | None = None
        if player is not None:
            synced = True if status is None or status.drift is None else status.is_synced
        return MemberPresence(
            user_id=self.user_id,
            username=self.username,
            buffering=player is not None and player.is_buffering,
            synced=synced,
            host=self.is_host,
        )

    # ------------------------------------------------------------------ calls

    async def refresh(self) -> None:
        """Fetches the room, the members and the missed comments now (the session does this
        by itself after every reconnect and rejoin).

        Raises:
            WatchiumError: a fetch failed.
        """
        await self._resync.resync()

    async def heartbeat(self) -> MemberStatusResult:
        """Reports this member's position and buffering now (members-update-status).

        The session does this every ``heartbeat_interval`` and when a stall starts or ends
        (as presence shows it); call it to update the server's view at once.

        Raises:
            NotMember, RoomNotFound: the membership is gone (the session joins again by
                itself); ConnectionFailed: no answer.
        """
        position, buffering = await self._link.report()
        if buffering is not None:
            # What the others are shown: a blip of a stall is no change of the member's row.
            buffering = self._tracker.buffering
        result = await self._membership.report_status(position, buffering)
        self._resync.functions_answered(self._ctx.clock.local_now())
        return result

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
        state = self.state
        if state is None:
            raise RuntimeError("the session is not open")
        if video_timestamp is None:
            position, _ = await self._link.report()
            if position is None:
                position = state.target_position(self._ctx.clock.server_now())
            video_timestamp = round(position, 2)
        return await self._membership.post_comment(
            message, video_timestamp=video_timestamp, parent_id=parent_id
        )

    # ------------------------------------------------------------------ host controls

    async def play(
        self, *, position: float | None = None, start_delay: float | None = None
    ) -> RoomSnapshot:
        """Host: start playback, from ``position`` or from where the room is paused.

        The room starts ``start_delay`` seconds from now (default ``timings.start_delay``), a
        scheduled start that every member's engine honours to the millisecond.

        Raises:
            NotHost: this user is not the host.
        """
        return await self._host.play(position=position, start_delay=start_delay)

    async def pause(self, *, position: float | None = None) -> RoomSnapshot:
        """Host: pause, at ``position`` or exactly where the room is now.

        Raises:
            NotHost: this user is not the host.
        """
        return await self._host.pause(position=position)

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
        return await self._host.seek(position, start_delay=start_delay)

    async def set_speed(self, speed: float) -> RoomSnapshot:
        """Host: change the playback speed (0.25 to 4, to the hundredth), from where the room
        is a moment ahead: every player is told early enough to be heard changing tempo at
        that same instant.

        Raises:
            NotHost: this user is not the host.
            InvalidInput: a speed out of range.
        """
        return await self._host.set_speed(speed)
