"""Migration 022: the episode queue (docs/NIGHTS.md, "The queue")."""

from __future__ import annotations

from typing import Any

import pytest

from tests._pg import SqlSession, new_user
from tests.sql.conftest import Room, backdate_playback, create_room, join_room
from tests.sql.test_moderation import set_cohost


def snapshot(sql: SqlSession, room: Room) -> dict[str, Any]:
    sql.as_admin()
    return {
        "queue": sql.all(
            "select id, sort_key, episode_number from room_queue where room_id = %s order by 2",
            (room.room_id,),
        ),
        "room": sql.one(
            "select current_entry_id, auto_advance, episode_number, video_url, is_playing, "
            "current_playback_time, updated_at from rooms where room_id = %s",
            (room.room_id,),
        ),
        "buckets": sql.all(
            "select subject, action, tat from watchium.rate_limit_buckets order by 1, 2"
        ),
    }


def refused(sql: SqlSession, room: Room, code: str, as_role: Any, fn: str, **args: Any) -> None:
    before = snapshot(sql, room)
    as_role()
    with sql.raises(code):
        sql.rpc(fn, room_id=room.room_id, **args)
    assert snapshot(sql, room) == before


def add(sql: SqlSession, room: Room, episode: int, who: str | None = None, **kw: Any) -> Any:
    sql.as_user(who or room.host)
    entry = sql.rpc(
        "queue_add",
        room_id=room.room_id,
        episode_number=episode,
        video_url=f"https://example.com/frieren/{episode:02d}.mkv",
        duration=1440.0,
        **kw,
    )["entry"]
    sql.as_admin()
    return entry


def order(sql: SqlSession, room: Room) -> list[int]:
    return [
        r["episode_number"]
        for r in sql.all(
            "select episode_number from room_queue where room_id = %s order by sort_key",
            (room.room_id,),
        )
    ]


def fresh_playback_budget(sql: SqlSession) -> None:
    """Forget the hosts' playback changes so far: a change of episode is one, and these tests
    make several a second (the limit itself: tests/sql/test_playback.py)."""
    sql.as_admin()
    sql.conn.execute("delete from watchium.rate_limit_buckets where action = 'sync_control'")


def go(sql: SqlSession, room: Room, to: str = "next", who: str | None = None, **kw: Any) -> Any:
    fresh_playback_budget(sql)
    sql.as_user(who or room.host)
    result = sql.rpc("queue_go", room_id=room.room_id, to=to, **kw)
    sql.as_admin()
    return result


@pytest.fixture
def roles(sql: SqlSession, room: Room) -> dict[str, str]:
    cohost = join_room(sql, room, username="cohost")
    member = join_room(sql, room, username="member")
    set_cohost(sql, room.host, room, cohost)
    return {"host": room.host, "cohost": cohost, "member": member}


ADD = {"episode_number": 2, "video_url": "https://example.com/02.mkv", "duration": 1440.0}


def test_who_may_edit_the_queue(sql: SqlSession, room: Room, roles: dict[str, str]) -> None:
    refused(sql, room, "42501", sql.as_anon, "queue_add", **ADD)
    refused(sql, room, "WRH03", lambda: sql.as_user(new_user()), "queue_add", **ADD)
    refused(sql, room, "WRH03", lambda: sql.as_user(roles["member"]), "queue_add", **ADD)
    entry = add(sql, room, 1, roles["cohost"])
    for fn, args in (
        ("queue_remove", {"entry_id": entry["id"]}),
        ("queue_move", {"entry_id": entry["id"]}),
        ("queue_go", {"to": "next"}),
        ("queue_auto_advance", {"on": True}),
    ):
        refused(sql, room, "WRH03", lambda: sql.as_user(roles["member"]), fn, **args)
        refused(sql, room, "42501", sql.as_anon, fn, **args)
    add(sql, room, 2, roles["host"])
    sql.as_service(new_user())
    sql.rpc("queue_add", room_id=room.room_id, **{**ADD, "episode_number": 3})
    sql.as_admin()
    assert order(sql, room) == [1, 2, 3]


