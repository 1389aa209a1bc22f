"""Living comments: timed replay, spoiler gating, reactions and read state, as anon, an
outsider, a member, the host and service_role (docs/COMMENTS.md)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests._pg import SqlSession, new_user
from tests.sql.conftest import Room, create_room, join_room


@pytest.fixture(autouse=True)
def relaxed_comment_limit(sql: SqlSession, request: pytest.FixtureRequest) -> None:
    if "rate_limit" not in request.node.name:
        sql.conn.execute(
            "update watchium.rate_limit_rules set max_requests = 1000 "
            "where action in ('comments', 'reactions')"
        )


@pytest.fixture
def anime() -> str:
    """An anime of its own, so the episode's comments are the test's only."""
    return f"a-{uuid.uuid4()}"


def post(sql: SqlSession, user: str, room: Room | None, anime: str, **kw: Any) -> Any:
    params: dict[str, Any] = {
        "anime_id": anime,
        "episode_number": 1,
        "message": "hi",
        "username": "u",
    }
    if room is not None:
        params["room_id"] = room.room_id
    params.update(kw)
    result = sql.as_user(user).rpc("comments_create", **params)
    sql.as_admin()
    return result


def replay(sql: SqlSession, anime: str, start: float, end: float, **kw: Any) -> list[Any]:
    window = sql.rpc(
        "comments_replay", anime_id=anime, episode_number=1, start=start, end=end, **kw
    )
    return [(c["video_timestamp"], c["message"]) for c in window["comments"]]


def thread(sql: SqlSession, anime: str, room: Room | None = None, **kw: Any) -> Any:
    if room is not None:
        kw["room_id"] = room.room_id
    return sql.rpc("comments_get_by_episode", anime_id=anime, episode_number=1, **kw)


# -- timed replay ------------------------------------------------------------------------------


def test_replay_brings_every_partys_timed_comments_in_video_order(
    sql: SqlSession, anime: str
) -> None:
    first = create_room(sql, anime_id=anime)
    second = create_room(sql, anime_id=anime)
    post(sql, first.host, first, anime, message="opening!", video_timestamp=12.5)
    post(sql, second.host, second, anime, message="so good", video_timestamp=10.0)
    post(sql, new_user(), None, anime, message="global one", video_timestamp=11.0)
    post(sql, first.host, first, anime, message="no timestamp")
    post(sql, first.host, first, anime, message="later", video_timestamp=40.0)
    viewer = new_user()
    assert replay(sql.as_user(viewer), anime, 0, 30) == [
        (10.0, "so good"),
        (11.0, "global one"),
        (12.5, "opening!"),
    ]
    assert replay(sql.as_anon(), anime, 30, 60) == [(40.0, "later")]
    # The window is [from, to): a comment at its end belongs to the next one.
    assert replay(sql.as_anon(), anime, 0, 12.5) == [(10.0, "so good"), (11.0, "global one")]


def test_private_rooms_comments_never_replay_to_outsiders(sql: SqlSession, anime: str) -> None:
    private = create_room(sql, anime_id=anime, public=False)
    member = join_room(sql, private)
    post(sql, private.host, private, anime, message="secret", video_timestamp=5.0)
    post(sql, new_user(), None, anime, message="public", video_timestamp=6.0)
    assert replay(sql.as_anon(), anime, 0, 60) == [(6.0, "public")]
    assert replay(sql.as_user(new_user()), anime, 0, 60) == [(6.0, "public")]
    # An outsider naming the room is told it does not exist.
    with sql.raises("WR404"):
        replay(sql.as_user(new_user()), anime, 0, 60, room_id=private.room_id)
    assert replay(sql.as_user(member), anime, 0, 60, room_id=private.room_id) == [
        (5.0, "secret"),
        (6.0, "public"),
    ]
    assert replay(sql.as_user(private.host), anime, 0, 60) == [(5.0, "secret"), (6.0, "public")]
    assert replay(sql.as_service(), anime, 0, 60) == [(5.0, "secret"), (6.0, "public")]
    # Still private once the room is gone: only the author sees it.
    sql.as_user(private.host).rpc("rooms_delete", room_id=private.room_id)
    assert replay(sql.as_user(member), anime, 0, 60) == [(6.0, "public")]
    assert replay(sql.as_user(private.host), anime, 0, 60) == [(5.0, "secret"), (6.0, "public")]


def test_replay_is_capped_per_second_of_video_own_room_first(sql: SqlSession, anime: str) -> None:
    room = create_room(sql, anime_id=anime)
    for i in range(6):
        post(sql, new_user(), None, anime, message=f"g{i}", video_timestamp=3.0 + i / 10)
    post(sql, room.host, room, anime, message="ours", video_timestamp=3.9)
    sql.as_anon()
    capped = replay(sql, anime, 0, 10)
    assert [m for _, m in capped] == ["g0", "g1", "g2", "g3"]  # settings.replay_per_second
    mine = replay(sql.as_user(room.host), anime, 0, 10, room_id=room.room_id)
    assert "ours" in [m for _, m in mine] and len(mine) == 4
    assert replay(sql, anime, 0, 10, per_second=2) == [(3.0, "g0"), (3.1, "g1")]
    # A viewer may ask for fewer, never for more.
    assert len(replay(sql, anime, 0, 10, per_second=50)) == 4
    only_room = replay(sql.as_user(room.host), anime, 0, 10, room_id=room.room_id, only_room=True)
    assert only_room == [(3.9, "ours")]


@pytest.mark.parametrize(
    ("start", "end", "extra"),
    [
        (10, 10, {}),
        (-1, 5, {}),
        (0, 121, {}),
        (0, 10, {"per_second": 0}),
        (0, 10, {"only_room": True}),
    ],
)
def test_replay_refuses_bad_windows(
    sql: SqlSession, anime: str, start: float, end: float, extra: dict[str, Any]
) -> None:
    sql.as_anon()
    with sql.raises("WR400"):
        replay(sql, anime, start, end, **extra)


def test_the_replay_window_reads_the_index(sql: SqlSession, anime: str) -> None:
    # On a table this small any plan is fast; bench/comment_replay.py checks the plan at scale.
    sql.conn.execute("set local enable_seqscan = off")
    plan = sql.all(
        "explain (format text) select c.id from public.comments c "
        "where c.anime_id = %s and c.episode_number = 1 and c.video_timestamp >= 0 "
        "and c.video_timestamp < 30 and c.video_timestamp is not null and not c.is_system_message",
        (anime,),
    )
    text = "\n".join(r["QUERY PLAN"] for r in plan)
    assert "idx_comments_replay" in text, text


# -- spoilers ----------------------------------------------------------------------------------


def test_a_spoiler_is_not_returned_before_its_time_unless_asked(
    sql: SqlSession, anime: str
) -> None:
    room = create_room(sql, anime_id=anime)
    member = join_room(sql, room)
    post(sql, room.host, room, anime, message="early", video_timestamp=30.0)
    post(sql, room.host, room, anime, message="the twist!", video_timestamp=600.0)
    post(sql, room.host, room, anime, message="untimed")
    post(sql, member, room, anime, message="my own late one", video_timestamp=900.0)

    # The member is where the room is: paused at 0 s.
    page = thread(sql.as_user(member), anime, room)
    shown = [(c["message"], c["is_spoiler"]) for c in page["comments"]]
    assert shown == [
        (None, True),  # "early", at 30 s
        (None, True),  # "the twist!", at 600 s
        ("untimed", False),
        ("my own late one", False),  # your own comment is never a spoiler to you
    ]
    assert page["spoilers_hidden"] == 2 and page["progress"]["position"] == 0
    assert "the twist!" not in str(page)

    # At 60 s the early one is reached; the twist is still hidden.
    page = thread(sql.as_user(member), anime, room, position=60)
    assert [c["message"] for c in page["comments"]][:2] == ["early", None]
    # Asking to see spoilers shows them, marked.
    page = thread(sql.as_user(member), anime, room, position=60, reveal_spoilers=True)
    marked = [c["message"] for c in page["comments"] if c["is_spoiler"]]
    assert marked == ["the twist!"] and page["spoilers_hidden"] == 0

    # The room's own position counts: seek the room past the twist.
    sql.as_user(room.host).rpc(
        "sync_control", room_id=room.room_id, action="seek", current_time=700
    )
    page = thread(sql.as_user(member), anime, room)
    assert page["spoilers_hidden"] == 0
    assert "the twist!" in [c["message"] for c in page["comments"]]


def test_a_later_episode_is_all_spoilers_for_an_earlier_viewer(sql: SqlSession, anime: str) -> None:
    room = create_room(sql, anime_id=anime)  # the room watches episode 1
    post(sql, new_user(), None, anime, message="ep 2 talk", episode_number=2)
    post(sql, new_user(), None, anime, message="ep 2 stamped", episode_number=2, video_timestamp=1)
    page = sql.as_user(room.host).rpc(
        "comments_get_by_episode", anime_id=anime, episode_number=2, position=5
    )
    # p_position is where the caller is in the episode it asks for.
    assert {c["message"] for c in page["comments"]} == {"ep 2 talk", "ep 2 stamped"}
    page = sql.as_user(room.host).rpc(
        "comments_get_by_episode", anime_id=anime, episode_number=2, room_id=room.room_id
    )
    assert page["comments"] == []  # the room's thread of episode 2 is empty
    # Without a position, a viewer outside any room of the thread is at the episode's start.
    page = sql.as_anon().rpc("comments_get_by_episode", anime_id=anime, episode_number=2)
    assert [c["message"] for c in page["comments"]] == ["ep 2 talk", None]


def test_a_member_behind_sees_the_later_episode_of_their_anime_as_spoilers(
    sql: SqlSession, anime: str
) -> None:
    room = create_room(sql, anime_id=anime, episode_number=1)
    later = create_room(sql, anime_id=anime, episode_number=3)
    post(sql, later.host, later, anime, episode_number=3, message="ep3 untimed")
    member = join_room(sql, later)
    page = sql.as_user(room.host).rpc(
        "comments_get_by_episode", anime_id=anime, episode_number=3, room_id=later.room_id
    )
    # Not a member of `later`: no room progress, so the start of episode 3: untimed is fine.
    assert [c["message"] for c in page["comments"]] == ["ep3 untimed"]
    page = sql.as_user(member).rpc(
        "comments_get_by_episode", anime_id=anime, episode_number=3, room_id=later.room_id
    )
    assert [c["message"] for c in page["comments"]] == ["ep3 untimed"]


def test_thread_position_is_validated(sql: SqlSession, anime: str) -> None:
    sql.as_anon()
    with sql.raises("WR400"):
        thread(sql, anime, position=-1)


# -- reactions ---------------------------------------------------------------------------------


def react(sql: SqlSession, user: str, comment: Any, emoji: str = "👍", **kw: Any) -> Any:
    result = sql.as_user(user).rpc("comments_react", comment_id=comment["id"], emoji=emoji, **kw)
    sql.as_admin()
    return result


def counts_of(sql: SqlSession, comment: Any) -> Any:
    return sql.scalar(
        "select counts from comment_reaction_counts where comment_id = %s", (comment["id"],)
    )


def test_one_reaction_per_user_per_emoji_and_live_counts(sql: SqlSession, room: Room) -> None:
    anime = "frieren"
    comment = post(sql, room.host, room, anime, message="react to me")
    member = join_room(sql, room)
    outsider = new_user()  # a public room's comment is visible to everyone signed in
    assert react(sql, member, comment)["counts"] == {"👍": 1}
    again = react(sql, member, comment)
    assert again["changed"] is False and again["counts"] == {"👍": 1}
    react(sql, member, comment, "🔥")
    result = react(sql, outsider, comment)
    assert result["counts"] == {"👍": 2, "🔥": 1} and result["total"] == 3
    assert sql.count("comment_reactions", "comment_id = %s", (comment["id"],)) == 3
    off = react(sql, member, comment, "🔥", on=False)
    assert off["counts"] == {"👍": 2} and off["total"] == 2
    assert counts_of(sql, comment) == {"👍": 2}
    # service_role acts for a named user.
    sql.as_service()
    sql.rpc("comments_react", comment_id=comment["id"], emoji="😂", user_id=new_user())
    assert counts_of(sql, comment) == {"👍": 2, "😂": 1}
    # Each user reads their own reactions only.
    mine = sql.as_user(member).all("select emoji from comment_reactions")
    assert mine == [{"emoji": "👍"}]


def test_a_reaction_on_a_comment_you_cannot_see_is_refused(
    sql: SqlSession, private_room: Room
) -> None:
    anime = "frieren"
    comment = post(sql, private_room.host, private_room, anime, message="members only")
    outsider = new_user()
    with sql.raises("WRC04"):
        react(sql, outsider, comment)
    with sql.raises("WRC04"):
        sql.as_user(outsider).rpc("comments_react", comment_id=str(uuid.uuid4()), emoji="👍")
    sql.as_anon()
    with sql.raises("42501"):  # not granted to anon: a reaction needs a user
        sql.rpc("comments_react", comment_id=comment["id"], emoji="👍")
    assert sql.count("comment_reactions", "comment_id = %s", (comment["id"],)) == 0
    assert sql.count("comment_reaction_counts", "comment_id = %s", (comment["id"],)) == 0
    member = join_room(sql, private_room)
    assert react(sql, member, comment)["counts"] == {"👍": 1}
    # The counts row is as visible as its comment.
    assert (
        sql.as_user(outsider).all(
            "select * from comment_reaction_counts where comment_id = %s", (comment["id"],)
        )
        == []
    )
    assert (
        len(
            sql.as_user(member).all(
                "select * from comment_reaction_counts where comment_id = %s", (comment["id"],)
            )
        )
        == 1
    )


@pytest.mark.parametrize("emoji", ["💩", "", "👍👍", "like"])
def test_only_the_fixed_set_of_emoji(sql: SqlSession, room: Room, emoji: str) -> None:
    comment = post(sql, room.host, room, "frieren")
    with sql.raises("WR400"):
        react(sql, room.host, comment, emoji)
    assert sql.count("comment_reactions", "comment_id = %s", (comment["id"],)) == 0


def test_anchors_take_no_reactions(sql: SqlSession, room: Room) -> None:
    comment = post(sql, room.host, room, "frieren")
    with sql.raises("WR400"):
        sql.as_user(room.host).rpc("comments_react", comment_id=comment["parent_id"], emoji="👍")
    assert sql.count("comment_reactions", "comment_id = %s", (comment["parent_id"],)) == 0


def test_reactions_rate_limit_is_thirty_per_minute(sql: SqlSession, room: Room) -> None:
    comment = post(sql, room.host, room, "frieren")
    user = new_user()
    for i in range(30):
        react(sql, user, comment, "👍", on=i % 2 == 0)
    with sql.raises("WR429") as info:
        react(sql, user, comment, "🔥")
    assert json.loads(info.value.diag.message_detail or "{}")["action"] == "reactions"
    assert sql.count("comment_reactions", "comment_id = %s and emoji = '🔥'", (comment["id"],)) == 0


def test_nobody_writes_reactions_directly(sql: SqlSession, room: Room) -> None:
    comment = post(sql, room.host, room, "frieren")
    sql.as_user(room.host)
    with sql.raises("42501"):
        sql.conn.execute(
            "insert into comment_reactions (comment_id, user_id, emoji) values (%s, %s, '👍')",
            (comment["id"], room.host),
        )
    with sql.raises("42501"):
        sql.conn.execute(
            "insert into comment_reaction_counts (comment_id, counts, total) "
            "values (%s, '{\"👍\": 99}', 99)",
            (comment["id"],),
        )
    assert sql.count("comment_reaction_counts", "comment_id = %s", (comment["id"],)) == 0


def test_reactions_go_with_their_comment(sql: SqlSession, room: Room) -> None:
    comment = post(sql, room.host, room, "frieren")
    react(sql, room.host, comment)
    sql.as_user(room.host).conn.execute("delete from comments where id = %s", (comment["id"],))
    assert sql.count("comment_reactions", "comment_id = %s", (comment["id"],)) == 0
    assert sql.count("comment_reaction_counts", "comment_id = %s", (comment["id"],)) == 0


# -- read state --------------------------------------------------------------------------------


def test_a_rejoining_member_sees_how_many_are_new(sql: SqlSession, room: Room) -> None:
    anime = "frieren"
    member = join_room(sql, room)
    post(sql, room.host, room, anime, message="one")
    last = post(sql, member, room, anime, message="mine")
    state = sql.as_user(member).rpc(
        "comments_mark_read", anime_id=anime, episode_number=1, room_id=room.room_id
    )
    assert state["new_count"] == 0 and state["last_read_comment_id"] == last["id"]
    sql.as_user(member).rpc("rooms_leave", room_id=room.room_id)
    sql.as_admin()
    for i in range(3):
        post(sql, room.host, room, anime, message=f"while away {i}")
    post(sql, member, None, anime, message="elsewhere")  # another thread: not counted
    join_room(sql, room, member)
    unread = sql.as_user(member).rpc(
        "comments_unread", anime_id=anime, episode_number=1, room_id=room.room_id
    )
    assert unread["new_count"] == 3
    # The read point only moves forward.
    back = sql.as_user(member).rpc(
        "comments_mark_read",
        anime_id=anime,
        episode_number=1,
        room_id=room.room_id,
        comment_id=last["id"],
    )
    assert back["new_count"] == 3
    assert (
        sql.as_user(member).rpc(
            "comments_mark_read", anime_id=anime, episode_number=1, room_id=room.room_id
        )["new_count"]
        == 0
    )
    # Each reader reads their own state only.
    assert (
        sql.as_user(room.host).all("select * from comment_reads where user_id = %s", (member,))
        == []
    )


def test_read_state_is_refused_for_what_you_cannot_see(sql: SqlSession, private_room: Room) -> None:
    anime = "frieren"
    secret = post(sql, private_room.host, private_room, anime, message="secret")
    outsider = new_user()
    with sql.raises("WR404"):
        sql.as_user(outsider).rpc(
            "comments_unread", anime_id=anime, episode_number=1, room_id=private_room.room_id
        )
    with sql.raises("WR404"):
        sql.as_user(outsider).rpc(
            "comments_mark_read", anime_id=anime, episode_number=1, room_id=private_room.room_id
        )
    with sql.raises("WRC04"):  # naming the comment in the global thread instead
        sql.as_user(outsider).rpc(
            "comments_mark_read", anime_id=anime, episode_number=1, comment_id=secret["id"]
        )
    sql.as_anon()
    with sql.raises("42501"):
        sql.rpc("comments_unread", anime_id=anime, episode_number=1)
    assert sql.count("comment_reads", "user_id = %s", (outsider,)) == 0


def test_marking_a_comment_of_another_thread_is_a_conflict(sql: SqlSession, room: Room) -> None:
    other = post(sql, room.host, room, "frieren", episode_number=2)
    post(sql, room.host, room, "frieren")
    with sql.raises("WR409"):
        sql.as_user(room.host).rpc(
            "comments_mark_read",
            anime_id="frieren",
            episode_number=1,
            room_id=room.room_id,
            comment_id=other["id"],
        )
    assert sql.count("comment_reads", "user_id = %s", (room.host,)) == 0


def test_a_thread_without_comments_has_nothing_new(sql: SqlSession, anime: str) -> None:
    state = sql.as_user(new_user()).rpc("comments_mark_read", anime_id=anime, episode_number=7)
    assert state == {
        "anchor_id": None,
        "last_read_at": None,
        "last_read_comment_id": None,
        "new_count": 0,
        "latest_at": None,
    }
    assert sql.count("comments", "anime_id = %s", (anime,)) == 0


def test_cleanup_forgets_read_state_unused_past_retention(sql: SqlSession, room: Room) -> None:
    post(sql, room.host, room, "frieren")
    old, recent = new_user(), new_user()
    for user in (old, recent):
        sql.as_user(user).rpc(
            "comments_mark_read", anime_id="frieren", episode_number=1, room_id=room.room_id
        )
    sql.as_admin()
    sql.conn.execute(
        "update comment_reads set updated_at = now() - interval '91 days' where user_id = %s",
        (old,),
    )
    counts = sql.scalar("select watchium.cleanup_realtime_data()")
    assert counts["read_states_deleted"] >= 1
    left = {
        r["user_id"]
        for r in sql.all(
            "select user_id from comment_reads where user_id in (%s, %s)", (old, recent)
        )
    }
    assert left == {recent}
