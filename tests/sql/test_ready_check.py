# Over 500 lines: every rule of the ready check (who may open, answer, settle and cancel; held
# answers; the deadline; members joining and leaving; privileges; limits), each refusal checked to
# write nothing.
"""Migration 023: the ready check, the whole room starting the next episode together
(docs/NIGHTS.md, "Ready check")."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests._pg import SqlSession, new_user
from tests.sql.conftest import Room, create_room, join_room
from tests.sql.test_moderation import moderate, set_cohost
from tests.sql.test_queue import add, fresh_playback_budget, go


def snapshot(sql: SqlSession, room: Room) -> dict[str, Any]:
    """Everything a ready check call could write, for ``room`` (read as ``postgres``)."""
    sql.as_admin()
    return {
        "check": sql.one("select * from ready_checks where room_id = %s", (room.room_id,)),
        "answers": sql.all(
            "select check_id, user_id, ready, responded_at from watchium.ready_responses "
            "where room_id = %s order by user_id",
            (room.room_id,),
        ),
        "room": sql.one(
            "select current_entry_id, episode_number, is_playing, current_playback_time, "
            "playback_updated_at, updated_at from rooms where room_id = %s",
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


def start(sql: SqlSession, room: Room, who: str | None = None, **kw: Any) -> Any:
    """ready_check_start as ``who`` (the host by default); returns the check."""
    fresh_playback_budget(sql)
    result = sql.as_user(who or room.host).rpc("ready_check_start", room_id=room.room_id, **kw)
    sql.as_admin()
    return result["check"]


def respond(sql: SqlSession, room: Room, who: str, check: Any, ready: bool = True) -> Any:
    fresh_playback_budget(sql)
    result = sql.as_user(who).rpc(
        "ready_check_respond", room_id=room.room_id, check_id=check["check_id"], ready=ready
    )
    sql.as_admin()
    return result


def settle(sql: SqlSession, room: Room, who: str, check: Any, cancel: bool = False) -> Any:
    fresh_playback_budget(sql)
    result = sql.as_user(who).rpc(
        "ready_check_settle", room_id=room.room_id, check_id=check["check_id"], cancel=cancel
    )
    sql.as_admin()
    return result


def row(sql: SqlSession, room: Room) -> dict[str, Any]:
    sql.as_admin()
    check = sql.one("select * from ready_checks where room_id = %s", (room.room_id,))
    assert check is not None
    return check


def playback(sql: SqlSession, room: Room) -> dict[str, Any]:
    sql.as_admin()
    state = sql.one(
        "select is_playing, current_playback_time, playback_updated_at from rooms "
        "where room_id = %s",
        (room.room_id,),
    )
    assert state is not None
    return state


def now(sql: SqlSession) -> datetime:
    """The database's clock (the one the functions read), not this process's."""
    value = sql.scalar("select clock_timestamp()")
    assert isinstance(value, datetime)
    return value


def start_lead(sql: SqlSession) -> timedelta:
    value = sql.scalar("select start_lead from watchium.settings")
    assert isinstance(value, timedelta)
    return value


def publish_at_once(sql: SqlSession) -> None:
    """Every answer rewrites the row (the interval itself: test_answers_within_the_interval_...)."""
    sql.as_admin()
    sql.conn.execute("update watchium.settings set ready_publish_interval = interval '0'")


def let_the_interval_pass(sql: SqlSession, room: Room) -> None:
    """Pretend the row was last rewritten two intervals ago."""
    sql.as_admin()
    sql.conn.execute(
        "update ready_checks set published_at = published_at - 2 * "
        "(select ready_publish_interval from watchium.settings) where room_id = %s",
        (room.room_id,),
    )


def pass_the_deadline(sql: SqlSession, room: Room) -> None:
    sql.as_admin()
    sql.conn.execute(
        "update ready_checks set started_at = started_at - interval '1 hour', "
        "deadline = clock_timestamp() - interval '1 second' where room_id = %s",
        (room.room_id,),
    )


def assert_started_together(sql: SqlSession, room: Room, before: datetime, after: datetime) -> None:
    """The room plays, its start scheduled settings.start_lead after the change."""
    state = playback(sql, room)
    lead = start_lead(sql)
    assert state["is_playing"] is True
    assert before + lead <= state["playback_updated_at"] <= after + lead


@pytest.fixture
def party(sql: SqlSession, room: Room) -> dict[str, str]:
    """A public room with a host, a co-host and a member."""
    cohost = join_room(sql, room, username="cohost")
    member = join_room(sql, room, username="member")
    set_cohost(sql, room.host, room, cohost)
    return {"host": room.host, "cohost": cohost, "member": member}


# -- who may do what -------------------------------------------------------------------------


def test_who_may_open_a_check(
    sql: SqlSession, room: Room, private_room: Room, party: dict[str, str]
) -> None:
    refused(sql, room, "42501", sql.as_anon, "ready_check_start")
    refused(sql, room, "WRH03", lambda: sql.as_user(new_user()), "ready_check_start")
    refused(sql, room, "WRH03", lambda: sql.as_user(party["member"]), "ready_check_start")
    refused(sql, private_room, "WR404", lambda: sql.as_user(new_user()), "ready_check_start")
    for who in ("cohost", "host"):
        check = start(sql, room, party[who])
        assert (check["status"], check["started_by"]) == ("open", party[who])
        settle(sql, room, room.host, check, cancel=True)
    admin = new_user()
    sql.as_service(admin)
    check = sql.rpc("ready_check_start", room_id=room.room_id)["check"]
    assert (check["status"], check["started_by"]) == ("open", admin)


def test_service_role_may_open_a_check_in_a_playing_room(sql: SqlSession, room: Room) -> None:
    fresh_playback_budget(sql)
    sql.as_user(room.host).rpc("sync_control", room_id=room.room_id, action="play")
    fresh_playback_budget(sql)
    sql.as_service(new_user())
    sql.rpc("ready_check_start", room_id=room.room_id)
    assert playback(sql, room)["is_playing"] is False
    assert row(sql, room)["status"] == "open"


def test_who_may_answer(
    sql: SqlSession, room: Room, private_room: Room, party: dict[str, str]
) -> None:
    check = start(sql, room)
    refused(sql, room, "42501", sql.as_anon, "ready_check_respond", check_id=check["check_id"])
    outsider = lambda: sql.as_user(new_user())  # noqa: E731
    refused(sql, room, "WRM03", outsider, "ready_check_respond", check_id=check["check_id"])
    secret = start(sql, private_room)
    refused(
        sql, private_room, "WR404", outsider, "ready_check_respond", check_id=secret["check_id"]
    )
    # A service acting for someone still answers for a member only.
    refused(
        sql,
        room,
        "WRM03",
        lambda: sql.as_service(new_user()),
        "ready_check_respond",
        check_id=check["check_id"],
    )
    answer = respond(sql, room, party["member"], check)
    assert answer["status"] == "open" and answer["check_id"] == check["check_id"]
    assert snapshot(sql, room)["answers"][0]["user_id"] == party["member"]


def test_who_may_settle_and_cancel(
    sql: SqlSession, room: Room, private_room: Room, party: dict[str, str]
) -> None:
    check = start(sql, room)
    assert settle(sql, room, party["member"], check)["status"] == "open"
    outsider = lambda: sql.as_user(new_user())  # noqa: E731
    refused(sql, room, "WRM03", outsider, "ready_check_settle", check_id=check["check_id"])
    refused(sql, room, "42501", sql.as_anon, "ready_check_settle", check_id=check["check_id"])
    secret = start(sql, private_room)
    refused(sql, private_room, "WR404", outsider, "ready_check_settle", check_id=secret["check_id"])
    member = lambda: sql.as_user(party["member"])  # noqa: E731
    refused(
        sql, room, "WRH03", member, "ready_check_settle", check_id=check["check_id"], cancel=True
    )
    refused(
        sql, room, "WRH03", outsider, "ready_check_settle", check_id=check["check_id"], cancel=True
    )
    before = playback(sql, room)
    cancelled = settle(sql, room, party["cohost"], check, cancel=True)
    assert cancelled["status"] == "cancelled" and cancelled["settled_at"] is not None
    assert playback(sql, room) == before, "a cancelled check does not start the room"
    # Everyone answering a cancelled check changes nothing.
    for who in party.values():
        respond(sql, room, who, check)
    assert row(sql, room)["status"] == "cancelled" and playback(sql, room) == before


# -- opening ---------------------------------------------------------------------------------


def test_one_check_at_a_time(sql: SqlSession, room: Room, party: dict[str, str]) -> None:
    first = start(sql, room)
    host = lambda: sql.as_user(room.host)  # noqa: E731
    cohost = lambda: sql.as_user(party["cohost"])  # noqa: E731
    refused(sql, room, "WR409", cohost, "ready_check_start")
    settle(sql, room, room.host, first, cancel=True)
    second = start(sql, room)
    assert second["check_id"] != first["check_id"]
    member = lambda: sql.as_user(party["member"])  # noqa: E731
    for fn in ("ready_check_respond", "ready_check_settle"):
        refused(sql, room, "WR409", member, fn, check_id=first["check_id"])
        refused(sql, room, "WR409", member, fn, check_id=new_user())
    refused(sql, room, "WR409", host, "ready_check_settle", check_id=first["check_id"], cancel=True)


def test_a_check_past_its_deadline_that_nobody_settled_is_replaced(
    sql: SqlSession, room: Room, party: dict[str, str]
) -> None:
    """Every session may have gone before the deadline's settle: the host is not stuck."""
    first = start(sql, room)
    respond(sql, room, party["member"], first)
    pass_the_deadline(sql, room)
    assert row(sql, room)["status"] == "open"
    second = start(sql, room)
    assert second["check_id"] != first["check_id"] and second["status"] == "open"
    assert snapshot(sql, room)["answers"] == []
    member = lambda: sql.as_user(party["member"])  # noqa: E731
    refused(sql, room, "WR409", member, "ready_check_respond", check_id=first["check_id"])


