"""Host playback control, the live position model and the sync_control rate limit."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests._pg import SqlSession, new_user
from tests.sql.conftest import Room, create_room, join_room


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def elapsed(later: str, earlier: str) -> float:
    return (ts(later) - ts(earlier)).total_seconds()


@pytest.fixture(autouse=True)
def relaxed_sync_limit(sql: SqlSession, request: pytest.FixtureRequest) -> None:
    """Most tests here make several host actions within a second: lift the 2/s limit for them."""
    if "rate_limit" not in request.node.name:
        sql.conn.execute(
            "update watchium.rate_limit_rules set max_requests = 1000 where action = 'sync_control'"
        )


def control(sql: SqlSession, room: Room, action: str, user: str | None = None, **kw: Any) -> Any:
    return sql.as_user(user or room.host).rpc(
        "sync_control", room_id=room.room_id, action=action, **kw
    )


def test_seek_sets_position_and_reference_time(sql: SqlSession, room: Room) -> None:
    state = control(sql, room, "seek", current_time=120.5)
    assert state["current_playback_time"] == 120.5 and state["is_playing"] is False
    assert state["live_position"] == 120.5
    assert 0 <= elapsed(state["server_time"], state["playback_updated_at"]) < 5


def test_play_keeps_position_and_live_position_runs(sql: SqlSession, room: Room) -> None:
    control(sql, room, "seek", current_time=10)
    state = control(sql, room, "play")
    assert state["is_playing"] is True and state["current_playback_time"] == 10
    again = sql.rpc("sync_get_host_time", room_id=room.room_id)
    expected = 10 + elapsed(again["server_time"], again["playback_updated_at"]) * 1.0
    assert again["live_position"] == pytest.approx(expected, abs=0.001)
    assert again["live_position"] >= 10


def test_pause_folds_the_elapsed_play_time_into_the_position(sql: SqlSession, room: Room) -> None:
    control(sql, room, "seek", current_time=50)
    playing = control(sql, room, "play")
    sql.conn.execute("select pg_sleep(0.05)")
    paused = control(sql, room, "pause")
    expected = 50 + elapsed(paused["playback_updated_at"], playing["playback_updated_at"])
    assert paused["is_playing"] is False
    assert paused["current_playback_time"] == pytest.approx(expected, abs=0.006)
    assert paused["current_playback_time"] > 50
    assert paused["live_position"] == paused["current_playback_time"]


def test_speed_change_while_playing_folds_and_applies(sql: SqlSession, room: Room) -> None:
    control(sql, room, "seek", current_time=0)
    playing = control(sql, room, "play")
    sql.conn.execute("select pg_sleep(0.02)")
    fast = control(sql, room, "speed", playback_speed=1.5)
    expected = elapsed(fast["playback_updated_at"], playing["playback_updated_at"])
    assert fast["playback_speed"] == 1.5 and fast["is_playing"] is True
    assert fast["current_playback_time"] == pytest.approx(expected, abs=0.006)
    later = sql.rpc("sync_get_host_time", room_id=room.room_id)
    expected_live = fast["current_playback_time"] + 1.5 * elapsed(
        later["server_time"], later["playback_updated_at"]
    )
    assert later["live_position"] == pytest.approx(expected_live, abs=0.001)


def test_reference_time_from_the_host_is_kept(sql: SqlSession, room: Room) -> None:
    now = sql.scalar("select clock_timestamp()")
    at = now - timedelta(milliseconds=300)
    state = control(sql, room, "play", current_time=30, at=at)
    assert ts(state["playback_updated_at"]) == at
    assert state["live_position"] == pytest.approx(
        30 + elapsed(state["server_time"], state["playback_updated_at"]), abs=0.001
    )


def test_reference_time_far_from_the_server_clock_is_refused(sql: SqlSession, room: Room) -> None:
    at = sql.scalar("select clock_timestamp()") - timedelta(seconds=30)
    with sql.raises("WR400") as info:
        control(sql, room, "seek", current_time=30, at=at)
    assert "server clock" in info.value.diag.message_primary
    assert (
        sql.scalar("select current_playback_time from rooms where room_id = %s", (room.room_id,))
        == 0
    )


@pytest.mark.parametrize(
    ("action", "params", "message"),
    [
        ("seek", {}, "seek needs current_time"),
        ("seek", {"current_time": -1}, "position must be between"),
        ("speed", {}, "speed needs playback_speed"),
        ("speed", {"playback_speed": 5}, "between 0.25 and 4"),
        ("rewind", {}, "unknown action"),
    ],
)
def test_invalid_control_is_refused(
    sql: SqlSession, room: Room, action: str, params: dict[str, Any], message: str
) -> None:
    with sql.raises("WR400") as info:
        control(sql, room, action, **params)
    assert message in info.value.diag.message_primary
    assert (
        sql.count("sync_states", "room_id = %s and sync_event_type <> 'join'", (room.room_id,)) == 0
    )


def test_only_the_host_controls_playback(sql: SqlSession, room: Room, private_room: Room) -> None:
    member = join_room(sql, room)
    with sql.raises("WRH03"):
        control(sql, room, "play", user=member)
    with sql.raises("WRH03"):
        control(sql, room, "play", user=new_user())  # a public room's non-member
    with sql.raises("WR404"):
        control(sql, private_room, "play", user=new_user())
    sql.as_anon()
    with sql.raises("42501"):  # not granted to anon
        sql.rpc("sync_control", room_id=room.room_id, action="play")
    assert sql.scalar("select is_playing from rooms where room_id = %s", (room.room_id,)) is False


def test_service_role_controls_playback_for_anyone(sql: SqlSession, room: Room) -> None:
    """As it moderates and moves the room through its queue: the role check is
    room_for_controller's for every change of a room by its host or co-hosts."""
    sql.as_service(new_user())
    state = sql.rpc("sync_control", room_id=room.room_id, action="seek", current_time=42.0)
    assert state["current_playback_time"] == 42.0
    sql.as_admin()
    assert sql.scalar(
        "select current_playback_time from rooms where room_id = %s", (room.room_id,)
    ) == Decimal("42.00")


