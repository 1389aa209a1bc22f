"""Leaving rooms and the transfer of the host role."""

from __future__ import annotations

from tests._pg import SqlSession, new_user
from tests.sql.conftest import Room, backdate_heartbeat, join_room


def hosts(sql: SqlSession, room: Room) -> list[str]:
    return [
        r["user_id"]
        for r in sql.all(
            "select user_id from room_members where room_id = %s and is_host", (room.room_id,)
        )
    ]


def test_member_leaves_without_transfer(sql: SqlSession, room: Room) -> None:
    member = join_room(sql, room)
    result = sql.as_user(member).rpc("rooms_leave", room_id=room.room_id)
    assert result == {
        "room_id": room.room_id,
        "left": True,
        "was_host": False,
        "host_user_id": room.host,
        "members_left": 1,
    }
    sql.as_admin()
    assert hosts(sql, room) == [room.host]
    assert sql.count("sync_states", "user_id = %s and sync_event_type = 'leave'", (member,)) == 1


def test_host_leaving_transfers_to_the_earliest_joiner(sql: SqlSession, room: Room) -> None:
    first = join_room(sql, room, username="first")
    join_room(sql, room, username="second")
    result = sql.as_user(room.host).rpc("rooms_leave", room_id=room.room_id)
    assert result["was_host"] is True and result["host_user_id"] == first
    sql.as_admin()
    assert hosts(sql, room) == [first]
    r = sql.one("select host_user_id, host_username from rooms where room_id = %s", (room.room_id,))
    assert r == {"host_user_id": first, "host_username": "first"}
    note = sql.one(
        "select * from comments where room_id = %s and is_system_message and not is_anchor",
        (room.room_id,),
    )
    assert note is not None and note["message"] == "first became the new host"
    anchor = sql.scalar("select id from comments where room_id = %s and is_anchor", (room.room_id,))
    assert note["parent_id"] == anchor and note["user_id"] == "system"


def test_last_member_leaving_empties_the_room(sql: SqlSession, room: Room) -> None:
    result = sql.as_user(room.host).rpc("rooms_leave", room_id=room.room_id)
    assert result["host_user_id"] is None and result["members_left"] == 0
    sql.as_admin()
    assert sql.count("rooms", "room_id = %s", (room.room_id,)) == 1
    assert hosts(sql, room) == []


def test_leave_when_not_a_member(sql: SqlSession, room: Room, private_room: Room) -> None:
    sql.as_user(new_user())
    with sql.raises("WRM03"):
        sql.rpc("rooms_leave", room_id=room.room_id)
    with sql.raises("WR404"):
        sql.rpc("rooms_leave", room_id=private_room.room_id)


def test_one_host_per_room_is_a_constraint(sql: SqlSession, room: Room) -> None:
    member = join_room(sql, room)
    with sql.raises("23505") as info:
        sql.conn.execute("update room_members set is_host = true where user_id = %s", (member,))
    assert info.value.diag.constraint_name == "one_host_per_room"


def test_cleanup_removing_a_silent_host_transfers_the_role(sql: SqlSession, room: Room) -> None:
    member = join_room(sql, room, username="awake")
    backdate_heartbeat(sql, room, room.host, 60)
    counts = sql.scalar("select watchium.cleanup_realtime_data()")
    assert counts["members_removed"] >= 1
    assert hosts(sql, room) == [member]
    assert (
        sql.scalar("select host_user_id from rooms where room_id = %s", (room.room_id,)) == member
    )