def test_refusals_say_what_was_refused(sql: SqlSession, room: Room, party: dict[str, str]) -> None:
    sql.as_user(party["member"])
    with sql.raises("WRH03") as refusal:
        sql.rpc("ready_check_start", room_id=room.room_id)
    assert "start a ready check" in str(refusal.value)


def test_answers_without_a_check_are_refused(sql: SqlSession, room: Room) -> None:
    host = lambda: sql.as_user(room.host)  # noqa: E731
    refused(sql, room, "WR409", host, "ready_check_respond", check_id=new_user())
    refused(sql, room, "WR409", host, "ready_check_settle", check_id=new_user())


@pytest.mark.parametrize(
    "args",
    [
        pytest.param({"timeout": 4.9}, id="timeout-too-short"),
        pytest.param({"timeout": 300.5}, id="timeout-too-long"),
        pytest.param({"to": "sideways"}, id="unknown-destination"),
        pytest.param({"to": "entry"}, id="entry-without-id"),
        pytest.param(
            {"to": "entry", "entry_id": "6a3c1b1e-0000-4000-8000-000000000000"},
            id="entry-of-no-queue",
        ),
    ],
)
def test_bad_starts_are_refused(sql: SqlSession, room: Room, args: dict[str, Any]) -> None:
    add(sql, room, 1)
    fresh_playback_budget(sql)
    refused(sql, room, "WR400", lambda: sql.as_user(room.host), "ready_check_start", **args)


