"""Migration 016: key rotation, invites, bounded positions, who is privileged, replies kept,
the heartbeat's rate limit."""

from __future__ import annotations

import json
import time

from tests._pg import SqlSession, new_user
from tests.sql.conftest import Room, create_room, join_room


def join_result(sql: SqlSession, room_id: str, user: str | None = None, **kw: object) -> dict:
    result: dict = sql.as_user(user or new_user()).rpc(
        "rooms_join", room_id=room_id, username="bob", **kw
    )
    sql.as_admin()
    return result


# -- key rotation and invites ---------------------------------------------------------------------


def test_rotating_the_key_stops_the_old_one_and_keeps_the_members(
    sql: SqlSession, private_room: Room
) -> None:
    member = join_room(sql, private_room, key=private_room.access_key)
    rotated = sql.as_user(private_room.host).rpc(
        "rooms_rotate_access_key", room_id=private_room.room_id
    )
    new_key = rotated["access_key"]
    assert rotated["room_id"] == private_room.room_id and new_key != private_room.access_key
    sql.as_admin()
    assert (
        sql.count("room_members", "room_id = %s and user_id = %s", (private_room.room_id, member))
        == 1
    )
    assert (
        join_result(sql, private_room.room_id, access_key=private_room.access_key)["error"]["code"]
        == "WR404"
    )
    assert "error" not in join_result(sql, private_room.room_id, access_key=new_key)


def test_only_the_host_rotates_the_key_of_a_private_room(
    sql: SqlSession, private_room: Room, room: Room
) -> None:
    member = join_room(sql, private_room, key=private_room.access_key)
    sql.as_user(member)
    with sql.raises("WRH03"):
        sql.rpc("rooms_rotate_access_key", room_id=private_room.room_id)
    sql.as_user(new_user())
    with sql.raises("WR404"):
        sql.rpc("rooms_rotate_access_key", room_id=private_room.room_id)
    sql.as_user(room.host)
    with sql.raises("WR400"):
        sql.rpc("rooms_rotate_access_key", room_id=room.room_id)
    sql.as_admin()
    assert (
        sql.scalar(
            "select access_key from watchium.room_access_keys where room_id = %s",
            (private_room.room_id,),
        )
        == private_room.access_key
    )


def test_an_invite_joins_without_the_key_until_the_key_is_rotated(
    sql: SqlSession, private_room: Room
) -> None:
    invite = sql.as_user(private_room.host).rpc(
        "rooms_create_invite", room_id=private_room.room_id, ttl_seconds=3600
    )
    token = invite["invite_token"]
    assert token.startswith(private_room.room_id + ".")
    assert "error" not in join_result(sql, private_room.room_id, invite_token=token)
    sql.as_user(private_room.host).rpc("rooms_rotate_access_key", room_id=private_room.room_id)
    sql.as_admin()
    assert join_result(sql, private_room.room_id, invite_token=token)["error"]["code"] == "WR404"


def test_an_invite_opens_the_room_even_while_joins_are_paused(
    sql: SqlSession, private_room: Room
) -> None:
    """A member behind the same address as a guesser is paused with it, but an invite cannot
    be guessed: it still opens the room."""
    token = sql.as_user(private_room.host).rpc("rooms_create_invite", room_id=private_room.room_id)[
        "invite_token"
    ]
    sql.as_admin()
    sql.conn.execute("select set_config('watchium.client_address', '198.51.100.77', false)")
    for _ in range(20):
        join_result(sql, "zzzzzzzzzz")
    assert (
        join_result(sql, private_room.room_id, access_key=private_room.access_key)["error"]["code"]
        == "WRL29"
    )
    assert "error" not in join_result(sql, private_room.room_id, invite_token=token)


def test_a_forged_expired_or_foreign_invite_is_a_refused_join(
    sql: SqlSession, private_room: Room
) -> None:
    other = create_room(sql, public=False)
    token = sql.as_user(private_room.host).rpc(
        "rooms_create_invite", room_id=private_room.room_id, ttl_seconds=60
    )["invite_token"]
    room_id, expires, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    later = str(int(expires) + 3600)
    sql.as_admin()
    for room, forged in (
        (private_room.room_id, f"{room_id}.{expires}.{flipped}"),  # bad signature
        (private_room.room_id, f"{room_id}.{later}.{signature}"),  # expiry changed
        (other.room_id, token),  # another room's invite
    ):
        assert join_result(sql, room, invite_token=forged)["error"]["code"] == "WR404"
    # An expired invite: the clock moved past it.
    sql.conn.execute(
        "update watchium.room_access_keys set invite_secret = invite_secret where room_id = %s",
        (private_room.room_id,),
    )
    expired = f"{room_id}.{int(time.time()) - 1}."
    secret = sql.scalar(
        "select invite_secret from watchium.room_access_keys where room_id = %s",
        (private_room.room_id,),
    )
    expired += sql.scalar(
        "select watchium.invite_signature(%s, %s, %s)",
        (room_id, int(time.time()) - 1, secret),
    )
    assert join_result(sql, private_room.room_id, invite_token=expired)["error"]["code"] == "WR404"
    assert sql.count("room_members", "room_id = %s", (private_room.room_id,)) == 1


