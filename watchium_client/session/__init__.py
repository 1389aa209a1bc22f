"""One room, live: :class:`RoomSession` and what it reports.

docs/CLIENT.md shows it at work; docs/ARCHITECTURE.md says which module holds which part.
"""

from __future__ import annotations

from watchium_client.session._events import (
    CommentPosted,
    ConnectionLost,
    ConnectionRestored,
    EventSource,
    HostChanged,
    MemberJoined,
    MemberLeft,
    MemberUpdated,
    PresenceSynced,
    RoomChanged,
    RoomDeleted,
    RoomEvent,
)
from watchium_client.session._host import HostControls
from watchium_client.session._reference import storable_reference
from watchium_client.session._session import NewRoom, RoomSession, SessionTimings

__all__ = [
    "CommentPosted",
    "ConnectionLost",
    "ConnectionRestored",
    "EventSource",
    "HostChanged",
    "HostControls",
    "MemberJoined",
    "MemberLeft",
    "MemberUpdated",
    "NewRoom",
    "PresenceSynced",
    "RoomChanged",
    "RoomDeleted",
    "RoomEvent",
    "RoomSession",
    "SessionTimings",
    "storable_reference",
]
