"""The host's side of a session.

A host's playback actions come from two places: the app (``session.play()``...) and the player's
own UI (the engine reports them as user actions). :class:`Hosting` turns both into changes with
:func:`plan_change` and sends them through one :class:`HostControls` queue, which coalesces bursts
and waits out rate limits. It also owns the optional :class:`GroupWaiter`, which acts through the
same actions. Anyone may call these; the server answers ``NotHost`` to all but the host.

The host's player is the room's reference (:class:`~watchium_client.sync.RoomReference`): an
action in its UI is sent as where the player is, read together with the time (after a seek, once
it has landed), and when the player ends up off the room after an action, the room is moved to
it rather than the player to the room.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from watchium_client._api import WatchiumClient
from watchium_client._errors import NotHost, WatchiumError
from watchium_client.players import Player, PlayerError, PlayerEvent, PlayerEventKind
from watchium_client.session._context import RowSink, SessionContext
from watchium_client.session._group_wait import GroupWaiter
from watchium_client.session._host import HostControls
from watchium_client.session._mirror import RoomMirror
from watchium_client.session._player_link import PlayerLink
from watchium_client.session._reference import (
    HostAction,
    PlannedChange,
    plan_change,
    player_change,
)
from watchium_client.sync import GroupWaitPolicy, PlaybackState, SyncThresholds
from watchium_wire import MemberPresence, RoomSnapshot

__all__ = ["Hosting"]

logger = logging.getLogger(__name__)

# Until its player has measured its own, the host assumes the engine's prior speed latency.
_DEFAULT_SPEED_LATENCY = SyncThresholds().initial_speed_latency
# A seek in the player's UI is sent once it has landed; one that never lands is sent anyway.
_LANDING_TIMEOUT = 2.0
_LANDING_POLL = 0.01


class Hosting:
    """Host actions for one session.

    Args:
        ctx: the session's shared facts (clock, timings; nothing is sent once closing).
        mirror: the room as last seen, and whether this user hosts it.
        link: the player, for actions made in its UI.
        sink: where the room rows the changes return go.
        spawn: runs a coroutine in a task the session cancels when it closes.
        group_wait: the group-wait policy, if the session has one.
        presence: everyone tracked on the channel, for group wait.
    """

    def __init__(
        self,
        ctx: SessionContext,
        mirror: RoomMirror,
        link: PlayerLink,
        sink: RowSink,
        *,
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        group_wait: GroupWaitPolicy | None,
        presence: Callable[[], Mapping[str, MemberPresence]],
    ) -> None:
        self._ctx = ctx
        self._mirror = mirror
        self._link = link
        self._sink = sink
        self._spawn = spawn
        self.controls: HostControls | None = None
        """The queue that sends the changes (None before ``start``)."""
        self.group: GroupWaiter | None = None
        if group_wait is not None:
            self.group = GroupWaiter(
                group_wait,
                ctx,
                is_host=lambda: mirror.is_host,
                state=lambda: mirror.state,
                presence=presence,
                pause=self.pause,
                play=self.play,
            )

    def start(self, client: WatchiumClient, room_id: str) -> None:
        """Opens the queue for ``room_id``."""
        self.controls = HostControls(
            client,
            room_id,
            server_now=self._ctx.clock.server_now,
            on_result=lambda room: self._sink.room(room.model_dump(), "rpc", None),
        )

    async def close(self) -> None:
        if self.controls is not None:
            await self.controls.close()

    def host_changed(self, *, lost: bool) -> None:
        """The room has a new host; ``lost``: it was this user, whose waiting changes now fail
        with ``NotHost``."""
        if lost and self.controls is not None:
            self.controls.cancel_pending(NotHost("no longer the host", code="WRH03"))
        self.wake_group()

    def wake_group(self) -> None:
        if self.group is not None:
            self.group.wake()

    async def play(
        self, *, position: float | None = None, start_delay: float | None = None
    ) -> RoomSnapshot:
        timings = self._ctx.timings
        delay = timings.start_delay if start_delay is None else max(0.0, start_delay)
        return await self.submit("play", position=position, delay=delay)

    async def pause(self, *, position: float | None = None) -> RoomSnapshot:
        return await self.submit("pause", position=position)

    async def seek(self, position: float, *, start_delay: float | None = None) -> RoomSnapshot:
        timings = self._ctx.timings
        delay = timings.seek_delay if start_delay is None else max(0.0, start_delay)
        return await self.submit("seek", position=position, delay=delay)

    async def set_speed(self, speed: float) -> RoomSnapshot:
        # Everyone is told the new tempo ahead: the round trips of a scheduled start, plus the
        # time the host's own player takes to be heard changing speed.
        delay = self._ctx.timings.start_delay + self._speed_latency()
        return await self.submit("speed", speed=speed, delay=delay)

    async def submit(
        self,
        action: HostAction,
        *,
        position: float | None = None,
        speed: float | None = None,
        delay: float = 0.0,
    ) -> RoomSnapshot:
        """Plans ``action`` against the room as last seen, now, and sends it.

        Raises:
            RuntimeError: the session is not open (or closing).
            WatchiumError: the server refused it (``NotHost``, ``InvalidInput``...).
        """
        controls, state = self._require()
        now = self._ctx.clock.server_now()
        change = plan_change(action, state, now, position=position, speed=speed, delay=delay)
        return await _send(controls, change)

    # ------------------------------------------------------------------ the room's reference

    @property
    def is_reference(self) -> bool:
        """Whether this session's player is the room's reference (its user hosts the room)."""
        return self._mirror.is_host and not self._ctx.closing

    def reanchor(self, position: float, at: float) -> None:
        """The engine's report that the host's player is at ``position`` at server time ``at``,
        off the room after the host's own action: the room moves there (in the background)."""
        if not self.is_reference:
            return
        self._spawn(self._reanchor(position, at))

    async def _reanchor(self, position: float, at: float) -> None:
        controls = self.controls
        state = self._state()
        if controls is None or state is None or not state.is_playing or controls.busy:
            return  # not playing, or a newer change is on its way: it sets the room anyway
        change = plan_change("seek", state, at, position=position)
        try:
            await _send(controls, change)
        except WatchiumError as exc:
            logger.warning("moving the room to the host's player failed: %s", exc)

    def on_user_action(self, event: PlayerEvent) -> None:
        """The engine's report of an action in the player's own UI: the host's becomes the
        room's (in the background; the engine must not wait)."""
        if not self._mirror.is_host or self._ctx.closing:
            logger.debug("%s in the player: not the host, the room decides", event.kind)
            return
        self._spawn(self._apply_user_action(event))

    async def _apply_user_action(self, event: PlayerEvent) -> None:
        player = self._link.player
        controls = self.controls
        if player is None or controls is None:
            return
        try:
            if event.kind is PlayerEventKind.SEEKED:
                await _landed(player)
            position, now = await self._measure(player)
            state = self._state()
            if state is None:
                return
            change = player_change(
                event,
                state,
                now,
                position=position,
                playing=player.is_playing,
                speed_latency=self._speed_latency(),
            )
            if change is not None:
                await _send(controls, change)
        except WatchiumError as exc:
            logger.warning("room action for %s in the player failed: %s", event.kind, exc)
        except PlayerError as exc:
            logger.warning("reading the player for %s failed: %s", event.kind, exc)

    async def _measure(self, player: Player) -> tuple[float, float]:
        """The player's position and the server time it was there, read together."""
        clock = self._ctx.clock
        before = clock.local_now()
        position = await player.position()
        return position, clock.to_server((before + clock.local_now()) / 2)

    def _speed_latency(self) -> float:
        engine = self._link.engine
        return _DEFAULT_SPEED_LATENCY if engine is None else engine.status.speed_latency

    def _state(self) -> PlaybackState | None:
        """The room as last seen; the engine's copy when it is the same, since it also knows a
        scheduled speed change from a scheduled start (`PlaybackState.continuing`)."""
        state = self._mirror.state
        engine = self._link.engine
        followed = None if engine is None else engine.room
        if state is not None and followed is not None and followed.same_playback(state):
            return followed
        return state

    def _require(self) -> tuple[HostControls, PlaybackState]:
        state = self._state()
        if self.controls is None or state is None or self._ctx.closing:
            raise RuntimeError("the session is not open")
        return self.controls, state


async def _landed(player: Player) -> None:
    # The Player protocol reports no landing; a seek lands within tens of milliseconds.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _LANDING_TIMEOUT
    while player.is_seeking and loop.time() < deadline:
        await asyncio.sleep(_LANDING_POLL)


async def _send(controls: HostControls, change: PlannedChange) -> RoomSnapshot:
    return await controls.submit(
        change.action, position=change.position, speed=change.speed, at=change.at
    )
