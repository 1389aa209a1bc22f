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


def from_address(sql: SqlSession, address: str) -> None:
    """Make the following calls come from client ``address`` (as the HTTP functions set it)."""
    sql.conn.execute("select set_config('watchium.client_address', %s, false)", (address,))


def wrong_key_for(room: Room) -> str:
    return "000000" if room.access_key != "000000" else "000001"


def test_missing_and_private_rooms_get_one_answer_and_both_count(
    sql: SqlSession, private_room: Room
) -> None:
    """A missing room, a private room without a key and one with a wrong key: the same WR404,
    returned (not raised) so that each attempt is counted, per user and per address."""
    from_address(sql, "198.51.100.1")
    answers = []
    user = new_user()
    for room_id, key in (
        ("zzzzzzzzzz", None),
        (private_room.room_id, None),
        (private_room.room_id, wrong_key_for(private_room)),
    ):
        result = sql.as_user(user).rpc(
            "rooms_join", room_id=room_id, username="bob", access_key=key
        )
        answers.append((result["error"]["code"], result["error"]["message"].replace(room_id, "ID")))
    assert answers == [("WR404", "room ID not found")] * 3
    sql.as_admin()
    assert sql.count("room_members", "room_id = %s", (private_room.room_id,)) == 1
    buckets = {
        r["action"]: r["subject"]
        for r in sql.all(
            "select action, subject from watchium.rate_limit_buckets "
            "where action like 'join_refused%%' and subject in (%s, %s)",
            (user, "address:198.51.100.1"),
        )
    }
    assert buckets == {"join_refused_user": user, "join_refused_address": "address:198.51.100.1"}


def test_right_key_joins(sql: SqlSession, private_room: Room) -> None:
    user = join_room(sql, private_room, key=private_room.access_key)
    assert (
        sql.count("room_members", "room_id = %s and user_id = %s", (private_room.room_id, user))
        == 1
    )


def test_five_refused_joins_pause_the_user_even_with_the_right_key(
    sql: SqlSession, private_room: Room
) -> None:
    user = new_user()
    sql.as_user(user)
    for guess in range(5):
        from_address(sql, f"198.51.100.{guess}")  # five addresses: only the user limit applies
        result = sql.rpc(
            "rooms_join",
            room_id=private_room.room_id,
            username="guesser",
            access_key=f"{guess:06d}" if f"{guess:06d}" != private_room.access_key else "999999",
        )
        assert result["error"]["code"] == "WR404"
    result = sql.rpc(
        "rooms_join",
        room_id=private_room.room_id,
        username="guesser",
        access_key=private_room.access_key,
    )
    assert result["error"]["code"] == "WRL29"
    assert 0 < json.loads(result["error"]["detail"])["retry_after"] <= 600
    assert sql.count("room_members", "room_id = %s", (private_room.room_id,)) == 1
    # Another user, from another address, still joins with the key.
    from_address(sql, "203.0.113.9")
    join_room(sql, private_room, key=private_room.access_key)


def test_an_address_is_paused_after_twenty_refusals_whoever_makes_them(
    sql: SqlSession, private_room: Room
) -> None:
    from_address(sql, "198.51.100.7")
    for _ in range(20):
        result = sql.as_user(new_user()).rpc(
            "rooms_join", room_id="zzzzzzzzzz", username="guesser", access_key="123456"
        )
        assert result["error"]["code"] == "WR404"
    result = sql.as_user(new_user()).rpc(
        "rooms_join",
        room_id=private_room.room_id,
        username="fresh",
        access_key=private_room.access_key,
    )
    assert result["error"]["code"] == "WRL29"
    # Public rooms need no key: the pause does not keep anyone out of them.
    public = create_room(sql)
    from_address(sql, "198.51.100.7")
    join_room(sql, public)


def test_guessers_cannot_lock_a_room_for_its_members(sql: SqlSession, private_room: Room) -> None:
    """Thirty wrong keys from six users at one address pause that address, not the room: a
    member with the key at another address gets in at once."""
    wrong = wrong_key_for(private_room)
    from_address(sql, "198.51.100.66")
    for _ in range(6):
        user = new_user()
        for _ in range(5):
            sql.as_user(user).rpc(
                "rooms_join", room_id=private_room.room_id, username="guesser", access_key=wrong
            )
    from_address(sql, "203.0.113.20")
    join_room(sql, private_room, key=private_room.access_key)


def test_trying_while_paused_extends_the_pause(sql: SqlSession, private_room: Room) -> None:
    user = new_user()
    from_address(sql, "198.51.100.8")
    sql.as_user(user)
    for _ in range(5):
        sql.rpc("rooms_join", room_id="zzzzzzzzzz", username="guesser")

    def retry_after() -> float:
        result = sql.rpc("rooms_join", room_id="zzzzzzzzzz", username="guesser")
        assert result["error"]["code"] == "WRL29"
        return float(json.loads(result["error"]["detail"])["retry_after"])

    first = retry_after()
    second = retry_after()
    assert second >= first + 110  # each try while paused adds one step (10 min / 5)


def test_check_room_access_is_the_seed_function_and_counts_guesses(
    sql: SqlSession, private_room: Room, room: Room
) -> None:
    user = new_user()
    from_address(sql, "198.51.100.30")
    check = "select watchium.check_room_access(%s, %s, %s)"
    assert sql.scalar(check, (room.room_id, None, user)) is True
    assert sql.scalar(check, (private_room.room_id, private_room.access_key, user)) is True
    assert sql.scalar(check, ("zzzzzzzzzz", "123456", user)) is False
    assert sql.scalar(check, (private_room.room_id, None, user)) is False
    assert sql.scalar(check, (private_room.room_id, wrong_key_for(private_room), user)) is False
    assert (
        sql.scalar(
            "select count(*) from watchium.rate_limit_buckets where subject in (%s, %s)",
            (user, "address:198.51.100.30"),
        )
        == 2
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
