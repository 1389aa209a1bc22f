"""The host's side of a session.

A host's playback actions come from two places: the app (``session.play()``...) and the player's
own UI (the engine reports them as user actions). :class:`Hosting` turns both into changes with
:func:`plan_change` and sends them through one :class:`HostControls` queue, which coalesces bursts
and waits out rate limits. It also owns the optional :class:`GroupWaiter`, which acts through the
same actions. Anyone may call these; the server answers ``NotHost`` to all but the host.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from watchium_client._api import WatchiumClient
from watchium_client._errors import NotHost, WatchiumError
from watchium_client.players import PlayerError, PlayerEvent
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
from watchium_client.sync import GroupWaitPolicy, PlaybackState
from watchium_wire import MemberPresence, RoomSnapshot

__all__ = ["Hosting"]

logger = logging.getLogger(__name__)


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
        return await self.submit("speed", speed=speed)

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

    def on_user_action(self, event: PlayerEvent) -> None:
        """The engine's report of an action in the player's own UI: the host's becomes the
        room's (in the background; the engine must not wait)."""
        if not self._mirror.is_host or self._ctx.closing:
            logger.debug("%s in the player: not the host, the room decides", event.kind)
            return
        self._spawn(self._apply_user_action(event))

    async def _apply_user_action(self, event: PlayerEvent) -> None:
        player = self._link.player
        state = self._mirror.state
        controls = self.controls
        if player is None or state is None or controls is None:
            return
        now = self._ctx.clock.server_now()
        try:
            position = await player.position()
            change = player_change(event, state, now, position=position, playing=player.is_playing)
            if change is not None:
                await _send(controls, change)
        except WatchiumError as exc:
            logger.warning("room action for %s in the player failed: %s", event.kind, exc)
        except PlayerError as exc:
            logger.warning("reading the player for %s failed: %s", event.kind, exc)

    def _require(self) -> tuple[HostControls, PlaybackState]:
        state = self._mirror.state
        if self.controls is None or state is None or self._ctx.closing:
            raise RuntimeError("the session is not open")
        return self.controls, state


async def _send(controls: HostControls, change: PlannedChange) -> RoomSnapshot:
    return await controls.submit(
        change.action, position=change.position, speed=change.speed, at=change.at
    )
