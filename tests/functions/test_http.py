"""The HTTP layer's own refusals over raw HTTP: tokens, keys, methods, media types, sizes,
malformed bodies; CORS and the OpenAPI document."""

from __future__ import annotations

import time

import httpx
import pytest

from tests._pg import TestDatabase
from tests._stack import Stack
from tests.functions._helpers import count, error_of, post, room_body
from watchium_functions import BODY_LIMIT, _app
from watchium_functions.apikeys import new_api_key
from watchium_functions.tokens import REASONS, encode_token
from watchium_stack.harness import access_token
from watchium_stack.keys import SigningKey, new_signing_key
from watchium_wire import ENDPOINTS


def test_missing_apikey_is_401(stack: Stack, database: TestDatabase) -> None:
    before = count(database, "rooms")
    response = httpx.post(
        f"{stack.url}/functions/v1/rooms-create",
        json=room_body(),
        headers={"Authorization": f"Bearer {stack.access_token()}"},
    )
    error = error_of(response, 401, "WR401")
    assert error["details"]["reason"] == "missing_apikey"
    assert count(database, "rooms") == before


@pytest.mark.parametrize(
    "apikey",
    ["not-a-jwt", "forged", "user-token", "legacy-user-token", "other-project", "mistyped"],
)
def test_bad_apikey_is_401(stack: Stack, database: TestDatabase, apikey: str) -> None:
    value = {
        "not-a-jwt": "not-a-jwt",
        "forged": encode_token({"role": "anon"}, "some-other-secret-of-32-characters!!"),
        # A user's access token is not a project key, however it is signed.
        "user-token": stack.access_token(),
        "legacy-user-token": access_token(stack.jwt_secret),
        "other-project": new_api_key("publishable"),
        "mistyped": stack.publishable_key[:-1] + ("x" if stack.publishable_key[-1] != "x" else "y"),
    }[apikey]
    before = count(database, "rooms")
    response = post(
        stack, "rooms-create", room_body(), token=stack.access_token(), headers={"apikey": value}
    )
    error = error_of(response, 401, "WR401")
    assert error["details"]["reason"] == "invalid_apikey"
    assert count(database, "rooms") == before


def test_a_secret_key_from_a_browser_is_401(stack: Stack, database: TestDatabase) -> None:
    browser = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    before = count(database, "rooms")
    response = post(
        stack,
        "rooms-create",
        room_body(),
        token=stack.access_token(),
        headers={"apikey": stack.secret_key, "User-Agent": browser},
    )
    error = error_of(response, 401, "WR401")
    assert error["details"]["reason"] == "secret_key_in_browser" and "publishable" in error["hint"]
    assert count(database, "rooms") == before
    # The same key from a server acts as service_role: for anyone.
    user = "8a4f3c57-6e0b-4d0e-9d67-3c9b1e0f2a11"
    server = post(
        stack,
        "rooms-create",
        room_body(host_user_id=user),
        token=stack.secret_key,
        headers={"apikey": stack.secret_key},
    )
    assert server.status_code == 200, server.text
    assert server.json()["data"]["room"]["host_user_id"] == user


PROBLEMS = [
    "forged",
    "other-key-same-kid",
    "unknown-kid",
    "rsa-not-listed",
    "expired",
    "malformed",
    "not-bearer",
    "bad-role",
    "role-list",
    "other-api-key",
]


