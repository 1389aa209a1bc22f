"""The functions' database access: a pool of connections, one transaction per call, the caller's
role and claims set exactly as PostgREST sets them.

Each call is one message to the server (one round trip) holding two statements, which PostgreSQL
runs as one implicit transaction::

    select set_config('role', 'authenticated', true),
           set_config('request.jwt.claims', '{...}', true),
           set_config('request.method', 'POST', true), set_config('request.path', '...', true),
           set_config('watchium.client_address', '203.0.113.7', true),
           set_config('statement_timeout', '10s', true);
    select public.<function>(p_a => '...'::text, p_b => 42::integer, ...)::text

Both settings are transaction-local, so nothing outlives the call on a pooled connection; an error
rolls the whole call back, so a refused call never leaves a half-written row.

Why values are bound on the client: two statements in one round trip need either the simple query
protocol (no server-side parameters) or psycopg's pipeline mode, and the pipeline costs about twice
the client CPU per call (bench/functions_http.py). psycopg's client-side binding cursor
(``AsyncClientCursor``) quotes every value with the server's own escaping rules and sends the whole
text in one message. Every name in the statement comes from the endpoint table, never from a
request.

Outages: a lost connection, a refused connection or a pool timeout with no connection marks the
database down and answers ``WH503`` at once (no request waits
on a dead database). A probe reconnects every ``probe_interval`` seconds; when it succeeds the pool
is replaced by a fresh one, so the service recovers by itself when the database is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from watchium_functions._errors import FunctionError, from_database_error, is_outage

__all__ = ["Database"]

logger = logging.getLogger(__name__)

_PREAMBLE = (
    "select set_config('role', %(_role)s, true), "
    "set_config('request.jwt.claims', %(_claims)s, true), "
    "set_config('request.method', %(_method)s, true), "
    "set_config('request.path', %(_path)s, true), "
    "set_config('watchium.client_address', %(_address)s, true), "
    "set_config('statement_timeout', %(_timeout)s, true); "
)


class Database:
    """A pool of connections to PostgreSQL (as ``authenticator``, or ``postgres`` on Supabase).

    Args:
        conninfo: the connection URL.
        min_size, max_size: pool bounds.
        timeout: seconds a call waits for a free connection before answering 503.
        statement_timeout: PostgreSQL ``statement_timeout`` for each call (e.g. ``"10s"``).
        probe_interval: seconds between reconnection attempts while the database is down.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        min_size: int = 2,
        max_size: int = 10,
        timeout: float = 5.0,
        statement_timeout: str = "10s",
        probe_interval: float = 0.5,
    ) -> None:
        self.conninfo = conninfo
        self.min_size = min_size
        self.max_size = max_size
        self.timeout = timeout
        self.statement_timeout = statement_timeout
        self.probe_interval = probe_interval
        self._pool: AsyncConnectionPool | None = None
        self._down = False
        self._probe: asyncio.Task[None] | None = None

    def _new_pool(self) -> AsyncConnectionPool:
        # Calls are sent as text (see the module docstring): nothing to prepare, which also
        # suits transaction-mode poolers.
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": 5,
            "prepare_threshold": None,
            "cursor_factory": psycopg.AsyncClientCursor,
        }
        return AsyncConnectionPool(
            self.conninfo,
            min_size=self.min_size,
            max_size=self.max_size,
            timeout=self.timeout,
            kwargs=kwargs,
            open=False,
            name="watchium-functions",
        )

    @property
    def available(self) -> bool:
        """False while the database is known to be unreachable."""
        return self._pool is not None and not self._down

    async def open(self) -> None:
        """Open the pool without waiting for the database (it may come up later)."""
        if self._pool is None:
            self._pool = self._new_pool()
            await self._pool.open(wait=False)

    async def close(self) -> None:
        """Stop probing and close the pool."""
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
            self._probe = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def call(
        self,
        function: str,
        statement: str,
        values: Mapping[str, Any],
        *,
        role: str,
        claims: str,
        method: str = "POST",
        path: str = "",
        address: str = "",
    ) -> str:
        """Run ``statement`` (an SQL function call with ``%(name)s`` placeholders for
        ``values``) as ``role`` with the JWT ``claims`` (JSON text) in one transaction; return
        its JSON text. ``function`` names the call in logs; ``address`` is the client's address
        (``watchium.client_address``, the subject of per-address limits).

        Raises:
            FunctionError: the mapped database error (see ``from_database_error``); WH503 while
                the database is down.
        """
        pool = self._pool
        if pool is None or self._down:
            self._start_probe()
            raise FunctionError("WH503", headers={"Retry-After": "1"})
        params = {
            **values,
            "_role": role,
            "_claims": claims,
            "_method": method,
            "_path": path,
            "_address": address,
            "_timeout": self.statement_timeout,
        }
        try:
            row = await self._run(pool, _PREAMBLE + statement, params)
        except PoolTimeout as exc:
            # Every connection busy (load) or none to be had (an outage): the probe tells which.
            self._start_probe()
            raise from_database_error(exc) from None
        except Exception as exc:
            if is_outage(exc):
                self._mark_down(exc)
            raise from_database_error(exc) from None
        if row is None or row[0] is None:
            return "null"
        text: str = row[0]
        return text

    async def _run(
        self, pool: AsyncConnectionPool, query: str, params: Mapping[str, Any] | None = None
    ) -> tuple[Any, ...] | None:
        # A pooled connection the server closed while it sat idle (a restart) would fail the call
        # although nothing ran: skip such connections (the pool replaces them) and use another.
        timeout: float | None = None
        for _ in range(self.max_size):
            async with pool.connection(timeout=timeout) as conn:
                if _closed_by_server(conn):
                    await conn.close()
                    # The server may be down: do not wait the whole pool timeout for another.
                    timeout = min(self.timeout, 1.0)
                    continue
                return await _execute(conn, query, params)
        async with pool.connection(timeout=timeout) as conn:
            return await _execute(conn, query, params)

    async def ping(self) -> bool:
        """Whether the database answers a trivial query now (for health checks)."""
        pool = self._pool
        if pool is None or self._down:
            return False
        try:
            await self._run(pool, "select null; select 'ok'")
        except Exception as exc:
            if is_outage(exc):
                self._mark_down(exc)
            return False
        return True

    # -- outage handling ---------------------------------------------------------------------

    def _mark_down(self, exc: BaseException) -> None:
        if not self._down:
            logger.warning("database unreachable (%s): answering 503 until it is back", exc)
        self._down = True
        self._start_probe()

    def _start_probe(self) -> None:
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        # Started by a lost connection (already marked down) or a pool timeout (load or outage).
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True, connect_timeout=2
                )
            except (psycopg.Error, OSError) as exc:
                if not self._down:
                    logger.warning("database unreachable (%s): answering 503 until it is back", exc)
                self._down = True
                await asyncio.sleep(self.probe_interval)
                continue
            await conn.close()
            break
        if not self._down:
            return  # the database answers: a pool timeout was load, not an outage
        # The old pool holds connections to the server that went away: replace it.
        old, self._pool = self._pool, self._new_pool()
        await self._pool.open(wait=False)
        self._down = False
        logger.warning("database reachable again: serving")
        if old is not None:
            await old.close(timeout=1.0)


async def _execute(
    conn: psycopg.AsyncConnection[Any], query: str, params: Mapping[str, Any] | None
) -> tuple[Any, ...] | None:
    cur = await conn.execute(query, params, prepare=False)
    cur.nextset()
    return await cur.fetchone()


def _closed_by_server(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Whether an idle connection has something to read: between calls the server sends nothing
    unless it is ending the session (a FATAL message, or the end of the stream)."""
    if conn.closed or conn.broken:
        return True
    try:
        readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    except (OSError, ValueError, psycopg.OperationalError):
        return True
    return bool(readable)
