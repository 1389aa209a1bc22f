"""Tracking this member's presence on the room's channel: what the others show of it, once per
change.

Every track is a presence message to every member of the room (hosted Supabase counts each one and
limits a project's presence events per second), so a session tracks when its channel is
subscribed (presence does not survive a resubscription) and when a value the others show changes:
its name, host role, buffering, in sync or not. Never on a timer. The player's flags are debounced
first, so that a normal transition shows nothing:

* buffering is shown once a stall has lasted ``buffering_shown_after`` (the host's group wait
  ignores shorter stalls anyway), and its end at once;
* out of sync is shown once the engine has measured the player outside the sync tolerance for
  ``unsynced_shown_after`` (a host's seek, a join or the end of a stall realigns a player well
  within it), and back in sync at once.

A stall that is shown also brings the heartbeat forward, so the server's view (``is_buffering``)
follows: at once when it starts, once the player has caught up when it ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from watchium_client.session._context import SessionContext
from watchium_wire import MemberPresence

__all__ = ["Debounced", "PresenceTracker"]

logger = logging.getLogger(__name__)

_POLL = 0.25  # how often the player's flags are looked at
_HEARTBEAT_AFTER_STALL = 2.0


class _Tracking(Protocol):
    async def track(self, user_status: dict[str, Any], /) -> None: ...


class _Channel(Protocol):
    @property
    def joined(self) -> _Tracking | None: ...

    @property
    def subscriptions(self) -> int: ...


class Debounced:
    """A flag that shows a new value only once it has held for a while.

    Args:
        shown: the value shown at first.
        to_true, to_false: how long a raw True (False) must hold before it is shown, seconds.
    """

    def __init__(self, shown: bool, *, to_true: float, to_false: float) -> None:
        self.shown = shown
        self._to_true = to_true
        self._to_false = to_false
        self._since: float | None = None  # when the raw value started to differ from shown

    def update(self, raw: bool, now: float) -> bool:
        """Takes the raw value at ``now``; returns whether the shown value changed."""
        if raw == self.shown:
            self._since = None
            return False
        if self._since is None:
            self._since = now
        if now - self._since < (self._to_true if raw else self._to_false):
            return False
        self.shown = raw
        self._since = None
        return True


class PresenceTracker:
    """Tracks what the others show of this member, when it changes (see the module docstring).

    Args:
        ctx: the session's shared facts (clock, timings; the loop ends when the room is gone).
        channel: the room's channel (tracked on while subscribed; ``subscriptions`` counts its
            subscriptions, each of which needs a track).
        snapshot: this member's presence now, with the player's raw flags (``synced`` None
            without a player).
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
        timings = ctx.timings
        self._buffering = Debounced(False, to_true=timings.buffering_shown_after, to_false=0.0)
        self._synced = Debounced(True, to_true=0.0, to_false=timings.unsynced_shown_after)
        self._tracked: dict[str, Any] | None = None
        self._tracked_in = -1  # the subscription the last track was made in

    @property
    def buffering(self) -> bool:
        """Whether this member is shown buffering (what the heartbeat reports too)."""
        return self._buffering.shown

    async def run(self) -> None:
        """Tracks until the room is gone or the task is cancelled."""
        ctx = self._ctx
        while not ctx.gone:
            await asyncio.sleep(_POLL)
            await self.look()

    async def look(self) -> None:
        """Takes the flags now and tracks if what is shown changed (or was never tracked on
        the current subscription)."""
        raw = await self._snapshot()
        now = self._ctx.clock.local_now()
        if self._buffering.update(raw.buffering, now):
            # A stall reaches the server at once; its end once the player has caught up.
            self._heartbeat_soon(0.0 if self._buffering.shown else _HEARTBEAT_AFTER_STALL)
        if raw.synced is not None:
            self._synced.update(raw.synced, now)
        shown = raw.model_copy(
            update={
                "buffering": self._buffering.shown,
                "synced": None if raw.synced is None else self._synced.shown,
            }
        )
        payload = shown.model_dump(exclude_none=True)
        subscription = self._channel.subscriptions
        if payload == self._tracked and subscription == self._tracked_in:
            return
        channel = self._channel.joined
        if channel is None:
            return
        try:
            await channel.track(payload)
        except Exception as exc:
            logger.debug("presence track failed: %s", exc)
            return
        self._tracked, self._tracked_in = payload, subscription
