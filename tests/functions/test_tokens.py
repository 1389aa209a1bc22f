"""Keys and token verification on their own: the publishable and secret keys, and access tokens
checked against published signing keys and the legacy secret, each refusal with its reason and a
message of ours (never the JWT library's)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest

from watchium_functions.apikeys import ApiKeys, is_browser, key_kind, new_api_key
from watchium_functions.jwks import StaticJwks, TokenVerifier
from watchium_functions.tokens import REASONS, KeySet, TokenError, encode_token, verify_token
from watchium_stack.keys import new_signing_key

SECRET = "legacy-secret-of-the-test-project-0123456789"
KEY = new_signing_key("ES256", "in_use")
OTHER = new_signing_key("ES256", "in_use")
RSA = new_signing_key("RS256", "in_use")
KEYS = KeySet(KeySet.parse_jwks({"keys": [KEY.public_jwk]}), SECRET)

# Words of PyJWT's own messages: ours never carry them.
LIBRARY_WORDS = ("segments", "Signature verification failed", "Invalid header", "decode", "padding")


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    body: dict[str, Any] = {
        "sub": str(uuid.uuid4()),
        "role": "authenticated",
        "aud": "authenticated",
        "iat": now,
        "exp": now + 600,
        "session_id": str(uuid.uuid4()),
    }
    body.update(extra)
    return body


def refused(token: str, keys: KeySet = KEYS) -> TokenError:
    with pytest.raises(TokenError) as info:
        verify_token(token, keys)
    error = info.value
    assert error.reason in REASONS
    assert not any(word in error.message for word in LIBRARY_WORDS), error.message
    return error


def test_publishable_and_secret_keys() -> None:
    publishable, secret = new_api_key("publishable"), new_api_key("secret")
    assert publishable.startswith("sb_publishable_") and secret.startswith("sb_secret_")
    assert (key_kind(publishable), key_kind(secret)) == ("publishable", "secret")
    keys = ApiKeys([publishable], [secret])
    assert (keys.role_of(publishable), keys.role_of(secret)) == ("anon", "service_role")
    # Another project's key, a mistyped key, a JWT: not this project's keys.
    assert keys.role_of(new_api_key("publishable")) is None
    mistyped = publishable[:-1] + ("A" if publishable[-1] != "A" else "B")
    assert key_kind(mistyped) is None and keys.role_of(mistyped) is None
    assert keys.role_of(encode_token({"role": "anon"}, SECRET)) is None
    assert ApiKeys.of([publishable, "eyJ.not.a-key", secret]).role_of(secret) == "service_role"
    with pytest.raises(ValueError, match="not a secret key"):
        ApiKeys(secret=[publishable])


@pytest.mark.parametrize(
    ("user_agent", "browser"),
    [
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36", True),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1", True),
        ("python-httpx/0.28.1", False),
        ("node", False),
        ("curl/8.5.0", False),
        (None, False),
    ],
)
def test_browsers_are_told_by_their_user_agent(user_agent: str | None, browser: bool) -> None:
    assert is_browser(user_agent) is browser


def test_tokens_of_the_signing_key_and_the_legacy_secret_verify() -> None:
    body = claims()
    assert verify_token(KEY.sign(body), KEYS) == body
    assert verify_token(encode_token(body, SECRET), KEYS) == body
    # A legacy API key: no user.
    anon = {"role": "anon", "iss": "supabase", "exp": int(time.time()) + 3600}
    assert verify_token(encode_token(anon, SECRET), KEYS)["role"] == "anon"


def test_a_token_signed_by_another_key_is_refused() -> None:
    # The same kid, another key: the signature does not match.
    forged = jwt.encode(
        claims(),
        jwt.PyJWK({**OTHER.private_jwk, "alg": "ES256"}).key,
        algorithm="ES256",
        headers={"kid": KEY.kid},
    )
    assert refused(forged).reason == "invalid_signature"
    assert refused(encode_token(claims(), "another-secret-of-the-same-length-0123")).reason == (
        "invalid_signature"
    )


def test_an_unknown_kid_is_refused_and_named() -> None:
    error = refused(OTHER.sign(claims()))
    assert error.reason == "unknown_key" and error.kid == OTHER.kid
    no_kid = jwt.encode(claims(), jwt.PyJWK({**KEY.private_jwk, "alg": "ES256"}).key, "ES256")
    assert refused(no_kid).reason == "unknown_key"


def test_an_algorithm_the_project_does_not_use_is_refused() -> None:
    assert refused(RSA.sign(claims())).reason == "bad_algorithm"
    # A kid of the project's with another algorithm.
    confused = jwt.encode(
        claims(),
        jwt.PyJWK({**RSA.private_jwk, "alg": "RS256"}).key,
        algorithm="RS256",
        headers={"kid": KEY.kid},
    )
    assert refused(confused).reason == "bad_algorithm"
    unsigned = jwt.encode(claims(), None, algorithm="none")
    assert refused(unsigned).reason == "bad_algorithm"
    # HS256 when the project no longer trusts its legacy secret.
    without_legacy = KeySet(KEYS.keys, None)
    assert refused(encode_token(claims(), SECRET), without_legacy).reason == "bad_algorithm"


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("abc.def", "malformed"),
        ("abc.def.ghi", "malformed"),
        ("not a token at all", "malformed"),
        ("", "missing"),
    ],
)
def test_malformed_tokens_say_so_in_our_words(token: str, reason: str) -> None:
    error = refused(token)
    assert error.reason == reason and error.message == REASONS[reason]


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"exp": int(time.time()) - 10}, "expired"),
        ({"nbf": int(time.time()) + 600}, "not_yet_valid"),
        ({"role": ["authenticated", "service_role"]}, "bad_role"),
        ({"role": {"name": "service_role"}}, "bad_role"),
        ({"role": "postgres"}, "bad_role"),
        ({"role": None}, "bad_role"),
        ({"sub": ["a", "b"]}, "malformed"),
        ({"sub": ""}, "malformed"),
        ({"session_id": "not-a-uuid"}, "malformed"),
        ({"session_id": 42}, "malformed"),
        ({"exp": "tomorrow"}, "malformed"),
    ],
)
def test_claims_of_the_wrong_shape_are_refused(extra: dict[str, Any], reason: str) -> None:
    for token in (KEY.sign(claims(**extra)), encode_token(claims(**extra), SECRET)):
        assert refused(token).reason == reason


async def test_the_verifier_refreshes_once_for_an_unknown_kid() -> None:
    class Rotating(StaticJwks):
        refreshed: list[str] = []

        async def refresh(self, kid: str) -> Any:
            self.refreshed.append(kid)
            return KeySet.parse_jwks({"keys": [KEY.public_jwk, OTHER.public_jwk]})

    source = Rotating({"keys": [KEY.public_jwk]})
    verifier = TokenVerifier(source, SECRET)
    assert (await verifier.verify(OTHER.sign(claims())))["role"] == "authenticated"
    assert source.refreshed == [OTHER.kid]
    with pytest.raises(TokenError) as info:
        await verifier.verify(RSA.sign(claims()))
    assert info.value.reason == "bad_algorithm" and source.refreshed[-1] == RSA.kid