@pytest.mark.parametrize("problem", PROBLEMS)
def test_bad_access_token_is_401(stack: Stack, database: TestDatabase, problem: str) -> None:
    now = int(time.time())
    claims = {
        "sub": "8a4f3c57-6e0b-4d0e-9d67-3c9b1e0f2a11",
        "role": "authenticated",
        "exp": now + 60,
    }
    other = new_signing_key("ES256")
    current = stack.signing_keys.current()
    impostor = SigningKey(current.kid, "ES256", "in_use", other.private_jwk)
    token, reason = {
        "forged": (
            encode_token(claims, "another-secret-that-is-32-chars-long"),
            "invalid_signature",
        ),
        "other-key-same-kid": (impostor.sign(claims), "invalid_signature"),
        "unknown-kid": (other.sign(claims), "unknown_key"),
        "rsa-not-listed": (new_signing_key("RS256").sign(claims), "bad_algorithm"),
        "expired": (stack.access_token(iat=now - 7200, exp=now - 3600), "expired"),
        "malformed": ("abc.def.ghi", "malformed"),
        "not-bearer": ("", "malformed"),
        "bad-role": (stack.access_token(role="postgres"), "bad_role"),
        "role-list": (stack.access_token(role=["authenticated", "service_role"]), "bad_role"),
        "other-api-key": (stack.secret_key, "malformed"),
    }[problem]
    authorization = "Basic dXNlcjpwYXNz" if problem == "not-bearer" else f"Bearer {token}"
    before = count(database, "rooms")
    response = post(stack, "rooms-create", room_body(), headers={"Authorization": authorization})
    error = error_of(response, 401, "WR401")
    assert error["details"]["reason"] == reason
    if problem not in ("not-bearer", "other-api-key"):  # those have words of their own
        assert error["message"] == REASONS[reason], "our words, not the JWT library's"
    if problem == "expired":
        assert "refresh" in error["hint"]
    assert count(database, "rooms") == before


def test_a_bearer_equal_to_the_apikey_is_the_key(stack: Stack) -> None:
    # What supabase-py and supabase-js send when nobody is signed in.
    for key in (stack.publishable_key, stack.anon_key):
        headers = {"apikey": key, "Authorization": f"Bearer {key}"}
        url = f"{stack.url}/functions/v1/rooms-list-public"
        assert httpx.post(url, json={}, headers=headers).status_code == 200
        refused = httpx.post(
            f"{stack.url}/functions/v1/rooms-create", json=room_body(), headers=headers
        )
        assert error_of(refused, 401, "WR401")["message"] == "sign-in required"


def test_without_authorization_the_apikey_role_is_used(stack: Stack) -> None:
    response = httpx.post(
        f"{stack.url}/functions/v1/rooms-list-public", json={}, headers={"apikey": stack.anon_key}
    )
    assert response.status_code == 200, response.text
    # anon may read, but not act for a user
    response = httpx.post(
        f"{stack.url}/functions/v1/rooms-create",
        json=room_body(),
        headers={"apikey": stack.anon_key},
    )
    error_of(response, 401, "WR401")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_wrong_method_is_405_with_allow(stack: Stack, method: str) -> None:
    response = httpx.request(
        method, f"{stack.url}/functions/v1/rooms-create", headers=stack.headers()
    )
    error_of(response, 405, "WH405")
    assert response.headers["allow"] == "POST, OPTIONS"


def test_openapi_wrong_method_is_405(stack: Stack) -> None:
    response = httpx.post(f"{stack.url}/functions/v1/openapi.json", headers=stack.headers())
    error_of(response, 405, "WH405")
    assert "GET" in response.headers["allow"]


def test_unknown_function_is_404(stack: Stack) -> None:
    error_of(post(stack, "rooms-explode", {}), 404, "WH404")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None]
)
def test_non_json_content_type_is_415(
    stack: Stack, database: TestDatabase, content_type: str | None
) -> None:
    headers = stack.headers(stack.access_token())
    if content_type:
        headers["Content-Type"] = content_type
    before = count(database, "rooms")
    response = httpx.post(
        f"{stack.url}/functions/v1/rooms-create", headers=headers, content=b'{"title": "x"}'
    )
    error_of(response, 415, "WH415")
    assert count(database, "rooms") == before


def test_json_with_charset_and_vendor_types_are_json(stack: Stack) -> None:
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        response = httpx.post(
            f"{stack.url}/functions/v1/rooms-list-public",
            headers={**stack.headers(), "Content-Type": content_type},
            content=b"{}",
        )
        assert response.status_code == 200, response.text


