"""Helpers for the SQL tests: rooms and members created through the API functions.

Every SQL test runs twice: against the database the local runner migrated, and against the one
the Supabase CLI pushed to (``[supabase-cli]``), so a rule that holds locally is seen to hold on a
database migrated as hosted Supabase migrates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests._pg import SqlSession, new_user
from tests._supabase_cli import over_both_databases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    over_both_databases(metafunc)


@dataclass
class Room:
    room_id: str
    host: str
    access_key: str | None
    data: dict[str, Any]


def create_room(
    sql: SqlSession, host: str | None = None, *, public: bool = True, **fields: Any
) -> Room:
    """Create a room as ``host`` (a new user by default) and return to ``postgres``."""
    host = host or new_user()
    params: dict[str, Any] = {
        "title": "Watching together",
        "anime_id": "frieren",
        "anime_title": "Frieren",
        "video_url": "https://example.com/frieren/01.mkv",
        "host_username": "host",
        "is_public": public,
    }
    params.update(fields)
    result = sql.as_user(host).rpc("rooms_create", **params)
    sql.as_admin()
    return Room(result["room"]["room_id"], host, result["access_key"], result)


def join_room(
    sql: SqlSession,
    room: Room,
    user: str | None = None,
    *,
    username: str = "viewer",
    key: str | None = None,
) -> str:
    """Join ``room`` as ``user`` (a new user by default) and return to ``postgres``."""
    user = user or new_user()
    result = sql.as_user(user).rpc(
        "rooms_join",
        room_id=room.room_id,
        username=username,
        access_key=key if key is not None else room.access_key,
    )
    assert "error" not in result, result
    sql.as_admin()
    return user


def backdate_heartbeat(sql: SqlSession, room: Room, user: str, seconds: float) -> None:
    """Pretend ``user`` was last heard ``seconds`` ago (the presence trigger would stamp now())."""
    sql.as_admin()
    sql.conn.execute("set local session_replication_role = replica")
    sql.conn.execute(
        "update room_members set last_heartbeat = now() - %s * interval '1 second' "
        "where room_id = %s and user_id = %s",
        (seconds, room.room_id, user),
    )
    sql.conn.execute("set local session_replication_role = origin")


@pytest.fixture
def room(sql: SqlSession) -> Room:
    """A public room with its host only."""
    return create_room(sql)


@pytest.fixture
def private_room(sql: SqlSession) -> Room:
    """A private room with its host only."""
    return create_room(sql, public=False)
