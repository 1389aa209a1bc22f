"""Row level security and privileges, table by table and role by role."""

from __future__ import annotations

import pytest

from tests._pg import SqlSession, new_user
from tests.sql.conftest import Room, join_room

TABLES = ["rooms", "room_members", "comments", "sync_states"]


@pytest.mark.parametrize("table", TABLES)
def test_rls_is_enabled_on_every_table(sql: SqlSession, table: str) -> None:
    assert (
        sql.scalar(
            "select relrowsecurity from pg_class where oid = %s::regclass", (f"public.{table}",)
        )
        is True
    )


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("who", ["anon", "authenticated"])
def test_api_roles_cannot_insert_rows_directly(sql: SqlSession, table: str, who: str) -> None:
    if who == "anon":
        sql.as_anon()
    else:
        sql.as_user(new_user())
    with sql.raises("42501"):
        sql.conn.execute(f"insert into public.{table} default values")


@pytest.mark.parametrize("table", ["rooms", "room_members", "sync_states"])
def test_api_roles_cannot_delete_rows_directly(sql: SqlSession, table: str) -> None:
    sql.as_user(new_user())
    with sql.raises("42501"):
        sql.conn.execute(f"delete from public.{table}")


@pytest.mark.parametrize(
    "relation",
    [
        "watchium.room_access_keys",
        "watchium.settings",
        "watchium.rate_limit_buckets",
        "watchium.rate_limit_rules",
    ],
)
def test_private_schema_tables_are_closed_to_api_roles(sql: SqlSession, relation: str) -> None:
    sql.as_user(new_user())
    with sql.raises("42501"):
        sql.conn.execute(f"select * from {relation}")


def test_private_helpers_are_not_executable_by_api_roles(sql: SqlSession, room: Room) -> None:
    sql.as_user(new_user())
    with sql.raises("42501"):
        sql.conn.execute("select watchium.generate_access_key()")
    with sql.raises("42501"):
        sql.conn.execute("select watchium.cleanup_realtime_data()")
    with sql.raises("42501"):
        sql.conn.execute("select watchium.check_room_access(%s, '123456')", (room.room_id,))


def test_every_public_function_is_granted_deliberately(sql: SqlSession) -> None:
    rows = sql.all(
        "select p.proname, has_function_privilege('public', p.oid, 'execute') as to_public "
        "from pg_proc p where p.pronamespace = 'public'::regnamespace"
    )
    assert rows, "no public functions"
    assert [r["proname"] for r in rows if r["to_public"]] == []


def test_private_rooms_are_invisible_to_outsiders(
    sql: SqlSession, private_room: Room, room: Room
) -> None:
    for act in (sql.as_anon, lambda: sql.as_user(new_user())):
        act()
        visible = {r["room_id"] for r in sql.all("select room_id from rooms")}
        assert private_room.room_id not in visible and room.room_id in visible
        assert (
            sql.scalar(
                "select count(*) from room_members where room_id = %s", (private_room.room_id,)
            )
            == 0
        )
        assert (
            sql.scalar("select count(*) from comments where room_id = %s", (private_room.room_id,))
            == 0
        )


def test_members_see_their_private_room(sql: SqlSession, private_room: Room) -> None:
    member = join_room(sql, private_room)
    sql.as_user(member)
    assert sql.scalar("select count(*) from rooms where room_id = %s", (private_room.room_id,)) == 1
    assert (
        sql.scalar("select count(*) from room_members where room_id = %s", (private_room.room_id,))
        == 2
    )
    assert (
        sql.scalar("select count(*) from sync_states where room_id = %s", (private_room.room_id,))
        == 2
    )


def test_sync_states_are_for_members_and_the_user_concerned(sql: SqlSession, room: Room) -> None:
    sql.as_anon()
    with sql.raises("42501"):
        sql.conn.execute("select * from sync_states")
    assert sql.as_user(new_user()).scalar("select count(*) from sync_states") == 0
    assert sql.as_user(room.host).scalar("select count(*) from sync_states") == 1


def test_a_client_set_user_setting_grants_nothing(sql: SqlSession, room: Room) -> None:
    # Seed defect 5: the seed's policies trusted current_setting('app.current_user_id').
    stranger = new_user()
    sql.as_user(stranger)
    sql.conn.execute("select set_config('app.current_user_id', %s, true)", (room.host,))
    assert (
        sql.conn.execute(
            "update rooms set title = 'mine now' where room_id = %s", (room.room_id,)
        ).rowcount
        == 0
    )


def test_service_role_bypasses_rls(sql: SqlSession, private_room: Room) -> None:
    sql.as_service()
    assert sql.scalar("select count(*) from rooms where room_id = %s", (private_room.room_id,)) == 1


def test_realtime_room_channels_are_for_members(
    sql: SqlSession, private_room: Room, room: Room
) -> None:
    member = join_room(sql, private_room)
    check = "select watchium.can_use_room_channel(%s)"
    sql.as_user(member)
    assert sql.scalar(check, (f"room:{private_room.room_id}",)) is True
    assert sql.scalar(check, (f"room:{room.room_id}",)) is False
    assert sql.scalar(check, ("lobby",)) is False
    # The realtime.messages policies use it through realtime.topic().
    sql.conn.execute(
        "select set_config('realtime.topic', %s, true)", (f"room:{private_room.room_id}",)
    )
    with sql.conn.transaction():
        sql.conn.execute(
            "insert into realtime.messages (topic, extension) values (%s, 'presence')",
            (f"room:{private_room.room_id}",),
        )
    sql.as_user(new_user())
    sql.conn.execute(
        "select set_config('realtime.topic', %s, true)", (f"room:{private_room.room_id}",)
    )
    with sql.raises("42501"):
        sql.conn.execute(
            "insert into realtime.messages (topic, extension) values (%s, 'presence')",
            (f"room:{private_room.room_id}",),
        )
