"""A session's events, delivered two ways: async iterators and chainable callbacks.

Iterators come from the SDK's one :class:`~watchium_client._hub.EventHub`. Callbacks are
registered per event type and run by a single task, in the order the events were emitted and,
for one event, type by type in the order the types were first registered, each type's callbacks
in their order: a callback never sees events out of order, and a slow one delays the next
callback, never the session. A callback that raises is logged and the others still run.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from watchium_client._hub import EventHub
from watchium_client.session._events import RoomEvent

__all__ = ["EventBus"]

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=RoomEvent)

# How long closing waits for the callbacks still queued before it gives up on them.
_DRAIN_TIMEOUT = 10.0


class EventBus:
    """Publishes a session's events to its subscriptions and its callbacks."""

    def __init__(self) -> None:
        self._hub: EventHub[RoomEvent] = EventHub()
        self._callbacks: dict[type[Any], list[Callable[[Any], object]]] = {}
        self._queue: asyncio.Queue[RoomEvent | None] = asyncio.Queue()
        self._dispatcher: asyncio.Task[None] | None = None
        self._closed = False

    def subscribe(self) -> AsyncIterator[RoomEvent]:
        """A new subscription to the events from now on; it ends when the bus closes."""
        return self._hub.subscribe()

    def on(self, kind: type[E], callback: Callable[[E], object]) -> None:
        """Calls ``callback`` (a plain function or a coroutine function) with every event of
        type ``kind``."""
        self._callbacks.setdefault(kind, []).append(callback)

    def start(self) -> None:
        """Starts the task that runs the callbacks (events emitted before are kept for it)."""
        if self._dispatcher is None:
            self._dispatcher = asyncio.create_task(self._dispatch(), name="watchium-events")

    def emit(self, event: RoomEvent) -> None:
        """Publishes one event (nothing once the bus is closed)."""
        if self._closed:
            return
        self._hub.publish(event)
        if self._callbacks:
            self._queue.put_nowait(event)

    async def close(self) -> None:
        """Ends every subscription and waits (up to 10 s) for the callbacks of the events
        already emitted."""
        self._closed = True
        self._hub.close()
        if self._dispatcher is not None:
            self._queue.put_nowait(None)
            try:
                await asyncio.wait_for(self._dispatcher, _DRAIN_TIMEOUT)
            except (TimeoutError, asyncio.CancelledError):
                self._dispatcher.cancel()

    async def _dispatch(self) -> None:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            for kind, callbacks in list(self._callbacks.items()):
                if not isinstance(event, kind):
                    continue
                for callback in list(callbacks):
                    try:
                        result = callback(event)
                        if inspect.isawaitable(result):
                            await result
                    except Exception:
                        logger.exception("a %s callback failed", type(event).__name__)
