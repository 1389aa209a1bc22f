"""The role the functions log in as (migration 017): it may switch to the API roles and nothing
else, so by itself it reads no table, bypasses no policy and cannot become anyone else; and the
functions, deployed as a project of today deploys them (its URL for the JWKS, its publishable
and secret keys, no JWT secret), serve through it."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from psycopg import errors

from tests._pg import TestDatabase, purge_rooms
from tests._stack import Stack
from tests.functions._helpers import room_body
from watchium_functions import FunctionsApp, FunctionsSettings
from watchium_stack.harness import access_token

ROLE = "watchium_functions"


def _as_role(url: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{ROLE}:{quote(password, safe='')}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@pytest.fixture(scope="module")
def role_url(database: TestDatabase) -> Iterator[str]:
    """The role's URL, with a password given as a deployment gives it (taken back after)."""
    password = secrets.token_urlsafe(16)
    with database.connect() as conn:
        conn.execute(f"alter role {ROLE} password '{password}'")
    try:
        yield _as_role(database.url, password)
    finally:
        with database.connect() as conn:
            conn.execute(f"alter role {ROLE} password null")


def test_the_role_holds_no_privilege_of_its_own(database: TestDatabase) -> None:
    with database.connect() as conn:
        role = conn.execute(
            "select rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, "
            "rolreplication, rolbypassrls, rolpassword is null as no_password "
            "from pg_authid where rolname = %s",
            (ROLE,),
        ).fetchone()
        member_of = conn.execute(
            "select r.rolname from pg_auth_members m join pg_roles r on r.oid = m.roleid "
            "join pg_roles u on u.oid = m.member where u.rolname = %s order by 1",
            (ROLE,),
        ).fetchall()
    assert role == {
        "rolsuper": False,
        "rolinherit": False,
        "rolcreaterole": False,
        "rolcreatedb": False,
        "rolcanlogin": True,
        "rolreplication": False,
        "rolbypassrls": False,
        "no_password": True,  # the deployment gives it one
    }
    assert [r["rolname"] for r in member_of] == ["anon", "authenticated", "service_role"]


@pytest.fixture
def private_room(database: TestDatabase) -> Iterator[str]:
    """A private room made by its host, cleaned up after the test."""
    host = str(uuid.uuid4())
    with database.connect() as conn, conn.transaction():
        conn.execute(
            "select set_config('role', 'authenticated', true), "
            "set_config('request.jwt.claims', %s, true)",
            (json.dumps({"sub": host, "role": "authenticated"}),),
        )
        row = conn.execute(
            "select public.rooms_create(p_title => 'private', p_anime_id => 'a', "
            "p_anime_title => 'A', p_video_url => 'https://example.com/v.mkv', "
            "p_host_username => 'host', p_is_public => false) as created"
        ).fetchone()
    assert row is not None
    room_id = str(row["created"]["room"]["room_id"])
    try:
        yield room_id
    finally:
        with database.connect() as conn:
            purge_rooms(conn, [room_id])


@pytest.mark.parametrize(
    "statement",
    [
        "select * from public.rooms",
        "select * from public.room_members",
        "select * from watchium.room_access_keys",
        "select * from watchium.rate_limit_buckets",
        "select * from auth.sessions",
        "select * from auth.users",
        "insert into public.comments (anime_id, episode_number, message) values ('a', 1, 'x')",
    ],
)
def test_by_itself_it_reads_and_writes_nothing(role_url: str, statement: str) -> None:
    with psycopg.connect(role_url, autocommit=True) as conn:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(statement)


@pytest.mark.parametrize("target", ["postgres", "authenticator", "pg_read_all_data"])
def test_it_cannot_become_anyone_but_the_api_roles(role_url: str, target: str) -> None:
    with psycopg.connect(role_url, autocommit=True) as conn:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(f"set role {target}")


