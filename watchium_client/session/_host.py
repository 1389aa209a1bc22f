"""A host's playback changes, sent one at a time within the room's rate limit.

The database allows a host 2 playback changes per second (``sync_control``). A person dragging a
seek bar produces many more; only the last target matters. So changes wait in a small queue: a
seek (or speed change) that arrives while another of its kind is still waiting replaces it, and a
``RateLimited`` answer is waited out (``retry_after``) before the head of the queue is sent again,
by which time it may carry a newer target. A change that could not be delivered (the server
could not reach its database, or did not answer) is sent again a few times, waiting a little
longer each time: it names its position and reference time, so sending it twice changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from watchium_client._api import WatchiumClient
from watchium_client._errors import (
    ConnectionFailed,
    RateLimited,
    ServiceUnavailable,
    WatchiumError,
)
from watchium_wire.responses import RoomSnapshot

__all__ = ["HostControls"]

logger = logging.getLogger(__name__)

# The database accepts a reference time within 5 s of its clock (settings.max_clock_skew); an
# older one (a change that waited out rate limits) is sent without it, meaning "now".
_MAX_REFERENCE_AGE = 4.0
_COALESCING = frozenset({"seek", "speed"})
# Waits before sending an undelivered change again (then it fails).
_RETRY_WAITS = (0.2, 0.5, 1.0)


@dataclass
class _Change:
    action: str
    position: float | None
    speed: float | None
    at: float | None
    """Server time (epoch seconds) at which the room is at ``position``."""
    waiters: list[asyncio.Future[RoomSnapshot]] = field(default_factory=list)
    sending: bool = False
    failures: int = 0


class HostControls:
    """Sends ``sync_control`` changes for one room in order, coalescing and honouring limits.

    Args:
        client: the host's client.
        room_id: the room.
        server_now: the current server time (the session's clock), to age reference times.
        on_result: called with each room state a change returns (before the caller sees it).
    """

    def __init__(
        self,
        client: WatchiumClient,
        room_id: str,
        *,
        server_now: Callable[[], float],
        on_result: Callable[[RoomSnapshot], None],
    ) -> None:
        self._client = client
        self._room_id = room_id
        self._server_now = server_now
        self._on_result = on_result
        self._queue: list[_Change] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        """How many changes were sent (a coalesced burst counts once)."""
        self.coalesced = 0
        """How many changes were replaced by a newer one before being sent."""

    async def submit(
        self,
        action: str,
        *,
        position: float | None = None,
        speed: float | None = None,
        at: float | None = None,
    ) -> RoomSnapshot:
        """Queues one change and returns the room state once it (or the change that replaced
        it) is applied.

        Raises:
            WatchiumError: the server refused it (``NotHost``, ``InvalidInput``...); rate limits
                are waited out, not raised.
        """
        future: asyncio.Future[RoomSnapshot] = asyncio.get_running_loop().create_future()
        last = self._queue[-1] if self._queue else None
        if (
            last is not None
            and not last.sending
            and action in _COALESCING
            and last.action == action
        ):
            last.position, last.speed, last.at = position, speed, at
            last.waiters.append(future)
            self.coalesced += 1
        else:
            self._queue.append(_Change(action, position, speed, at, [future]))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="watchium-host-controls")
        self._wake.set()
        return await future

    @property
    def busy(self) -> bool:
        """Whether a change is waiting or being sent."""
        return bool(self._queue)

    def cancel_pending(self, error: WatchiumError) -> None:
        """Fails every change not yet sent (e.g. when this user is no longer the host)."""
        keep = [change for change in self._queue if change.sending]
        for change in self._queue:
            if not change.sending:
                _settle(change, error=error)
        self._queue = keep

    async def close(self) -> None:
        """Stops sending; changes still waiting are cancelled."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for change in self._queue:
            for waiter in change.waiters:
                waiter.cancel()
        self._queue.clear()

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            change = self._queue[0]
            change.sending = True
            try:
                room = await self._send(change)
            except RateLimited as limited:
                change.sending = False
                logger.debug(
                    "%s rate limited: retrying in %.2f s", change.action, limited.retry_after
                )
                await asyncio.sleep(limited.retry_after)
                continue
            except (ServiceUnavailable, ConnectionFailed) as exc:
                if change.failures < len(_RETRY_WAITS):
                    wait = _RETRY_WAITS[change.failures]
                    change.failures += 1
                    change.sending = False
                    logger.info(
                        "%s not delivered (%s): retrying in %.1f s", change.action, exc, wait
                    )
                    await asyncio.sleep(wait)
                    continue
                self._queue.pop(0)
                _settle(change, error=exc)
                continue
            except Exception as exc:  # a refusal, or a bug: never leave callers waiting
                self._queue.pop(0)
                _settle(change, error=exc)
                continue
            self._queue.pop(0)
            self.sent += 1
            try:
                self._on_result(room)
            except Exception:
                logger.exception("handling the answer to %s failed", change.action)
            _settle(change, room=room)

    async def _send(self, change: _Change) -> RoomSnapshot:
        at = change.at
        if at is not None and abs(self._server_now() - at) > _MAX_REFERENCE_AGE:
            at = None
        when = None if at is None else datetime.fromtimestamp(at, UTC)
        return await self._client.sync_control(
            self._room_id,
            change.action,
            current_time=change.position,
            playback_speed=change.speed,
            at=when,
        )


def _settle(
    change: _Change, *, room: RoomSnapshot | None = None, error: BaseException | None = None
) -> None:
    for waiter in change.waiters:
        if waiter.done():
            continue
        if error is not None:
            waiter.set_exception(error)
        elif room is not None:
            waiter.set_result(room)
