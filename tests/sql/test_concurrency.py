"""Concurrent transactions on real connections: host transfer, joins, seeks, anchors.

Each scenario holds one transaction open, starts the competing one in a thread, waits until
PostgreSQL reports it blocked on a lock, then commits the first: the interleaving is forced, not
left to timing.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest

from tests._pg import SqlSession, TestDatabase, new_user, purge_rooms


class Worker(threading.Thread):
    """Runs one call on its own connection, in a transaction it commits."""

    def __init__(self, database: TestDatabase, fn: Callable[[SqlSession], Any]) -> None:
        super().__init__(daemon=True)
        self.conn = database.connect(autocommit=False)
        self.pid = self.conn.info.backend_pid
        self.fn = fn
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.fn(SqlSession(self.conn))
            self.conn.commit()
        except BaseException as exc:  # reported by join_result
            self.error = exc
            self.conn.rollback()
        finally:
            self.conn.close()

    def join_result(self, timeout: float = 30) -> Any:
        self.join(timeout)
        assert not self.is_alive(), "worker did not finish"
        if self.error:
            raise self.error
        return self.result


@pytest.fixture
def admin(database: TestDatabase) -> Iterator[SqlSession]:
    with database.connect() as conn:
        yield SqlSession(conn)


@pytest.fixture
def cleanup_rooms(admin: SqlSession) -> Iterator[list[str]]:
    rooms: list[str] = []
    yield rooms
    with contextlib.suppress(psycopg.Error):
        purge_rooms(admin.conn, rooms)


def wait_until_blocked(admin: SqlSession, pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (
            admin.scalar("select wait_event_type from pg_stat_activity where pid = %s", (pid,))
            == "Lock"
        ):
            return
        time.sleep(0.01)
    raise AssertionError(f"backend {pid} never waited on a lock")


def committed(database: TestDatabase, fn: Callable[[SqlSession], Any]) -> Any:
    with database.connect(autocommit=False) as conn:
        result = fn(SqlSession(conn))
        conn.commit()
        return result


def make_room(
    database: TestDatabase, rooms: list[str], members: int = 0
) -> tuple[str, str, list[str]]:
    host = new_user()
    room_id = committed(
        database,
        lambda s: s.as_user(host).rpc(
            "rooms_create",
            title="race",
            anime_id="a",
            anime_title="A",
            video_url="https://example.com/v.mp4",
            host_username="host",
        ),
    )["room"]["room_id"]
    rooms.append(room_id)
    users = []
    for i in range(members):
        user = new_user()
        committed(
            database,
            lambda s, u=user, i=i: s.as_user(u).rpc(
                "rooms_join", room_id=room_id, username=f"m{i}"
            ),
        )
        users.append(user)
    return room_id, host, users


def hosts(admin: SqlSession, room_id: str) -> list[str]:
    return [
        r["user_id"]
        for r in admin.all(
            "select user_id from room_members where room_id = %s and is_host", (room_id,)
        )
    ]


def test_host_and_heir_leaving_together_leave_exactly_one_host(
    database: TestDatabase, admin: SqlSession, cleanup_rooms: list[str]
) -> None:
    room_id, host, (heir, third) = make_room(database, cleanup_rooms, members=2)
    with database.connect(autocommit=False) as heir_conn:
        SqlSession(heir_conn).as_user(heir).rpc("rooms_leave", room_id=room_id)  # not committed
        host_leaves = Worker(
            database, lambda s: s.as_user(host).rpc("rooms_leave", room_id=room_id)
        )
        host_leaves.start()
        wait_until_blocked(admin, host_leaves.pid)  # the transfer waits for the heir's row
        heir_conn.commit()
    result = host_leaves.join_result()
    assert result["host_user_id"] == third
    assert hosts(admin, room_id) == [third]
    assert admin.scalar("select host_user_id from rooms where room_id = %s", (room_id,)) == third


def test_two_joins_racing_for_an_empty_room_make_one_host(
    database: TestDatabase, admin: SqlSession, cleanup_rooms: list[str]
) -> None:
    room_id, host, _ = make_room(database, cleanup_rooms)
    committed(database, lambda s: s.as_user(host).rpc("rooms_leave", room_id=room_id))
    first, second = new_user(), new_user()
    with database.connect(autocommit=False) as conn:
        SqlSession(conn).as_user(first).rpc("rooms_join", room_id=room_id, username="first")
        racer = Worker(
            database,
            lambda s: s.as_user(second).rpc("rooms_join", room_id=room_id, username="second"),
        )
        racer.start()
        wait_until_blocked(admin, racer.pid)
        conn.commit()
    assert racer.join_result()["member"]["is_host"] is False
    assert hosts(admin, room_id) == [first]


def test_two_joins_racing_for_the_last_place(
    database: TestDatabase, admin: SqlSession, cleanup_rooms: list[str]
) -> None:
    room_id, _, _ = make_room(database, cleanup_rooms)
    admin.conn.execute("update watchium.settings set max_room_members = 2")
    try:
        with database.connect(autocommit=False) as conn:
            SqlSession(conn).as_user(new_user()).rpc("rooms_join", room_id=room_id, username="a")
            racer = Worker(
                database,
                lambda s: s.as_user(new_user()).rpc("rooms_join", room_id=room_id, username="b"),
            )
            racer.start()
            wait_until_blocked(admin, racer.pid)
            conn.commit()
        with pytest.raises(psycopg.Error) as info:
            racer.join_result()
        assert info.value.sqlstate == "WRF09"
    finally:
        admin.conn.execute("update watchium.settings set max_room_members = 500")
    assert admin.scalar("select count(*) from room_members where room_id = %s", (room_id,)) == 2


def test_concurrent_seeks_lose_nothing_and_respect_the_limit(
    database: TestDatabase, admin: SqlSession, cleanup_rooms: list[str]
) -> None:
    room_id, host, members = make_room(database, cleanup_rooms, members=3)
    # Two per minute instead of two per second: on a loaded machine the eight seeks may spread
    # over more than half a second, and a refilled slot would blur "exactly the burst".
    admin.conn.execute(
        "update watchium.rate_limit_rules set per = interval '1 minute' "
        "where action = 'sync_control'"
    )
    barrier = threading.Barrier(8)

    def seek(position: int) -> Callable[[SqlSession], Any]:
        def run(s: SqlSession) -> Any:
            s.as_user(host)
            barrier.wait()
            return s.rpc("sync_control", room_id=room_id, action="seek", current_time=position)

        return run

    workers = [Worker(database, seek(p)) for p in range(10, 90, 10)]
    try:
        for w in workers:
            w.start()
        outcomes: list[Any] = []
        for w in workers:
            w.join(30)
            outcomes.append(w.error or w.result)
    finally:
        admin.conn.execute(
            "update watchium.rate_limit_rules set per = interval '1 second' "
            "where action = 'sync_control'"
        )
    succeeded = [o for o in outcomes if isinstance(o, dict)]
    refused = [o for o in outcomes if isinstance(o, psycopg.Error)]
    assert len(succeeded) + len(refused) == 8
    assert all(e.sqlstate == "WR429" for e in refused)
    assert len(succeeded) == 2  # the burst of the limit
    final = admin.one(
        "select current_playback_time, playback_updated_at from rooms where room_id = %s",
        (room_id,),
    )
    assert final is not None
    # Each seek takes its reference time once it holds the room, so the last to commit carries
    # the latest time: the room holds that seek whole, its position with its reference time.
    last = max(succeeded, key=lambda o: datetime.fromisoformat(o["playback_updated_at"]))
    assert float(final["current_playback_time"]) == last["current_playback_time"]
    assert final["playback_updated_at"] == datetime.fromisoformat(last["playback_updated_at"])
    assert admin.scalar(
        "select count(*) from sync_states where room_id = %s and sync_event_type = 'seek'",
        (room_id,),
    ) == 2 * (1 + len(members))
    assert hosts(admin, room_id) == [host]


def test_first_comments_of_a_thread_create_one_anchor(
    database: TestDatabase, admin: SqlSession, cleanup_rooms: list[str]
) -> None:
    room_id, host, (member,) = make_room(database, cleanup_rooms, members=1)

    def post(user: str) -> Callable[[SqlSession], Any]:
        return lambda s: s.as_user(user).rpc(
            "comments_create",
            anime_id="a",
            episode_number=7,
            message="first!",
            username="x",
            room_id=room_id,
        )

    with database.connect(autocommit=False) as conn:
        post(host)(SqlSession(conn))
        racer = Worker(database, post(member))
        racer.start()
        wait_until_blocked(admin, racer.pid)
        conn.commit()
    racer.join_result()
    anchors = admin.all(
        "select id from comments where room_id = %s and episode_number = 7 and is_anchor",
        (room_id,),
    )
    assert len(anchors) == 1
    parents = admin.all(
        "select distinct parent_id from comments where room_id = %s and "
        "episode_number = 7 and not is_anchor",
        (room_id,),
    )
    assert [p["parent_id"] for p in parents] == [anchors[0]["id"]]


def test_host_leaving_while_the_heir_heartbeats_does_not_deadlock(
    database: TestDatabase, admin: SqlSession, cleanup_rooms: list[str]
) -> None:
    room_id, host, (heir,) = make_room(database, cleanup_rooms, members=1)
    admin.conn.execute(
        "update rooms set last_activity = now() - interval '1 hour' where room_id = %s", (room_id,)
    )
    with database.connect(autocommit=False) as conn:
        SqlSession(conn).as_user(heir).rpc("members_update_status", room_id=room_id, current_time=5)
        leaver = Worker(database, lambda s: s.as_user(host).rpc("rooms_leave", room_id=room_id))
        leaver.start()
        wait_until_blocked(admin, leaver.pid)
        conn.commit()
    assert leaver.join_result()["host_user_id"] == heir
    assert hosts(admin, room_id) == [heir]


@pytest.mark.parametrize("public", [True, False])
def test_rooms_created_by_api_users_commit(
    database: TestDatabase, admin: SqlSession, cleanup_rooms: list[str], public: bool
) -> None:
    # Deferred constraint triggers run at COMMIT under the caller's role, outside any function.
    result = committed(
        database,
        lambda s: s.as_user(new_user()).rpc(
            "rooms_create",
            title="t",
            anime_id="a",
            anime_title="A",
            video_url="https://example.com/v.mp4",
            host_username="h",
            is_public=public,
        ),
    )
    cleanup_rooms.append(result["room"]["room_id"])
    assert (
        admin.scalar("select is_public from rooms where room_id = %s", (result["room"]["room_id"],))
        is public
    )


def test_a_seek_that_waited_for_the_room_takes_its_time_after_the_wait(
    database: TestDatabase, admin: SqlSession, cleanup_rooms: list[str]
) -> None:
    # The room's reference time must follow commit order: a seek that waited on another's lock
    # and committed after it must not carry an earlier playback_updated_at (members order rows
    # by it and would keep the other one).
    room_id, host, _ = make_room(database, cleanup_rooms)
    with database.connect(autocommit=False) as first:
        holder = SqlSession(first).as_user(host)
        holder.one("select 1 from rooms where room_id = %s for no key update", (room_id,))

        def late_seek(s: SqlSession) -> Any:
            s.as_user(host)
            return s.rpc("sync_control", room_id=room_id, action="seek", current_time=20)

        waiting = Worker(database, late_seek)
        waiting.start()
        wait_until_blocked(admin, waiting.pid)
        early = holder.rpc("sync_control", room_id=room_id, action="seek", current_time=10)
        first.commit()
    late = waiting.join_result()
    assert late["playback_updated_at"] >= early["playback_updated_at"]
    final = admin.one(
        "select current_playback_time, playback_updated_at from rooms where room_id = %s",
        (room_id,),
    )
    assert final is not None and float(final["current_playback_time"]) == 20.0
