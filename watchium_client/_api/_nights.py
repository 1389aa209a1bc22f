"""Episode nights (docs/NIGHTS.md): moderation and co-hosts, the queue, skip together and the
ready check."""

from __future__ import annotations

from watchium_client._api._transport import Transport
from watchium_wire import (
    MEMBERS_SET_COHOST,
    QUEUE_ADD,
    QUEUE_AUTO_ADVANCE,
    QUEUE_GET,
    QUEUE_GO,
    QUEUE_MOVE,
    QUEUE_REMOVE,
    READY_CHECK_RESPOND,
    READY_CHECK_SETTLE,
    READY_CHECK_START,
    ROOMS_MODERATE,
    ROOMS_SET_SKIPS,
    ROOMS_SKIP,
    MembersSetCohostResult,
    QueueEntryResult,
    QueueGoResult,
    QueueRemoveResult,
    ReadyCheck,
    ReadyCheckStartResult,
    RoomQueue,
    RoomsModerateResult,
    RoomSnapshot,
    RoomsSkipResult,
)

__all__ = ["NightCalls"]


class NightCalls(Transport):
    """The calls of a host, its co-hosts and members running an episode night."""

    async def moderate(
        self, room_id: str, action: str, user_id: str, *, reason: str | None = None
    ) -> RoomsModerateResult:
        """Moderate a member of a room you host or co-host: ``action`` is kick, ban, unban, mute
        or unmute (``watchium_wire.ModerationAction``). Raises :class:`NotHost` for a member, or
        for a co-host acting on the host or another co-host."""
        return await self._call(
            ROOMS_MODERATE, room_id=room_id, action=action, target_user_id=user_id, reason=reason
        )

    async def kick(
        self, room_id: str, user_id: str, *, reason: str | None = None
    ) -> RoomsModerateResult:
        """Remove a member: their Realtime channel ends at once; they may join again."""
        return await self.moderate(room_id, "kick", user_id, reason=reason)

    async def ban(
        self, room_id: str, user_id: str, *, reason: str | None = None
    ) -> RoomsModerateResult:
        """Remove a user and refuse their joins (any key or invite) until :meth:`unban`."""
        return await self.moderate(room_id, "ban", user_id, reason=reason)

    async def unban(self, room_id: str, user_id: str) -> RoomsModerateResult:
        """Lift a ban."""
        return await self.moderate(room_id, "unban", user_id)

    async def mute(
        self, room_id: str, user_id: str, *, reason: str | None = None
    ) -> RoomsModerateResult:
        """Refuse a member's comments in the room until :meth:`unmute`."""
        return await self.moderate(room_id, "mute", user_id, reason=reason)

    async def unmute(self, room_id: str, user_id: str) -> RoomsModerateResult:
        """Lift a mute."""
        return await self.moderate(room_id, "unmute", user_id)

    async def set_cohost(
        self, room_id: str, user_id: str, is_cohost: bool = True
    ) -> MembersSetCohostResult:
        """Grant (or with ``is_cohost=False`` revoke) co-host to a member of a room you host:
        playback control and moderation."""
        return await self._call(
            MEMBERS_SET_COHOST, room_id=room_id, target_user_id=user_id, is_cohost=is_cohost
        )

    # -- the episode queue (docs/NIGHTS.md) ------------------------------------------------------

    async def queue(self, room_id: str) -> RoomQueue:
        """The room's queue in order, the entry it plays and whether it auto-advances."""
        return await self._call(QUEUE_GET, room_id=room_id)

    async def queue_add(
        self,
        room_id: str,
        *,
        episode_number: int,
        video_url: str,
        duration: float,
        title: str | None = None,
        anime_id: str | None = None,
        anime_title: str | None = None,
        opening: tuple[float, float] | None = None,
        ending: tuple[float, float] | None = None,
    ) -> QueueEntryResult:
        """Append an episode to the queue of a room you host or co-host, with its ``opening``
        and ``ending`` as (start, end) in seconds if known."""
        return await self._call(
            QUEUE_ADD,
            room_id=room_id,
            episode_number=episode_number,
            video_url=video_url,
            duration=duration,
            title=title,
            anime_id=anime_id,
            anime_title=anime_title,
            **_segments(opening, ending),
        )

    async def queue_remove(self, room_id: str, entry_id: str) -> QueueRemoveResult:
        """Remove an entry from the queue (host or co-host)."""
        return await self._call(QUEUE_REMOVE, room_id=room_id, entry_id=entry_id)

    async def queue_move(
        self, room_id: str, entry_id: str, *, after_entry_id: str | None = None
    ) -> QueueEntryResult:
        """Move an entry after ``after_entry_id`` (None: to the front)."""
        return await self._call(
            QUEUE_MOVE, room_id=room_id, entry_id=entry_id, after_entry_id=after_entry_id
        )

    async def queue_go(
        self, room_id: str, to: str = "next", *, entry_id: str | None = None
    ) -> QueueGoResult:
        """Move the room to the ``next``, ``previous`` or an ``entry`` of its queue (host or
        co-host); ``ended`` with ``entry_id`` reports that entry's end (any member)."""
        return await self._call(QUEUE_GO, room_id=room_id, to=to, entry_id=entry_id)

    async def queue_auto_advance(self, room_id: str, on: bool = True) -> RoomSnapshot:
        """Turn the room's auto-advance on or off (host or co-host)."""
        return await self._call(QUEUE_AUTO_ADVANCE, room_id=room_id, on=on)

    # -- skip together and the ready check (docs/NIGHTS.md) --------------------------------------

    async def set_skips(
        self,
        room_id: str,
        *,
        opening: tuple[float, float] | None = None,
        ending: tuple[float, float] | None = None,
    ) -> RoomSnapshot:
        """Mark the opening and ending (start, end in seconds) of the episode the room plays;
        one left out is cleared (host or co-host)."""
        return await self._call(ROOMS_SET_SKIPS, room_id=room_id, **_segments(opening, ending))

    async def skip(self, room_id: str, segment: str | None = None) -> RoomsSkipResult:
        """Skip the ``opening`` or ``ending`` (None: the one playing now) for the whole room
        (host or co-host)."""
        return await self._call(ROOMS_SKIP, room_id=room_id, segment=segment)

    async def ready_check_start(
        self,
        room_id: str,
        to: str = "none",
        *,
        entry_id: str | None = None,
        timeout: float | None = None,
    ) -> ReadyCheckStartResult:
        """Open a ready check (host or co-host), moving the room to the ``next`` episode or an
        ``entry`` first if asked; it starts after ``timeout`` seconds (default 30) at the latest."""
        return await self._call(
            READY_CHECK_START, room_id=room_id, to=to, entry_id=entry_id, timeout=timeout
        )

    async def ready_check_respond(
        self, room_id: str, check_id: str, ready: bool = True
    ) -> ReadyCheck:
        """Answer the room's ready check. ``held`` > 0 in the answer: call
        :meth:`ready_check_settle` after that many seconds so the room sees it."""
        return await self._call(
            READY_CHECK_RESPOND, room_id=room_id, check_id=check_id, ready=ready
        )

    async def ready_check_settle(
        self, room_id: str, check_id: str, *, cancel: bool = False
    ) -> ReadyCheck:
        """Bring the room's ready check up to date (any member: the room starts once everyone
        is ready or the deadline passed), or ``cancel`` it (host or co-host)."""
        return await self._call(
            READY_CHECK_SETTLE, room_id=room_id, check_id=check_id, cancel=cancel
        )


def _segments(
    opening: tuple[float, float] | None, ending: tuple[float, float] | None
) -> dict[str, float | None]:
    """(start, end) pairs as the request fields ``opening_start`` ... ``ending_end``."""
    return {
        "opening_start": opening[0] if opening else None,
        "opening_end": opening[1] if opening else None,
        "ending_start": ending[0] if ending else None,
        "ending_end": ending[1] if ending else None,
    }