def test_next_with_nothing_queued_is_refused(sql: SqlSession, room: Room) -> None:
    fresh_playback_budget(sql)
    refused(sql, room, "WR409", lambda: sql.as_user(room.host), "ready_check_start", to="next")
    entry = add(sql, room, 1)
    go(sql, room)
    fresh_playback_budget(sql)
    refused(sql, room, "WR409", lambda: sql.as_user(room.host), "ready_check_start", to="next")
    assert playback(sql, room)["is_playing"] is False
    current = sql.scalar("select current_entry_id from rooms where room_id = %s", (room.room_id,))
    assert str(current) == entry["id"]


def test_the_timeout_sets_the_deadline(sql: SqlSession, room: Room) -> None:
    for timeout, seconds in ((None, 30), (5, 5), (300, 300), (12.5, 12.5)):
        check = start(sql, room, **({} if timeout is None else {"timeout": timeout}))
        opened = row(sql, room)
        assert opened["deadline"] - opened["started_at"] == timedelta(seconds=seconds)
        settle(sql, room, room.host, check, cancel=True)


def test_a_check_moves_the_room_to_the_next_episode_paused(
    sql: SqlSession, room: Room, party: dict[str, str]
) -> None:
    e1 = add(sql, room, 1)
    e2 = add(sql, room, 2)
    go(sql, room)
    fresh_playback_budget(sql)
    sql.as_user(room.host).rpc("sync_control", room_id=room.room_id, action="play")
    fresh_playback_budget(sql)
    result = sql.as_user(party["cohost"]).rpc("ready_check_start", room_id=room.room_id, to="next")
    sql.as_admin()
    assert result["room"]["current_entry_id"] == e2["id"]
    assert (result["room"]["is_playing"], result["room"]["current_playback_time"]) == (False, 0)
    check = result["check"]
    assert (check["entry_id"], check["expected_count"], check["ready_count"]) == (e2["id"], 3, 0)
    assert check["ready_user_ids"] == [] and check["held"] == 0
    settle(sql, room, room.host, check, cancel=True)
    moved = start(sql, room, to="entry", entry_id=e1["id"])
    assert moved["entry_id"] == e1["id"]
    assert sql.scalar("select episode_number from rooms where room_id = %s", (room.room_id,)) == 1


