"""The psql toolkit in sql/admin/ runs cleanly through real psql against the schema."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._pg import PROJECT_DIR, SqlSession, TestDatabase, new_user, purge_rooms

ADMIN = PROJECT_DIR / "sql" / "admin"


def psql_program(database: TestDatabase) -> str:
    found = shutil.which("psql")
    if found:
        return found
    assert database.cluster is not None
    return str(database.cluster.binaries.bindir / "psql")


@pytest.fixture
def room_id(database: TestDatabase) -> Iterator[str]:
    """A committed room with a member, so the queries have rows to show."""
    with database.connect(autocommit=False) as conn:
        session = SqlSession(conn)
        rid = session.as_user(new_user()).rpc(
            "rooms_create",
            title="admin",
            anime_id="a",
            anime_title="A",
            video_url="https://example.com/v.mp4",
            host_username="host",
        )["room"]["room_id"]
        session.as_user(new_user()).rpc("rooms_join", room_id=rid, username="viewer")
        conn.commit()
    yield rid
    with database.connect() as conn:
        purge_rooms(conn, [rid])


@pytest.mark.parametrize("path", sorted(ADMIN.glob("*.sql")), ids=lambda p: p.name)
def test_admin_query_runs(database: TestDatabase, room_id: str, path: Path) -> None:
    proc = subprocess.run(
        [
            psql_program(database),
            database.url,
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-v",
            f"room={room_id}",
            "-f",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ERROR" not in proc.stderr
    assert "(" in proc.stdout and "row" in proc.stdout  # psql printed at least one result table


def test_room_activity_counts_members_not_join_rows(database: TestDatabase, room_id: str) -> None:
    proc = subprocess.run(
        [
            psql_program(database),
            database.url,
            "-X",
            "-A",
            "-F",
            "|",
            "-v",
            "ON_ERROR_STOP=1",
            "-f",
            str(ADMIN / "room_activity.sql"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    line = next(x for x in proc.stdout.splitlines() if x.startswith(room_id))
    assert line.split("|")[4] == "2"


def test_members_query_explains_its_usage(database: TestDatabase) -> None:
    proc = subprocess.run(
        [psql_program(database), database.url, "-X", "-f", str(ADMIN / "members.sql")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "usage: psql -v room=<room_id>" in proc.stdout


def test_the_moderation_report_lists_actions_and_restrictions(database: TestDatabase) -> None:
    host, viewer = new_user(), new_user()
    with database.connect(autocommit=False) as conn:
        session = SqlSession(conn)
        rid = session.as_user(host).rpc(
            "rooms_create",
            title="moderated",
            anime_id="a",
            anime_title="A",
            video_url="https://example.com/v.mp4",
            host_username="host",
        )["room"]["room_id"]
        session.as_user(viewer).rpc("rooms_join", room_id=rid, username="viewer")
        session.as_user(host).rpc(
            "rooms_moderate", room_id=rid, action="ban", target_user_id=viewer, reason="spam"
        )
        conn.commit()
    try:
        proc = subprocess.run(
            [
                psql_program(database),
                database.url,
                "-X",
                "-A",
                "-F",
                "|",
                "-v",
                "ON_ERROR_STOP=1",
                "-v",
                f"room={rid}",
                "-f",
                str(ADMIN / "moderation.sql"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    finally:
        with database.connect() as conn:
            purge_rooms(conn, [rid])
            conn.execute("delete from watchium.moderation_log where room_id = %s", (rid,))
    rows = [line.split("|") for line in proc.stdout.splitlines()]
    action = next(r for r in rows if len(r) == 7 and r[2] == "ban")
    assert action[1:] == [rid, "ban", "host", "host", viewer, "spam"]
    restriction = next(r for r in rows if len(r) == 7 and r[1] == "ban")
    assert restriction[0] == rid and restriction[2] == viewer and restriction[6] == "spam"
