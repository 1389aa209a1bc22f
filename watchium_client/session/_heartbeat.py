"""A session's two periodic calls to the functions: the member heartbeat and the clock sample.

Both double as probes: no answer is a connection loss, an answer during one means the server is
back (so the session refetches), and a heartbeat refused with "not a member" (cleanup removed a
silent member) means joining again.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

from watchium_client._aio import wait_event
from watchium_client._errors import NotMember, RoomNotFound, WatchiumError
from watchium_client.session._context import SessionContext
from watchium_client.session._resync import TRANSIENT, Resync

__all__ = ["Heartbeat", "sample_clock"]

logger = logging.getLogger(__name__)

# After a heartbeat that got no answer, the next one goes out this soon.
_RETRY_AFTER = 1.0


class Heartbeat:
    """Sends the member heartbeat every ``heartbeat_interval``, or sooner when asked.

    Args:
        send: sends one heartbeat (the session's ``heartbeat``).
        ctx: the session's shared facts (clock, interval; the loop ends when the room is gone).
        resync: told about refusals and losses.
    """

    def __init__(
        self, send: Callable[[], Awaitable[object]], ctx: SessionContext, resync: Resync
    ) -> None:
        self._send = send
        self._ctx = ctx
        self._resync = resync
        self._at = math.inf  # local time the next heartbeat is due
        self._wake = asyncio.Event()

    def soon(self, delay: float) -> None:
        """Brings the next heartbeat forward to ``delay`` seconds from now, so the server's view
        of this member (position, is_synced, is_buffering) follows a host action or a stall
        within seconds."""
        at = self._ctx.clock.local_now() + delay
        if at < self._at:
            self._at = at
            self._wake.set()

    async def run(self) -> None:
        """Sends heartbeats until the room is gone or the task is cancelled."""
        ctx = self._ctx
        clock = ctx.clock
        interval = ctx.timings.heartbeat_interval
        self._at = min(self._at, clock.local_now() + interval)
        while not ctx.gone:
            wait = self._at - clock.local_now()
            if wait > 0:
                self._wake.clear()
                await wait_event(self._wake, wait)
                continue
            self._at = clock.local_now() + interval
            try:
                await self._send()
            except (NotMember, RoomNotFound) as exc:
                logger.info("heartbeat in room %s: %s", ctx.room_id, exc)
                self._resync.rejoin_needed("heartbeat refused: not a member")
            except TRANSIENT as exc:
                self._resync.mark_lost(f"heartbeat: {exc}")
                self._at = min(self._at, clock.local_now() + _RETRY_AFTER)
            except WatchiumError as exc:
                logger.warning("heartbeat in room %s: %s", ctx.room_id, exc)


async def sample_clock(
    fetch_room: Callable[[], Awaitable[None]], ctx: SessionContext, resync: Resync
) -> None:
    """Every ``clock_interval``, fetches the room: a clock sample, and a refresh of the row in
    case a Realtime change was missed. Runs until the room is gone or the task is cancelled."""
    while not ctx.gone:
        await asyncio.sleep(ctx.timings.clock_interval)
        try:
            await fetch_room()
        except RoomNotFound:
            resync.request("room not found")
        except TRANSIENT as exc:
            resync.mark_lost(f"clock sample: {exc}")
        except WatchiumError as exc:
            logger.debug("clock sample in room %s: %s", ctx.room_id, exc)
        else:
            resync.functions_answered(ctx.clock.local_now())