def test_oversize_body_is_413_before_parsing(stack: Stack, database: TestDatabase) -> None:
    before = count(database, "rooms")
    # Not even JSON: refused on its size alone.
    response = post(
        stack,
        "rooms-create",
        token=stack.access_token(),
        content=b"x" * (BODY_LIMIT + 1),
        headers={"Content-Type": "application/json"},
    )
    error = error_of(response, 413, "WR413")
    assert error["details"]["limit"] == BODY_LIMIT
    assert count(database, "rooms") == before


def test_oversize_chunked_body_is_413(stack: Stack) -> None:
    def chunks():
        for _ in range(BODY_LIMIT // 1024 + 2):
            yield b" " * 1024

    response = httpx.post(
        f"{stack.url}/functions/v1/rooms-list-public",
        headers={**stack.headers(), "Content-Type": "application/json"},
        content=chunks(),
    )
    error_of(response, 413, "WR413")


@pytest.mark.parametrize("body", [b"{", b'{"title": }', b"\xff\xfe", b'{"a": 1} trailing'])
def test_malformed_json_is_400(stack: Stack, database: TestDatabase, body: bytes) -> None:
    before = count(database, "rooms")
    response = post(
        stack,
        "rooms-create",
        token=stack.access_token(),
        content=body,
        headers={"Content-Type": "application/json"},
    )
    error = error_of(response, 400, "WR400")
    assert error["message"] == "the request body is not valid JSON"
    assert count(database, "rooms") == before


@pytest.mark.parametrize("body", [b"[]", b'"room"', b"42", b"null"])
def test_a_body_that_is_not_an_object_is_400(stack: Stack, body: bytes) -> None:
    response = post(
        stack,
        "rooms-create",
        token=stack.access_token(),
        content=body,
        headers={"Content-Type": "application/json"},
    )
    error_of(response, 400, "WR400")


def test_wrong_types_are_400_listing_every_field(stack: Stack, database: TestDatabase) -> None:
    body = room_body(episode_number="1", is_public="yes", title=7, video_url="ftp://x/y")
    del body["host_username"]
    before = count(database, "rooms")
    response = post(stack, "rooms-create", body, token=stack.access_token())
    error = error_of(response, 400, "WR400")
    fields = {f["field"]: f for f in error["details"]["fields"]}
    assert set(fields) == {"episode_number", "is_public", "title", "video_url", "host_username"}
    assert fields["host_username"]["type"] == "missing"
    assert fields["episode_number"]["loc"] == ["body", "episode_number"]
    assert all(f["message"] for f in fields.values())
    assert count(database, "rooms") == before


def test_unknown_fields_are_400(stack: Stack, database: TestDatabase) -> None:
    before = count(database, "rooms")
    response = post(stack, "rooms-create", room_body(is_admin=True), token=stack.access_token())
    error = error_of(response, 400, "WR400")
    assert error["details"]["fields"][0] == {
        "field": "is_admin",
        "loc": ["body", "is_admin"],
        "message": "Extra inputs are not permitted",
        "type": "extra_forbidden",
    }
    assert count(database, "rooms") == before


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("rooms-create", room_body(title="t" * 256), "title"),
        ("rooms-create", room_body(anime_id="a" * 101), "anime_id"),
        ("rooms-create", room_body(host_username="u" * 101), "host_username"),
        ("rooms-create", room_body(episode_number=0), "episode_number"),
        ("rooms-create", room_body(title="   "), "title"),
        ("rooms-create", room_body(title="nul\x00byte"), "title"),
        ("rooms-create", room_body(video_url="javascript:alert(1)"), "video_url"),
        ("sync-control", {"room_id": "abcdefghij", "action": "rewind"}, "action"),
        ("sync-control", {"room_id": "abcdefghij", "action": "seek"}, ""),
        (
            "sync-control",
            {"room_id": "abcdefghij", "action": "seek", "current_time": -1},
            "current_time",
        ),
        (
            "sync-control",
            {"room_id": "abcdefghij", "action": "speed", "playback_speed": 5},
            "playback_speed",
        ),
        (
            "rooms-join",
            {"room_id": "abcdefghij", "username": "v", "access_key": "12345"},
            "access_key",
        ),
        ("rooms-list-public", {"limit": 101}, "limit"),
        ("comments-get-history", {"hours": 5}, ""),
        (
            "comments-get-by-episode",
            {"anime_id": "a", "episode_number": 1, "before": "yesterday"},
            "before",
        ),
    ],
)
def test_each_rule_of_the_models(
    stack: Stack, name: str, body: dict[str, object], field: str
) -> None:
    response = post(stack, name, body, token=stack.access_token())
    error = error_of(response, 400, "WR400")
    assert field in {f["field"] for f in error["details"]["fields"]}


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        ("rooms-create", room_body(video_url="ftp://x/y"), "video_url: must be an http(s) URL"),
        ("rooms-create", room_body(video_url="f.mkv"), "video_url: must be an http(s) URL"),
        ("rooms-create", room_body(title="   "), "title: must not be blank"),
        (
            "rooms-join",
            {"room_id": "abcdefghij", "username": "v", "access_key": "12345"},
            "access_key: must be 6 digits",
        ),
        (
            "sync-control",
            {"room_id": "abcdefghij", "action": "seek"},
            "(body): seek needs current_time (the target position)",
        ),
    ],
)
def test_a_refused_body_says_what_each_field_must_be(
    stack: Stack, name: str, body: dict[str, object], expected: str
) -> None:
    response = post(stack, name, body, token=stack.access_token())
    error = error_of(response, 400, "WR400")
    assert error["message"] == f"invalid request body: {expected}"
    assert expected.split(": ", 1)[1] in {f["message"] for f in error["details"]["fields"]}


