"""The local auth server with supabase-py (async and sync): anonymous sign-in, refresh with
rotation, the current user, sign-out, and the per-IP sign-up limit; errors in Supabase Auth's
shape."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import httpx
import jwt
import psycopg
import pytest
from supabase_auth.errors import AuthApiError

from tests._pg import TestDatabase, with_database
from watchium_functions.apikeys import ApiKeys
from watchium_stack._auth_schema import AuthSchemaError
from watchium_stack.auth import AuthService
from watchium_stack.harness import Stack


async def test_sign_in_anonymously_issues_a_gotrue_session(
    stack: Stack, database: TestDatabase
) -> None:
    async with stack.client(sign_in=False) as client:
        response = await client.auth.sign_in_anonymously({"options": {"data": {"nick": "mio"}}})
    session, user = response.session, response.user
    assert session is not None and user is not None
    assert session.token_type == "bearer" and session.expires_in == 3600
    assert session.expires_at is not None and session.expires_at > time.time()
    assert session.refresh_token and user.is_anonymous
    assert user.app_metadata == {"provider": "anonymous", "providers": ["anonymous"]}
    assert user.user_metadata == {"nick": "mio"} and user.aud == "authenticated"

    # Signed with the signing key in use, which the JWKS publishes.
    header = jwt.get_unverified_header(session.access_token)
    assert header["alg"] == "ES256" and header["kid"] == stack.signing_keys.current().kid
    jwks = httpx.get(f"{stack.url}/auth/v1/.well-known/jwks.json").json()
    public = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
    claims = jwt.decode(
        session.access_token, public.key, algorithms=["ES256"], audience="authenticated"
    )
    assert claims["sub"] == user.id and claims["role"] == "authenticated"
    assert claims["is_anonymous"] is True and claims["session_id"]
    assert claims["app_metadata"]["provider"] == "anonymous"
    assert claims["aal"] == "aal1" and claims["amr"][0]["method"] == "anonymous"
    assert claims["iss"] == f"{stack.url}/auth/v1"
    assert claims["exp"] - claims["iat"] == 3600

    with database.connect() as conn:
        row = conn.execute(
            "select is_anonymous from auth.users where id = %s", (user.id,)
        ).fetchone()
    assert row == {"is_anonymous": True}


async def test_get_user_and_refresh_rotation(stack: Stack, database: TestDatabase) -> None:
    async with stack.client() as client:
        first = await client.auth.get_session()
        assert first is not None
        me = await client.auth.get_user()
        assert me is not None and me.user.id == first.user.id

        refreshed = await client.auth.refresh_session()
        assert refreshed.session is not None
        assert refreshed.session.refresh_token != first.refresh_token
        assert refreshed.user is not None and refreshed.user.id == first.user.id
        new_claims = jwt.decode(refreshed.session.access_token, options={"verify_signature": False})
        old_claims = jwt.decode(first.access_token, options={"verify_signature": False})
        assert new_claims["session_id"] == old_claims["session_id"]

        # The used refresh token is refused, and (it leaked) its session is over.
        with pytest.raises(AuthApiError) as info:
            await client.auth.refresh_session(first.refresh_token)
        assert info.value.status == 400 and info.value.code == "refresh_token_already_used"
        with pytest.raises(AuthApiError) as info:
            await client.auth.refresh_session(refreshed.session.refresh_token)
        assert info.value.code == "refresh_token_not_found"


async def test_the_refreshed_token_calls_functions(stack: Stack) -> None:
    async with stack.client() as client:
        await client.auth.refresh_session()
        result = await client.functions.invoke("rooms-list-public", {"responseType": "json"})
        assert "data" in result


async def test_sign_out_ends_the_session(stack: Stack, database: TestDatabase) -> None:
    async with stack.client() as client:
        session = await client.auth.get_session()
        assert session is not None
        await client.auth.sign_out()
        assert await client.auth.get_session() is None
    with database.connect() as conn:
        row = conn.execute(
            "select count(*) as n from auth.sessions where user_id = %s", (session.user.id,)
        ).fetchone()
    assert row == {"n": 0}
    response = httpx.get(f"{stack.url}/auth/v1/user", headers=stack.headers(session.access_token))
    assert response.status_code == 403 and response.json()["error_code"] == "session_not_found"


def test_the_sync_client_signs_in_and_refreshes(stack: Stack) -> None:
    with stack.sync_client() as client:
        session = client.auth.get_session()
        assert session is not None and session.user.is_anonymous
        assert client.auth.refresh_session().session is not None


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "no_authorization"),
        ({"Authorization": "Bearer not.a.jwt"}, 403, "bad_jwt"),
    ],
)
def test_user_errors_have_gotrue_shapes(
    stack: Stack, headers: dict[str, str], status: int, code: str
) -> None:
    url = f"{stack.url}/auth/v1/user"
    legacy = httpx.get(url, headers={"apikey": stack.anon_key, **headers})
    assert legacy.status_code == status
    assert legacy.json()["code"] == status and legacy.json()["error_code"] == code
    assert legacy.json()["msg"]
    versioned = httpx.get(
        url, headers={"apikey": stack.anon_key, "X-Supabase-Api-Version": "2024-01-01", **headers}
    )
    assert versioned.json()["code"] == code and versioned.json()["message"]
    assert versioned.headers["x-supabase-api-version"] == "2024-01-01"


def test_email_sign_up_is_refused_and_settings_say_so(stack: Stack) -> None:
    response = httpx.post(
        f"{stack.url}/auth/v1/signup",
        headers={"apikey": stack.anon_key},
        json={"email": "a@b.c", "password": "secret123"},
    )
    assert response.status_code == 422
    settings = httpx.get(f"{stack.url}/auth/v1/settings", headers={"apikey": stack.anon_key})
    assert settings.json()["external"]["anonymous_users"] is True
    assert settings.json()["external"]["email"] is False


@pytest.fixture
async def limited_auth(stack: Stack) -> AsyncIterator[AuthService]:
    keys = ApiKeys([stack.publishable_key], [stack.secret_key])
    async with AuthService(
        stack.db_url, stack.jwt_secret, api_keys=keys, anonymous_signups_per_hour=3
    ) as auth:
        yield auth


async def test_anonymous_sign_ups_are_limited_per_ip(
    limited_auth: AuthService, database: TestDatabase, stack: Stack
) -> None:
    # A client address of its own (TEST-NET-3), so no other test shares its bucket.
    address = f"203.0.113.{int(time.time() * 1000) % 250 + 1}"
    with database.connect() as conn:
        conn.execute(
            "delete from watchium.rate_limit_buckets where subject = %s", (f"ip:{address}",)
        )
    transport = httpx.ASGITransport(app=limited_auth, client=(address, 4000))
    other = httpx.ASGITransport(app=limited_auth, client=("203.0.113.254", 4000))
    key = {"apikey": stack.publishable_key}
    async with httpx.AsyncClient(transport=transport, base_url="http://auth", headers=key) as http:
        for _ in range(3):
            assert (await http.post("/signup", json={})).status_code == 200
        with database.connect() as conn:
            before = conn.execute("select count(*) as n from auth.users").fetchone()
        refused = await http.post(
            "/signup", json={}, headers={"X-Supabase-Api-Version": "2024-01-01"}
        )
        assert refused.status_code == 429
        assert refused.json()["code"] == "over_request_rate_limit"
        assert int(refused.headers["retry-after"]) >= 1
        with database.connect() as conn:
            after = conn.execute("select count(*) as n from auth.users").fetchone()
        assert after == before
    async with httpx.AsyncClient(transport=other, base_url="http://auth", headers=key) as http:
        with database.connect() as conn:
            conn.execute(
                "delete from watchium.rate_limit_buckets where subject = %s", ("ip:203.0.113.254",)
            )
        assert (await http.post("/signup", json={})).status_code == 200


@pytest.fixture
def foreign_database(database: TestDatabase) -> Iterator[str]:
    """A database of the run's cluster, empty: what each test makes of its ``auth`` schema."""
    with database.connect_admin() as admin:
        admin.execute("create database auth_foreign owner postgres")
    try:
        yield with_database(database.url, "auth_foreign")
    finally:
        with database.connect_admin() as admin:
            admin.execute("drop database auth_foreign with (force)")


