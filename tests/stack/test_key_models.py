"""supabase-py (and realtime-py through it, protocol 1.0.0) against the gateway in both key models:
a project created today (publishable key, ES256 sessions) and one on the legacy keys (anon key,
HS256 sessions). A session works end to end; every refusal is the documented one, through the
official clients: a token signed by another key, an unknown kid, an algorithm the project does
not use, an expired token, a secret key from a browser, a session that has ended."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from realtime import RealtimeSubscribeStates
from supabase import AsyncClient
from supabase_auth.errors import AuthApiError
from supabase_functions.errors import FunctionsHttpError

from tests.functions._helpers import room_body
from watchium_functions.tokens import encode_token
from watchium_stack.harness import Stack
from watchium_stack.keys import SigningKey, new_signing_key

TIMEOUT = 15.0
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


async def _invoke(client: AsyncClient, name: str, body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = await client.functions.invoke(
        name, {"body": body, "responseType": "json"}
    )
    return result["data"]  # type: ignore[no-any-return]


async def _refusal(client: AsyncClient, name: str, body: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(FunctionsHttpError) as info:
        await client.functions.invoke(name, {"body": body, "responseType": "json"})
    assert info.value.status == 401
    error: dict[str, Any] = info.value.message  # type: ignore[assignment]  # the error object
    return error


async def test_a_session_signs_in_calls_and_follows_a_room(model_stack: Stack) -> None:
    stack = model_stack
    async with stack.client() as client:
        session = await client.auth.get_session()
        assert session is not None
        header = jwt.get_unverified_header(session.access_token)
        if stack.key_model == "legacy":
            assert header["alg"] == "HS256"
        else:
            assert header == {"alg": "ES256", "kid": stack.signing_keys.current().kid, "typ": "JWT"}
        # supabase-py verifies it itself against the JWKS (a legacy token, by asking Auth).
        verified = await client.auth.get_claims()
        assert verified is not None and verified["claims"]["sub"] == session.user.id
        created = await _invoke(client, "rooms-create", room_body(is_public=False))
        room_id = created["room"]["room_id"]
        assert created["room"]["host_user_id"] == session.user.id

        # The room's channel, private, as its host: realtime-py joins with the session's token.
        await client.realtime.set_auth(session.access_token)
        changes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        subscribed = asyncio.Event()
        channel = client.channel(f"room:{room_id}", {"config": {"private": True}})
        channel.on_postgres_changes(
            "UPDATE",
            changes.put_nowait,
            schema="public",
            table="rooms",
            filter=f"room_id=eq.{room_id}",
        )
        await channel.subscribe(
            lambda status, _err: (
                subscribed.set() if status == RealtimeSubscribeStates.SUBSCRIBED else None
            )
        )
        async with asyncio.timeout(TIMEOUT):
            await subscribed.wait()
        await _invoke(
            client, "sync-control", {"room_id": room_id, "action": "seek", "current_time": 42}
        )
        async with asyncio.timeout(TIMEOUT):
            while True:
                change = await changes.get()
                if change["data"]["record"]["current_playback_time"] == 42:
                    break

        refreshed = await client.auth.refresh_session()
        assert refreshed.session is not None
        assert await _invoke(client, "members-get-list", {"room_id": room_id})


def _claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": str(uuid.uuid4()), "role": "authenticated", "exp": now + 60, **extra}


def _forged(stack: Stack, problem: str) -> tuple[str, str]:
    """A token with ``problem`` and the reason the functions give for it in this key model."""
    current = stack.signing_keys.current()
    impostor = SigningKey(current.kid, "ES256", "in_use", new_signing_key().private_jwk)
    legacy = stack.key_model == "legacy"
    return {
        # Another key with the project's kid, or another legacy secret.
        "other-key": (
            encode_token(_claims(), "another-secret-of-the-same-length-01234")
            if legacy
            else impostor.sign(_claims()),
            "invalid_signature",
        ),
        # A project on the legacy keys publishes no key: no kid is known, and no ES256.
        "unknown-kid": (
            new_signing_key().sign(_claims()),
            "bad_algorithm" if legacy else "unknown_key",
        ),
        "algorithm-not-listed": (new_signing_key("RS256").sign(_claims()), "bad_algorithm"),
        "expired": (stack.access_token(exp=int(time.time()) - 60), "expired"),
    }[problem]


@pytest.mark.parametrize("problem", ["other-key", "unknown-kid", "algorithm-not-listed", "expired"])
async def test_refused_tokens_get_the_documented_refusal(model_stack: Stack, problem: str) -> None:
    stack = model_stack
    token, reason = _forged(stack, problem)
    async with stack.client(sign_in=False, headers={"Authorization": f"Bearer {token}"}) as client:
        error = await _refusal(client, "rooms-list-public", {})
    assert error["code"] == "WR401" and error["details"]["reason"] == reason

    # Realtime refuses it too, with upstream's reason.
    async with stack.client(sign_in=False) as client:
        await client.realtime.set_auth(token)
        refused: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()

        def on_status(status: RealtimeSubscribeStates, err: Exception | None) -> None:
            if status == RealtimeSubscribeStates.CHANNEL_ERROR and not refused.done():
                refused.set_result(err)

        channel = client.channel("room:refused")
        await channel.subscribe(on_status)
        async with asyncio.timeout(TIMEOUT):
            err = await refused
        await client.remove_channel(channel)
    expected = "InvalidJWTToken" if reason == "expired" else "JwtSignatureError"
    assert expected in str(err)


async def test_a_secret_key_from_a_browser_is_refused(model_stack: Stack) -> None:
    stack = model_stack
    headers = {"User-Agent": BROWSER}
    async with stack.client(sign_in=False, key=stack.secret_key, headers=headers) as client:
        with pytest.raises(AuthApiError) as info:
            await client.auth.sign_in_anonymously()
        assert info.value.status == 401 and info.value.code == "secret_key_in_browser"
        error = await _refusal(client, "rooms-list-public", {})
        assert error["details"]["reason"] == "secret_key_in_browser"
    async with stack.client(sign_in=False, key=stack.secret_key) as server:
        assert "rooms" in await _invoke(server, "rooms-list-public", {})


async def test_an_ended_session_is_refused(model_stack: Stack) -> None:
    stack = model_stack
    # A session the functions never saw: refused at once after sign-out.
    async with stack.client() as client:
        session = await client.auth.get_session()
        assert session is not None
        await client.auth.sign_out()
    headers = {"Authorization": f"Bearer {session.access_token}"}
    async with stack.client(sign_in=False, headers=headers) as client:
        error = await _refusal(client, "rooms-list-public", {})
    assert error["details"]["reason"] == "session_ended"

    # A session in use: refused once the functions next look (every second in these tests).
    async with stack.client() as client:
        session = await client.auth.get_session()
        assert session is not None
        await _invoke(client, "rooms-list-public", {})
        await client.auth.sign_out(options={"scope": "global"})
    url = f"{stack.url}/functions/v1/rooms-list-public"
    async with httpx.AsyncClient(headers=stack.headers(session.access_token)) as http:
        async with asyncio.timeout(TIMEOUT):
            while (response := await http.post(url, json={})).status_code == 200:
                await asyncio.sleep(0.1)
    assert response.json()["error"]["details"]["reason"] == "session_ended"