def test_every_pattern_of_the_request_models_has_words() -> None:
    patterns = set()
    for endpoint in ENDPOINTS.values():
        patterns |= set(_app._patterns(endpoint.request).values())
    assert patterns, "the models have patterns"
    assert patterns <= set(_app._PATTERN_MEANINGS), "say what a new pattern means"


def test_current_time_on_the_wire_reaches_p_current_time(stack: Stack) -> None:
    host = stack.access_token()
    created = post(stack, "rooms-create", room_body(), token=host).json()["data"]
    response = post(
        stack,
        "sync-control",
        {"room_id": created["room"]["room_id"], "action": "seek", "current_time": 42.25},
        token=host,
    )
    assert response.status_code == 200, response.text
    assert float(response.json()["data"]["current_playback_time"]) == 42.25


def test_every_answer_carries_the_server_time(stack: Stack) -> None:
    before = time.time()
    ok = post(stack, "rooms-list-public", {})
    bad = post(stack, "rooms-list-public", {"limit": 0})
    after = time.time()
    for response in (ok, bad):
        stamp = float(response.headers["x-server-time"])
        assert before - 1 <= stamp <= after + 1
        assert response.json()["server_time"].endswith("+00:00")


def test_cors_preflight_and_headers(stack: Stack) -> None:
    response = httpx.options(
        f"{stack.url}/functions/v1/rooms-create",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, apikey, content-type, x-client-info",
        },
    )
    assert response.status_code == 204
    allowed = {h.strip() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "apikey", "content-type", "x-client-info"} <= allowed
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-origin"] == "*"
    answer = post(stack, "rooms-list-public", {}, headers={"Origin": "http://localhost:5173"})
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "x-server-time" in answer.headers["access-control-expose-headers"]


def test_openapi_document_is_served(stack: Stack) -> None:
    response = httpx.get(f"{stack.url}/functions/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.1")
    assert {p.rsplit("/", 1)[1] for p in doc["paths"]} == set(ENDPOINTS)
    assert set(doc["components"]["securitySchemes"]) == {"apikey", "bearer"}
    create = doc["paths"]["/functions/v1/rooms-create"]["post"]
    assert {"200", "400", "401", "429"} <= set(create["responses"])
    schema = doc["components"]["schemas"]["RoomsCreateRequest"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["title"]["maxLength"] == 255
