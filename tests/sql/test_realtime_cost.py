"""What the database writes to replicated tables, since every write is a Realtime message for
every member listening: heartbeats, rejoins and joins leave the replicated rows alone unless a
value the members see changes (the sync log and the heartbeats are not published:
test_bootstrap.py).

Each test runs in one transaction, so a row's ``ctid`` (which every UPDATE changes) tells whether
it was written.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests._pg import SqlSession, new_user
from tests.sql.conftest import Room, backdate_playback, create_room, join_room


def member_row(sql: SqlSession, user: str) -> dict[str, Any]:
    sql.as_admin()
    row = sql.one("select ctid::text, * from room_members where user_id = %s", (user,))
    assert row is not None
    return row


def room_row(sql: SqlSession, room: Room) -> str:
    sql.as_admin()
    return str(sql.scalar("select ctid::text from rooms where room_id = %s", (room.room_id,)))


def heartbeat(sql: SqlSession, room: Room, user: str, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = sql.as_user(user).rpc(
        "members_update_status", room_id=room.room_id, **params
    )
    return result


@pytest.fixture
def playing(sql: SqlSession, room: Room) -> Room:
    """The room playing from 100 s, started a minute ago (the sync grace is over). Its host may
    act as often as a test needs (tests/sql/test_rate_limits.py proves the limit)."""
    sql.conn.execute(
        "update watchium.rate_limit_rules set max_requests = 100 where action = 'sync_control'"
    )
    sql.as_user(room.host).rpc(
        "sync_control", room_id=room.room_id, action="play", current_time=100
    )
    backdate_playback(sql, room, 60)
    return room


def test_a_heartbeat_writes_the_member_row_only_when_a_shown_value_changes(
    sql: SqlSession, playing: Room
) -> None:
    member = join_room(sql, playing)
    before, room_before = member_row(sql, member), room_row(sql, playing)
    live = float(
        sql.scalar(
            "select (public.sync_get_host_time(%s)->>'live_position')::numeric", (playing.room_id,)
        )
    )
    for offset in (0.0, 0.5, -0.3):
        answer = heartbeat(sql, playing, member, current_time=live + offset, is_buffering=False)
        # The answer still carries the position and the heartbeat, as before.
        assert float(answer["member"]["current_playback_time"]) == pytest.approx(
            live + offset, abs=0.006
        )
        assert answer["member"]["last_heartbeat"]
    assert member_row(sql, member)["ctid"] == before["ctid"]
    assert room_row(sql, playing) == room_before
    sql.as_admin()
    assert sql.count("member_heartbeats", "user_id = %s", (member,)) == 1
    assert (
        sql.count("sync_states", "user_id = %s and sync_event_type = 'heartbeat'", (member,)) == 3
    )

    heartbeat(sql, playing, member, current_time=live, is_buffering=True)
    stalled = member_row(sql, member)
    assert stalled["is_buffering"] is True and stalled["ctid"] != before["ctid"]
    heartbeat(sql, playing, member, current_time=live, is_buffering=True)
    assert member_row(sql, member)["ctid"] == stalled["ctid"]

    heartbeat(sql, playing, member, username="mio")
    assert member_row(sql, member)["username"] == "mio"


def test_is_synced_does_not_flip_within_the_grace_after_a_playback_change(
    sql: SqlSession, playing: Room
) -> None:
    member = join_room(sql, playing)
    sql.as_user(playing.host).rpc(
        "sync_control", room_id=playing.room_id, action="seek", current_time=500
    )
    # Still at the old position: the player is seeking. Within the grace, nothing changes.
    heartbeat(sql, playing, member, current_time=160)
    assert member_row(sql, member)["is_synced"] is True
    backdate_playback(sql, playing, 6)
    heartbeat(sql, playing, member, current_time=160)
    assert member_row(sql, member)["is_synced"] is False
    # Back within the tolerance: in sync at once, grace or not.
    sql.as_user(playing.host).rpc(
        "sync_control", room_id=playing.room_id, action="pause", current_time=700
    )
    heartbeat(sql, playing, member, current_time=699.5)
    assert member_row(sql, member)["is_synced"] is True


def test_sync_grace_is_a_setting(sql: SqlSession, playing: Room) -> None:
    member = join_room(sql, playing)
    sql.conn.execute("update watchium.settings set sync_grace = interval '0'")
    sql.as_user(playing.host).rpc(
        "sync_control", room_id=playing.room_id, action="seek", current_time=500
    )
    heartbeat(sql, playing, member, current_time=160)
    assert member_row(sql, member)["is_synced"] is False


def test_joining_writes_no_rooms_row_and_rejoining_no_member_row(
    sql: SqlSession, room: Room
) -> None:
    before = room_row(sql, room)
    member = join_room(sql, room, username="rin")
    assert room_row(sql, room) == before
    row = member_row(sql, member)
    sql.conn.execute(
        "update member_heartbeats set last_heartbeat = now() - interval '20 seconds' "
        "where user_id = %s",
        (member,),
    )
    again = sql.as_user(member).rpc("rooms_join", room_id=room.room_id, username="rin")
    assert again["rejoined"] is True and again["member"]["last_heartbeat"]
    assert member_row(sql, member)["ctid"] == row["ctid"]
    assert sql.scalar(
        "select last_heartbeat > now() - interval '5 seconds' from member_heartbeats "
        "where user_id = %s",
        (member,),
    )
    sql.as_user(member).rpc("rooms_join", room_id=room.room_id, username="rin2")
    assert member_row(sql, member)["username"] == "rin2"


def test_every_membership_has_its_heartbeat_row(sql: SqlSession, room: Room) -> None:
    created = room.data["member"]
    assert float(created["current_playback_time"]) == 0 and created["last_heartbeat"]
    user = new_user()
    sql.as_service()
    sql.conn.execute(
        "insert into room_members (room_id, user_id, username) values (%s, %s, 'direct')",
        (room.room_id, user),
    )
    sql.as_admin()
    assert sql.count("member_heartbeats", "room_id = %s", (room.room_id,)) == 2
    sql.conn.execute("delete from room_members where user_id = %s", (user,))
    assert sql.count("member_heartbeats", "user_id = %s", (user,)) == 0


def test_heartbeats_are_readable_as_the_room_is_and_written_by_the_database_only(
    sql: SqlSession,
) -> None:
    private = create_room(sql, public=False)
    public = create_room(sql)
    member = join_room(sql, private)
    stranger = new_user()

    def visible(user: str | None, room: Room) -> int:
        if user is None:
            sql.as_anon()
        else:
            sql.as_user(user)
        query = "select count(*) from member_heartbeats where room_id = %s"
        return int(sql.scalar(query, (room.room_id,)))

    assert visible(member, private) == 2
    assert visible(stranger, private) == 0
    assert visible(None, private) == 0
    assert visible(None, public) == 1
    sql.as_user(private.host)
    for statement in (
        "update member_heartbeats set last_heartbeat = now()",
        "delete from member_heartbeats",
        "insert into member_heartbeats (member_id, room_id, user_id) "
        "select id, room_id, 'x' from room_members limit 1",
    ):
        with sql.raises("42501"):
            sql.conn.execute(statement)