def test_sync_control_rate_limit_is_two_per_second(sql: SqlSession, room: Room) -> None:
    control(sql, room, "seek", current_time=1)
    control(sql, room, "seek", current_time=2)
    with sql.raises("WR429") as info:
        control(sql, room, "seek", current_time=3)
    detail = json.loads(info.value.diag.message_detail)
    assert detail["action"] == "sync_control" and 0 < detail["retry_after"] <= 0.5
    assert (
        sql.scalar("select current_playback_time from rooms where room_id = %s", (room.room_id,))
        == 2
    )


def test_no_op_changes_cost_no_rate_limit(sql: SqlSession, room: Room) -> None:
    for _ in range(5):
        state = control(sql, room, "pause")  # already paused
    assert state["is_playing"] is False
    control(sql, room, "play")
    control(sql, room, "pause")


def test_the_seed_play_pause_and_seek_calls_work(sql: SqlSession, room: Room) -> None:
    # Seed defect 4: the seed's versions raised "column reference is ambiguous".
    sql.as_user(room.host)
    assert sql.rpc("seek_to_time", room_id=room.room_id, current_time=Decimal("42.5")) is True
    assert sql.rpc("change_playback_state", room_id=room.room_id, is_playing=True) is True
    state = sql.rpc("sync_get_host_time", room_id=room.room_id)
    assert state["is_playing"] is True and state["current_playback_time"] == 42.5
    with sql.raises("WR400"):
        sql.rpc("change_playback_state", room_id=room.room_id)
    with sql.raises("WR400"):
        sql.rpc("seek_to_time", room_id=room.room_id)


def test_host_action_logs_one_row_per_member(sql: SqlSession, room: Room) -> None:
    members = [join_room(sql, room) for _ in range(3)]
    control(sql, room, "seek", current_time=99)
    sql.as_admin()
    rows = sql.all(
        "select user_id, host_time, sync_event_type from sync_states "
        "where room_id = %s and sync_event_type = 'seek'",
        (room.room_id,),
    )
    assert sorted(r["user_id"] for r in rows) == sorted([room.host, *members])
    assert all(r["host_time"] == Decimal("99.00") for r in rows)


def test_host_time_is_public_for_public_rooms_only(
    sql: SqlSession, room: Room, private_room: Room
) -> None:
    state = sql.as_anon().rpc("sync_get_host_time", room_id=room.room_id)
    assert state["room_id"] == room.room_id and "server_time" in state
    with sql.raises("WR404"):
        sql.rpc("sync_get_host_time", room_id=private_room.room_id)
    sql.as_user(new_user())
    with sql.raises("WR404"):
        sql.rpc("sync_get_host_time", room_id=private_room.room_id)
    member = join_room(sql, private_room)
    assert (
        sql.as_user(member).rpc("sync_get_host_time", room_id=private_room.room_id)["room_id"]
        == private_room.room_id
    )


def test_host_direct_updates_obey_the_same_rules_and_rate_limit(
    sql: SqlSession, room: Room
) -> None:
    member = join_room(sql, room)
    sql.as_user(member)
    assert (
        sql.conn.execute(
            "update rooms set is_playing = true where room_id = %s", (room.room_id,)
        ).rowcount
        == 0
    )
    sql.as_user(room.host)
    cur = sql.conn.execute(
        "update rooms set current_playback_time = 12 where room_id = %s", (room.room_id,)
    )
    assert cur.rowcount == 1
    sql.conn.execute("update rooms set is_playing = true where room_id = %s", (room.room_id,))
    with sql.raises("WR429"):
        sql.conn.execute("update rooms set is_playing = false where room_id = %s", (room.room_id,))
    with sql.raises("42501"):
        sql.conn.execute(
            "update rooms set playback_updated_at = now() where room_id = %s", (room.room_id,)
        )
    with sql.raises("42501"):
        sql.conn.execute(
            "update rooms set host_user_id = %s where room_id = %s", (member, room.room_id)
        )
    state = sql.rpc("sync_get_host_time", room_id=room.room_id)
    assert state["is_playing"] is True and state["current_playback_time"] == 12


def test_positions_are_stored_to_the_hundredth(sql: SqlSession) -> None:
    room = create_room(sql)
    state = control(sql, room, "seek", current_time=Decimal("10.004"))
    assert state["current_playback_time"] == 10.0
