"""Retention: silent members, old sync states, empty and idle rooms, spent buckets.

Other tests commit data to the same database, so these assert what happened to the rows they made
(and that the returned counts include them), not global totals.
"""

from __future__ import annotations

from tests._pg import PG_CRON_STAND_IN, PROJECT_DIR, SqlSession
from tests.sql.conftest import Room, backdate_heartbeat, create_room, join_room
from watchium_stack.migrate import split_statements


def cleanup(sql: SqlSession) -> dict[str, int]:
    sql.as_admin()
    result: dict[str, int] = sql.scalar("select watchium.cleanup_realtime_data()")
    return result


def members_of(sql: SqlSession, room: Room) -> set[str]:
    rows = sql.all("select user_id from room_members where room_id = %s", (room.room_id,))
    return {r["user_id"] for r in rows}


def test_members_silent_longer_than_the_timeout_are_removed(sql: SqlSession, room: Room) -> None:
    fresh = join_room(sql, room)
    stale = join_room(sql, room)
    backdate_heartbeat(sql, room, stale, 31)
    backdate_heartbeat(sql, room, fresh, 29)
    assert cleanup(sql)["members_removed"] >= 1
    assert members_of(sql, room) == {room.host, fresh}


def test_member_timeout_is_a_setting(sql: SqlSession, room: Room) -> None:
    member = join_room(sql, room)
    backdate_heartbeat(sql, room, member, 31)
    sql.conn.execute("update watchium.settings set member_timeout = interval '2 minutes'")
    cleanup(sql)
    assert member in members_of(sql, room)


def test_old_sync_states_are_deleted(sql: SqlSession, room: Room) -> None:
    sql.conn.execute(
        "update sync_states set created_at = now() - interval '25 hours' where room_id = %s",
        (room.room_id,),
    )
    member = join_room(sql, room)
    assert cleanup(sql)["sync_states_deleted"] >= 1
    rows = sql.all("select user_id from sync_states where room_id = %s", (room.room_id,))
    assert [r["user_id"] for r in rows] == [member]


def test_empty_rooms_go_after_an_hour_idle_rooms_after_a_day(sql: SqlSession) -> None:
    empty_recent = create_room(sql)
    empty_old = create_room(sql)
    busy_old = create_room(sql)
    idle_with_members = create_room(sql)
    for r in (empty_recent, empty_old):
        sql.as_user(r.host).rpc("rooms_leave", room_id=r.room_id)
    sql.as_admin()
    sql.conn.execute(
        "update rooms set last_activity = now() - interval '61 minutes' where room_id in (%s, %s)",
        (empty_old.room_id, busy_old.room_id),
    )
    sql.conn.execute(
        "update rooms set last_activity = now() - interval '25 hours' where room_id = %s",
        (idle_with_members.room_id,),
    )
    assert cleanup(sql)["rooms_deleted"] >= 2
    ours = [empty_recent, empty_old, busy_old, idle_with_members]
    remaining = {
        r["room_id"]
        for r in sql.all(
            "select room_id from rooms where room_id = any(%s)", ([x.room_id for x in ours],)
        )
    }
    assert remaining == {empty_recent.room_id, busy_old.room_id}


def test_spent_rate_limit_buckets_are_dropped(sql: SqlSession) -> None:
    sql.conn.execute(
        "insert into watchium.rate_limit_buckets values "
        "('spent', 'x', now() - interval '1 second'), ('live', 'x', now() + interval '1 hour')"
    )
    assert cleanup(sql)["rate_limit_buckets_deleted"] >= 1
    rows = sql.all("select subject from watchium.rate_limit_buckets where action = 'x'")
    assert [r["subject"] for r in rows] == ["live"]


def test_seed_cleanup_functions_return_counts(sql: SqlSession, room: Room) -> None:
    sql.conn.execute(
        "update sync_states set created_at = now() - interval '25 hours' where room_id = %s",
        (room.room_id,),
    )
    assert sql.scalar("select watchium.cleanup_old_sync_states()") >= 1
    sql.conn.execute(
        "update rooms set last_activity = now() - interval '25 hours' where room_id = %s",
        (room.room_id,),
    )
    assert sql.scalar("select watchium.cleanup_inactive_rooms()") >= 1
    assert sql.count("rooms", "room_id = %s", (room.room_id,)) == 0


def test_scheduling_the_cleanup_without_pg_cron_says_to_enable_it(sql: SqlSession) -> None:
    sql.as_admin()
    with sql.raises("55000") as info:
        sql.scalar("select watchium.schedule_cleanup()")
    assert "pg_cron" in info.value.diag.message_primary
    assert "schedule_cleanup" in (info.value.diag.message_hint or "")


def test_enabling_pg_cron_after_the_migrations_then_scheduling_keeps_one_job(
    sql: SqlSession,
) -> None:
    sql.as_admin()
    sql.conn.execute(PG_CRON_STAND_IN)
    first = sql.scalar("select watchium.schedule_cleanup()")
    again = sql.scalar("select watchium.schedule_cleanup()")
    assert first == again
    assert sql.all("select jobname, schedule, command, username from cron.job") == [
        {
            "jobname": "watchium-cleanup",
            "schedule": "30 seconds",
            "command": "select watchium.cleanup_realtime_data()",
            "username": "postgres",
        }
    ]


def test_the_migration_schedules_the_cleanup_when_pg_cron_is_already_enabled(
    sql: SqlSession,
) -> None:
    migration = PROJECT_DIR / "supabase" / "migrations" / "013_hosted_fidelity.sql"
    (block,) = [s for s in split_statements(migration.read_text()) if "do $$" in s.text]
    sql.as_admin()
    sql.conn.execute(block.text)  # no pg_cron: nothing to schedule, nothing fails
    sql.conn.execute(PG_CRON_STAND_IN)
    sql.conn.execute(block.text)
    assert sql.scalar("select count(*) from cron.job where jobname = 'watchium-cleanup'") == 1


def test_only_the_schema_owner_may_schedule_the_cleanup(sql: SqlSession) -> None:
    for role in ("anon", "authenticated", "service_role"):
        assert (
            sql.scalar(
                "select has_function_privilege(%s, 'watchium.schedule_cleanup()', 'execute')",
                (role,),
            )
            is False
        )
