"""What the session-part tests share: a context built without a server, and running a part's
loop for the length of a block."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Coroutine
from typing import Any, TypeVar

from tests.client._fakes import FakeClock
from watchium_client.session._context import SessionContext, SessionTimings
from watchium_client.sync import ClockSync

__all__ = ["WAIT", "context", "running", "within"]

T = TypeVar("T")

WAIT = 10.0  # generous: the machine is shared; a broken part never gets there anyway


async def within(awaitable: Awaitable[T], timeout: float = WAIT) -> T:
    """Awaits, failing after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        return await awaitable


@contextlib.asynccontextmanager
async def running(coro: Coroutine[Any, Any, None]) -> AsyncIterator[asyncio.Task[None]]:
    """Runs a part's loop in a task for the block, then cancels it."""
    task: asyncio.Task[None] = asyncio.create_task(coro)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def context(clock: FakeClock | None = None, **timings: Any) -> SessionContext:
    """A session context for room ``room1``, on a real clock or one the test moves."""
    sync = ClockSync() if clock is None else ClockSync(monotonic=clock, wall=lambda: 0.0)
    return SessionContext(sync, SessionTimings(**timings), room_id="room1")
