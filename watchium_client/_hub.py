"""Fan-out of events to any number of async subscribers: a player's events, a session's events.

Every subscription is an async iterator over the events published after it was created; closing
the hub ends every subscription after the events already published. Queues are unbounded: events
are few, and a slow reader only costs memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

__all__ = ["EventHub"]

T = TypeVar("T")


class _Subscription(Generic[T]):
    """An async iterator over the events published after it was created."""

    def __init__(self, hub: EventHub[T]) -> None:
        self._hub = hub
        self._queue: asyncio.Queue[T | None] = asyncio.Queue()
        self._ended = False

    def __aiter__(self) -> _Subscription[T]:
        return self

    async def __anext__(self) -> T:
        if self._ended:
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is None:
            self._ended = True
            self._hub.unsubscribe(self)
            raise StopAsyncIteration
        return item

    def push(self, item: T | None) -> None:
        self._queue.put_nowait(item)

    async def aclose(self) -> None:
        self._hub.unsubscribe(self)


class EventHub(Generic[T]):
    """Publishes events to every live subscription."""

    def __init__(self) -> None:
        self._subscriptions: list[_Subscription[T]] = []
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def subscribe(self) -> AsyncIterator[T]:
        """A new subscription. It receives the events published from now on, and ends once the
        hub is closed (at once if it already is)."""
        subscription: _Subscription[T] = _Subscription(self)
        if self._closed:
            subscription.push(None)
        else:
            self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: _Subscription[T]) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def publish(self, event: T) -> None:
        for subscription in self._subscriptions:
            subscription.push(event)

    def close(self) -> None:
        """Ends every subscription after the events already published."""
        if self._closed:
            return
        self._closed = True
        for subscription in self._subscriptions:
            subscription.push(None)
        self._subscriptions.clear()
