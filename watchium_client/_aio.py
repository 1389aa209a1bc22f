"""Waiting on an ``asyncio.Event`` with a timeout, in a task that may be cancelled meanwhile.

On Python 3.11, ``asyncio.wait_for(event.wait(), t)`` swallows a cancellation that arrives in
the same loop iteration as the event being set: the waiter returns normally and the task's
``cancel()`` is lost (fixed in 3.12). A background loop that is woken and cancelled at once then
never ends, and whatever awaits it (a session's ``close()``) hangs. ``asyncio.timeout`` has no
such race.
"""

from __future__ import annotations

import asyncio

__all__ = ["wait_event"]


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Waits until ``event`` is set or ``timeout`` seconds pass; returns whether it is set."""
    try:
        async with asyncio.timeout(max(0.0, timeout)):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True
