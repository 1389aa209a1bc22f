"""Signing-key rotation on a running stack, as on a Supabase project: a second key is added
(published, signing nothing yet), rotated into use (sessions of both keys accepted), then the old
one revoked (its sessions refused), all without restarting anything. The functions trust a
fetched JWKS for ``WATCHIUM_JWKS_TTL`` seconds (1 here), so they refuse the revoked key's tokens
that long after the revocation at most; Realtime reads the keys at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from realtime import RealtimeSubscribeStates

from tests._pg import TestDatabase
from tests._stack import Stack, start_stack

TIMEOUT = 15.0


@pytest.fixture(scope="module")
def rotating(database: TestDatabase) -> Iterator[Stack]:
    running = start_stack(database, settings={"WATCHIUM_JWKS_TTL": "1"})
    try:
        yield running
    finally:
        running.stop()


async def _session_token(stack: Stack) -> str:
    async with stack.client() as client:
        session = await client.auth.get_session()
        assert session is not None
        return session.access_token


def _call(stack: Stack, token: str) -> httpx.Response:
    url = f"{stack.url}/functions/v1/rooms-list-public"
    return httpx.post(url, json={}, headers=stack.headers(token), timeout=30)


def _kids(stack: Stack) -> list[str]:
    jwks = httpx.get(f"{stack.url}/auth/v1/.well-known/jwks.json").json()
    return [key["kid"] for key in jwks["keys"]]


async def _joins(stack: Stack, token: str) -> tuple[bool, str]:
    """Whether Realtime accepts ``token`` (and the refusal's reason). The stack's channels are
    all private: a channel of no room is refused by its policies once the token is accepted."""
    async with stack.client(sign_in=False) as client:
        await client.realtime.set_auth(token)
        outcome: asyncio.Future[tuple[bool, str]] = asyncio.get_running_loop().create_future()

        def on_status(status: RealtimeSubscribeStates, err: Exception | None) -> None:
            if outcome.done():
                return
            if status == RealtimeSubscribeStates.SUBSCRIBED:
                outcome.set_result((True, ""))
            elif status == RealtimeSubscribeStates.CHANNEL_ERROR:
                accepted = "You do not have permissions to read" in str(err)
                outcome.set_result((accepted, str(err)))

        channel = client.channel("room:rotation", {"config": {"private": True}})
        await channel.subscribe(on_status)
        async with asyncio.timeout(TIMEOUT):
            result = await outcome
        await client.remove_channel(channel)
        return result


def _kid(token: str) -> Any:
    return jwt.get_unverified_header(token)["kid"]


async def test_a_signing_key_is_added_rotated_and_revoked_without_a_restart(
    rotating: Stack,
) -> None:
    stack = rotating
    assert stack.process is not None
    pid = stack.process.pid
    first = stack.signing_keys.current()
    old = await _session_token(stack)
    assert _kid(old) == first.kid and _call(stack, old).status_code == 200

    # A standby key: published, but sessions are still signed with the first.
    second = stack.signing_keys.add()
    assert _kids(stack) == [first.kid, second.kid]
    assert _kid(await _session_token(stack)) == first.kid

    # Rotated: new sessions are signed with the second key, and the first key's still work.
    stack.signing_keys.rotate()
    new = await _session_token(stack)
    assert _kid(new) == second.kid
    assert _call(stack, new).status_code == 200, "a new kid is fetched at once"
    assert _call(stack, old).status_code == 200
    assert (await _joins(stack, new))[0] and (await _joins(stack, old))[0]

    # Revoked: the first key leaves the JWKS and its sessions are refused.
    stack.signing_keys.revoke(first.kid)
    assert _kids(stack) == [second.kid]
    joined, reason = await _joins(stack, old)
    assert not joined and "JwtSignatureError" in reason, "Realtime follows the file at once"
    async with asyncio.timeout(TIMEOUT):  # the functions, once their JWKS is renewed
        while (refused := _call(stack, old)).status_code == 200:
            await asyncio.sleep(0.1)
    assert refused.status_code == 401
    assert refused.json()["error"]["details"]["reason"] == "unknown_key"
    assert _call(stack, new).status_code == 200
    assert stack.process is not None and stack.process.pid == pid, "nothing was restarted"
