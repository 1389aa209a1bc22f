"""The Realtime server and the project's keys, over raw sockets in both protocol versions: the
publishable and secret keys at the handshake (a secret key refused from a browser), users'
tokens signed by the signing key or the legacy secret, and each refusal with upstream's reason."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest
from websockets.exceptions import InvalidStatus

from tests.realtime._support import SIGNING_KEY, Phoenix, Server, new_user, user_token
from watchium_functions.apikeys import new_api_key
from watchium_stack.keys import SigningKey, new_signing_key

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15"
VERSIONS = ["1.0.0", "2.0.0"]


async def _refused(url: str, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(InvalidStatus) as info:
        await Phoenix.open(url, **kwargs)
    response = info.value.response
    return response.status_code, response.body.decode() if response.body else ""


@pytest.mark.parametrize("vsn", VERSIONS)
async def test_the_publishable_and_secret_keys_open_sockets(realtime: Server, vsn: str) -> None:
    for key in (realtime.keys.publishable_key, realtime.keys.secret_key, realtime.keys.anon_key):
        ph = await Phoenix.open(realtime.ws_url(vsn, apikey=key), vsn)
        ref = await ph.push("phoenix", "heartbeat", {})
        assert (await ph.reply(ref))["status"] == "ok"
        await ph.close()


async def test_keys_of_another_project_are_refused(realtime: Server) -> None:
    for key in (new_api_key("publishable"), new_api_key("secret")):
        status, body = await _refused(realtime.ws_url(apikey=key))
        assert status == 401 and "Invalid API key" in body


async def test_a_secret_key_from_a_browser_is_refused(realtime: Server) -> None:
    url = realtime.ws_url(apikey=realtime.keys.secret_key)
    status, body = await _refused(url, user_agent_header=BROWSER)
    assert status == 401 and "secret API key in browser" in body
    # The publishable key is what a browser uses.
    ph = await Phoenix.open(
        realtime.ws_url(apikey=realtime.keys.publishable_key), user_agent_header=BROWSER
    )
    await ph.close()


@pytest.mark.parametrize("vsn", VERSIONS)
async def test_tokens_of_either_signing_system_join(realtime: Server, vsn: str) -> None:
    ph = await Phoenix.open(realtime.ws_url(vsn, apikey=realtime.keys.publishable_key), vsn)
    for n, token in enumerate((user_token(new_user(), key=SIGNING_KEY), user_token(new_user()))):
        reply = await ph.join(f"realtime:room:k{n}", {}, access_token=token)
        assert reply["status"] == "ok", reply
    # The socket's publishable key acts as anon when the join carries none (or carries the
    # key itself, as supabase-js does before sign-in).
    reply = await ph.join("realtime:room:anon", {}, access_token=realtime.keys.publishable_key)
    assert reply["status"] == "ok", reply
    await ph.close()


def _impostor() -> SigningKey:
    return SigningKey(SIGNING_KEY.kid, "ES256", "in_use", new_signing_key().private_jwk)


@pytest.mark.parametrize("vsn", VERSIONS)
@pytest.mark.parametrize(
    ("problem", "reason"),
    [
        ("unknown-kid", "JwtSignatureError: the access token is signed with a key the project"),
        ("other-key-same-kid", "JwtSignatureError: Failed to validate JWT signature"),
        ("rsa-not-listed", "JwtSignatureError: the access token is signed with an algorithm"),
        ("expired", "InvalidJWTToken: Token has expired"),
        ("role-list", "InvalidJWTToken: the access token's role must be one of"),
    ],
)
async def test_refused_tokens_carry_upstream_reasons(
    realtime: Server, vsn: str, problem: str, reason: str
) -> None:
    user = new_user()
    claims = {"sub": user, "role": "authenticated", "exp": int(time.time()) + 60}
    token = {
        "unknown-kid": lambda: new_signing_key().sign(claims),
        "other-key-same-kid": lambda: _impostor().sign(claims),
        "rsa-not-listed": lambda: new_signing_key("RS256").sign(claims),
        "expired": lambda: user_token(user, ttl=-30, key=SIGNING_KEY),
        "role-list": lambda: SIGNING_KEY.sign({**claims, "role": ["authenticated"]}),
    }[problem]()
    ph = await Phoenix.open(realtime.ws_url(vsn, apikey=realtime.keys.publishable_key), vsn)
    reply = await ph.join(f"realtime:room:{problem}", {}, access_token=token)
    assert reply["status"] == "error"
    assert reply["response"]["reason"].startswith(reason), reply
    await ph.close()


async def test_rest_broadcast_takes_the_new_keys(realtime: Server) -> None:
    url = f"{realtime.http_url}/realtime/v1/api/broadcast"
    body = {"messages": [{"topic": "news", "event": "e", "payload": {}}]}
    keys = realtime.keys
    async with httpx.AsyncClient(timeout=15) as http:
        ok = await http.post(url, json=body, headers={"apikey": keys.secret_key})
        assert ok.status_code == 202
        user = {
            "apikey": keys.publishable_key,
            "Authorization": "Bearer " + user_token(new_user(), key=SIGNING_KEY),
        }
        assert (await http.post(url, json=body, headers=user)).status_code == 202
        # Another API key where a user's token goes; a secret key from a browser.
        other = {"apikey": keys.publishable_key, "Authorization": f"Bearer {keys.secret_key}"}
        assert (await http.post(url, json=body, headers=other)).status_code == 401
        browser = {"apikey": keys.secret_key, "User-Agent": BROWSER}
        assert (await http.post(url, json=body, headers=browser)).status_code == 401


def test_the_test_key_is_es256() -> None:
    header = jwt.get_unverified_header(user_token(new_user(), key=SIGNING_KEY))
    assert header == {"alg": "ES256", "kid": SIGNING_KEY.kid, "typ": "JWT"}
