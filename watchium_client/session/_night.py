"""The episode night from a session (docs/NIGHTS.md): the queue and ready check it follows, and
the host's and co-hosts' skip and ready-check controls. The ready check's own logic is
:class:`~watchium_client.session._ready.ReadyFollower`'s; this is the part of
:class:`~watchium_client.RoomSession` an app calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from watchium_client._api import WatchiumClient
from watchium_client.session._context import SessionContext
from watchium_client.session._events import EventSource
from watchium_client.session._mirror import RoomMirror
from watchium_client.session._ready import ReadyFollower
from watchium_wire import QueueEntry, ReadyCheck, RoomsSkipResult

__all__ = ["NightSession"]


class NightSession:
    """``queue``, ``current_entry``, ``ready_check``; ``skip``, ``start_ready_check``,
    ``cancel_ready_check``, ``ready``."""

    _client: WatchiumClient
    _ctx: SessionContext
    _view: RoomMirror
    _ready: ReadyFollower

    def _take_room(self, row: Mapping[str, Any], source: EventSource, sent: float | None) -> None:
        raise NotImplementedError  # the session's

    @property
    def queue(self) -> tuple[QueueEntry, ...]:
        """The room's episode queue in order, as last seen (docs/NIGHTS.md)."""
        return self._view.queue_entries()

    @property
    def current_entry(self) -> QueueEntry | None:
        """The queue entry the room plays (None: none, or not seen yet)."""
        room = self._view.room
        if room is None or room.current_entry_id is None:
            return None
        return self._view.queue.get(room.current_entry_id)

    @property
    def ready_check(self) -> ReadyCheck | None:
        """The room's latest ready check as last seen (open, or how the last one ended)."""
        return self._view.ready_check

    async def skip(self, segment: str | None = None) -> RoomsSkipResult:
        """Host or co-host: skip the ``opening`` or ``ending`` (None: the one playing now) for
        the whole room. While playing, the room restarts from the segment's end a moment ahead,
        so every player lands on the same frame.

        Raises:
            NotHost: neither host nor co-host. Conflict: not in a segment, or it is not marked.
        """
        sent = self._ctx.clock.local_now()
        result = await self._client.skip(self._ctx.require_room_id(), segment)
        self._take_room(result.model_dump(), "rpc", sent)
        return result

    async def start_ready_check(
        self, to: str = "next", *, entry_id: str | None = None, timeout: float | None = None
    ) -> ReadyCheck:
        """Host or co-host: move the room to the ``next`` episode of its queue (or an
        ``entry``; ``none``: stay on this one, paused) and ask everyone if they are ready. The
        room starts by itself once all are, or after ``timeout`` seconds (default 30).

        Raises:
            NotHost: neither host nor co-host. Conflict: a check is open, or no such episode.
        """
        return await self._ready.start(to, entry_id=entry_id, timeout=timeout)

    async def cancel_ready_check(self) -> ReadyCheck:
        """Host or co-host: end the open check without starting the room.

        Raises:
            RuntimeError: no check is open. NotHost: neither host nor co-host.
        """
        return await self._ready.cancel()

    async def ready(self, ready: bool = True) -> ReadyCheck:
        """Answers the room's open ready check (sessions with ``auto_ready`` answer by
        themselves once the episode is loaded); an answer held back is settled later by the
        session, so the room sees it.

        Raises:
            RuntimeError: no check is open. Conflict: it ended meanwhile.
        """
        return await self._ready.answer(ready)