def test_a_check_of_this_episode_pauses_a_playing_room(sql: SqlSession, room: Room) -> None:
    fresh_playback_budget(sql)
    sql.as_user(room.host).rpc(
        "sync_control", room_id=room.room_id, action="seek", current_time=600.0
    )
    fresh_playback_budget(sql)
    sql.as_user(room.host).rpc("sync_control", room_id=room.room_id, action="play")
    check = start(sql, room)
    state = playback(sql, room)
    assert state["is_playing"] is False and state["current_playback_time"] >= 600
    assert check["entry_id"] is None


# -- answers and the start -------------------------------------------------------------------


def test_the_last_member_ready_starts_the_room(
    sql: SqlSession, room: Room, party: dict[str, str]
) -> None:
    add(sql, room, 1)
    check = start(sql, room, to="next")
    for who in ("host", "cohost"):
        assert respond(sql, room, party[who], check)["status"] == "open"
        assert playback(sql, room)["is_playing"] is False
    before = now(sql)
    last = respond(sql, room, party["member"], check)
    after = now(sql)
    assert last["status"] == "passed" and last["held"] == 0
    assert last["ready_user_ids"] == sorted(party.values())
    assert (last["ready_count"], last["expected_count"]) == (3, 3)
    assert before <= datetime.fromisoformat(last["settled_at"]) <= after
    assert_started_together(sql, room, before, after)
    assert playback(sql, room)["current_playback_time"] == 0
    # Answering or settling a check that is over changes nothing.
    done = snapshot(sql, room)
    sql.as_user(party["member"])
    assert (
        sql.rpc(
            "ready_check_respond", room_id=room.room_id, check_id=check["check_id"], ready=False
        )["status"]
        == "passed"
    )
    assert (
        sql.rpc("ready_check_settle", room_id=room.room_id, check_id=check["check_id"])["status"]
        == "passed"
    )
    assert snapshot(sql, room) == done


def test_answers_within_the_interval_are_held_then_published(
    sql: SqlSession, room: Room, party: dict[str, str]
) -> None:
    check = start(sql, room)
    let_the_interval_pass(sql, room)
    first = respond(sql, room, party["host"], check)
    assert first["held"] == 0 and first["ready_user_ids"] == [party["host"]]
    published = row(sql, room)
    # A second answer right after: stored, but the row is not rewritten yet.
    second = respond(sql, room, party["cohost"], check)
    assert 0 < second["held"] <= 1
    assert row(sql, room) == published
    assert party["cohost"] in [a["user_id"] for a in snapshot(sql, room)["answers"]]
    assert settle(sql, room, party["member"], check)["held"] > 0
    assert row(sql, room) == published
    # Once the interval has passed, any member's settle publishes it.
    let_the_interval_pass(sql, room)
    settled = settle(sql, room, party["member"], check)
    assert settled["held"] == 0 and settled["status"] == "open"
    assert settled["ready_user_ids"] == sorted([party["host"], party["cohost"]])
    assert settled["ready_count"] == 2
    # The last answer ends the check at once, interval or not.
    assert respond(sql, room, party["member"], check)["status"] == "passed"


def test_the_deadline_starts_the_room_with_whoever_is_ready(
    sql: SqlSession, room: Room, party: dict[str, str]
) -> None:
    publish_at_once(sql)
    check = start(sql, room)
    respond(sql, room, party["host"], check)
    respond(sql, room, party["cohost"], check, ready=False)
    assert settle(sql, room, party["member"], check)["status"] == "open"
    assert playback(sql, room)["is_playing"] is False
    pass_the_deadline(sql, room)
    before = now(sql)
    settled = settle(sql, room, party["member"], check)
    after = now(sql)
    assert settled["status"] == "timed_out"
    assert settled["ready_user_ids"] == [party["host"]] and settled["expected_count"] == 3
    assert_started_together(sql, room, before, after)
    # The other sessions' settles change nothing.
    done = snapshot(sql, room)
    sql.as_user(party["cohost"])
    assert (
        sql.rpc("ready_check_settle", room_id=room.room_id, check_id=check["check_id"])["status"]
        == "timed_out"
    )
    assert snapshot(sql, room)["check"] == done["check"]
    assert snapshot(sql, room)["room"] == done["room"]