async def test_the_auth_server_refuses_supabase_auths_own_schema(foreign_database: str) -> None:
    with psycopg.connect(foreign_database, autocommit=True) as conn:
        # What GoTrue keeps: its migration history, and refresh tokens without token_hash.
        conn.execute(
            "create schema auth; "
            "create table auth.schema_migrations (version varchar(255) primary key); "
            "create table auth.refresh_tokens (id bigserial primary key, token varchar(255))"
        )
    service = AuthService(foreign_database, "secret-" * 6)
    with pytest.raises(AuthSchemaError, match="Supabase Auth"):
        await service.start()
    await service.stop()


async def test_the_auth_server_refuses_a_database_the_bootstrap_did_not_prepare(
    foreign_database: str,
) -> None:
    service = AuthService(foreign_database, "secret-" * 6)
    with pytest.raises(AuthSchemaError, match="bootstrap"):
        await service.start()
    await service.stop()


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": {"name": "a\\u0000b"}}',
        b'{"data": {"name": "\\ud800"}}',
        b'{"data": {"\\u0000": 1}}',
        b'{"data": {"list": ["ok", "\\udfff"]}}',
    ],
)
def test_a_sign_up_with_unstorable_text_is_400_and_creates_no_user(
    stack: Stack, database: TestDatabase, body: bytes
) -> None:
    with database.connect() as conn:
        before = conn.execute("select count(*) as n from auth.users").fetchone()
    response = httpx.post(
        f"{stack.url}/auth/v1/signup",
        content=body,
        headers={"apikey": stack.anon_key, "content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "validation_failed"
    with database.connect() as conn:
        assert conn.execute("select count(*) as n from auth.users").fetchone() == before
