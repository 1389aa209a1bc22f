"""The row level security check the Realtime server calls (``_realtime_local.visible``, created
by the local bootstrap): what it answers, and who may call it."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from tests._pg import TestDatabase
from tests.realtime._support import Sql, authorizer_url, new_user

_CALL = "select _realtime_local.visible('public.rooms'::regclass, '{room_id}', %s, %s, %s)"
_CALL_AFTER = (
    "select _realtime_local.visible('public.rooms'::regclass, '{room_id}', %s, %s, %s, %s)"
)


def _claims(user: str) -> str:
    return f'{{"sub": "{user}", "role": "authenticated"}}'


async def test_the_authorizer_role_checks_each_subscriber(database: TestDatabase, db: Sql) -> None:
    host, stranger = new_user(), new_user()
    room_id, _key = await db.create_room(host, public=False)
    async with await psycopg.AsyncConnection.connect(
        authorizer_url(database.url), autocommit=True
    ) as conn:
        cur = await conn.execute(
            _CALL,
            (
                [room_id],
                ["authenticated", "authenticated", "anon"],
                [_claims(host), _claims(stranger), '{"role": "anon"}'],
            ),
        )
        row: Any = await cur.fetchone()
    assert row[0] == [True, False, False]


@pytest.mark.parametrize("role", ["anon", "authenticated", "service_role"])
async def test_api_roles_may_not_call_it(database: TestDatabase, role: str) -> None:
    # It would let a client try claims of its choosing against any table's policies.
    async with await psycopg.AsyncConnection.connect(
        authorizer_url(database.url), autocommit=True
    ) as conn:
        await conn.execute(f"set role {role}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            await conn.execute(_CALL, (["x"], ["anon"], ['{"role": "anon"}']))


async def test_a_check_waits_for_the_changes_transaction_to_be_visible(
    database: TestDatabase,
) -> None:
    # A transaction reaches the replication stream a moment before other sessions see it; a
    # check made in that moment must wait for it instead of finding no row.
    host = new_user()
    async with await psycopg.AsyncConnection.connect(database.url) as writer:
        cur = await writer.execute(
            "select (public.rooms_create(p_title => 'Watch', p_anime_id => 'frieren', "
            "p_anime_title => 'Frieren', p_video_url => 'https://example.com/v.mkv', "
            "p_host_username => 'host', p_host_user_id => %s) -> 'room' ->> 'room_id'), "
            "pg_current_xact_id()::text::bigint & 4294967295",
            (host,),
        )
        row: Any = await cur.fetchone()
        room_id, xid = row
        async with await psycopg.AsyncConnection.connect(
            authorizer_url(database.url), autocommit=True
        ) as checker:
            check = asyncio.create_task(
                checker.execute(
                    _CALL_AFTER,
                    ([room_id], ["authenticated"], [_claims(host)], [xid]),
                )
            )
            await asyncio.sleep(0.2)  # the check is running while the writer has not committed
            assert not check.done()
            await writer.commit()
            answer: Any = await (await check).fetchone()
    assert answer[0] == [True]