def test_as_an_api_role_the_policies_hold(role_url: str, private_room: str) -> None:
    with psycopg.connect(role_url) as conn:
        # A signed-in user who is not a member: RLS hides the private room.
        conn.execute(
            "select set_config('role', 'authenticated', true), "
            "set_config('request.jwt.claims', %s, true)",
            (json.dumps({"sub": str(uuid.uuid4()), "role": "authenticated"}),),
        )
        rows = conn.execute(
            "select count(*) from public.rooms where room_id = %s", (private_room,)
        ).fetchone()
        assert rows == (0,)
        # The private schema's tables stay closed to the API roles too.
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("select * from watchium.room_access_keys")
        conn.rollback()
        # The room is there: a trusted server (service_role, by design) sees it.
        conn.execute("select set_config('role', 'service_role', true)")
        rows = conn.execute(
            "select count(*) from public.rooms where room_id = %s", (private_room,)
        ).fetchone()
        assert rows == (1,)


def test_only_service_role_asks_which_sessions_ended(role_url: str) -> None:
    ended = str(uuid.uuid4())
    with psycopg.connect(role_url) as conn:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("select watchium.ended_sessions(array[%s]::uuid[])", (ended,))
        conn.rollback()
        conn.execute("select set_config('role', 'authenticated', true)")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("select watchium.ended_sessions(array[%s]::uuid[])", (ended,))
        conn.rollback()
        conn.execute("select set_config('role', 'service_role', true)")
        row = conn.execute("select watchium.ended_sessions(array[%s]::uuid[])", (ended,))
        assert row.fetchone() == ([ended],)


@pytest.fixture
async def todays_functions(stack: Stack, role_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The function app as a project created today runs it: the role above, the stack's URL
    (its JWKS), its publishable and secret keys, and no JWT secret."""
    app = FunctionsApp(
        FunctionsSettings(
            db_url=role_url,
            supabase_url=stack.url,
            publishable_keys=(stack.publishable_key,),
            secret_keys=(stack.secret_key,),
            # Sessions checked at every request, so the test need not wait for the next check.
            session_check_interval=0.001,
            pool_min=0,
        )
    )
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://functions") as http:
            yield http
    finally:
        await app.shutdown()


async def _call(
    http: httpx.AsyncClient, name: str, body: dict[str, Any], apikey: str, token: str
) -> httpx.Response:
    headers = {"apikey": apikey, "Authorization": f"Bearer {token}"}
    return await http.post(f"/functions/v1/{name}", json=body, headers=headers)


async def test_the_functions_serve_through_the_role(
    stack: Stack, todays_functions: httpx.AsyncClient
) -> None:
    async with stack.client() as client:  # a real session, signed by the stack's signing key
        session = await client.auth.get_session()
        assert session is not None
        token = session.access_token
        created = await _call(
            todays_functions, "rooms-create", room_body(), stack.client_key, token
        )
        assert created.status_code == 200, created.text
        assert created.json()["data"]["room"]["host_user_id"] == session.user.id
        # Signed out: the session has ended, and its token with it.
        await client.auth.sign_out()
    refused = await _call(todays_functions, "rooms-list-public", {}, stack.publishable_key, token)
    assert refused.status_code == 401
    assert refused.json()["error"]["details"]["reason"] == "session_ended"


@pytest.mark.parametrize("legacy", ["apikey", "token"])
async def test_without_the_jwt_secret_the_legacy_keys_are_refused(
    stack: Stack, todays_functions: httpx.AsyncClient, legacy: str
) -> None:
    if legacy == "apikey":
        response = await _call(
            todays_functions, "rooms-list-public", {}, stack.anon_key, stack.anon_key
        )
        reason = "invalid_apikey"
    else:
        token = access_token(stack.jwt_secret)
        response = await _call(todays_functions, "rooms-list-public", {}, stack.client_key, token)
        reason = "bad_algorithm"
    assert response.status_code == 401
    assert response.json()["error"]["details"]["reason"] == reason
