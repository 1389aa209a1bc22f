"""Member heartbeats, sync status and the member list."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests._pg import SqlSession, new_user
from tests.sql.conftest import Room, backdate_heartbeat, backdate_playback, join_room


@pytest.fixture
def paused_at_100(sql: SqlSession, room: Room) -> Room:
    """The room paused at 100 s a minute ago: the live host position is exactly 100 at any time,
    and the sync grace after that seek is over."""
    sql.as_user(room.host).rpc(
        "sync_control", room_id=room.room_id, action="seek", current_time=100
    )
    backdate_playback(sql, room, 60)
    return room


@pytest.mark.parametrize(
    ("position", "synced"),
    [(100, True), (101.99, True), (98, True), (102.01, False), (97.5, False), (10, False)],
)
def test_is_synced_is_distance_to_the_live_host_position(
    sql: SqlSession, paused_at_100: Room, position: float, synced: bool
) -> None:
    member = join_room(sql, paused_at_100)
    result = sql.as_user(member).rpc(
        "members_update_status", room_id=paused_at_100.room_id, current_time=position
    )
    assert result["member"]["is_synced"] is synced
    # The member's own position is kept (seed defect 3 overwrote it with the host's).
    assert result["member"]["current_playback_time"] == pytest.approx(position)
    assert result["room"]["live_position"] == 100


def test_sync_tolerance_is_a_setting(sql: SqlSession, paused_at_100: Room) -> None:
    sql.conn.execute("update watchium.settings set sync_tolerance = 0.05")
    member = join_room(sql, paused_at_100)
    sql.as_user(member)
    assert (
        sql.rpc("members_update_status", room_id=paused_at_100.room_id, current_time=100.04)[
            "member"
        ]["is_synced"]
        is True
    )
    assert (
        sql.rpc("members_update_status", room_id=paused_at_100.room_id, current_time=100.1)[
            "member"
        ]["is_synced"]
        is False
    )


def test_heartbeat_stamps_time_and_logs(sql: SqlSession, paused_at_100: Room) -> None:
    member = join_room(sql, paused_at_100)
    backdate_heartbeat(sql, paused_at_100, member, 20)
    result = sql.as_user(member).rpc(
        "members_update_status",
        room_id=paused_at_100.room_id,
        current_time=99,
        is_buffering=True,
        username="renamed",
    )
    m = result["member"]
    assert m["is_buffering"] is True and m["username"] == "renamed"
    sql.as_admin()
    age = sql.scalar(
        "select extract(epoch from clock_timestamp() - last_heartbeat) "
        "from member_heartbeats where user_id = %s",
        (member,),
    )
    assert age < 5
    assert float(m["current_playback_time"]) == 99 and m["last_heartbeat"]
    row = sql.one(
        "select host_time, member_time, time_difference, is_synced from sync_states "
        "where user_id = %s and sync_event_type = 'heartbeat'",
        (member,),
    )
    assert row == {
        "host_time": Decimal("100.00"),
        "member_time": Decimal("99.00"),
        "time_difference": Decimal("1.00"),
        "is_synced": True,
    }


def test_heartbeat_from_a_non_member(sql: SqlSession, room: Room, private_room: Room) -> None:
    stranger = new_user()
    sql.as_user(stranger)
    with sql.raises("WRM03") as info:
        sql.rpc("members_update_status", room_id=room.room_id, current_time=1)
    assert "join the room again" in info.value.diag.message_hint
    with sql.raises("WR404"):
        sql.rpc("members_update_status", room_id=private_room.room_id, current_time=1)
    assert sql.count("sync_states", "user_id = %s", (stranger,)) == 0


def test_heartbeat_validates_the_position(sql: SqlSession, room: Room) -> None:
    member = join_room(sql, room)
    sql.as_user(member)
    with sql.raises("WR400"):
        sql.rpc("members_update_status", room_id=room.room_id, current_time=-3)


def test_member_updates_own_row_directly_but_not_its_status_or_heartbeat(
    sql: SqlSession, paused_at_100: Room
) -> None:
    member = join_room(sql, paused_at_100)
    other = join_room(sql, paused_at_100)
    sql.as_user(member)
    cur = sql.conn.execute(
        "update room_members set is_buffering = true, username = 'mio' "
        "where room_id = %s and user_id = %s",
        (paused_at_100.room_id, member),
    )
    assert cur.rowcount == 1
    assert (
        sql.conn.execute(
            "update room_members set username = 'hijack' where user_id = %s", (other,)
        ).rowcount
        == 0
    )
    with sql.raises("42501"):
        sql.conn.execute("update room_members set is_host = true where user_id = %s", (member,))
    with sql.raises("42501"):
        sql.conn.execute("update room_members set is_synced = false where user_id = %s", (member,))
    # The heartbeat goes through members_update_status, which computes is_synced.
    with sql.raises("42501"):
        sql.conn.execute(
            "update member_heartbeats set current_playback_time = 50 where user_id = %s", (member,)
        )
    sql.as_admin()
    row = sql.one("select is_synced, is_buffering from room_members where user_id = %s", (member,))
    assert row == {"is_synced": True, "is_buffering": True}


def test_heartbeats_refresh_room_activity_at_most_once_a_minute_outside_the_rooms_row(
    sql: SqlSession, room: Room
) -> None:
    member = join_room(sql, room)
    before = sql.one(
        "select last_activity, updated_at from rooms where room_id = %s", (room.room_id,)
    )

    def heard_at() -> object:
        return sql.scalar(
            "select last_heartbeat from watchium.room_activity where room_id = %s", (room.room_id,)
        )

    sql.as_user(member).rpc("members_update_status", room_id=room.room_id, current_time=0)
    sql.as_admin()
    first = heard_at()
    assert first is not None
    sql.conn.execute(
        "update watchium.room_activity set last_heartbeat = last_heartbeat - interval '30 seconds' "
        "where room_id = %s",
        (room.room_id,),
    )
    throttled = heard_at()
    sql.as_user(member).rpc("members_update_status", room_id=room.room_id, current_time=0)
    sql.as_admin()
    assert heard_at() == throttled
    sql.conn.execute(
        "update watchium.room_activity set last_heartbeat = last_heartbeat - interval '2 minutes' "
        "where room_id = %s",
        (room.room_id,),
    )
    sql.as_user(member).rpc("members_update_status", room_id=room.room_id, current_time=0)
    sql.as_admin()
    assert sql.scalar(
        "select last_heartbeat > now() - interval '5 seconds' from watchium.room_activity "
        "where room_id = %s",
        (room.room_id,),
    )
    # The rooms row (a Realtime event for every member when it changes) was never touched.
    after = sql.one(
        "select last_activity, updated_at from rooms where room_id = %s", (room.room_id,)
    )
    assert after == before


def test_member_list_with_drift_and_online(sql: SqlSession, paused_at_100: Room) -> None:
    room = paused_at_100
    ahead = join_room(sql, room, username="ahead")
    quiet = join_room(sql, room, username="quiet")
    sql.as_user(ahead).rpc("members_update_status", room_id=room.room_id, current_time=103)
    backdate_heartbeat(sql, room, quiet, 45)
    listing = sql.as_anon().rpc("members_get_list", room_id=room.room_id)
    members = listing["members"]
    assert [m["username"] for m in members] == ["host", "ahead", "quiet"]
    by_name = {m["username"]: m for m in members}
    assert by_name["ahead"]["drift"] == 3 and by_name["ahead"]["is_synced"] is False
    assert by_name["host"]["online"] is True and by_name["quiet"]["online"] is False
    assert listing["member_count"] == 3 and listing["room"]["room_id"] == room.room_id


def test_member_list_of_a_private_room_is_for_members(sql: SqlSession, private_room: Room) -> None:
    sql.as_user(new_user())
    with sql.raises("WR404"):
        sql.rpc("members_get_list", room_id=private_room.room_id)
    assert (
        len(
            sql.as_user(private_room.host).rpc("members_get_list", room_id=private_room.room_id)[
                "members"
            ]
        )
        == 1
    )
