"""A session's events as subscriptions: an async iterator, and a chainable callback per kind.

The session publishes every event on its :class:`~watchium_client.session._bus.EventBus`; this
is the part of :class:`~watchium_client.RoomSession` an app reads them through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Self, TypeVar

from watchium_client.session._bus import EventBus
from watchium_client.session._events import (
    CommentPosted,
    ConnectionLost,
    ConnectionRestored,
    HostChanged,
    MemberJoined,
    MemberLeft,
    MemberUpdated,
    PresenceSynced,
    QueueChanged,
    ReactionsChanged,
    ReadyCheckChanged,
    RemovedFromRoom,
    RoomChanged,
    RoomDeleted,
    RoomEvent,
    TimedComment,
)

__all__ = ["RoomSubscriptions"]

E = TypeVar("E", bound=RoomEvent)


class RoomSubscriptions:
    """``events()``, ``on(kind, callback)`` and one ``on_<event>`` per kind of event."""

    _bus: EventBus

    def events(self) -> AsyncIterator[RoomEvent]:
        """A new subscription to the session's events, from now on; it ends when the session
        closes."""
        return self._bus.subscribe()

    def __aiter__(self) -> AsyncIterator[RoomEvent]:
        return self.events()

    def on(self, kind: type[E], callback: Callable[[E], object]) -> Self:
        """Calls ``callback`` with every event of type ``kind`` (a plain function or a
        coroutine function); returns the session, for chaining."""
        self._bus.on(kind, callback)
        return self

    def on_room_change(self, callback: Callable[[RoomChanged], object]) -> Self:
        return self.on(RoomChanged, callback)

    def on_member_join(self, callback: Callable[[MemberJoined], object]) -> Self:
        return self.on(MemberJoined, callback)

    def on_member_leave(self, callback: Callable[[MemberLeft], object]) -> Self:
        return self.on(MemberLeft, callback)

    def on_member_update(self, callback: Callable[[MemberUpdated], object]) -> Self:
        return self.on(MemberUpdated, callback)

    def on_comment(self, callback: Callable[[CommentPosted], object]) -> Self:
        return self.on(CommentPosted, callback)

    def on_timed_comment(self, callback: Callable[[TimedComment], object]) -> Self:
        return self.on(TimedComment, callback)

    def on_reactions(self, callback: Callable[[ReactionsChanged], object]) -> Self:
        return self.on(ReactionsChanged, callback)

    def on_host_change(self, callback: Callable[[HostChanged], object]) -> Self:
        return self.on(HostChanged, callback)

    def on_presence_sync(self, callback: Callable[[PresenceSynced], object]) -> Self:
        return self.on(PresenceSynced, callback)

    def on_connection_lost(self, callback: Callable[[ConnectionLost], object]) -> Self:
        return self.on(ConnectionLost, callback)

    def on_connection_restored(self, callback: Callable[[ConnectionRestored], object]) -> Self:
        return self.on(ConnectionRestored, callback)

    def on_room_deleted(self, callback: Callable[[RoomDeleted], object]) -> Self:
        return self.on(RoomDeleted, callback)

    def on_queue_change(self, callback: Callable[[QueueChanged], object]) -> Self:
        return self.on(QueueChanged, callback)

    def on_ready_check(self, callback: Callable[[ReadyCheckChanged], object]) -> Self:
        return self.on(ReadyCheckChanged, callback)

    def on_removed(self, callback: Callable[[RemovedFromRoom], object]) -> Self:
        """Kicked or banned by the host or a co-host: the session has stopped following."""
        return self.on(RemovedFromRoom, callback)
