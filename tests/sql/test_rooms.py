"""Creating, listing and deleting rooms; the room table's constraints."""

from __future__ import annotations

import json
import re

import pytest

from tests._pg import SqlSession, new_user
from tests.sql.conftest import Room, create_room, join_room


def test_create_public_room_makes_the_caller_host_with_an_anchor(sql: SqlSession) -> None:
    host = new_user()
    result = sql.as_user(host).rpc(
        "rooms_create",
        title="Ep 1",
        anime_id="aot",
        anime_title="Attack on Titan",
        video_url="https://example.com/aot/1.mp4",
        host_username="alice",
        episode_number=3,
    )
    room, member = result["room"], result["member"]
    assert re.fullmatch(r"[a-z0-9]{10}", room["room_id"])
    assert room["host_user_id"] == host and room["host_username"] == "alice"
    assert room["episode_number"] == 3 and room["is_public"] is True
    assert room["is_playing"] is False and room["current_playback_time"] == 0
    assert "server_time" in room and room["live_position"] == 0
    assert member["user_id"] == host and member["is_host"] is True
    assert result["access_key"] is None
    sql.as_admin()
    anchor = sql.one("select * from comments where room_id = %s and is_anchor", (room["room_id"],))
    assert anchor is not None
    assert anchor["message"] == "Discussion for Episode 3" and anchor["is_system_message"]
    assert anchor["episode_number"] == 3 and anchor["username"] == "alice"


def test_create_private_room_returns_a_six_digit_key_once(sql: SqlSession) -> None:
    room = create_room(sql, public=False)
    assert room.access_key is not None and re.fullmatch(r"[0-9]{6}", room.access_key)
    stored = sql.scalar(
        "select access_key from watchium.room_access_keys where room_id = %s", (room.room_id,)
    )
    assert stored == room.access_key
    # The room JSON itself never carries the key.
    assert "access_key" not in room.data["room"]


def test_rooms_table_has_no_access_key_column(sql: SqlSession) -> None:
    columns = {
        r["column_name"]
        for r in sql.all(
            "select column_name from information_schema.columns where table_schema = 'public' "
            "and table_name = 'rooms'"
        )
    }
    assert "access_key" not in columns
    assert "playback_updated_at" in columns


def test_create_requires_sign_in_and_writes_nothing(sql: SqlSession) -> None:
    before = sql.count("rooms")
    sql.as_anon()
    # Not granted to anon: refused before it runs (PostgREST and the functions answer 401).
    with sql.raises("42501"):
        sql.rpc(
            "rooms_create",
            title="t",
            anime_id="a",
            anime_title="A",
            video_url="https://example.com/v.mp4",
            host_username="x",
        )
    assert sql.count("rooms") == before


def test_create_as_another_user_is_refused(sql: SqlSession) -> None:
    caller, other = new_user(), new_user()
    sql.as_user(caller)
    with sql.raises("WR403") as info:
        sql.rpc(
            "rooms_create",
            title="t",
            anime_id="a",
            anime_title="A",
            video_url="https://example.com/v.mp4",
            host_username="x",
            host_user_id=other,
        )
    assert "yourself" in info.value.diag.message_primary
    assert sql.count("rooms", "host_user_id in (%s, %s)", (caller, other)) == 0


def test_service_role_acts_for_the_user_it_names(sql: SqlSession) -> None:
    user = new_user()
    result = sql.as_service().rpc(
        "rooms_create",
        title="t",
        anime_id="a",
        anime_title="A",
        video_url="https://example.com/v.mp4",
        host_username="x",
        host_user_id=user,
    )
    assert result["room"]["host_user_id"] == user
    with sql.raises("WR401"):
        sql.rpc(
            "rooms_create",
            title="t",
            anime_id="a",
            anime_title="A",
            video_url="https://example.com/v.mp4",
            host_username="x",
        )


@pytest.mark.parametrize(
    ("field", "value", "sqlstate", "constraint"),
    [
        ("title", "   ", "23514", "valid_title"),
        ("title", "x" * 256, "22001", None),
        ("video_url", "ftp://example.com/v.mp4", "23514", "valid_video_url"),
        ("video_url", "https://exa mple.com", "23514", "valid_video_url"),
        ("episode_number", 0, "23514", "valid_episode_number"),
        ("host_username", "", "23514", "valid_host_username"),
        ("anime_id", "", "23514", "valid_anime_id"),
    ],
)
def test_invalid_room_fields_hit_constraints_and_write_nothing(
    sql: SqlSession, field: str, value: object, sqlstate: str, constraint: str | None
) -> None:
    params = {
        "title": "t",
        "anime_id": "a",
        "anime_title": "A",
        "video_url": "https://example.com/v.mp4",
        "host_username": "x",
    }
    params[field] = value
    user = new_user()
    sql.as_user(user)
    with sql.raises(sqlstate) as info:
        sql.rpc("rooms_create", **params)
    if constraint:
        assert info.value.diag.constraint_name == constraint
    assert sql.count("rooms", "host_user_id = %s", (user,)) == 0
    assert sql.count("room_members", "user_id = %s", (user,)) == 0


def test_room_creation_is_limited_to_ten_per_hour(sql: SqlSession) -> None:
    host = new_user()
    for _ in range(10):
        create_room(sql, host)
    sql.as_user(host)
    with sql.raises("WR429") as info:
        sql.rpc(
            "rooms_create",
            title="t",
            anime_id="a",
            anime_title="A",
            video_url="https://example.com/v.mp4",
            host_username="x",
        )
    detail = json.loads(info.value.diag.message_detail)
    assert detail["action"] == "room_creation"
    # One room more every 6 minutes: the wait is close to 360 s.
    assert 300 < detail["retry_after"] <= 360
    assert sql.count("rooms", "host_user_id = %s", (host,)) == 10
    # Another user is not affected.
    create_room(sql)


