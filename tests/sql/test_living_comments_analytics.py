"""Viewer analytics: the membership history the triggers keep, and a room's figures checked
against a scripted session whose true figures are worked out by hand below."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

from tests._pg import SqlSession, TestDatabase, new_user, purge_rooms
from tests.sql.conftest import Room, backdate_heartbeat, create_room, join_room
from tests.sql.test_admin_toolkit import ADMIN, psql_program

T0 = datetime(2026, 1, 1, 20, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def stays_of(sql: SqlSession, room: Room, user: str) -> list[dict[str, Any]]:
    sql.as_admin()
    return sql.all(
        "select joined_at, left_at, left_how from room_member_history "
        "where room_id = %s and user_id = %s order by joined_at",
        (room.room_id, user),
    )


def test_every_way_in_and_out_is_recorded(sql: SqlSession, room: Room) -> None:
    member = join_room(sql, room)
    [stay] = stays_of(sql, room, member)
    assert stay["left_at"] is None
    sql.as_user(member).rpc("rooms_leave", room_id=room.room_id)
    [stay] = stays_of(sql, room, member)
    assert stay["left_how"] == "left" and stay["left_at"] >= stay["joined_at"]

    join_room(sql, room, member)  # a new stay
    sql.as_user(member).rpc("rooms_join", room_id=room.room_id, username="again")  # same stay
    backdate_heartbeat(sql, room, member, 40)
    sql.conn.execute(
        "update room_member_history set joined_at = now() - interval '2 minutes' "
        "where user_id = %s and left_at is null",
        (member,),
    )
    heard = sql.scalar(
        "select last_heartbeat from member_heartbeats where room_id = %s and user_id = %s",
        (room.room_id, member),
    )
    sql.scalar("select watchium.cleanup_realtime_data()")
    stays = {s["left_how"]: s for s in stays_of(sql, room, member)}
    assert set(stays) == {"left", "timed_out"}
    # Silent members are gone from their last heartbeat, not from when cleanup ran.
    assert stays["timed_out"]["left_at"] == heard
    [host_stay] = stays_of(sql, room, room.host)
    assert host_stay["left_at"] is None


def test_the_history_goes_with_its_room(sql: SqlSession, room: Room) -> None:
    join_room(sql, room)
    sql.as_user(room.host).rpc("rooms_delete", room_id=room.room_id)
    assert sql.count("room_member_history", "room_id = %s", (room.room_id,)) == 0


def test_members_read_their_own_stays_and_the_host_reads_the_rooms(
    sql: SqlSession, room: Room
) -> None:
    member = join_room(sql, room)
    mine = sql.as_user(member).all(
        "select user_id from room_member_history where room_id = %s", (room.room_id,)
    )
    assert [r["user_id"] for r in mine] == [member]
    everyone = sql.as_user(room.host).all(
        "select user_id from room_member_history where room_id = %s", (room.room_id,)
    )
    assert {r["user_id"] for r in everyone} == {member, room.host}
    sql.as_anon()
    with sql.raises("42501"):
        sql.all("select 1 from room_member_history where room_id = %s", (room.room_id,))
    sql.as_user(member)
    with sql.raises("42501"):
        sql.conn.execute("delete from room_member_history where user_id = %s", (member,))


def script_session(sql: SqlSession, room: Room) -> dict[str, str]:
    """Five viewers over 30 minutes, with comments and sync samples (see the test below)."""
    sql.as_admin()
    sql.conn.execute("delete from room_member_history where room_id = %s", (room.room_id,))
    sql.conn.execute("delete from sync_states where room_id = %s", (room.room_id,))
    sql.conn.execute(
        "delete from comments where origin_room_id = %s and not is_anchor", (room.room_id,)
    )
    users = {name: new_user() for name in "ABCDE"}
    stays = [
        ("A", 0, 30),
        ("B", 0, 30),
        ("C", 5, 5.5),
        ("D", 10, 29.5),
        ("E", 10, 20),
        ("E", 22, 25),
    ]
    for name, start, end in stays:
        sql.conn.execute(
            "insert into room_member_history (room_id, member_id, user_id, joined_at, left_at, "
            "left_how) values (%s, gen_random_uuid(), %s, %s, %s, 'left')",
            (room.room_id, users[name], at(start), at(end)),
        )
    for minute in (1, 12 + 10 / 60, 12 + 20 / 60, 12 + 50 / 60, 20.5, 20.75):
        sql.conn.execute(
            "insert into comments (anime_id, room_id, episode_number, user_id, username, message, "
            "created_at) values ('frieren', %s, 1, %s, 'a', 'hey', %s)",
            (room.room_id, users["A"], at(minute)),
        )
    sql.conn.execute(
        "insert into comments (anime_id, room_id, episode_number, user_id, username, message, "
        "is_system_message, created_at) "
        "values ('frieren', %s, 1, 'system', 'System', 'x', true, %s)",
        (room.room_id, at(12.5)),
    )
    drifts = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 3.0, 5.0]
    for i, drift in enumerate(drifts):
        sql.conn.execute(
            "insert into sync_states (room_id, user_id, host_time, member_time, time_difference, "
            "is_synced, sync_event_type, created_at) "
            "values (%s, %s, 100, %s, %s, %s, 'heartbeat', %s)",
            (room.room_id, users["B"], 100 + drift, drift, drift <= 2, at(i)),
        )
    return users


def test_figures_of_a_scripted_session(sql: SqlSession, room: Room) -> None:
    script_session(sql, room)
    stats = sql.scalar("select watchium.room_stats(%s, %s)", (room.room_id, at(40)))
    # The session runs from the first join (0:00) to the last leave (30:00): 1800 s.
    assert stats["duration_seconds"] == 1800
    assert stats["unique_viewers"] == 5 and stats["stays"] == 6 and stats["viewers_now"] == 0
    # Viewer-seconds: A 1800 + B 1800 + C 30 + D 1170 + E 600 + 180 = 5580; / 1800 s = 3.1.
    assert stats["average_viewers"] == 3.1
    # A, B from 0; C 5:00-5:30 (3); D and E at 10:00 make 4, first reached then.
    assert stats["peak_viewers"] == 4
    assert datetime.fromisoformat(stats["peak_at"]) == at(10)
    # Still there in the last minute (from 29:00): A, B, D of 5.
    assert stats["retention"] == 0.6
    # Gone after less than a minute in all: C.
    assert stats["bounce_rate"] == 0.2
    # Six user comments (the system message is not one) over 30 minutes; three at 20:12.
    assert stats["comments"] == 6 and stats["comments_per_minute"] == 0.2
    assert datetime.fromisoformat(stats["busiest_minute"]) == at(12)
    assert stats["busiest_minute_comments"] == 3
    # Ten heartbeats, eight within the 2 s tolerance; median of the drifts (0.5 + 0.6) / 2.
    assert stats["sync_samples"] == 10 and stats["in_sync_share"] == 0.8
    assert stats["median_drift"] == 0.55
    timeline = {datetime.fromisoformat(m["minute"]): m for m in stats["timeline"]}
    assert len(timeline) == 31
    assert timeline[at(5)]["viewers"] == 3 and timeline[at(12)]["viewers"] == 4
    assert timeline[at(12)]["comments"] == 3 and timeline[at(21)]["viewers"] == 3


def test_an_open_session_ends_now(sql: SqlSession, room: Room) -> None:
    users = script_session(sql, room)
    sql.conn.execute(
        "insert into room_member_history (room_id, member_id, user_id, joined_at) "
        "values (%s, gen_random_uuid(), %s, %s)",
        (room.room_id, users["A"], at(35)),
    )
    stats = sql.scalar("select watchium.room_stats(%s, %s)", (room.room_id, at(40)))
    assert stats["duration_seconds"] == 2400 and stats["viewers_now"] == 1
    # A is there at the end: A of 5.
    assert stats["retention"] == 0.2


def test_only_the_host_sees_the_rooms_analytics(sql: SqlSession, private_room: Room) -> None:
    member = join_room(sql, private_room)
    stats = sql.as_user(private_room.host).rpc("rooms_stats", room_id=private_room.room_id)
    assert stats["unique_viewers"] == 2 and stats["viewers_now"] == 2
    assert stats["episode_number"] == 1 and stats["anime_id"] == "frieren"
    with sql.raises("WRH03"):
        sql.as_user(member).rpc("rooms_stats", room_id=private_room.room_id)
    with sql.raises("WR404"):
        sql.as_user(new_user()).rpc("rooms_stats", room_id=private_room.room_id)
    sql.as_anon()
    with sql.raises("42501"):
        sql.rpc("rooms_stats", room_id=private_room.room_id)
    assert sql.as_service().rpc("rooms_stats", room_id=private_room.room_id)["stays"] == 2


def test_cleanup_forgets_stays_past_retention(sql: SqlSession, room: Room) -> None:
    member = join_room(sql, room)
    sql.as_user(member).rpc("rooms_leave", room_id=room.room_id)
    sql.as_admin()
    sql.conn.execute(
        "update room_member_history set joined_at = now() - interval '32 days', "
        "left_at = now() - interval '31 days' where user_id = %s",
        (member,),
    )
    counts = sql.scalar("select watchium.cleanup_realtime_data()")
    assert counts["member_history_deleted"] >= 1
    assert stays_of(sql, room, member) == []
    assert len(stays_of(sql, room, room.host)) == 1


def test_the_admin_report_shows_the_scripted_figures(database: TestDatabase) -> None:
    with database.connect(autocommit=False) as conn:
        sql = SqlSession(conn)
        room = create_room(sql)
        script_session(sql, room)
        conn.commit()
    try:
        report = ADMIN / "viewer_analytics.sql"
        base = [psql_program(database), database.url, "-X", "-v", "ON_ERROR_STOP=1"]
        every = subprocess.run([*base, "-f", str(report)], capture_output=True, text=True)
        assert every.returncode == 0, every.stderr
        assert room.room_id in every.stdout
        one = subprocess.run(
            [*base, "-v", f"room={room.room_id}", "-A", "-F", "|", "-f", str(report)],
            capture_output=True,
            text=True,
        )
        assert one.returncode == 0, one.stderr
        [summary] = [line for line in one.stdout.splitlines() if line.startswith(room.room_id)]
        fields = summary.split("|")
        # viewers, avg, peak, retention %, bounce %, comments (see the scripted session above)
        assert fields[5:8] == ["5", "3.10", "4"]
        assert fields[9:12] == ["60", "20", "6"]
        assert "20:12|4|████|3|▪▪▪" in one.stdout.replace("\n", "")
    finally:
        with database.connect() as conn:
            purge_rooms(conn, [room.room_id])
