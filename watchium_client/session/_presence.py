"""Tracking this member's presence on the room's channel.

Presence is how the others (the host's group wait above all) learn at once that a member stalled,
without waiting for its heartbeat: a change of playing, buffering or host role is tracked within
a quarter second, and the rest (position, drift) every ``presence_interval``. A stall also brings
the heartbeat forward, so the server's view follows; its end does so once the player has caught
up.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from watchium_client.session._context import SessionContext
from watchium_wire import MemberPresence

__all__ = ["PresenceTracker"]

logger = logging.getLogger(__name__)

_POLL = 0.25  # how often the player's flags are looked at
_HEARTBEAT_AFTER_STALL = 2.0


class _Tracking(Protocol):
    async def track(self, user_status: dict[str, Any], /) -> None: ...


class _Channel(Protocol):
    @property
    def joined(self) -> _Tracking | None: ...


class PresenceTracker:
    """Tracks a snapshot of this member on the channel when it changes, and every so often.

    Args:
        ctx: the session's shared facts (clock, interval; the loop ends when the room is gone).
        channel: the room's channel (its ``joined`` channel, while subscribed, is tracked on).
        snapshot: this member's presence now.
        heartbeat_soon: brings the heartbeat forward (by the seconds given).
    """

    def __init__(
        self,
        ctx: SessionContext,
        channel: _Channel,
        snapshot: Callable[[], Awaitable[MemberPresence]],
        heartbeat_soon: Callable[[float], None],
    ) -> None:
        self._ctx = ctx
        self._channel = channel
        self._snapshot = snapshot
        self._heartbeat_soon = heartbeat_soon
        self._last_track = -math.inf
        self._last_flags: tuple[bool, bool, bool] | None = None

    def track_soon(self) -> None:
        """Tracks at the next look, changed or not (presence does not survive a reconnect)."""
        self._last_flags = None

    async def run(self) -> None:
        """Tracks until the room is gone or the task is cancelled."""
        ctx = self._ctx
        while not ctx.gone:
            await asyncio.sleep(_POLL)
            channel = self._channel.joined
            if channel is None:
                continue
            presence = await self._snapshot()
            flags = (presence.playing, presence.buffering, presence.host)
            if self._last_flags is not None and flags[1] != self._last_flags[1]:
                # A stall is reported at once; its end once the player has caught up.
                self._heartbeat_soon(0.0 if flags[1] else _HEARTBEAT_AFTER_STALL)
            now = ctx.clock.local_now()
            if flags == self._last_flags and now - self._last_track < ctx.timings.presence_interval:
                continue
            try:
                await channel.track(presence.model_dump())
            except Exception as exc:
                logger.debug("presence track failed: %s", exc)
                continue
            self._last_track, self._last_flags = now, flags
