"""Refetching what Realtime does not replay, and reporting connection losses.

Realtime does not replay what happened while a socket was down, and a change committed before a
subscription is live is not delivered either. So on every ``SUBSCRIBED`` (the first one
included), after a rejoin and after the functions come back, :class:`Resync` fetches the room, the
members and the comments posted since the last one seen, through a :class:`RoomReader`. A fetch
that gets no answer is retried after 0.5 s, doubling up to ``retry_max``; a rate limit is waited
out. :class:`ConnectionReport` turns losses and recoveries into ``ConnectionLost`` and
``ConnectionRestored`` events, once each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from watchium_client._aio import wait_event
from watchium_client._errors import (
    Banned,
    ConnectionFailed,
    NotMember,
    RateLimited,
    RoomNotFound,
    ServerError,
    ServiceUnavailable,
    WatchiumError,
)
from watchium_client.session._context import SessionContext
from watchium_client.session._events import (
    ConnectionLost,
    ConnectionRestored,
    RemovedFromRoom,
    RoomDeleted,
    RoomEvent,
)

__all__ = ["TRANSIENT", "ConnectionReport", "Resync", "RoomReader"]

logger = logging.getLogger(__name__)

TRANSIENT = (ConnectionFailed, ServiceUnavailable, ServerError)
"""Failures that mean "no answer" rather than "no": retried, and reported as a connection loss."""

_FIRST_RETRY = 0.5


class RoomReader(Protocol):
    """The reads a resync makes (the session's :class:`Membership`)."""

    async def rejoin(self) -> None:
        """Joins again; raises ``RoomNotFound`` when the room no longer exists."""

    async def fetch_room(self) -> None: ...

    async def fetch_members(self) -> bool:
        """Fetches the members; returns whether this user is one of them."""
        ...

    async def fetch_queue(self) -> None: ...

    async def fetch_comments(self) -> int:
        """Fetches the comments missed; returns how many were new."""
        ...


class ConnectionReport:
    """Whether the session is in a connection loss, and what to report when it ends.

    A loss is reported once, however many parts notice it; it ends with the first complete
    refetch while the channel is subscribed, which reports the comments fetched meanwhile and
    whether the membership had to be renewed.
    """

    def __init__(
        self,
        ctx: SessionContext,
        emit: Callable[[RoomEvent], None],
        is_subscribed: Callable[[], bool],
    ) -> None:
        self._ctx = ctx
        self._emit = emit
        self._is_subscribed = is_subscribed
        self.lost: str | None = None
        """Why the connection is lost (None when it is not)."""
        self.rejoined = False
        """Whether the membership was renewed since the last ``ConnectionRestored``."""
        self.missed = 0
        """Comments fetched after a loss, since the last ``ConnectionRestored``."""

    def mark_lost(self, reason: str) -> None:
        """Reports a loss, unless one is already reported or the session is closing."""
        if self._ctx.closing or self.lost is not None:
            return
        self.lost = reason
        logger.info("room %s: connection lost (%s)", self._ctx.room_id, reason)
        self._emit(ConnectionLost(reason))

    def synced(self, reasons: list[str]) -> None:
        """A refetch completed (asked for ``reasons``): reports the end of a loss or a rejoin
        if the channel is subscribed again."""
        if self._is_subscribed() and (self.lost is not None or self.rejoined):
            reason = self.lost or ", ".join(reasons) or "rejoined"
            rejoined, self.rejoined = self.rejoined, False
            missed, self.missed = self.missed, 0
            self.lost = None
            logger.info(
                "room %s restored (%s): %d missed comment(s)", self._ctx.room_id, reason, missed
            )
            self._emit(ConnectionRestored(reason, rejoined, missed))
        elif self.lost is None and not self.rejoined:
            self.missed = 0

    def room_deleted(self) -> None:
        logger.info("room %s no longer exists", self._ctx.room_id)
        self._emit(RoomDeleted(self._ctx.require_room_id()))

    def removed(self, refusal: Banned) -> None:
        details = refusal.details or {}
        retry = details.get("retry_after")
        logger.info("removed from room %s: %s", self._ctx.room_id, refusal)
        self._emit(
            RemovedFromRoom(
                self._ctx.require_room_id(),
                banned=details.get("kind") != "kick",
                retry_after=float(retry) if isinstance(retry, int | float) else None,
                message=str(refusal),
            )
        )


class Resync:
    """Refetches the room on request, one refetch at a time, retrying until it completes.

    Args:
        reader: the reads (and the rejoin).
        ctx: the session's shared facts; ``ctx.gone`` is set here when the room is found gone.
        emit: where ``ConnectionLost``, ``ConnectionRestored`` and ``RoomDeleted`` go.
        is_subscribed: whether the room's channel is subscribed (a loss ends only then).
        on_synced: called after each complete refetch (if given).
        sleep: waits between retries (``asyncio.sleep``; a test passes its own).
    """

    def __init__(
        self,
        reader: RoomReader,
        ctx: SessionContext,
        emit: Callable[[RoomEvent], None],
        *,
        is_subscribed: Callable[[], bool],
        on_synced: Callable[[], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._reader = reader
        self._ctx = ctx
        self._report = ConnectionReport(ctx, emit, is_subscribed)
        self._on_synced = on_synced
        self._sleep = sleep
        self._retry_in = _FIRST_RETRY
        self._wanted = asyncio.Event()
        self._reasons: list[str] = []
        self._lock = asyncio.Lock()
        self._first = asyncio.Event()
        self.error: BaseException | None = None
        """Why the last refetch failed (None once one completes)."""
        self.needs_rejoin = False

    @property
    def lost(self) -> str | None:
        """Why the connection is lost (None when it is not)."""
        return self._report.lost

    def request(self, reason: str) -> None:
        """Asks for a refetch (several requests before it starts make one)."""
        if self._ctx.closing:
            return
        self._reasons.append(reason)
        self._wanted.set()

    def rejoin_needed(self, reason: str) -> None:
        """The membership is gone: the next refetch joins again first."""
        self.needs_rejoin = True
        self.request(reason)

    def mark_lost(self, reason: str) -> None:
        """Reports a connection loss (once)."""
        self._report.mark_lost(reason)

    def functions_answered(self, at: float) -> None:
        """A function answered at local time ``at``: in a loss, the server is back, refetch."""
        self._ctx.answered_at = at
        if self._report.lost is not None:
            self.request("the functions answer again")

    async def wait_first(self, timeout: float) -> None:
        """Waits for the first complete refetch.

        Raises:
            WatchiumError: the last failure, if it did not complete in ``timeout`` seconds.
            ConnectionFailed: it did not complete, with no answer at all.
            RoomNotFound: the room turned out to be gone.
        """
        room_id = self._ctx.require_room_id()
        if not await wait_event(self._first, timeout):
            error = self.error
            if isinstance(error, WatchiumError):
                raise error from None
            raise ConnectionFailed(f"room {room_id}: the first fetch did not complete") from error
        if self._ctx.gone:
            raise RoomNotFound(f"room {room_id} no longer exists", code="WR404")

    async def run(self) -> None:
        """Refetches whenever asked, until cancelled, retrying each until it completes."""
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            try:
                await self.resync()
            except TRANSIENT as exc:
                self.error = exc
                self.mark_lost(f"the functions do not answer: {exc}")
                await self._retry(self._backoff())
                continue
            except RateLimited as exc:
                self.error = exc
                logger.warning("rejoining room %s: %s", self._ctx.room_id, exc)
                await self._retry(exc.retry_after)
                continue
            except WatchiumError as exc:
                self.error = exc
                logger.warning("refetching room %s failed: %s", self._ctx.room_id, exc)
                await self._retry(self._backoff())
                continue
            self._retry_in = _FIRST_RETRY

    def _backoff(self) -> float:
        delay = self._retry_in
        self._retry_in = min(delay * 2, self._ctx.timings.retry_max)
        return delay

    async def _retry(self, delay: float) -> None:
        self._wanted.set()
        await self._sleep(delay)

    async def resync(self) -> None:
        """Fetches the room, the members and the missed comments now, joining again first if
        the membership is gone.

        Raises:
            WatchiumError: a fetch failed.
        """
        async with self._lock:
            reasons, self._reasons = self._reasons, []
            if self._ctx.gone:
                return
            if self.needs_rejoin and not await self._rejoin():
                return
            reader = self._reader
            try:
                await reader.fetch_room()
                me = await reader.fetch_members()
            except (NotMember, RoomNotFound):
                # A private room is invisible to non-members: rejoin, or learn it is gone.
                if not await self._rejoin():
                    return
                await reader.fetch_room()
                me = await reader.fetch_members()
            if not me:
                if not await self._rejoin():
                    return
                await reader.fetch_members()
            await reader.fetch_queue()
            self._report.missed += await reader.fetch_comments()
            self.error = None
            self._report.synced(reasons)
            self._first.set()
            if self._on_synced is not None:
                self._on_synced()

    async def _rejoin(self) -> bool:
        """Joins the room again; False when it no longer exists or a moderator removed this
        user (a kick's cooldown or a ban: the session stops following the room)."""
        try:
            await self._reader.rejoin()
        except RoomNotFound:
            self._room_gone()
            return False
        except Banned as refusal:
            if not self._ctx.gone:
                self._ctx.gone = True
                self._first.set()
                self._report.removed(refusal)
            return False
        self.needs_rejoin = False
        self._report.rejoined = True
        return True

    def _room_gone(self) -> None:
        if self._ctx.gone:
            return
        self._ctx.gone = True
        self._first.set()
        self._report.room_deleted()
