"""Migration 022, skip together: the opening and ending of an episode, marked on its queue entry
and on the room, and skipped by the whole room at once (docs/NIGHTS.md, "Skip together")."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests._pg import SqlSession, new_user
from tests.sql.conftest import Room, join_room
from tests.sql.test_moderation import set_cohost
from tests.sql.test_queue import add, fresh_playback_budget, go

MARKS = ("opening_start", "opening_end", "ending_start", "ending_end")
OPENING_AND_ENDING = {
    "opening_start": 0.0,
    "opening_end": 90.0,
    "ending_start": 1300.0,
    "ending_end": 1390.0,
}


def snapshot(sql: SqlSession, room: Room) -> dict[str, Any]:
    """Everything marking or skipping could write, for ``room`` (read as ``postgres``)."""
    sql.as_admin()
    return {
        "room": sql.one(
            "select opening_start, opening_end, ending_start, ending_end, current_entry_id, "
            "is_playing, current_playback_time, playback_updated_at, updated_at "
            "from rooms where room_id = %s",
            (room.room_id,),
        ),
        "queue": sql.all(
            "select id, opening_start, opening_end, ending_start, ending_end, duration "
            "from room_queue where room_id = %s order by sort_key",
            (room.room_id,),
        ),
        "sync_log": sql.count("sync_states", "room_id = %s", (room.room_id,)),
        "buckets": sql.all(
            "select subject, action, tat from watchium.rate_limit_buckets order by 1, 2"
        ),
    }


def refused(sql: SqlSession, room: Room, code: str, as_role: Any, fn: str, **args: Any) -> None:
    """``fn`` called as ``as_role()`` fails with ``code`` and writes nothing."""
    before = snapshot(sql, room)
    as_role()
    with sql.raises(code):
        sql.rpc(fn, room_id=room.room_id, **args)
    assert snapshot(sql, room) == before


def marks_of(sql: SqlSession, table: str, where: str, param: Any) -> dict[str, float | None]:
    sql.as_admin()
    row = sql.one(f"select {', '.join(MARKS)} from {table} where {where} = %s", (param,))
    assert row is not None
    return {k: None if v is None else float(v) for k, v in row.items()}


def room_marks(sql: SqlSession, room: Room) -> dict[str, float | None]:
    return marks_of(sql, "rooms", "room_id", room.room_id)


def entry_marks(sql: SqlSession, entry: dict[str, Any]) -> dict[str, float | None]:
    return marks_of(sql, "room_queue", "id", entry["id"])


def set_skips(sql: SqlSession, room: Room, who: str | None = None, **marks: Any) -> Any:
    result = sql.as_user(who or room.host).rpc("rooms_set_skips", room_id=room.room_id, **marks)
    sql.as_admin()
    return result


def control(sql: SqlSession, room: Room, action: str, **kw: Any) -> None:
    fresh_playback_budget(sql)
    sql.as_user(room.host).rpc("sync_control", room_id=room.room_id, action=action, **kw)
    fresh_playback_budget(sql)


def now(sql: SqlSession) -> datetime:
    """The database's clock (the one the functions read), not this process's."""
    value = sql.scalar("select clock_timestamp()")
    assert isinstance(value, datetime)
    return value


def start_lead(sql: SqlSession) -> timedelta:
    value = sql.scalar("select start_lead from watchium.settings")
    assert isinstance(value, timedelta)
    return value


def skip(sql: SqlSession, room: Room, who: str | None = None, **kw: Any) -> Any:
    """rooms_skip as ``who`` (the host by default), with a fresh playback budget."""
    fresh_playback_budget(sql)
    result = sql.as_user(who or room.host).rpc("rooms_skip", room_id=room.room_id, **kw)
    sql.as_admin()
    return result


def playback(sql: SqlSession, room: Room) -> dict[str, Any]:
    sql.as_admin()
    row = sql.one(
        "select is_playing, current_playback_time, playback_updated_at from rooms "
        "where room_id = %s",
        (room.room_id,),
    )
    assert row is not None
    return row


@pytest.fixture
def roles(sql: SqlSession, room: Room) -> dict[str, str]:
    cohost = join_room(sql, room, username="cohost")
    member = join_room(sql, room, username="member")
    set_cohost(sql, room.host, room, cohost)
    return {"host": room.host, "cohost": cohost, "member": member}


@pytest.fixture
def marked(sql: SqlSession, room: Room, roles: dict[str, str]) -> dict[str, Any]:
    """The room plays an entry (24 minutes) whose opening and ending are marked, paused at 0."""
    entry = add(sql, room, 1, **OPENING_AND_ENDING)
    go(sql, room)
    return entry


# -- the marks ---------------------------------------------------------------------------------


BAD_MARKS = [
    pytest.param({"opening_start": 10.0}, id="opening-without-end"),
    pytest.param({"ending_end": 1390.0}, id="ending-without-start"),
    pytest.param({"opening_start": 90.0, "opening_end": 90.0}, id="opening-ends-as-it-starts"),
    pytest.param({"ending_start": 1390.0, "ending_end": 1300.0}, id="ending-ends-before-start"),
    pytest.param({"opening_start": 90.0, "opening_end": 90.004}, id="equal-once-stored"),
    pytest.param({"ending_start": 1400.0, "ending_end": 1440.01}, id="ending-past-the-episode"),
    pytest.param({"opening_start": -1.0, "opening_end": 90.0}, id="negative-start"),
    pytest.param({"ending_start": 1.0, "ending_end": 100000000.0}, id="beyond-any-position"),
]


@pytest.mark.parametrize("marks", BAD_MARKS)
def test_bad_marks_are_refused_when_queued(
    sql: SqlSession, room: Room, marks: dict[str, float]
) -> None:
    add(sql, room, 1)
    entry = {"episode_number": 2, "video_url": "https://example.com/02.mkv", "duration": 1440.0}
    refused(sql, room, "WR400", lambda: sql.as_user(room.host), "queue_add", **entry, **marks)


@pytest.mark.parametrize("marks", BAD_MARKS)
def test_bad_marks_are_refused_when_set(
    sql: SqlSession, room: Room, marked: dict[str, Any], marks: dict[str, float]
) -> None:
    refused(sql, room, "WR400", lambda: sql.as_user(room.host), "rooms_set_skips", **marks)
    assert room_marks(sql, room) == OPENING_AND_ENDING == entry_marks(sql, marked)


def test_without_an_entry_marks_are_bounded_by_positions_only(sql: SqlSession, room: Room) -> None:
    # The room's own video: no known duration, so only the position bounds hold.
    set_skips(sql, room, ending_start=5000.0, ending_end=5090.5)
    assert room_marks(sql, room) == {
        "opening_start": None,
        "opening_end": None,
        "ending_start": 5000.0,
        "ending_end": 5090.5,
    }
    host = lambda: sql.as_user(room.host)  # noqa: E731
    refused(sql, room, "WR400", host, "rooms_set_skips", opening_start=-0.5, opening_end=3.0)
    refused(sql, room, "WR400", host, "rooms_set_skips", opening_start=3.0, opening_end=2.0)


@pytest.mark.parametrize("table", ["rooms", "room_queue"])
def test_the_tables_hold_the_marks_rules_too(
    sql: SqlSession, room: Room, marked: dict[str, Any], table: str
) -> None:
    key, value = ("room_id", room.room_id) if table == "rooms" else ("id", marked["id"])
    for change in (
        "opening_end = null",
        "ending_start = null",
        "opening_start = opening_end",
        "ending_start = ending_end + 1",
        "opening_start = -1",
    ):
        with sql.raises("23514"):
            sql.conn.execute(f"update {table} set {change} where {key} = %s", (value,))
    if table == "room_queue":
        with sql.raises("23514"):
            sql.conn.execute("update room_queue set ending_end = 1441 where id = %s", (value,))


# -- who may mark and skip -------------------------------------------------------------------


def test_who_may_mark(sql: SqlSession, room: Room, roles: dict[str, str]) -> None:
    opening = {"opening_start": 10.0, "opening_end": 100.0}
    refused(sql, room, "42501", sql.as_anon, "rooms_set_skips", **opening)
    refused(sql, room, "WRH03", lambda: sql.as_user(new_user()), "rooms_set_skips", **opening)
    refused(sql, room, "WRH03", lambda: sql.as_user(roles["member"]), "rooms_set_skips", **opening)
    for n, who in enumerate(("cohost", "host"), start=1):
        set_skips(sql, room, roles[who], opening_start=float(n), opening_end=100.0)
        assert room_marks(sql, room)["opening_start"] == n
    sql.as_service(new_user())
    sql.rpc("rooms_set_skips", room_id=room.room_id, opening_start=3.0, opening_end=100.0)
    assert room_marks(sql, room)["opening_start"] == 3.0


def test_who_may_skip(
    sql: SqlSession, room: Room, marked: dict[str, Any], roles: dict[str, str]
) -> None:
    fresh_playback_budget(sql)
    refused(sql, room, "42501", sql.as_anon, "rooms_skip", segment="opening")
    refused(sql, room, "WRH03", lambda: sql.as_user(new_user()), "rooms_skip", segment="opening")
    refused(
        sql, room, "WRH03", lambda: sql.as_user(roles["member"]), "rooms_skip", segment="opening"
    )
    for who in ("cohost", "host"):
        control(sql, room, "seek", current_time=10.0)
        assert skip(sql, room, roles[who], segment="opening")["to"] == 90
        assert playback(sql, room)["current_playback_time"] == 90
    control(sql, room, "seek", current_time=10.0)
    sql.as_service(new_user())
    assert sql.rpc("rooms_skip", room_id=room.room_id, segment="opening")["to"] == 90
    assert playback(sql, room)["current_playback_time"] == 90


def test_a_private_room_is_not_there_for_outsiders(sql: SqlSession, private_room: Room) -> None:
    set_skips(sql, private_room, opening_start=0.0, opening_end=90.0)
    outsider = lambda: sql.as_user(new_user())  # noqa: E731
    fresh_playback_budget(sql)
    refused(sql, private_room, "WR404", outsider, "rooms_set_skips")
    refused(sql, private_room, "WR404", outsider, "rooms_skip", segment="opening")


# -- marks follow the queue ------------------------------------------------------------------


def test_the_room_takes_the_marks_of_the_entry_it_plays(sql: SqlSession, room: Room) -> None:
    e1 = add(sql, room, 1, **OPENING_AND_ENDING)
    e2 = add(sql, room, 2, opening_start=5.5, opening_end=95.5)
    go(sql, room)
    assert room_marks(sql, room) == OPENING_AND_ENDING == entry_marks(sql, e1)
    go(sql, room)
    assert room_marks(sql, room) == {
        "opening_start": 5.5,
        "opening_end": 95.5,
        "ending_start": None,
        "ending_end": None,
    }
    # An entry without marks clears the room's: the last episode's do not fit this one.
    add(sql, room, 3)
    go(sql, room)
    assert set(room_marks(sql, room).values()) == {None}
    assert entry_marks(sql, e2)["opening_start"] == 5.5


def test_marking_the_room_marks_the_entry_it_plays(sql: SqlSession, room: Room) -> None:
    e1 = add(sql, room, 1)
    e2 = add(sql, room, 2, **OPENING_AND_ENDING)
    go(sql, room)
    result = set_skips(sql, room, opening_start=12.0, opening_end=101.25)
    assert (result["opening_start"], result["opening_end"], result["ending_end"]) == (
        12.0,
        101.25,
        None,
    )
    mine = {"opening_start": 12.0, "opening_end": 101.25, "ending_start": None, "ending_end": None}
    assert room_marks(sql, room) == mine == entry_marks(sql, e1)
    assert entry_marks(sql, e2) == OPENING_AND_ENDING, "only the entry the room plays"
    # The entry keeps them for the next time the room plays it.
    go(sql, room)
    go(sql, room, "previous")
    assert room_marks(sql, room) == mine
    # A pair left out clears that segment, on the room and its entry.
    set_skips(sql, room)
    assert set(room_marks(sql, room).values()) == {None} == set(entry_marks(sql, e1).values())


# -- skipping --------------------------------------------------------------------------------


def test_a_paused_room_moves_to_the_end_of_the_segment_now(
    sql: SqlSession, room: Room, marked: dict[str, Any]
) -> None:
    control(sql, room, "seek", current_time=30.0)
    before = now(sql)
    result = skip(sql, room, segment="opening")
    after = now(sql)
    assert (result["skipped"], result["to"], result["live_position"]) == ("opening", 90, 90)
    state = playback(sql, room)
    assert state["is_playing"] is False and state["current_playback_time"] == 90
    assert before <= state["playback_updated_at"] <= after


@pytest.mark.parametrize("lead", [None, "1.5 seconds"])
def test_a_playing_room_starts_from_the_segments_end_start_lead_ahead(
    sql: SqlSession, room: Room, marked: dict[str, Any], lead: str | None
) -> None:
    if lead is not None:
        sql.conn.execute("update watchium.settings set start_lead = %s", (lead,))
    control(sql, room, "seek", current_time=1320.0)
    control(sql, room, "play")
    before = now(sql)
    result = skip(sql, room, segment="ending")
    after = now(sql)
    assert (result["skipped"], result["to"]) == ("ending", 1390)
    state = playback(sql, room)
    assert state["is_playing"] is True and state["current_playback_time"] == 1390
    # A scheduled start: every player holds at 1390 until then, and all start together.
    ahead = start_lead(sql)
    assert ahead == (timedelta(seconds=0.6) if lead is None else timedelta(seconds=1.5))
    assert before + ahead <= state["playback_updated_at"] <= after + ahead
    # Until that instant the room is at the segment's end, not past it.
    assert float(result["live_position"]) <= 1390


def test_the_segment_playing_now_is_the_one_skipped(
    sql: SqlSession, room: Room, marked: dict[str, Any]
) -> None:
    control(sql, room, "play")  # from 0: in the opening
    assert skip(sql, room)["skipped"] == "opening"
    assert playback(sql, room)["current_playback_time"] == 90
    control(sql, room, "pause")
    control(sql, room, "seek", current_time=1350.0)
    assert (skip(sql, room)["skipped"], playback(sql, room)["current_playback_time"]) == (
        "ending",
        1390,
    )
    host = lambda: sql.as_user(room.host)  # noqa: E731
    for outside in (90.0, 500.0, 1299.99, 1390.0):  # a segment ends where its end is
        control(sql, room, "seek", current_time=outside)
        refused(sql, room, "WR409", host, "rooms_skip")


def test_an_unmarked_or_unknown_segment_is_not_skipped(sql: SqlSession, room: Room) -> None:
    add(sql, room, 1, opening_start=0.0, opening_end=90.0)
    go(sql, room)
    host = lambda: sql.as_user(room.host)  # noqa: E731
    refused(sql, room, "WR409", host, "rooms_skip", segment="ending")
    refused(sql, room, "WR400", host, "rooms_skip", segment="middle")
    set_skips(sql, room)  # clears the opening
    refused(sql, room, "WR409", host, "rooms_skip")
    refused(sql, room, "WR409", host, "rooms_skip", segment="opening")


# -- limits ----------------------------------------------------------------------------------


def test_marking_counts_as_a_queue_edit(
    sql: SqlSession, room: Room, marked: dict[str, Any]
) -> None:
    sql.conn.execute("update watchium.rate_limit_rules set max_requests = 2 where action = 'queue'")
    sql.conn.execute("delete from watchium.rate_limit_buckets where action = 'queue'")
    set_skips(sql, room, opening_start=1.0, opening_end=80.0)
    set_skips(sql, room, opening_start=2.0, opening_end=80.0)
    refused(
        sql,
        room,
        "WR429",
        lambda: sql.as_user(room.host),
        "rooms_set_skips",
        opening_start=3.0,
        opening_end=80.0,
    )
    assert (
        room_marks(sql, room)["opening_start"] == 2.0 == entry_marks(sql, marked)["opening_start"]
    )


def test_skipping_counts_as_a_playback_change(
    sql: SqlSession, room: Room, marked: dict[str, Any]
) -> None:
    sql.conn.execute(
        "update watchium.rate_limit_rules set max_requests = 1, per = interval '1 hour' "
        "where action = 'sync_control'"
    )
    fresh_playback_budget(sql)
    sql.as_user(room.host).rpc("rooms_skip", room_id=room.room_id, segment="opening")
    refused(sql, room, "WR429", lambda: sql.as_user(room.host), "rooms_skip", segment="ending")
