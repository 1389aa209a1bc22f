"""One room, live: :class:`RoomSession` and what it reports.

docs/CLIENT.md shows it at work. ``RoomSession`` coordinates small parts, one module each:

| module | holds |
| --- | --- |
| ``_session`` | :class:`RoomSession`: builds the parts, runs their loops, routes what they report |
| ``_events`` | the typed events |
| ``_context`` | :class:`SessionTimings`; what every part reads (clock, room id, closing, gone) |
| ``_bus`` | the event iterators and the chainable callbacks, run in order by one task |
| ``_mirror`` | the room row, members and comments as last seen, kept in order |
| ``_membership`` | :class:`NewRoom`; join, rejoin, leave, and the reads through the functions |
| ``_channel`` | the Realtime channel ``room:{id}``: rows, presence, status, and its watchdog |
| ``_resync`` | the refetch after every (re)subscription or rejoin, retries, lost/restored events |
| ``_heartbeat`` | the member heartbeat and the clock sample |
| ``_presence`` | tracking this member's presence |
| ``_player_link`` | the player and the sync engine that drives it |
| ``_reference`` | what a host action sends: position and reference time, for every action |
| ``_host`` | :class:`HostControls`: the queue that sends a host's changes within the rate limit |
| ``_hosting`` | the host's side: app and player-UI actions, group wait |
| ``_group_wait`` | pausing the room while members buffer |
| ``_replay`` | timed replay of the episode's comments on the room's playhead |
"""

from __future__ import annotations

from watchium_client.session._context import SessionTimings
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
    QueueChanged,
    ReactionsChanged,
    ReadyCheckChanged,
    RemovedFromRoom,
    RoomChanged,
    RoomDeleted,
    RoomEvent,
    TimedComment,
)
from watchium_client.session._host import HostControls
from watchium_client.session._membership import NewRoom
from watchium_client.session._reference import storable_reference
from watchium_client.session._session import RoomSession

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
    "ReactionsChanged",
    "RoomChanged",
    "RoomDeleted",
    "RemovedFromRoom",
    "QueueChanged",
    "ReadyCheckChanged",
    "RoomEvent",
    "RoomSession",
    "SessionTimings",
    "TimedComment",
    "storable_reference",
]
