"""Comments: threads and anchors, posting rules, reading pages, analytics, authors' edits."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests._pg import SqlSession, new_user
from tests.sql.conftest import Room, create_room, join_room


@pytest.fixture(autouse=True)
def relaxed_comment_limit(sql: SqlSession, request: pytest.FixtureRequest) -> None:
    if "rate_limit" not in request.node.name:
        sql.conn.execute(
            "update watchium.rate_limit_rules set max_requests = 1000 where action = 'comments'"
        )


def post(sql: SqlSession, user: str, room: Room | None = None, **kw: Any) -> Any:
    params: dict[str, Any] = {
        "anime_id": "frieren",
        "episode_number": 1,
        "message": "hi",
        "username": "u",
    }
    if room is not None:
        params["room_id"] = room.room_id
    params.update(kw)
    return sql.as_user(user).rpc("comments_create", **params)


def anchor_of(sql: SqlSession, room: Room, episode: int = 1) -> Any:
    return sql.scalar(
        "select id from comments where is_anchor and room_id = %s and episode_number = %s",
        (room.room_id, episode),
    )


def test_comment_hangs_under_the_thread_anchor(sql: SqlSession, room: Room) -> None:
    comment = post(sql, room.host, room, message="what an opening", video_timestamp=95.5)
    sql.as_admin()
    assert comment["parent_id"] == str(anchor_of(sql, room))
    assert comment["video_timestamp"] == 95.5 and comment["is_public"] is True
    assert comment["origin_room_id"] == room.room_id and comment["is_system_message"] is False


def test_a_new_episode_gets_its_own_anchor_once(sql: SqlSession, room: Room) -> None:
    first = post(sql, room.host, room, episode_number=2)
    second = post(sql, room.host, room, episode_number=2)
    sql.as_admin()
    assert first["parent_id"] == second["parent_id"] == str(anchor_of(sql, room, 2))
    assert sql.count("comments", "is_anchor and room_id = %s", (room.room_id,)) == 2


def test_replies_stay_in_their_thread(sql: SqlSession, room: Room) -> None:
    parent = post(sql, room.host, room)
    reply = post(sql, room.host, room, parent_id=parent["id"], message="agreed")
    assert reply["parent_id"] == parent["id"]
    with sql.raises("WR409"):
        post(sql, room.host, room, parent_id=parent["id"], episode_number=2)
    with sql.raises("WRC04"):
        post(sql, room.host, room, parent_id=str(uuid.uuid4()))


def test_only_members_comment_in_a_room(sql: SqlSession, room: Room, private_room: Room) -> None:
    with sql.raises("WRM03"):
        post(sql, new_user(), room)
    with sql.raises("WR404"):
        post(sql, new_user(), private_room, anime_id="frieren")
    sql.as_anon()
    with sql.raises("42501"):  # not granted to anon
        sql.rpc("comments_create", anime_id="frieren", episode_number=1, message="x", username="x")
    assert (
        sql.count(
            "comments",
            "not is_anchor and origin_room_id in (%s, %s)",
            (room.room_id, private_room.room_id),
        )
        == 0
    )


def test_comment_must_match_the_rooms_anime(sql: SqlSession, room: Room) -> None:
    with sql.raises("WR400") as info:
        post(sql, room.host, room, anime_id="mushishi")
    assert "does not match" in info.value.diag.message_primary


def test_too_long_comment_is_too_large_and_writes_nothing(sql: SqlSession, room: Room) -> None:
    with sql.raises("WR413") as info:
        post(sql, room.host, room, message="x" * 1001)
    assert "1001 characters, at most 1000" in info.value.diag.message_primary
    post(sql, room.host, room, message="x" * 1000)
    assert sql.count("comments", "not is_anchor and room_id = %s", (room.room_id,)) == 1


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("message", "   ", "non_empty_message"),
        ("episode_number", 0, "valid_comment_episode"),
        ("video_timestamp", -1, "valid_video_timestamp"),
    ],
)
def test_invalid_comments_hit_constraints(
    sql: SqlSession, field: str, value: Any, constraint: str
) -> None:
    user = new_user()
    with sql.raises("23514") as info:
        post(sql, user, **{field: value})
    assert info.value.diag.constraint_name == constraint
    assert sql.count("comments", "user_id = %s", (user,)) == 0


def test_comments_rate_limit_is_five_per_minute(sql: SqlSession) -> None:
    user = new_user()
    for _ in range(5):
        post(sql, user)
    with sql.raises("WR429"):
        post(sql, user)
    assert sql.count("comments", "user_id = %s", (user,)) == 5


def test_global_threads_are_public_and_separate_from_rooms(sql: SqlSession) -> None:
    anime = f"a-{uuid.uuid4()}"
    room = create_room(sql, anime_id=anime)
    global_comment = post(sql, new_user(), message="global", anime_id=anime)
    post(sql, room.host, room, message="in room", anime_id=anime)
    page = sql.as_anon().rpc("comments_get_by_episode", anime_id=anime, episode_number=1)
    assert [c["message"] for c in page["comments"]] == ["global"]
    assert page["anchor"]["id"] == global_comment["parent_id"]
    assert page["anchor"]["room_id"] is None


def test_episode_thread_pages_back_in_time(sql: SqlSession, room: Room) -> None:
    for i in range(5):
        post(sql, room.host, room, message=f"m{i}")
    sql.as_anon()
    page = sql.rpc(
        "comments_get_by_episode",
        anime_id="frieren",
        episode_number=1,
        room_id=room.room_id,
        limit=2,
    )
    assert [c["message"] for c in page["comments"]] == ["m3", "m4"] and page["has_more"] is True
    page = sql.rpc(
        "comments_get_by_episode",
        anime_id="frieren",
        episode_number=1,
        room_id=room.room_id,
        limit=2,
        before=page["next_before"],
    )
    assert [c["message"] for c in page["comments"]] == ["m1", "m2"]
    page = sql.rpc(
        "comments_get_by_episode",
        anime_id="frieren",
        episode_number=1,
        room_id=room.room_id,
        limit=2,
        before=page["next_before"],
    )
    assert [c["message"] for c in page["comments"]] == ["m0"] and page["has_more"] is False


def test_private_room_threads_are_for_members(sql: SqlSession, private_room: Room) -> None:
    post(sql, private_room.host, private_room, message="secret plans")
    sql.as_user(new_user())
    with sql.raises("WR404"):
        sql.rpc(
            "comments_get_by_episode",
            anime_id="frieren",
            episode_number=1,
            room_id=private_room.room_id,
        )
    visible = sql.scalar(
        "select count(*) from comments where origin_room_id = %s", (private_room.room_id,)
    )
    assert visible == 0  # RLS: nothing of the room
    member = join_room(sql, private_room)
    page = sql.as_user(member).rpc(
        "comments_get_by_episode",
        anime_id="frieren",
        episode_number=1,
        room_id=private_room.room_id,
    )
    assert [c["message"] for c in page["comments"]] == ["secret plans"]


def test_private_comments_stay_private_after_the_room_is_deleted(
    sql: SqlSession, private_room: Room
) -> None:
    member = join_room(sql, private_room)
    post(sql, member, private_room, message="mine")
    sql.as_user(private_room.host).rpc("rooms_delete", room_id=private_room.room_id)
    query = "select message from comments where origin_room_id = %s"
    assert sql.as_user(new_user()).all(query, (private_room.room_id,)) == []
    assert [r["message"] for r in sql.as_user(member).all(query, (private_room.room_id,))] == [
        "mine"
    ]


def test_authors_edit_and_delete_their_own_comments_only(sql: SqlSession, room: Room) -> None:
    mine = post(sql, room.host, room, message="typo")
    other_user = join_room(sql, room)
    theirs = post(sql, other_user, room, message="theirs")
    sql.as_user(room.host)
    assert (
        sql.conn.execute(
            "update comments set message = 'fixed' where id = %s", (mine["id"],)
        ).rowcount
        == 1
    )
    assert (
        sql.conn.execute(
            "update comments set message = 'x' where id = %s", (theirs["id"],)
        ).rowcount
        == 0
    )
    assert sql.conn.execute("delete from comments where id = %s", (theirs["id"],)).rowcount == 0
    with sql.raises("42501"):
        sql.conn.execute("update comments set user_id = 'x' where id = %s", (mine["id"],))
    with sql.raises("WR413"):
        sql.conn.execute("update comments set message = %s where id = %s", ("y" * 1001, mine["id"]))
    assert sql.conn.execute("delete from comments where id = %s", (mine["id"],)).rowcount == 1


def test_nobody_edits_or_deletes_system_messages(sql: SqlSession, room: Room) -> None:
    anchor = anchor_of(sql, room)
    sql.as_user(room.host)
    assert (
        sql.conn.execute("update comments set message = 'x' where id = %s", (anchor,)).rowcount == 0
    )
    assert sql.conn.execute("delete from comments where id = %s", (anchor,)).rowcount == 0
    # Even a system message carrying the user's id stays untouchable.
    sql.as_admin()
    sql.conn.execute("update comments set user_id = %s where id = %s", (room.host, anchor))
    sql.as_user(room.host)
    assert sql.conn.execute("delete from comments where id = %s", (anchor,)).rowcount == 0


def test_comment_history_counts(sql: SqlSession) -> None:
    room = create_room(sql)
    bob = join_room(sql, room, username="bob")
    post(sql, room.host, room, username="host")
    post(sql, bob, room, username="bob", episode_number=2)
    post(sql, bob, room, username="bob", episode_number=2)
    history = sql.as_anon().rpc("comments_get_history", room_id=room.room_id, hours=1)
    assert history["total"] == 3 and history["participants"] == 2
    assert (
        history["by_episode"][0]["episode_number"] == 1
        and history["by_episode"][0]["comments"] == 1
    )
    assert history["by_episode"][1] | {"last_comment_at": None} == {
        "episode_number": 2,
        "comments": 2,
        "last_comment_at": None,
    }
    assert history["top_commenters"][0] == {"user_id": bob, "username": "bob", "comments": 2}
    assert sum(h["comments"] for h in history["per_hour"]) == 3


@pytest.mark.parametrize("params", [{}, {"room_id": "zzzzzzzzzz"}, {"anime_id": "a", "hours": 0}])
def test_comment_history_arguments(sql: SqlSession, params: dict[str, Any]) -> None:
    sql.as_anon()
    with sql.raises("WR404" if "room_id" in params else "WR400"):
        sql.rpc("comments_get_history", **params)
