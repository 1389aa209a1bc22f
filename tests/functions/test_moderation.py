"""Moderation over HTTP: answers, refusals with our codes and statuses, a ban that outlives a
new session of the same user (the SQL rules themselves: tests/sql/test_moderation.py)."""

from __future__ import annotations

from typing import Any

import httpx

from tests._pg import TestDatabase
from tests._stack import Stack
from tests.functions._helpers import count, create_room, error_of, join_room, post
from watchium_wire import MembersSetCohostResult, RoomsModerateResult


def sign_in(stack: Stack) -> dict[str, Any]:
    """An anonymous session from the stack's auth server, as supabase-py gets it."""
    response = httpx.post(
        f"{stack.url}/auth/v1/signup", headers=stack.headers(), json={"data": {}}, timeout=30
    )
    assert response.status_code == 200, response.text
    session: dict[str, Any] = response.json()
    return session


def refresh(stack: Stack, session: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{stack.url}/auth/v1/token",
        params={"grant_type": "refresh_token"},
        headers=stack.headers(),
        json={"refresh_token": session["refresh_token"]},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    renewed: dict[str, Any] = response.json()
    return renewed


def moderate(stack: Stack, token: str, room_id: str, action: str, target: str) -> httpx.Response:
    body = {"room_id": room_id, "action": action, "target_user_id": target}
    return post(stack, "rooms-moderate", body, token=token)


def test_a_banned_user_signing_in_again_is_refused_with_403(
    stack: Stack, database: TestDatabase
) -> None:
    host = stack.access_token()
    room = create_room(stack, host, is_public=False)
    room_id, key = room["room"]["room_id"], room["access_key"]
    session = sign_in(stack)
    user_id = session["user"]["id"]
    join_room(stack, session["access_token"], room_id, access_key=key)

    response = moderate(stack, host, room_id, "ban", user_id)
    assert response.status_code == 200, response.text
    result = RoomsModerateResult.model_validate(response.json()["data"])
    assert (result.action, result.target_user_id, result.changed) == ("ban", user_id, True)

    renewed = refresh(stack, session)
    assert renewed["user"]["id"] == user_id and renewed["access_token"] != session["access_token"]
    body = {"room_id": room_id, "username": "back", "access_key": key}
    error = error_of(post(stack, "rooms-join", body, token=renewed["access_token"]), 403, "WRB03")
    assert error["details"] == {"kind": "ban"}
    assert count(database, "room_members", "room_id = %s and user_id = %s", (room_id, user_id)) == 0


def test_a_kicked_member_is_told_when_to_come_back(stack: Stack) -> None:
    host, viewer = stack.access_token(), stack.access_token()
    room_id = create_room(stack, host)["room"]["room_id"]
    member = join_room(stack, viewer, room_id)["member"]
    assert moderate(stack, host, room_id, "kick", member["user_id"]).status_code == 200
    response = post(stack, "rooms-join", {"room_id": room_id, "username": "v"}, token=viewer)
    error = error_of(response, 403, "WRB03")
    assert error["details"]["kind"] == "kick"
    assert 0 < error["details"]["retry_after"] <= 300


def test_a_muted_member_gets_403_wrs03(stack: Stack, database: TestDatabase) -> None:
    host, viewer = stack.access_token(), stack.access_token()
    room = create_room(stack, host)
    room_id = room["room"]["room_id"]
    member = join_room(stack, viewer, room_id)["member"]
    assert moderate(stack, host, room_id, "mute", member["user_id"]).status_code == 200
    body = {
        "anime_id": room["room"]["anime_id"],
        "episode_number": 1,
        "room_id": room_id,
        "message": "hello",
        "username": "v",
    }
    error_of(post(stack, "comments-create", body, token=viewer), 403, "WRS03")
    assert count(database, "comments", "room_id = %s and not is_system_message", (room_id,)) == 0


def test_cohosts_and_their_limits_over_http(stack: Stack) -> None:
    host, cohost, viewer = stack.access_token(), stack.access_token(), stack.access_token()
    room_id = create_room(stack, host)["room"]["room_id"]
    cohost_id = join_room(stack, cohost, room_id)["member"]["user_id"]
    viewer_id = join_room(stack, viewer, room_id)["member"]["user_id"]

    body = {"room_id": room_id, "target_user_id": cohost_id}
    error_of(post(stack, "members-set-cohost", body, token=viewer), 403, "WRH03")
    response = post(stack, "members-set-cohost", body, token=host)
    assert response.status_code == 200, response.text
    assert MembersSetCohostResult.model_validate(response.json()["data"]).member.is_cohost

    seek = {"room_id": room_id, "action": "seek", "current_time": 30}
    assert post(stack, "sync-control", seek, token=cohost).status_code == 200
    error_of(post(stack, "sync-control", seek, token=viewer), 403, "WRH03")

    host_id = create_room_host_id(stack, host, room_id)
    error_of(moderate(stack, cohost, room_id, "kick", host_id), 403, "WRH03")
    error_of(moderate(stack, viewer, room_id, "kick", cohost_id), 403, "WRH03")
    assert moderate(stack, cohost, room_id, "kick", viewer_id).status_code == 200


def create_room_host_id(stack: Stack, token: str, room_id: str) -> str:
    response = post(stack, "sync-get-host-time", {"room_id": room_id}, token=token)
    host_id: str = response.json()["data"]["host_user_id"]
    return host_id


def test_bad_moderation_bodies_are_400_and_anon_is_401(stack: Stack) -> None:
    host = stack.access_token()
    room_id = create_room(stack, host)["room"]["room_id"]
    bad = {"room_id": room_id, "action": "smite", "target_user_id": "x"}
    error_of(post(stack, "rooms-moderate", bad, token=host), 400, "WR400")
    long = {"room_id": room_id, "action": "ban", "target_user_id": "x", "reason": "r" * 201}
    error_of(post(stack, "rooms-moderate", long, token=host), 400, "WR400")
    ok = {"room_id": room_id, "action": "ban", "target_user_id": "x"}
    error_of(post(stack, "rooms-moderate", ok), 401, "WR401")
