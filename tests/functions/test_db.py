"""The database layer: literals, one transaction per call, nothing leaking between calls."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest

from functions._db import Database, call_sql, sql_literal
from functions._errors import FunctionError, InvalidInput
from tests._pg import TestDatabase
from watchium_stack.gateway import authenticator_url


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        (None, "NULL"),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (-1, "-1"),
        (12.5, "12.5"),
        (1e-05, "1e-05"),
        (Decimal("0.25"), "'0.25'"),
        ("it's", "'it''s'"),
        ("back\\slash", "'back\\slash'"),
        ("'); drop table rooms; --", "'''); drop table rooms; --'"),
        (uuid.UUID(int=1), "'00000000-0000-0000-0000-000000000001'"),
        (
            datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=20))),
            "'2026-01-01T07:04:05+00:00'",
        ),
    ],
)
def test_literals(value: object, literal: str) -> None:
    assert sql_literal(value) == literal


@pytest.mark.parametrize("value", ["nul\x00", float("nan"), float("inf")])
def test_values_that_cannot_be_literals(value: object) -> None:
    with pytest.raises(ValueError):
        sql_literal(value)


def test_literals_round_trip_through_postgres(database: TestDatabase) -> None:
    nasty = "quote ' double '' backslash \\ dollar $$ semicolon ; comment -- unicode é 🎌"
    with database.connect() as conn:
        row = conn.execute(
            f"select {sql_literal(nasty)}::text as t, {sql_literal(0.1)}::numeric as n, "
            f"{sql_literal(datetime(2026, 5, 1, tzinfo=UTC))}::timestamptz as ts"
        ).fetchone()
    assert row == {"t": nasty, "n": Decimal("0.1"), "ts": datetime(2026, 5, 1, tzinfo=UTC)}


def test_call_sql_is_typed_and_named() -> None:
    assert call_sql("f", [("p_a", "text"), ("p_b", "integer")], ["x", None]) == (
        "select public.f(p_a => 'x'::text, p_b => NULL::integer)::text"
    )


async def test_a_call_is_one_transaction_and_leaves_nothing_behind(
    database: TestDatabase,
) -> None:
    db = Database(authenticator_url(database.url), min_size=1, max_size=1)
    await db.open()
    try:
        claims = json.dumps({"sub": str(uuid.uuid4()), "role": "authenticated"})
        statement = "select json_build_object('user', current_user, 'uid', auth.uid())::text"
        result = json.loads(await db.call("x", statement, role="authenticated", claims=claims))
        assert result == {"user": "authenticated", "uid": json.loads(claims)["sub"]}
        # A failing call rolls back what it did (here: a temporary table) and resets the role.
        with pytest.raises(FunctionError) as info:
            await db.call(
                "x", "select 1; create temp table t (); select 1 / 0", role="anon", claims="{}"
            )
        assert info.value.status == 500
        after = await db.call(
            "x",
            "select json_build_object('user', current_user, 'claims', "
            "current_setting('request.jwt.claims', true), 't', to_regclass('pg_temp.t'))::text",
            role="anon",
            claims='{"role":"anon"}',
        )
        assert json.loads(after) == {"user": "anon", "claims": '{"role":"anon"}', "t": None}
        with pytest.raises(InvalidInput):
            await db.call("x", "select 1", role="anon", claims="\x00")
    finally:
        await db.close()
    with psycopg.connect(authenticator_url(database.url), autocommit=True) as conn:
        assert conn.execute("select current_user").fetchone() == ("authenticator",)
