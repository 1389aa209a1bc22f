"""The functions' side of migration 016: key rotation and invites over HTTP, the client address
the per-address limits count, bounded positions and the heartbeat's limit, as a client sees them."""

from __future__ import annotations

import pytest

from tests._pg import TestDatabase
from tests._stack import Stack
from tests.functions._helpers import (
    count,
    create_room,
    error_of,
    join_room,
    post,
)
from watchium_functions.asgi import client_address


def test_a_host_rotates_the_key_and_invites(stack: Stack, database: TestDatabase) -> None:
    host = stack.access_token()
    room = create_room(stack, host, is_public=False)
    room_id, old_key = room["room"]["room_id"], room["access_key"]
    member = stack.access_token()
    join_room(stack, member, room_id, access_key=old_key)

    invite = post(
        stack, "rooms-create-invite", {"room_id": room_id, "ttl_seconds": 600}, token=host
    )
    assert invite.status_code == 200, invite.text
    token = invite.json()["data"]["invite_token"]
    invited = post(
        stack,
        "rooms-join",
        {"room_id": room_id, "username": "i", "invite_token": token},
        token=stack.access_token(),
    )
    assert invited.status_code == 200, invited.text

    error_of(
        post(stack, "rooms-rotate-access-key", {"room_id": room_id}, token=member), 403, "WRH03"
    )
    rotated = post(stack, "rooms-rotate-access-key", {"room_id": room_id}, token=host)
    assert rotated.status_code == 200, rotated.text
    new_key = rotated.json()["data"]["access_key"]
    assert new_key != old_key
    for body in (
        {"room_id": room_id, "username": "x", "access_key": old_key},
        {"room_id": room_id, "username": "x", "invite_token": token},
    ):
        error_of(post(stack, "rooms-join", body, token=stack.access_token()), 404, "WR404")
    joined = post(
        stack,
        "rooms-join",
        {"room_id": room_id, "username": "n", "access_key": new_key},
        token=stack.access_token(),
    )
    assert joined.status_code == 200
    # The member who joined with the old key is still there.
    assert count(database, "room_members", "room_id = %s", (room_id,)) == 4


def test_a_forwarded_header_does_not_change_the_address_counted(
    stack: Stack, database: TestDatabase
) -> None:
    """The functions trust no header unless told to: a guesser cannot claim a fresh address."""
    for n in range(20):
        response = post(
            stack,
            "rooms-join",
            {"room_id": "zzzzzzzzzz", "username": "g"},
            token=stack.access_token(),
            headers={"x-forwarded-for": f"198.51.100.{n}"},
        )
        error_of(response, 404, "WR404")
    response = post(
        stack,
        "rooms-join",
        {"room_id": "zzzzzzzzzz", "username": "g"},
        token=stack.access_token(),
        headers={"x-forwarded-for": "198.51.100.99"},
    )
    error = error_of(response, 429, "WRL29")
    assert int(response.headers["retry-after"]) >= 1
    assert error["details"]["action"] == "join_refused"


def test_a_room_at_the_largest_position_keeps_answering(
    stack: Stack, database: TestDatabase
) -> None:
    host = stack.access_token()
    room_id = create_room(stack, host)["room"]["room_id"]
    too_far = post(
        stack,
        "sync-control",
        {"room_id": room_id, "action": "play", "current_time": 99999999.995},
        token=host,
    )
    error_of(too_far, 400, "WR400")
    played = post(
        stack,
        "sync-control",
        {"room_id": room_id, "action": "play", "current_time": 99999999.99},
        token=host,
    )
    assert played.status_code == 200, played.text
    with database.connect() as conn:
        conn.execute(
            "update rooms set playback_updated_at = now() - interval '1 day' where room_id = %s",
            (room_id,),
        )
    heartbeat = post(
        stack, "members-update-status", {"room_id": room_id, "current_time": 1.0}, token=host
    )
    assert heartbeat.status_code == 200, heartbeat.text
    assert heartbeat.json()["data"]["room"]["live_position"] == pytest.approx(99999999.99)
    member = stack.access_token()
    join_room(stack, member, room_id)


def test_heartbeats_past_the_limit_are_429(stack: Stack, database: TestDatabase) -> None:
    host = stack.access_token()
    room_id = create_room(stack, host)["room"]["room_id"]
    body = {"room_id": room_id, "current_time": 2.0}
    # 30 a minute: stretched to 30 an hour here, so that a slow machine cannot refill a slot.
    with database.connect() as conn:
        conn.execute(
            "update watchium.rate_limit_rules set per = '1 hour' where action = 'member_status'"
        )
    try:
        for _ in range(30):
            assert post(stack, "members-update-status", body, token=host).status_code == 200
        response = post(stack, "members-update-status", body, token=host)
    finally:
        with database.connect() as conn:
            conn.execute(
                "update watchium.rate_limit_rules set per = '1 minute' "
                "where action = 'member_status'"
            )
    error = error_of(response, 429, "WR429")
    assert error["details"]["action"] == "member_status"
    assert int(response.headers["retry-after"]) >= 1


@pytest.mark.parametrize(
    ("client", "headers", "header_name", "expected"),
    [
        (("203.0.113.7", 5), [], None, "203.0.113.7"),
        (("2001:db8:1:2ff:aa::1", 5), [], None, "2001:db8:1:200::/56"),
        (("::ffff:203.0.113.7", 5), [], None, "203.0.113.7"),
        # Without a configured header, a forwarded address is not believed...
        (("127.0.0.1", 5), [(b"x-forwarded-for", b"198.51.100.1")], None, "127.0.0.1"),
        # ...with one, the last address (the one the trusted proxy appended) counts.
        (
            ("127.0.0.1", 5),
            [(b"x-forwarded-for", b"6.6.6.6, 198.51.100.1")],
            "X-Forwarded-For",
            "198.51.100.1",
        ),
        (None, [], None, ""),
    ],
)
def test_the_client_address_limits_count(
    client: tuple[str, int] | None,
    headers: list[tuple[bytes, bytes]],
    header_name: str | None,
    expected: str,
) -> None:
    assert client_address({"client": client, "headers": headers}, header_name) == expected
