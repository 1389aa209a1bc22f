"""Whether a database's ``auth`` schema is the local stack's own.

The local auth server (:mod:`watchium_stack.auth`) keeps users, sessions and refresh tokens in the
tables of the local bootstrap (sql/local/02_auth.sql, 05_auth_sessions.sql), whose columns are not
Supabase Auth's (GoTrue's): ``auth.refresh_tokens.token_hash``, for one. Against a real Supabase
database it would fail half-way through a sign-in; it refuses to run there instead.
"""

from __future__ import annotations

from typing import Any

import psycopg

from watchium_stack.migrate import SUPABASE_DATABASE_QUERY

__all__ = ["AuthSchemaError", "check_auth_schema", "check_auth_schema_at"]


class AuthSchemaError(RuntimeError):
    """The database's ``auth`` schema is not the local stack's: it is Supabase Auth's, or the
    database was not prepared by the local bootstrap."""


_QUERY = f"""
select ({SUPABASE_DATABASE_QUERY}) as supabase,
       exists (select 1 from pg_catalog.pg_attribute
                where attrelid = to_regclass('auth.refresh_tokens')
                  and attname = 'token_hash' and not attisdropped) as local
"""


async def check_auth_schema(conn: psycopg.AsyncConnection[Any]) -> None:
    """Check the database of ``conn``.

    Raises:
        AuthSchemaError: its ``auth`` schema is not the local stack's.
    """
    cur = await conn.execute(_QUERY)
    row = await cur.fetchone()
    supabase, local = (row["supabase"], row["local"]) if isinstance(row, dict) else tuple(row or ())
    if supabase:
        raise AuthSchemaError(
            "this database's auth schema is Supabase Auth's (GoTrue): the local auth server "
            "writes tables of its own and runs only against the local stack's database; on a "
            "Supabase project, clients sign in with the project's own Auth"
        )
    if not local:
        raise AuthSchemaError(
            "this database has no local auth tables (auth.refresh_tokens.token_hash): it was not "
            "prepared by the local stack's bootstrap (`watchium db start`)"
        )


async def check_auth_schema_at(url: str) -> bool:
    """Check the database at ``url`` if it answers; False when it does not (check it later).

    Raises:
        AuthSchemaError: its ``auth`` schema is not the local stack's.
    """
    try:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError:
        return False
    async with conn:
        await check_auth_schema(conn)
    return True
