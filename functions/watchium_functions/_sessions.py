"""Tokens of ended sessions are refused.

An access token stays valid until it expires (an hour by default), even after its session ended:
a sign-out (here, elsewhere or everywhere), or a session revoked because its refresh token
leaked. Supabase Auth deletes an ended session's row from ``auth.sessions``, so a token whose
``session_id`` names no row belongs to an ended session. The functions look that up, cheaply:

* a session seen for the first time is looked up before its request is served (one query);
* the sessions used since are looked up again, all in one query, once every ``interval``
  seconds: the first request after the interval waits for that look-up.

A token whose session ended is therefore refused at most ``interval`` seconds after the session
ended, and the database answers one query per new session and one per interval, not one per
request. An ended session is remembered as ended. The query is ``watchium.ended_sessions``
(migration 017), called as ``service_role``.
"""

from __future__ import annotations

import asyncio
import json
import time

from watchium_functions._db import Database

__all__ = ["SessionCheck"]

_STATEMENT = "select watchium.ended_sessions(p_session_ids => %(p_session_ids)s::uuid[])::text"
_CLAIMS = '{"role":"service_role"}'


class SessionCheck:
    """Whether sessions are still active (see the module docstring).

    Args:
        db: the database to ask.
        interval: the longest a session that ended may still be taken as active (seconds).
        max_sessions: how many sessions are remembered (the oldest are forgotten first; a
            forgotten active session is looked up again when it comes back).
    """

    def __init__(self, db: Database, *, interval: float = 10.0, max_sessions: int = 100_000):
        self.db = db
        self.interval = interval
        self.max_sessions = max_sessions
        self._active: dict[str, float] = {}  # session id -> when it was last used
        self._ended: dict[str, None] = {}  # an ordered set: the oldest are forgotten first
        self._checked_at = time.monotonic()
        self._sweep: asyncio.Future[None] | None = None

    async def is_active(self, session_id: str) -> bool:
        """Whether ``session_id`` names a session that has not ended.

        Raises:
            FunctionError: (WH503) the database cannot be asked.
        """
        if session_id in self._ended:
            return False
        now = time.monotonic()
        if now - self._checked_at >= self.interval:
            await self._check_all()
            if session_id in self._ended:
                return False
        if session_id in self._active:
            self._active[session_id] = now
            return True
        if session_id in await self._ended_among([session_id]):
            self._remember_ended(session_id)
            return False
        if len(self._active) >= self.max_sessions:
            del self._active[next(iter(self._active))]
        self._active[session_id] = now
        return True

    async def _check_all(self) -> None:
        # One look-up at a time; requests arriving meanwhile wait for the same one.
        sweep = self._sweep
        if sweep is None:
            sweep = self._sweep = asyncio.ensure_future(self._sweep_once())
            sweep.add_done_callback(self._swept)
        await asyncio.shield(sweep)

    def _swept(self, future: asyncio.Future[None]) -> None:
        if self._sweep is future:
            self._sweep = None
        if not future.cancelled():
            future.exception()  # retrieved: the waiting requests raise it

    async def _sweep_once(self) -> None:
        started = time.monotonic()
        unused = [sid for sid, used in self._active.items() if started - used >= self.interval]
        for sid in unused:  # not used for a while: looked up afresh if they come back
            del self._active[sid]
        if self._active:
            for sid in await self._ended_among(list(self._active)):
                self._active.pop(sid, None)
                self._remember_ended(sid)
        self._checked_at = started

    def _remember_ended(self, session_id: str) -> None:
        if len(self._ended) >= self.max_sessions:
            del self._ended[next(iter(self._ended))]
        self._ended[session_id] = None

    async def _ended_among(self, session_ids: list[str]) -> set[str]:
        text = await self.db.call(
            "ended_sessions",
            _STATEMENT,
            {"p_session_ids": session_ids},
            role="service_role",
            claims=_CLAIMS,
        )
        ended = json.loads(text) or []
        return {str(sid) for sid in ended}