def test_a_member_who_joins_during_the_check_is_waited_for(sql: SqlSession, room: Room) -> None:
    viewer = join_room(sql, room)
    check = start(sql, room)
    respond(sql, room, room.host, check)
    late = join_room(sql, room, username="late")
    assert respond(sql, room, viewer, check)["status"] == "open"
    assert playback(sql, room)["is_playing"] is False
    last = respond(sql, room, late, check)
    assert last["status"] == "passed" and last["expected_count"] == 3


@pytest.mark.parametrize("how", ["leave", "kick"])
def test_the_last_member_not_ready_leaving_starts_the_room(
    sql: SqlSession, room: Room, party: dict[str, str], how: str
) -> None:
    check = start(sql, room)
    respond(sql, room, party["host"], check)
    respond(sql, room, party["cohost"], check)
    fresh_playback_budget(sql)
    before = now(sql)
    if how == "leave":
        sql.as_user(party["member"]).rpc("rooms_leave", room_id=room.room_id)
    else:
        moderate(sql, room.host, room, "kick", party["member"])
    after = now(sql)
    check_now = row(sql, room)
    assert check_now["status"] == "passed"
    assert check_now["ready_user_ids"] == sorted([party["host"], party["cohost"]])
    assert check_now["expected_count"] == 2
    assert_started_together(sql, room, before, after)


def test_a_ready_member_who_leaves_drops_out(
    sql: SqlSession, room: Room, party: dict[str, str]
) -> None:
    check = start(sql, room)
    respond(sql, room, party["host"], check)
    respond(sql, room, party["member"], check)
    # The leave is published at once, whatever the interval.
    sql.as_user(party["member"]).rpc("rooms_leave", room_id=room.room_id)
    check_now = row(sql, room)
    assert check_now["status"] == "open"
    assert check_now["ready_user_ids"] == [party["host"]]
    assert (check_now["ready_count"], check_now["expected_count"]) == (1, 2)
    assert playback(sql, room)["is_playing"] is False


def test_a_member_who_leaves_and_comes_back_answers_again(
    sql: SqlSession, room: Room, party: dict[str, str]
) -> None:
    publish_at_once(sql)
    check = start(sql, room)
    respond(sql, room, party["member"], check)
    sql.as_user(party["member"]).rpc("rooms_leave", room_id=room.room_id)
    join_room(sql, room, party["member"])
    respond(sql, room, party["host"], check)
    respond(sql, room, party["cohost"], check)
    waiting = settle(sql, room, party["host"], check)
    assert waiting["status"] == "open", "the member who came back has not answered yet"
    assert waiting["ready_user_ids"] == sorted([party["host"], party["cohost"]])
    assert playback(sql, room)["is_playing"] is False
    assert respond(sql, room, party["member"], check)["status"] == "passed"


def test_the_room_waits_for_its_hosts_playback_budget(
    sql: SqlSession, room: Room, party: dict[str, str]
) -> None:
    check = start(sql, room)
    respond(sql, room, party["host"], check)
    respond(sql, room, party["cohost"], check)
    sql.conn.execute(
        "update watchium.rate_limit_rules set max_requests = 1, per = interval '1 hour' "
        "where action = 'sync_control'"
    )
    sql.as_user(room.host).rpc(
        "sync_control", room_id=room.room_id, action="seek", current_time=5.0
    )
    sql.as_user(party["member"])
    last = sql.rpc("ready_check_respond", room_id=room.room_id, check_id=check["check_id"])
    # The answer stands; the start waits for the budget, and a settle makes it.
    assert last["status"] == "open" and last["held"] > 0
    assert [a["ready"] for a in snapshot(sql, room)["answers"]] == [True, True, True]
    assert playback(sql, room)["is_playing"] is False
    assert settle(sql, room, party["cohost"], check)["status"] == "passed"
    assert playback(sql, room)["is_playing"] is True


def test_not_ready_after_ready_takes_the_answer_back(
    sql: SqlSession, room: Room, party: dict[str, str]
) -> None:
    publish_at_once(sql)
    check = start(sql, room)
    assert respond(sql, room, party["member"], check)["ready_user_ids"] == [party["member"]]
    back = respond(sql, room, party["member"], check, ready=False)
    assert back["ready_user_ids"] == [] and back["ready_count"] == 0
    for who in ("host", "cohost"):
        respond(sql, room, party[who], check)
    assert row(sql, room)["status"] == "open", "the member is not ready any more"