def test_a_private_rooms_queue_is_hidden_from_outsiders(
    sql: SqlSession, private_room: Room
) -> None:
    add(sql, private_room, 1)
    outsider = new_user()
    refused(sql, private_room, "WR404", lambda: sql.as_user(outsider), "queue_add", **ADD)
    sql.as_user(outsider)
    assert sql.all("select * from room_queue where room_id = %s", (private_room.room_id,)) == []
    member = join_room(sql, private_room, key=private_room.access_key)
    sql.as_user(member)
    assert len(sql.all("select * from room_queue where room_id = %s", (private_room.room_id,))) == 1


def test_entries_take_the_rooms_anime_and_are_bounded(sql: SqlSession, room: Room) -> None:
    entry = add(sql, room, 4, title="A Hero's Farewell")
    assert (entry["anime_id"], entry["anime_title"], entry["title"]) == (
        "frieren",
        "Frieren",
        "A Hero's Farewell",
    )
    host = lambda: sql.as_user(room.host)  # noqa: E731
    refused(sql, room, "WR400", host, "queue_add", **{**ADD, "duration": 100000000.0})
    refused(sql, room, "23514", host, "queue_add", **{**ADD, "duration": 0.0})
    refused(sql, room, "23514", host, "queue_add", **{**ADD, "video_url": "ftp://x/1.mkv"})
    refused(sql, room, "23514", host, "queue_add", **{**ADD, "episode_number": 0})
    refused(sql, room, "22001", host, "queue_add", **{**ADD, "title": "t" * 256})
    sql.conn.execute("update watchium.settings set max_queue_entries = 1")
    refused(sql, room, "WR409", host, "queue_add", **ADD)


def test_moves_change_one_row_and_keep_the_order(sql: SqlSession, room: Room) -> None:
    e1, e2, e3 = (add(sql, room, n) for n in (1, 2, 3))
    sql.as_user(room.host).rpc("queue_move", room_id=room.room_id, entry_id=e3["id"])
    assert order(sql, room) == [3, 1, 2]
    sql.as_user(room.host).rpc(
        "queue_move", room_id=room.room_id, entry_id=e3["id"], after_entry_id=e1["id"]
    )
    assert order(sql, room) == [1, 3, 2]
    sql.as_user(room.host).rpc(
        "queue_move", room_id=room.room_id, entry_id=e1["id"], after_entry_id=e2["id"]
    )
    assert order(sql, room) == [3, 2, 1]
    keys = {str(r["id"]): r["sort_key"] for r in snapshot(sql, room)["queue"]}
    assert keys[e2["id"]] == e2["sort_key"], "only the moved entry changed"
    host = lambda: sql.as_user(room.host)  # noqa: E731
    refused(sql, room, "WR400", host, "queue_move", entry_id=e1["id"], after_entry_id=e1["id"])
    refused(sql, room, "WR400", host, "queue_move", entry_id=new_user())


def test_the_room_follows_the_queue(sql: SqlSession, room: Room, roles: dict[str, str]) -> None:
    e1 = add(sql, room, 1)
    e2 = add(sql, room, 2, anime_id="dungeon-meshi", anime_title="Delicious in Dungeon")
    sql.as_user(room.host).rpc("sync_control", room_id=room.room_id, action="play")
    sql.as_admin()
    result = go(sql, room, who=roles["cohost"])
    assert result["current_entry_id"] == e1["id"] and result["advanced"] is True
    assert (result["episode_number"], result["video_url"]) == (1, e1["video_url"])
    assert (result["is_playing"], result["current_playback_time"]) == (False, 0)
    second = go(sql, room)
    assert (second["anime_id"], second["anime_title"], second["episode_number"]) == (
        "dungeon-meshi",
        "Delicious in Dungeon",
        2,
    )
    host = lambda: sql.as_user(room.host)  # noqa: E731
    fresh_playback_budget(sql)
    refused(sql, room, "WR409", host, "queue_go", to="next")
    assert go(sql, room, "previous")["current_entry_id"] == e1["id"]
    fresh_playback_budget(sql)
    refused(sql, room, "WR409", host, "queue_go", to="previous")
    assert go(sql, room, "entry", entry_id=e2["id"])["current_entry_id"] == e2["id"]
    refused(sql, room, "WR400", host, "queue_go", to="sideways")
    refused(sql, room, "WR400", host, "queue_go", to="entry")
    # Removing the entry the room plays leaves the room on its video.
    sql.as_user(room.host).rpc("queue_remove", room_id=room.room_id, entry_id=e2["id"])
    row = snapshot(sql, room)["room"]
    assert row["current_entry_id"] is None and row["episode_number"] == 2
    assert order(sql, room) == [1]


