"""The ready check, from a member's side (docs/NIGHTS.md, "Ready check").

While the room's check is open, a session:

* **answers ready by itself** (``auto_ready``, the default) once its player has the room's
  episode: the engine follows the room's row of this check (the room moved to the check's entry,
  if any) and ``on_episode_change`` has returned. A session without a player answers at once.
  An app that asks its user instead passes ``auto_ready=False`` and calls
  :meth:`RoomSession.ready`.
* **settles an answer held back**: an answer inside the check's publish interval is not written
  to the published row at once (``held`` seconds say when it may be); the session calls
  ``ready-check-settle`` after that, unless a newer row already shows it.
* **settles the deadline**: once the deadline has passed, the database starts the room on the
  first ``ready-check-settle``. The host's and co-hosts' sessions call it right away, the
  others a second or two later (unless the row closed meanwhile), so one absent host does not
  hold the room and a room of many does not send many calls.

Nothing here runs on a timer that sends while nothing happens: a check that is not open costs
nothing, and each session sends at most an answer and a settle or two per check.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from watchium_client._api import WatchiumClient
from watchium_client._errors import Conflict, WatchiumError
from watchium_client.session._context import RowSink, SessionContext
from watchium_client.session._mirror import RoomMirror
from watchium_client.sync import parse_server_time
from watchium_wire import ReadyCheck

__all__ = ["ReadyFollower"]

logger = logging.getLogger(__name__)

_CHECK_INTERVAL = 0.25
_MEMBER_SETTLE_DELAY = (1.0, 2.0)
"""A plain member's session settles a passed deadline this much later (uniform), so that the
host's session, which settles at once, is usually the only one."""
_RETRY = 1.0


class ReadyFollower:
    """Answers, and settles, the room's ready checks for one session.

    Args:
        client: calls the ready-check functions.
        ctx: the session's shared facts (the loop ends when the room is gone).
        mirror: the room's row and check as last seen.
        sink: where the checks the answers carry go (the session's mirror and events).
        episode_loaded: whether the player has the room's episode (True without a player).
        auto_ready: answer ready by itself once the episode is loaded.
        sleep: waits between checks (``asyncio.sleep``; a test passes its own).
    """

    def __init__(
        self,
        client: WatchiumClient,
        ctx: SessionContext,
        mirror: RoomMirror,
        sink: RowSink,
        *,
        episode_loaded: Callable[[], bool],
        auto_ready: bool = True,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._ctx = ctx
        self._mirror = mirror
        self._sink = sink
        self._episode_loaded = episode_loaded
        self.auto_ready = auto_ready
        self._sleep = sleep
        self._answered: str | None = None  # the check this session answered by itself
        self._settle_at: dict[str, float] = {}  # check id -> local time of the next settle
        self._rng = random.Random()

    # ------------------------------------------------------------------ what the app calls

    async def answer(self, ready: bool = True) -> ReadyCheck:
        """Answers the room's open check.

        Raises:
            RuntimeError: no check is open.
            WatchiumError: the server refused (the check ended meanwhile: WR409).
        """
        check = self._open_check()
        self._answered = check.check_id
        return await self._respond(check, ready)

    async def start(self, to: str, *, entry_id: str | None, timeout: float | None) -> ReadyCheck:
        """Opens a check (host or co-host), moving the room first as ``to`` says; the room's
        new row and the check go to the session at once.

        Raises:
            WatchiumError: the server refused (NotHost, Conflict...).
        """
        room_id = self._ctx.require_room_id()
        sent = self._ctx.clock.local_now()
        result = await self._client.ready_check_start(
            room_id, to, entry_id=entry_id, timeout=timeout
        )
        self._sink.room(result.room.model_dump(), "rpc", sent)
        self._take(result.check)
        return result.check

    async def cancel(self) -> ReadyCheck:
        """Ends the open check without starting the room (host or co-host).

        Raises:
            RuntimeError: no check is open. WatchiumError: the server refused.
        """
        check = self._open_check()
        result = await self._client.ready_check_settle(check.room_id, check.check_id, cancel=True)
        self._take(result)
        return result

    def _open_check(self) -> ReadyCheck:
        check = self._mirror.ready_check
        if check is None or not check.is_open:
            raise RuntimeError("the room has no ready check open")
        return check

    # ------------------------------------------------------------------ the loop

    def _ready_to_answer(self, check: ReadyCheck) -> bool:
        room = self._mirror.room
        if room is None:
            return False
        if check.entry_id is not None and room.current_entry_id != check.entry_id:
            return False  # the room's move to the check's episode has not arrived yet
        return self._episode_loaded()

    async def _respond(self, check: ReadyCheck, ready: bool) -> ReadyCheck:
        answer = await self._client.ready_check_respond(check.room_id, check.check_id, ready)
        self._take(answer)
        if answer.held > 0:
            # Settled once the interval is over, so the room sees this answer.
            due = self._ctx.clock.local_now() + answer.held
            self._settle_at[check.check_id] = min(due, self._settle_at.get(check.check_id, due))
        return answer

    def _take(self, check: ReadyCheck) -> None:
        self._sink.events(self._mirror.ready_check_row(check, "rpc"))

    def _deadline_settle_at(self, check: ReadyCheck) -> float:
        """Local time at which this session settles the check's deadline."""
        deadline = self._ctx.clock.to_local(parse_server_time(check.deadline))
        me = self._mirror.members.get(self._mirror.user_id or "")
        if self._mirror.is_host or (me is not None and me.is_cohost):
            return deadline
        return deadline + self._rng.uniform(*_MEMBER_SETTLE_DELAY)

    async def check(self) -> None:
        """One look at the room's check: answer, settle, or nothing."""
        check = self._mirror.ready_check
        if check is None or not check.is_open or self._mirror.user_id is None:
            return
        key = check.check_id
        try:
            if self.auto_ready and self._answered != key and self._ready_to_answer(check):
                await self._respond(check, True)
                self._answered = key  # a refused answer (the server busy) is tried again
                return
            now = self._ctx.clock.local_now()
            if key not in self._settle_at:
                self._settle_at[key] = self._deadline_settle_at(check)
            if now < self._settle_at[key]:
                return
            settled = await self._client.ready_check_settle(check.room_id, key)
            self._take(settled)
            if not settled.is_open:
                self._settle_at.pop(key, None)
            elif settled.held > 0:
                # Held again, or the room's start waits for the host's playback budget.
                self._settle_at[key] = now + settled.held
            else:
                # Published: what is left is the deadline.
                self._settle_at[key] = max(now + _RETRY, self._deadline_settle_at(check))
        except Conflict as exc:
            # The check ended meanwhile: nothing more to send for it (its row tells the rest).
            logger.info("ready check %s: %s", key, exc)
            self._answered = key
            self._settle_at[key] = float("inf")
        except WatchiumError as exc:
            # The server is busy, or the connection dropped: try again in a moment.
            logger.info("ready check %s: %s", key, exc)
            self._settle_at[key] = self._ctx.clock.local_now() + _RETRY

    async def run(self) -> None:
        """Looks a few times a second until the room is gone (cancelled on close)."""
        while not self._ctx.gone:
            await self._sleep(_CHECK_INTERVAL)
            if self._ctx.closing:
                return
            await self.check()
