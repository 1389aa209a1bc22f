"""Row level security checks, evaluated by PostgreSQL as each subscriber.

* **Changes.** Upstream's rule: a subscriber may see an inserted or updated row when, with its
  role and JWT claims set (``role``, ``request.jwt.claims``, transaction-local), selecting that
  row from the table by primary key finds it. One call of ``_realtime_local.visible`` checks a row
  for every distinct (role, claims) of its subscribers, so a change costs one round trip however
  many subscribers it has. Each check is its own statement, so policies written with
  ``(select auth.uid())`` (evaluated once per statement) see the right user.
* **Private channels.** As hosted Realtime does: probe rows for the topic are inserted into
  ``realtime.messages`` (as ``service_role``), then selected with the user's role, claims and
  ``realtime.topic`` set (read: join and receive), and inserted as the user (write: send and
  track); the transaction is rolled back.

The connections log in as the authorizer role (``authenticator`` locally), which may only
``set role`` to the API roles. The helper function is part of the local bootstrap
(sql/local/06_realtime_local.sql); hosted Supabase does not need it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

__all__ = ["AuthorizerError", "ChannelPolicies", "Authorizer"]

logger = logging.getLogger(__name__)

_VISIBLE = "_realtime_local.visible"


class AuthorizerError(RuntimeError):
    """The check could not be made (the database is unreachable)."""


@dataclass(frozen=True, slots=True)
class ChannelPolicies:
    """What realtime.messages' policies allow on a private topic."""

    broadcast_read: bool
    presence_read: bool
    broadcast_write: bool
    presence_write: bool

    @property
    def can_join(self) -> bool:
        return self.broadcast_read or self.presence_read


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.execute("set statement_timeout = '5s'")