def test_a_new_check_forgets_the_answers_to_the_last(
    sql: SqlSession, room: Room, party: dict[str, str]
) -> None:
    publish_at_once(sql)
    first = start(sql, room)
    respond(sql, room, party["host"], first)
    respond(sql, room, party["member"], first)
    settle(sql, room, room.host, first, cancel=True)
    second = start(sql, room)
    assert snapshot(sql, room)["answers"] == []
    assert second["ready_user_ids"] == [] and second["status"] == "open"
    respond(sql, room, party["cohost"], second)
    assert row(sql, room)["ready_user_ids"] == [party["cohost"]]
    assert row(sql, room)["status"] == "open"


# -- who sees what ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_answers_are_not_readable_nor_writable(sql: SqlSession, room: Room, role: str) -> None:
    check = start(sql, room)
    respond(sql, room, room.host, check, ready=False)
    {"anon": sql.as_anon, "authenticated": lambda: sql.as_user(room.host)}[role]()
    with sql.raises("42501"):
        sql.all("select * from watchium.ready_responses")
    with sql.raises("42501"):
        sql.conn.execute(
            "insert into watchium.ready_responses (check_id, room_id, user_id, ready) "
            "values (%s, %s, %s, true)",
            (check["check_id"], room.room_id, room.host),
        )
    with sql.raises("42501"):
        sql.conn.execute("update ready_checks set status = 'passed', settled_at = now()")


def test_a_private_rooms_check_is_seen_by_its_members_only(
    sql: SqlSession, private_room: Room
) -> None:
    member = join_room(sql, private_room, key=private_room.access_key)
    start(sql, private_room)
    query = "select check_id from ready_checks where room_id = %s"
    sql.as_user(member)
    assert len(sql.all(query, (private_room.room_id,))) == 1
    sql.as_user(new_user())
    assert sql.all(query, (private_room.room_id,)) == []
    sql.as_anon()
    assert sql.all(query, (private_room.room_id,)) == []
    with sql.raises("WR404"):
        sql.rpc("queue_get", room_id=private_room.room_id)
    public = create_room(sql)
    start(sql, public)
    sql.as_anon()
    assert len(sql.all(query, (public.room_id,))) == 1


def test_the_queue_carries_the_rooms_check(sql: SqlSession, room: Room) -> None:
    assert sql.as_anon().rpc("queue_get", room_id=room.room_id)["ready_check"] is None
    check = start(sql, room)
    seen = sql.as_anon().rpc("queue_get", room_id=room.room_id)["ready_check"]
    assert seen["check_id"] == check["check_id"] and seen["status"] == "open"


# -- limits and the room's end ---------------------------------------------------------------


def test_opening_and_cancelling_checks_are_limited(sql: SqlSession, room: Room) -> None:
    sql.conn.execute(
        "update watchium.rate_limit_rules set max_requests = 2 where action = 'ready_check'"
    )
    check = start(sql, room)
    settle(sql, room, room.host, check, cancel=True)
    fresh_playback_budget(sql)
    refused(sql, room, "WR429", lambda: sql.as_user(room.host), "ready_check_start")


def test_answers_and_settles_are_limited(
    sql: SqlSession, room: Room, party: dict[str, str]
) -> None:
    sql.conn.execute(
        "update watchium.rate_limit_rules set max_requests = 2 where action = 'ready_response'"
    )
    check = start(sql, room)
    member = lambda: sql.as_user(party["member"])  # noqa: E731
    respond(sql, room, party["member"], check, ready=False)
    settle(sql, room, party["member"], check)
    refused(sql, room, "WR429", member, "ready_check_respond", check_id=check["check_id"])
    refused(sql, room, "WR429", member, "ready_check_settle", check_id=check["check_id"])
    # Another member's budget is their own.
    assert respond(sql, room, party["cohost"], check)["status"] == "open"


def test_deleting_the_room_deletes_its_check_and_answers(
    sql: SqlSession, room: Room, party: dict[str, str]
) -> None:
    check = start(sql, room)
    respond(sql, room, party["member"], check)
    sql.as_user(room.host).rpc("rooms_delete", room_id=room.room_id)
    sql.as_admin()
    assert sql.count("ready_checks", "room_id = %s", (room.room_id,)) == 0
    assert sql.count("watchium.ready_responses", "room_id = %s", (room.room_id,)) == 0
