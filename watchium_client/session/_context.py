"""What the parts of one :class:`~watchium_client.RoomSession` share.

The session is a coordinator over small parts (the channel, the resync, the heartbeat, the host
side...). They all read the same few facts: the clock, the timings, the room's id once known,
whether the session is closing and whether the room still exists. ``SessionContext`` holds them
in one place, so a part takes one object instead of a handful of callbacks, and a test builds
one without a server. ``RowSink`` is the one way a part hands a row it received to the session.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from watchium_client.session._events import EventSource, RoomEvent
from watchium_client.sync import ClockSync
from watchium_wire import Member

__all__ = ["RowSink", "SessionContext", "SessionTimings"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionTimings:
    """How often a session talks to the server (seconds)."""

    heartbeat_interval: float = 10.0
    """Member heartbeat (members-update-status); the server removes members silent for 30 s."""
    buffering_shown_after: float = 0.5
    """A stall is shown (presence, heartbeat) once it has lasted this long: shorter ones are
    blips the host's group wait ignores anyway, and each track reaches every member."""
    unsynced_shown_after: float = 5.0
    """The player is shown out of sync once the engine has measured it outside the sync
    tolerance for this long: a host action, a join or a stall's end realigns it sooner."""
    clock_interval: float = 5.0
    """Clock sample and room refresh (sync-get-host-time)."""
    join_samples: int = 5
    """Clock samples taken at join before the engine starts (the join answer is the first)."""
    join_sample_spacing: float = 0.05
    start_delay: float = 0.25
    """``play()`` starts the room this far in the future (a scheduled start), so every member,
    the host included, starts at the same instant instead of late by its own network delay."""
    seek_delay: float = 0.6
    """``seek()`` in a playing room restarts it this far in the future (a scheduled start):
    long enough for a player's seek to land first, short enough to pass for the seek itself."""
    subscribe_timeout: float = 30.0
    """How long ``open()`` waits for the channel and the first fetch."""
    group_wait_interval: float = 1.0
    retry_max: float = 5.0
    """Longest pause between retries while the server does not answer."""


@dataclass(eq=False)
class SessionContext:
    """The facts every part of one session reads; the session (and the resync, for ``gone``)
    writes them."""

    clock: ClockSync
    timings: SessionTimings
    room_id: str | None = None
    """None until a room being created has its id."""
    opened: bool = False
    closing: bool = False
    """Set when ``close`` starts: from then on nothing is reported or refetched."""
    closed: bool = False
    gone: bool = False
    """The room no longer exists: every loop ends."""
    answered_at: float = -math.inf
    """Local time of the last answer of a function (Realtime's watchdog reads it as a sign
    that the server is back)."""

    def require_room_id(self) -> str:
        """The room's id.

        Raises:
            RuntimeError: a room to be created that ``open`` has not created yet.
        """
        if self.room_id is None:
            raise RuntimeError("the room is created by open(): no room id yet")
        return self.room_id


@dataclass(frozen=True, slots=True)
class RowSink:
    """Where a part hands the rows it receives (from Realtime or from a function's answer):
    the session takes them into its mirror, feeds the sync engine and acts on the events."""

    room: Callable[[Mapping[str, Any], EventSource, float | None], None]
    """A rooms row, where it came from, and (for an answer) the local time the request was
    sent."""
    member: Callable[[Member, EventSource], None]
    events: Callable[[list[RoomEvent]], None]
    """Events the mirror already derived (a departure, a comment...)."""