def test_private_room_without_key_violates_valid_access_key(sql: SqlSession) -> None:
    sql.conn.execute(
        "insert into rooms (room_id, title, anime_id, anime_title, video_url, host_user_id, "
        "host_username, is_public) values ('abcdefghij', 't', 'a', 'A', 'https://e.com/v', 'u', "
        "'u', false)"
    )
    with sql.raises("23514") as info:
        sql.conn.execute("set constraints rooms_private_room_has_key immediate")
    assert info.value.diag.constraint_name == "valid_access_key"


def test_room_id_must_be_ten_lowercase_letters_or_digits(sql: SqlSession) -> None:
    with sql.raises("23514") as info:
        sql.conn.execute(
            "insert into rooms (room_id, title, anime_id, anime_title, video_url, host_user_id, "
            "host_username) values ('ABC', 't', 'a', 'A', 'https://e.com/v', 'u', 'u')"
        )
    assert info.value.diag.constraint_name == "valid_room_id"


def test_list_public_rooms_shows_public_rooms_with_members_only(sql: SqlSession) -> None:
    anime, other_anime = f"a-{new_user()}", f"b-{new_user()}"
    public = create_room(sql, anime_id=anime)
    private = create_room(sql, public=False, anime_id=anime)
    empty = create_room(sql, anime_id=anime)
    sql.as_user(empty.host).rpc("rooms_leave", room_id=empty.room_id)
    other = create_room(sql, anime_id=other_anime)
    join_room(sql, other)
    rooms = sql.as_anon().rpc("rooms_list_public", anime_id=anime)["rooms"]
    assert [r["room_id"] for r in rooms] == [public.room_id]  # not the private or empty one
    assert rooms[0]["member_count"] == 1 and "access_key" not in rooms[0]
    only = sql.rpc("rooms_list_public", anime_id=other_anime)["rooms"]
    assert [r["room_id"] for r in only] == [other.room_id] and only[0]["member_count"] == 2
    everything = sql.rpc("rooms_list_public", limit=100)["rooms"]
    assert private.room_id not in {r["room_id"] for r in everything}
    assert all(r["is_public"] for r in everything)


def test_list_public_rooms_orders_by_activity_and_pages(sql: SqlSession) -> None:
    anime = f"a-{new_user()}"
    rooms = [create_room(sql, anime_id=anime) for _ in range(3)]
    for i, r in enumerate(rooms):
        sql.conn.execute(
            "update rooms set last_activity = now() - %s * interval '1 minute' where room_id = %s",
            (i, r.room_id),
        )
    sql.as_anon()
    page1 = sql.rpc("rooms_list_public", anime_id=anime, limit=2)
    page2 = sql.rpc("rooms_list_public", anime_id=anime, limit=2, offset=2)
    assert [r["room_id"] for r in page1["rooms"]] == [rooms[0].room_id, rooms[1].room_id]
    assert [r["room_id"] for r in page2["rooms"]] == [rooms[2].room_id]


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (101, 0), (10, -1)])
def test_list_public_rooms_rejects_bad_paging(sql: SqlSession, limit: int, offset: int) -> None:
    sql.as_anon()
    with sql.raises("WR400"):
        sql.rpc("rooms_list_public", limit=limit, offset=offset)


def test_delete_room_is_for_the_host_only(sql: SqlSession, room: Room) -> None:
    member = join_room(sql, room)
    sql.as_user(member)
    with sql.raises("WRH03"):
        sql.rpc("rooms_delete", room_id=room.room_id)
    assert sql.count("rooms", "room_id = %s", (room.room_id,)) == 1
    assert sql.as_user(room.host).rpc("rooms_delete", room_id=room.room_id)["deleted"] is True
    assert sql.count("rooms", "room_id = %s", (room.room_id,)) == 0
    assert sql.count("room_members", "room_id = %s", (room.room_id,)) == 0
    assert sql.count("sync_states", "room_id = %s", (room.room_id,)) == 0


def test_delete_keeps_comment_history_without_the_room(sql: SqlSession, room: Room) -> None:
    sql.as_user(room.host).rpc(
        "comments_create",
        anime_id="frieren",
        episode_number=1,
        message="hello",
        username="host",
        room_id=room.room_id,
    )
    sql.rpc("rooms_delete", room_id=room.room_id)
    rows = sql.all(
        "select room_id, origin_room_id from comments where origin_room_id = %s", (room.room_id,)
    )
    assert len(rows) == 2  # the anchor and the comment
    assert all(r["room_id"] is None for r in rows)


def test_delete_missing_room_is_not_found(sql: SqlSession) -> None:
    sql.as_user(new_user())
    with sql.raises("WR404"):
        sql.rpc("rooms_delete", room_id="zzzzzzzzzz")


def test_host_sees_the_access_key_members_do_not(sql: SqlSession, private_room: Room) -> None:
    member = join_room(sql, private_room)
    key = sql.as_user(private_room.host).rpc("rooms_get_access_key", room_id=private_room.room_id)
    assert key["access_key"] == private_room.access_key
    sql.as_user(member)
    with sql.raises("WRH03"):
        sql.rpc("rooms_get_access_key", room_id=private_room.room_id)
    sql.as_user(new_user())
    with sql.raises("WR404"):
        sql.rpc("rooms_get_access_key", room_id=private_room.room_id)
