"""The database layer: values bound exactly, one transaction per call, nothing leaking between
calls."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest

from tests._pg import TestDatabase
from watchium_functions._db import Database
from watchium_functions._errors import FunctionError
from watchium_stack.gateway import authenticator_url


@pytest.fixture
async def db(database: TestDatabase) -> AsyncIterator[Database]:
    pool = Database(authenticator_url(database.url), min_size=1, max_size=1)
    await pool.open()
    yield pool
    await pool.close()


_ECHO = (
    "select json_build_object('t', %(t)s::text, 'n', %(n)s::numeric, 'ts', %(ts)s::timestamptz, "
    "'u', %(u)s::uuid, 'd', %(d)s::numeric, 'b', %(b)s::boolean, 'z', %(z)s::integer)::text"
)


async def test_values_are_bound_exactly(db: Database) -> None:
    nasty = "quote ' double '' backslash \\ dollar $$ semicolon ; comment -- %(t)s unicode é 🎌"
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=9, minutes=30)))
    values = {
        "t": nasty,
        "n": 0.1,
        "ts": when,
        "u": uuid.UUID(int=1),
        "d": Decimal("0.25"),
        "b": False,
        "z": None,
    }
    echoed = json.loads(await db.call("echo", _ECHO, values, role="anon", claims="{}"))
    assert echoed["t"] == nasty and echoed["n"] == 0.1 and echoed["d"] == 0.25
    assert datetime.fromisoformat(echoed["ts"]) == when
    assert echoed["u"] == "00000000-0000-0000-0000-000000000001"
    assert echoed["b"] is False and echoed["z"] is None


async def test_an_injection_attempt_is_only_text(db: Database) -> None:
    attack = "'); drop table public.rooms; --"
    echoed = await db.call("echo", "select %(t)s::text", {"t": attack}, role="anon", claims="{}")
    assert echoed == attack
    with psycopg.connect(db.conninfo) as conn:
        assert conn.execute("select to_regclass('public.rooms') is not null").fetchone() == (True,)


async def test_text_postgres_cannot_store_is_400(db: Database) -> None:
    with pytest.raises(FunctionError) as info:
        await db.call("x", "select %(v)s::text", {"v": "nul\x00"}, role="anon", claims="{}")
    assert info.value.status == 400, info.value.body()


async def test_a_call_is_one_transaction_and_leaves_nothing_behind(
    database: TestDatabase,
) -> None:
    db = Database(authenticator_url(database.url), min_size=1, max_size=1)
    await db.open()
    try:
        claims = json.dumps({"sub": str(uuid.uuid4()), "role": "authenticated"})
        statement = "select json_build_object('user', current_user, 'uid', auth.uid())::text"
        result = json.loads(await db.call("x", statement, {}, role="authenticated", claims=claims))
        assert result == {"user": "authenticated", "uid": json.loads(claims)["sub"]}
        # A failing call rolls back what it did (here: a temporary table) and resets the role.
        with pytest.raises(FunctionError) as info:
            await db.call(
                "x", "select 1; create temp table t (); select 1 / 0", {}, role="anon", claims="{}"
            )
        assert info.value.status == 500
        after = await db.call(
            "x",
            "select json_build_object('user', current_user, 'claims', "
            "current_setting('request.jwt.claims', true), 't', to_regclass('pg_temp.t'))::text",
            {},
            role="anon",
            claims='{"role":"anon"}',
        )
        assert json.loads(after) == {"user": "anon", "claims": '{"role":"anon"}', "t": None}
        with pytest.raises(FunctionError) as refused:
            await db.call("x", "select 1", {}, role="anon", claims="\x00")
        assert refused.value.code == "WR400"
    finally:
        await db.close()
    with psycopg.connect(authenticator_url(database.url), autocommit=True) as conn:
        assert conn.execute("select current_user").fetchone() == ("authenticator",)
