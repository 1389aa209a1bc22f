"""Helpers for the function tests: calls through supabase-py and raw HTTP, and database checks."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from supabase_functions.errors import FunctionsHttpError

from tests._pg import TestDatabase
from tests._stack import Stack


def room_body(**fields: Any) -> dict[str, Any]:
    """A valid rooms-create body (a fresh anime id, so threads do not mix between tests)."""
    body: dict[str, Any] = {
        "title": "Watching together",
        "anime_id": f"anime-{uuid.uuid4().hex[:8]}",
        "anime_title": "Frieren",
        "episode_number": 1,
        "video_url": "https://example.com/frieren/01.mkv",
        "host_username": "host",
        "is_public": True,
    }
    body.update(fields)
    return body


async def invoke(client: Any, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call a function through supabase-py and return its ``data``."""
    options: dict[str, Any] = {"responseType": "json"}
    if body is not None:
        options["body"] = body
    result = await client.functions.invoke(name, options)
    assert "server_time" in result
    data: dict[str, Any] = result["data"]
    return data


async def refused(client: Any, name: str, body: dict[str, Any]) -> FunctionsHttpError:
    """Call a function through supabase-py, expecting a refusal; returns the error."""
    with pytest.raises(FunctionsHttpError) as info:
        await client.functions.invoke(name, {"body": body, "responseType": "json"})
    return info.value


def post(
    stack: Stack,
    name: str,
    body: Any = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """A raw HTTP call of a function (anon key as apikey, ``token`` as bearer)."""
    merged = {**stack.headers(token), **(headers or {})}
    if body is not None and "content" not in kwargs:
        kwargs["json"] = body
    return httpx.post(f"{stack.url}/functions/v1/{name}", headers=merged, timeout=30, **kwargs)


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert ``response`` is the refusal (status, code) in the functions' shape; return it."""
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["error"]["code"] == code, payload
    assert payload["error"]["message"]
    assert "server_time" in payload and response.headers["x-server-time"]
    error: dict[str, Any] = payload["error"]
    return error


def count(database: TestDatabase, table: str, where: str = "true", params: Any = None) -> int:
    """Rows in ``table`` (superuser, no RLS)."""
    with database.connect() as conn:
        row = conn.execute(f"select count(*) as n from {table} where {where}", params).fetchone()
    assert row is not None
    return int(row["n"])


def one(database: TestDatabase, query: str, params: Any = None) -> dict[str, Any] | None:
    with database.connect() as conn:
        return conn.execute(query, params).fetchone()


def create_room(stack: Stack, token: str, **fields: Any) -> dict[str, Any]:
    """Create a room over raw HTTP as the user of ``token``; returns ``data``."""
    response = post(stack, "rooms-create", room_body(**fields), token=token)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def join_room(stack: Stack, token: str, room_id: str, **fields: Any) -> dict[str, Any]:
    body = {"room_id": room_id, "username": "viewer", **fields}
    response = post(stack, "rooms-join", body, token=token)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def reset_join_refusals(database: TestDatabase) -> None:
    """Forget the refused joins counted per client address: every test calls from 127.0.0.1,
    whose budget (20 an hour) the suite's refusal tests would otherwise share."""
    with database.connect() as conn:
        conn.execute(
            "delete from watchium.rate_limit_buckets where action = 'join_refused_address'"
        )
