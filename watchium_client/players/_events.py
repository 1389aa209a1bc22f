"""Fan-out of player events to any number of async subscribers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from watchium_client.players._protocol import PlayerEvent

__all__ = ["EventHub"]


class _Subscription:
    """An async iterator over the events published after it was created."""

    def __init__(self, hub: EventHub) -> None:
        self._hub = hub
        self._queue: asyncio.Queue[PlayerEvent | None] = asyncio.Queue()

    def __aiter__(self) -> _Subscription:
        return self

    async def __anext__(self) -> PlayerEvent:
        item = await self._queue.get()
        if item is None:
            self._hub.unsubscribe(self)
            raise StopAsyncIteration
        return item

    def push(self, item: PlayerEvent | None) -> None:
        self._queue.put_nowait(item)

    async def aclose(self) -> None:
        self._hub.unsubscribe(self)


class EventHub:
    """Publishes events to every live subscription (queues are unbounded: events are rare)."""

    def __init__(self) -> None:
        self._subscriptions: list[_Subscription] = []
        self._closed = False

    def subscribe(self) -> AsyncIterator[PlayerEvent]:
        """A new subscription. It receives the events published from now on, and ends once the
        hub is closed (at once if it already is)."""
        subscription = _Subscription(self)
        if self._closed:
            subscription.push(None)
        else:
            self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: _Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def publish(self, event: PlayerEvent) -> None:
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
