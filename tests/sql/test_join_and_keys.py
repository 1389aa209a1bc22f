"""Joining rooms, access keys and key guessing limits."""

from __future__ import annotations

import json

from tests._pg import SqlSession, new_user
from tests.sql.conftest import Room, create_room, join_room


def test_join_public_room(sql: SqlSession, room: Room) -> None:
    user = new_user()
    result = sql.as_user(user).rpc(
        "rooms_join", room_id=room.room_id, username="bob", avatar_url="https://example.com/bob.png"
    )
    assert result["rejoined"] is False
    assert result["member"]["user_id"] == user and result["member"]["is_host"] is False
    assert result["room"]["room_id"] == room.room_id
    assert (
        sql.count(
            "sync_states",
            "room_id = %s and user_id = %s and sync_event_type = 'join'",
            (room.room_id, user),
        )
        == 1
    )


def test_rejoin_is_idempotent_and_free(sql: SqlSession, room: Room) -> None:
    user = join_room(sql, room, username="bob")
    for _ in range(30):  # more than the room_management limit allows for new memberships
        result = sql.as_user(user).rpc("rooms_join", room_id=room.room_id, username="bobby")
        assert result["rejoined"] is True
    assert result["member"]["username"] == "bobby"
    assert sql.count("room_members", "room_id = %s and user_id = %s", (room.room_id, user)) == 1


def test_join_missing_room_is_not_found(sql: SqlSession) -> None:
    sql.as_user(new_user())
    with sql.raises("WR404"):
        sql.rpc("rooms_join", room_id="zzzzzzzzzz", username="bob")


def test_private_room_needs_a_key(sql: SqlSession, private_room: Room) -> None:
    sql.as_user(new_user())
    with sql.raises("WRK03") as info:
        sql.rpc("rooms_join", room_id=private_room.room_id, username="bob")
    assert "access key is required" in info.value.diag.message_primary
    assert sql.count("room_members", "room_id = %s", (private_room.room_id,)) == 1


def test_wrong_key_is_refused_counted_and_writes_no_member(
    sql: SqlSession, private_room: Room
) -> None:
    user = new_user()
    wrong = f"{(int(private_room.access_key or '0') + 1) % 1000000:06d}"
    result = sql.as_user(user).rpc(
        "rooms_join", room_id=private_room.room_id, username="bob", access_key=wrong
    )
    assert result == {
        "error": {
            "code": "WRK03",
            "message": "wrong access key",
            "hint": "ask the host for the 6-digit access key",
        }
    }
    assert sql.count("room_members", "room_id = %s", (private_room.room_id,)) == 1
    buckets = {
        r["action"]: r["subject"]
        for r in sql.all(
            "select action, subject from watchium.rate_limit_buckets "
            "where action like 'access_key%%' and subject in (%s, %s)",
            (user, private_room.room_id),
        )
    }
    assert buckets == {"access_key_user": user, "access_key_room": private_room.room_id}


def test_right_key_joins(sql: SqlSession, private_room: Room) -> None:
    user = join_room(sql, private_room, key=private_room.access_key)
    assert (
        sql.count("room_members", "room_id = %s and user_id = %s", (private_room.room_id, user))
        == 1
    )


def test_five_wrong_keys_lock_the_user_out_even_with_the_right_key(
    sql: SqlSession, private_room: Room
) -> None:
    user = new_user()
    sql.as_user(user)
    for guess in range(5):
        result = sql.rpc(
            "rooms_join",
            room_id=private_room.room_id,
            username="guesser",
            access_key=f"{guess:06d}" if f"{guess:06d}" != private_room.access_key else "999999",
        )
        assert result["error"]["code"] == "WRK03"
    with sql.raises("WRL29") as info:
        sql.rpc(
            "rooms_join",
            room_id=private_room.room_id,
            username="guesser",
            access_key=private_room.access_key,
        )
    assert 0 < json.loads(info.value.diag.message_detail)["retry_after"] <= 60
    assert sql.count("room_members", "room_id = %s", (private_room.room_id,)) == 1
    # Another user can still join with the key: the room's own limit is not exhausted.
    join_room(sql, private_room, key=private_room.access_key)


