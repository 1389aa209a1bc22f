"""A session's two periodic calls to the functions: the member heartbeat and the clock sample.

Both double as probes: no answer is a connection loss, an answer during one means the server is
back (so the session refetches), and a heartbeat refused with "not a member" (cleanup removed a
silent member) means joining again.

One request without an answer is not yet a loss: a server closes an idle keep-alive connection
at the moment a client reuses it often enough (the request then fails with a reset), and the
next request, on a new connection, is answered. So a call that gets no answer is made again at
once (after :data:`_SECOND_TRY` seconds), and only a second failure in a row reports the loss.
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

# A call that got no answer is made again this soon, before anything is reported...
_SECOND_TRY = 0.25
# ...and while the connection is lost, the next heartbeat goes out this soon.
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
        self._unanswered = 0  # heartbeats in a row that got no answer

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
                self._unanswered += 1
                if self._unanswered == 1:
                    logger.info("heartbeat in room %s: %s (trying again)", ctx.room_id, exc)
                    self._at = min(self._at, clock.local_now() + _SECOND_TRY)
                    continue
                self._resync.mark_lost(f"heartbeat: {exc}")
                self._at = min(self._at, clock.local_now() + _RETRY_AFTER)
                continue
            except WatchiumError as exc:
                logger.warning("heartbeat in room %s: %s", ctx.room_id, exc)
            self._unanswered = 0


async def sample_clock(
    fetch_room: Callable[[], Awaitable[None]], ctx: SessionContext, resync: Resync
) -> None:
    """Every ``clock_interval``, fetches the room: a clock sample, and a refresh of the row in
    case a Realtime change was missed. Runs until the room is gone or the task is cancelled."""
    unanswered = 0
    while not ctx.gone:
        await asyncio.sleep(_SECOND_TRY if unanswered == 1 else ctx.timings.clock_interval)
        try:
            await fetch_room()
        except RoomNotFound:
            resync.request("room not found")
        except TRANSIENT as exc:
            unanswered += 1
            if unanswered > 1:
                resync.mark_lost(f"clock sample: {exc}")
            continue
        except WatchiumError as exc:
            logger.debug("clock sample in room %s: %s", ctx.room_id, exc)
        else:
            resync.functions_answered(ctx.clock.local_now())
        unanswered = 0