def test_any_member_reports_the_end_and_only_the_real_end_advances(
    sql: SqlSession, room: Room, roles: dict[str, str]
) -> None:
    e1 = add(sql, room, 1)
    e2 = add(sql, room, 2)
    go(sql, room)
    member = lambda: sql.as_user(roles["member"])  # noqa: E731
    # Auto-advance is off: nothing happens.
    assert go(sql, room, "ended", roles["member"], entry_id=e1["id"])["advanced"] is False
    sql.as_user(room.host).rpc("queue_auto_advance", room_id=room.room_id, on=True)
    # Not at the end yet: nothing happens.
    sql.as_user(room.host).rpc(
        "sync_control", room_id=room.room_id, action="seek", current_time=1400.0
    )
    sql.as_admin()
    before = snapshot(sql, room)
    sql.as_user(roles["member"])
    assert (
        sql.rpc("queue_go", room_id=room.room_id, to="ended", entry_id=e1["id"])["advanced"]
        is False
    )
    assert snapshot(sql, room) == before
    sql.as_user(room.host).rpc(
        "sync_control", room_id=room.room_id, action="seek", current_time=1439.5
    )
    backdate_playback(sql, room, 0)
    first = go(sql, room, "ended", roles["member"], entry_id=e1["id"])
    assert first["advanced"] is True and first["current_entry_id"] == e2["id"]
    # A second report of the same end changes nothing.
    before = snapshot(sql, room)
    sql.as_user(roles["cohost"])
    assert (
        sql.rpc("queue_go", room_id=room.room_id, to="ended", entry_id=e1["id"])["advanced"]
        is False
    )
    assert snapshot(sql, room) == before
    # Outsiders may not report.
    refused(
        sql,
        room,
        "WRM03",
        lambda: sql.as_user(new_user()),
        "queue_go",
        to="ended",
        entry_id=e2["id"],
    )
    refused(sql, room, "WR400", member, "queue_go", to="ended")


def test_queue_edits_are_limited_to_120_an_hour(sql: SqlSession) -> None:
    room = create_room(sql)
    sql.conn.execute("update watchium.settings set max_queue_entries = 1000")
    for n in range(120):
        add(sql, room, n + 1)
    refused(sql, room, "WR429", lambda: sql.as_user(room.host), "queue_add", **ADD)


def test_anyone_who_sees_the_room_reads_its_queue(sql: SqlSession, private_room: Room) -> None:
    e1 = add(sql, private_room, 1)
    add(sql, private_room, 2)
    go(sql, private_room)
    sql.as_anon()
    with sql.raises("WR404"):
        sql.rpc("queue_get", room_id=private_room.room_id)
    member = join_room(sql, private_room, key=private_room.access_key)
    queue = sql.as_user(member).rpc("queue_get", room_id=private_room.room_id)
    assert queue["current_entry_id"] == e1["id"] and queue["auto_advance"] is False
    assert [e["episode_number"] for e in queue["entries"]] == [1, 2]
    public = create_room(sql)
    add(sql, public, 5)
    assert [
        e["episode_number"]
        for e in sql.as_anon().rpc("queue_get", room_id=public.room_id)["entries"]
    ] == [5]
