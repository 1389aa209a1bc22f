"""Auto-advance: a session reports the end of the room's current queue entry.

With the room's ``auto_advance`` on, every session watches where the room is against the
current entry's ``duration`` (its own arithmetic on the room's row and the server clock: no
request until then) and, once the room has reached the end, calls ``queue-go`` with ``to =
ended``. The database checks the end and moves the room on the first report; the others change
nothing. Any member may report, so a room whose host is gone still moves on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from watchium_client._api import WatchiumClient
from watchium_client._errors import WatchiumError
from watchium_client.session._context import SessionContext
from watchium_client.session._mirror import RoomMirror

__all__ = ["AutoAdvance"]

logger = logging.getLogger(__name__)

_CHECK_INTERVAL = 0.25


class AutoAdvance:
    """Reports the end of the current entry, once per entry and playback change.

    Args:
        client: calls ``queue-go``.
        ctx: the session's shared facts (the loop ends when the room is gone).
        mirror: the room's row and queue as last seen.
        sleep: waits between checks (``asyncio.sleep``; a test passes its own).
    """

    def __init__(
        self,
        client: WatchiumClient,
        ctx: SessionContext,
        mirror: RoomMirror,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._ctx = ctx
        self._mirror = mirror
        self._sleep = sleep
        self._reported: tuple[str, float] | None = None

    def due(self) -> str | None:
        """The id of the current entry if auto-advance is on and the room is at its end."""
        room, state = self._mirror.room, self._mirror.state
        if room is None or state is None or not state.is_playing:
            return None
        if not room.auto_advance or room.current_entry_id is None:
            return None
        entry = self._mirror.queue.get(room.current_entry_id)
        if entry is None:
            return None
        at_end = state.target_position(self._client.clock.server_now()) >= entry.duration
        return entry.id if at_end else None

    async def check(self) -> None:
        """Reports the end if it is due and not reported yet for this playback."""
        entry_id = self.due()
        state = self._mirror.state
        if entry_id is None or state is None:
            return
        key = (entry_id, state.updated_at)
        if key == self._reported:
            return
        self._reported = key
        try:
            result = await self._client.queue_go(
                self._ctx.require_room_id(), "ended", entry_id=entry_id
            )
        except WatchiumError as exc:
            # Another member's report moves the room as well.
            logger.info("reporting the end of entry %s: %s", entry_id, exc)
            return
        logger.info(
            "room %s: entry %s ended (advanced: %s)", result.room_id, entry_id, result.advanced
        )

    async def run(self) -> None:
        """Checks a few times a second until the room is gone (cancelled on close)."""
        while not self._ctx.gone:
            await self._sleep(_CHECK_INTERVAL)
            if self._ctx.closing:
                return
            await self.check()