class Authorizer:
    """RLS checks for changes and private channels, over a pool of the authorizer role's
    connections (``open`` before use, ``close`` at the end)."""

    def __init__(self, *, url: str, pool_size: int = 4) -> None:
        self._url = url
        self._pool_size = pool_size
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None

    async def open(self, timeout: float = 10.0) -> None:
        """Connect, and make sure the check function is there and may be called.

        Raises:
            AuthorizerError: when the database cannot be reached as the authorizer role, or the
                local bootstrap (sql/local) has not created the function or granted it.
        """
        if self._pool is None:
            self._pool = AsyncConnectionPool(
                self._url,
                min_size=self._pool_size,
                max_size=self._pool_size,
                kwargs={"autocommit": True, "connect_timeout": 5},
                configure=_configure,
                # How long a check waits for a connection: while PostgreSQL restarts, the change
                # pipeline retries (and keeps the order) rather than one check waiting for it.
                timeout=5.0,
                open=False,
                name="realtime-authorizer",
            )
            await self._pool.open(wait=False)
        try:
            async with self._pool.connection(timeout=timeout) as conn:
                # A relation without columns: the function answers an empty array.
                await conn.execute(f"select {_VISIBLE}(0::oid, '{{}}', '{{}}', '{{}}', '{{}}')")
        except psycopg.Error as exc:
            await self.close()
            if isinstance(exc, psycopg.OperationalError):
                raise AuthorizerError(f"cannot connect as the authorizer role: {exc}") from exc
            raise AuthorizerError(
                f"{_VISIBLE} cannot be called ({exc}); the local bootstrap (sql/local) creates it"
            ) from exc

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def _after_connection_error(self, attempt: int) -> None:
        """A pooled connection failed: PostgreSQL may have restarted, leaving every idle
        connection dead. Drop the dead ones (one round trip each, only now) before retrying."""
        if self._pool is not None:
            with contextlib.suppress(Exception):
                await self._pool.check()
        await asyncio.sleep(0.05 * (attempt + 1))

    def _connection(self) -> contextlib.AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
        if self._pool is None:
            raise AuthorizerError("the authorizer is not open")
        return self._pool.connection()

    async def visible(
        self,
        relid: int,
        key_columns: Sequence[str],
        key_values: Sequence[str | None],
        subjects: Sequence[tuple[str, str]],
        xids: Sequence[int] = (),
    ) -> list[bool]:
        """For each ``(role, claims_json)``: may it see the row with these key values, once the
        transactions ``xids`` (of the changes being checked) are visible?

        Raises:
            AuthorizerError: when the database cannot be reached.
        """
        if not subjects:
            return []
        # The subscriber arrays go in binary: psycopg's text form escapes every element (each
        # claims text is JSON full of quotes), which cost more than the checks themselves.
        query = f"select {_VISIBLE}(%s::oid::regclass, %s, %s, %b, %b, %s::bigint[])"
        params = (
            relid,
            list(key_columns),
            list(key_values),
            [role for role, _ in subjects],
            [claims for _, claims in subjects],
            sorted(set(xids)),
        )
        row = None
        for attempt in range(3):
            try:
                async with self._connection() as conn:
                    cur = await conn.execute(query, params)
                    row = await cur.fetchone()
                break
            except psycopg.OperationalError as exc:
                if attempt == 2:
                    raise AuthorizerError(f"row level security check failed: {exc}") from exc
                await self._after_connection_error(attempt)
            except psycopg.Error as exc:
                raise AuthorizerError(f"row level security check failed: {exc}") from exc
        result = row[0] if row else None
        if not isinstance(result, list) or len(result) != len(subjects):
            return [False] * len(subjects)
        return [bool(x) for x in result]

    async def channel_policies(
        self, topic: str, role: str, claims_json: str, sub: str | None
    ) -> ChannelPolicies:
        """Evaluate realtime.messages' policies for ``topic`` (without the ``realtime:`` prefix).

        Raises:
            AuthorizerError: when the database cannot be reached or a policy fails.
        """
        probe_broadcast, probe_presence = uuid.uuid4(), uuid.uuid4()
        readable: set[str] = set()
        writable: dict[str, bool] = {}
        for attempt in range(3):
            try:
                async with self._connection() as conn:
                    async with conn.transaction(force_rollback=True):
                        await conn.execute("set local role service_role")
                        await conn.execute(
                            "insert into realtime.messages (id, topic, extension) "
                            "values (%s, %s, 'broadcast'), (%s, %s, 'presence')",
                            (probe_broadcast, topic, probe_presence, topic),
                        )
                        await conn.execute(
                            "select set_config('role', %s, true), "
                            "set_config('request.jwt.claims', %s, true), "
                            "set_config('request.jwt.claim.sub', %s, true), "
                            "set_config('request.jwt.claim.role', %s, true), "
                            "set_config('realtime.topic', %s, true)",
                            (role, claims_json, sub or "", role, topic),
                        )
                        cur = await conn.execute(
                            "select id, extension from realtime.messages where id = any(%s)",
                            ([probe_broadcast, probe_presence],),
                        )
                        readable = {row[1] for row in await cur.fetchall()}
                        for extension in ("broadcast", "presence"):
                            try:
                                async with conn.transaction():
                                    await conn.execute(
                                        "insert into realtime.messages (topic, extension) "
                                        "values (%s, %s)",
                                        (topic, extension),
                                    )
                                writable[extension] = True
                            except psycopg.errors.InsufficientPrivilege:
                                writable[extension] = False
                break
            except psycopg.OperationalError as exc:
                if attempt == 2:
                    raise AuthorizerError(f"channel authorization failed: {exc}") from exc
                await self._after_connection_error(attempt)
            except psycopg.Error as exc:
                raise AuthorizerError(f"channel authorization failed: {exc}") from exc
        return ChannelPolicies(
            broadcast_read="broadcast" in readable,
            presence_read="presence" in readable,
            broadcast_write=writable.get("broadcast", False),
            presence_write=writable.get("presence", False),
        )