def test_invites_are_for_hosts_of_private_rooms_with_a_bounded_life(
    sql: SqlSession, private_room: Room, room: Room
) -> None:
    member = join_room(sql, private_room, key=private_room.access_key)
    sql.as_user(member)
    with sql.raises("WRH03"):
        sql.rpc("rooms_create_invite", room_id=private_room.room_id)
    sql.as_user(private_room.host)
    for ttl in (59, 604801, None):
        with sql.raises("WR400"):
            sql.rpc("rooms_create_invite", room_id=private_room.room_id, ttl_seconds=ttl)
    sql.as_user(room.host)
    with sql.raises("WR400"):
        sql.rpc("rooms_create_invite", room_id=room.room_id)


# -- positions never overflow --------------------------------------------------------------------


def test_a_room_played_from_the_largest_position_keeps_working(sql: SqlSession, room: Room) -> None:
    sql.conn.execute(
        "update watchium.rate_limit_rules set max_requests = 100 where action = 'sync_control'"
    )
    member = join_room(sql, room)
    sql.as_user(room.host).rpc(
        "sync_control", room_id=room.room_id, action="play", current_time=99999999.99
    )
    sql.as_admin()
    sql.conn.execute(
        "update rooms set playback_updated_at = playback_updated_at - interval '1 hour' "
        "where room_id = %s",
        (room.room_id,),
    )
    status = sql.as_user(member).rpc(
        "members_update_status", room_id=room.room_id, current_time=5.0
    )
    assert float(status["room"]["live_position"]) == 99999999.99
    sql.as_user(room.host).rpc("sync_control", room_id=room.room_id, action="pause")
    join_room(sql, room)
    sql.as_user(member).rpc("rooms_leave", room_id=room.room_id)


def test_a_position_that_rounds_past_the_largest_is_refused(sql: SqlSession, room: Room) -> None:
    sql.as_user(room.host)
    with sql.raises("WR400"):
        sql.rpc("sync_control", room_id=room.room_id, action="seek", current_time=99999999.995)
    with sql.raises("WR400"):
        sql.rpc("members_update_status", room_id=room.room_id, current_time=99999999.995)
    with sql.raises("WR400"):
        sql.rpc("sync_control", room_id=room.room_id, action="speed", playback_speed=4.006)
    sql.as_admin()
    assert (
        sql.scalar("select current_playback_time from rooms where room_id = %s", (room.room_id,))
        == 0
    )


# -- who is privileged ---------------------------------------------------------------------------


def test_an_api_role_without_claims_is_not_privileged(sql: SqlSession, room: Room) -> None:
    sql.as_admin()
    assert sql.scalar("select watchium.is_privileged()") is True
    # Without claims, authenticated cannot act for another user (it was privileged before 016).
    sql.conn.execute(
        "select set_config('role', 'authenticated', true), "
        "set_config('request.jwt.claims', '', true)"
    )
    with sql.raises("WR401"):
        sql.rpc("rooms_leave", room_id=room.room_id, user_id=room.host)
    sql.as_admin()
    assert sql.count("room_members", "room_id = %s", (room.room_id,)) == 1


# -- replies by others survive their parent ---------------------------------------------------


def test_deleting_a_comment_keeps_other_users_replies(sql: SqlSession, room: Room) -> None:
    sql.conn.execute(
        "update watchium.rate_limit_rules set max_requests = 1000 where action = 'comments'"
    )
    other = join_room(sql, room)
    base = {"room_id": room.room_id, "anime_id": "frieren", "episode_number": 1, "username": "u"}
    parent = sql.as_user(room.host).rpc("comments_create", message="mine", **base)
    own_reply = sql.as_user(room.host).rpc(
        "comments_create", message="me again", parent_id=parent["id"], **base
    )
    reply = sql.as_user(other).rpc(
        "comments_create", message="theirs", parent_id=own_reply["id"], **base
    )
    sql.as_user(room.host)
    with sql.raises("WR409"):
        sql.conn.execute("delete from comments where id = %s", (parent["id"],))
    sql.as_admin()
    assert sql.count("comments", "id = %s", (reply["id"],)) == 1
    # Without replies by others, the author deletes a comment with its own replies.
    lone = sql.as_user(room.host).rpc("comments_create", message="lone", **base)
    sql.as_user(room.host).rpc("comments_create", message="self", parent_id=lone["id"], **base)
    sql.as_user(room.host)
    assert sql.conn.execute("delete from comments where id = %s", (lone["id"],)).rowcount == 1


# -- the heartbeat's rate limit --------------------------------------------------------------------


def test_heartbeats_are_limited_to_thirty_a_minute(sql: SqlSession, room: Room) -> None:
    member = join_room(sql, room)
    # Stretched to 30 an hour, so that a slow machine cannot refill a slot meanwhile.
    sql.conn.execute(
        "update watchium.rate_limit_rules set per = '1 hour' where action = 'member_status'"
    )
    sql.as_user(member)
    for _ in range(30):
        sql.rpc("members_update_status", room_id=room.room_id, current_time=1.0)
    sql.as_admin()
    written = sql.count("sync_states", "room_id = %s and user_id = %s", (room.room_id, member))
    sql.as_user(member)
    with sql.raises("WR429") as info:
        sql.rpc("members_update_status", room_id=room.room_id, current_time=1.0)
    assert json.loads(info.value.diag.message_detail)["action"] == "member_status"
    sql.as_admin()
    assert (
        sql.count("sync_states", "room_id = %s and user_id = %s", (room.room_id, member)) == written
    )