def test_thirty_wrong_keys_from_anyone_pause_key_checks_for_the_room(
    sql: SqlSession, private_room: Room
) -> None:
    wrong = "000000" if private_room.access_key != "000000" else "000001"
    for _ in range(30):
        result = sql.as_user(new_user()).rpc(
            "rooms_join", room_id=private_room.room_id, username="guesser", access_key=wrong
        )
        assert result["error"]["code"] == "WRK03"
    sql.as_user(new_user())
    with sql.raises("WRL29"):
        sql.rpc(
            "rooms_join",
            room_id=private_room.room_id,
            username="legit",
            access_key=private_room.access_key,
        )
    # Other private rooms are unaffected.
    other = create_room(sql, public=False)
    join_room(sql, other, key=other.access_key)


def test_check_room_access_is_the_seed_function_and_counts_guesses(
    sql: SqlSession, private_room: Room, room: Room
) -> None:
    user = new_user()
    check = "select watchium.check_room_access(%s, %s, %s)"
    assert sql.scalar(check, (room.room_id, None, user)) is True
    assert sql.scalar(check, ("zzzzzzzzzz", "123456", user)) is False
    assert sql.scalar(check, (private_room.room_id, private_room.access_key, user)) is True
    assert sql.scalar(check, (private_room.room_id, None, user)) is False
    wrong = "000000" if private_room.access_key != "000000" else "000001"
    assert sql.scalar(check, (private_room.room_id, wrong, user)) is False
    assert (
        sql.scalar("select count(*) from watchium.rate_limit_buckets where subject = %s", (user,))
        == 1
    )


def test_full_room_refuses_new_members(sql: SqlSession, room: Room) -> None:
    sql.conn.execute("update watchium.settings set max_room_members = 2")
    join_room(sql, room)
    sql.as_user(new_user())
    with sql.raises("WRF09"):
        sql.rpc("rooms_join", room_id=room.room_id, username="late")
    assert sql.count("room_members", "room_id = %s", (room.room_id,)) == 2


def test_joining_an_empty_room_makes_the_joiner_host(sql: SqlSession, room: Room) -> None:
    sql.as_user(room.host).rpc("rooms_leave", room_id=room.room_id)
    user = new_user()
    result = sql.as_user(user).rpc("rooms_join", room_id=room.room_id, username="newhost")
    assert result["member"]["is_host"] is True
    assert result["room"]["host_user_id"] == user
    assert result["room"]["host_username"] == "newhost"
    sql.as_admin()
    assert (
        sql.scalar(
            "select count(*) from comments where room_id = %s and is_system_message "
            "and message = 'newhost became the new host'",
            (room.room_id,),
        )
        == 1
    )


def test_new_memberships_are_limited_to_twenty_per_hour(sql: SqlSession) -> None:
    user = new_user()
    rooms = [create_room(sql) for _ in range(21)]
    for r in rooms[:20]:
        join_room(sql, r, user)
    sql.as_user(user)
    with sql.raises("WR429") as info:
        sql.rpc("rooms_join", room_id=rooms[20].room_id, username="busy")
    assert json.loads(info.value.diag.message_detail)["action"] == "room_management"
    assert sql.count("room_members", "user_id = %s", (user,)) == 20


def test_username_is_required(sql: SqlSession, room: Room) -> None:
    sql.as_user(new_user())
    with sql.raises("23502"):
        sql.rpc("rooms_join", room_id=room.room_id, username=None)
    with sql.raises("23514"):
        sql.rpc("rooms_join", room_id=room.room_id, username="  ")
    assert sql.count("room_members", "room_id = %s", (room.room_id,)) == 1
