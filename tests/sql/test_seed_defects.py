"""Regression tests for the seed defects listed in DESIGN.md.

Each test runs one property check twice: against the seed's own code (installed for the duration
of the test in a scratch schema, inside the transaction the test rolls back) to show the check
catches the defect, and against ours to show it is fixed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import psycopg
import pytest

from tests._pg import SqlSession, new_user
from tests.sql.conftest import Room, backdate_playback, join_room

SEED_GENERATE_ACCESS_KEY = """
CREATE OR REPLACE FUNCTION seed.generate_access_key()
RETURNS VARCHAR(6) AS $$
BEGIN
    RETURN floor(random() * 1000000)::text;
END;
$$ LANGUAGE plpgsql;
"""

SEED_GENERATE_ROOM_ID = """
CREATE OR REPLACE FUNCTION seed.generate_room_id()
RETURNS VARCHAR(10) AS $$
DECLARE
    new_id VARCHAR(10);
    id_exists BOOLEAN;
BEGIN
    LOOP
        new_id := substring(md5(random()::text) FROM (floor(random() * 20) + 1)::int FOR 10);
        new_id := translate(new_id, '0123456789', 'abcdefghij');
        SELECT EXISTS(SELECT 1 FROM public.rooms WHERE room_id = new_id) INTO id_exists;
        IF NOT id_exists THEN
            EXIT;
        END IF;
    END LOOP;
    RETURN new_id;
END;
$$ LANGUAGE plpgsql;
"""

SEED_UPDATE_MEMBER_PRESENCE = """
CREATE OR REPLACE FUNCTION seed.update_member_presence()
RETURNS TRIGGER AS $$
BEGIN
    NEW.last_heartbeat = NOW();
    SELECT current_playback_time, is_playing INTO NEW.current_playback_time, NEW.is_synced
    FROM public.rooms WHERE room_id = NEW.room_id;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

SEED_CHANGE_PLAYBACK_STATE = """
CREATE OR REPLACE FUNCTION seed.change_playback_state(
    p_room_id VARCHAR(10), p_user_id VARCHAR(100), p_is_playing BOOLEAN,
    p_current_time DECIMAL(10,2) DEFAULT NULL)
RETURNS BOOLEAN AS $$
DECLARE
    is_host BOOLEAN;
    room_record RECORD;
BEGIN
    SELECT is_host INTO is_host FROM public.room_members
    WHERE room_id = p_room_id AND user_id = p_user_id;
    IF NOT FOUND OR NOT is_host THEN
        RETURN FALSE;
    END IF;
    UPDATE public.rooms SET is_playing = p_is_playing,
        current_playback_time = COALESCE(p_current_time, current_playback_time), updated_at = NOW()
    WHERE room_id = p_room_id RETURNING * INTO room_record;
    RETURN TRUE;
END;
$$ LANGUAGE plpgsql;
"""

SEED_ROOM_POLICIES = """
CREATE POLICY "Anyone can view rooms with access key" ON public.rooms
    FOR SELECT USING (is_public = false);
CREATE POLICY "Host can update room" ON public.rooms
    FOR UPDATE USING (host_user_id = current_setting('app.current_user_id', true));
GRANT UPDATE ON public.rooms TO authenticated;
"""

SEED_CHECK_RATE_LIMIT = """
CREATE OR REPLACE FUNCTION seed.check_rate_limit(
    p_user_id VARCHAR(100), p_action VARCHAR(50), p_window_minutes INTEGER DEFAULT 1,
    p_max_requests INTEGER DEFAULT 60)
RETURNS BOOLEAN AS $$
DECLARE
    request_count INTEGER;
BEGIN
    SELECT COUNT(*) INTO request_count FROM public.sync_states
    WHERE user_id = p_user_id AND sync_event_type = p_action
        AND created_at > NOW() - INTERVAL '1 minute' * p_window_minutes;
    RETURN request_count < p_max_requests;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER;
"""

# The seed's loop as written, reading each member's position where it lives now.
SEED_BULK_SYNC_UPDATE = """
CREATE OR REPLACE FUNCTION seed.bulk_sync_update(
    p_room_id VARCHAR(10), p_host_time DECIMAL(10,2), p_sync_event_type VARCHAR(50))
RETURNS void AS $$
DECLARE
    member_record RECORD;
BEGIN
    FOR member_record IN
        SELECT user_id, current_playback_time FROM public.member_heartbeats
        WHERE room_id = p_room_id
    LOOP
        INSERT INTO public.sync_states (room_id, user_id, host_time, member_time,
            time_difference, is_synced, sync_event_type)
        VALUES (p_room_id, member_record.user_id, p_host_time, member_record.current_playback_time,
            ABS(p_host_time - member_record.current_playback_time),
            ABS(p_host_time - member_record.current_playback_time) <= 2, p_sync_event_type);
    END LOOP;
END;
$$ LANGUAGE plpgsql;
"""


@pytest.fixture
def seed(sql: SqlSession) -> SqlSession:
    """A scratch schema `seed` for the seed's code, dropped with the test's transaction."""
    sql.conn.execute("create schema seed")
    return sql


def bad_access_keys(sql: SqlSession, function: str, n: int = 3000) -> list[str]:
    keys = [r["k"] for r in sql.all(f"select {function}() as k from generate_series(1, %s)", (n,))]
    return [k for k in keys if not re.fullmatch(r"[0-9]{6}", k)]


def reproducible_after_setseed(sql: SqlSession, function: str) -> bool:
    draws = []
    for _ in range(2):
        sql.conn.execute("select setseed(0.42)")
        draws.append(
            [r["v"] for r in sql.all(f"select {function}() as v from generate_series(1, 5)")]
        )
    return draws[0] == draws[1]


def test_defect_1_access_keys_always_have_six_digits_from_a_secure_source(seed: SqlSession) -> None:
    seed.conn.execute(SEED_GENERATE_ACCESS_KEY)
    assert bad_access_keys(seed, "seed.generate_access_key")  # ~10% are short
    assert reproducible_after_setseed(seed, "seed.generate_access_key")  # random() is predictable
    assert bad_access_keys(seed, "watchium.generate_access_key") == []
    assert not reproducible_after_setseed(seed, "watchium.generate_access_key")
    # Leading zeros are kept rather than avoided: about 10% of keys start with 0.
    zeros = seed.scalar(
        "select count(*) from (select watchium.generate_access_key() k "
        "from generate_series(1, 3000)) s where k like '0%%'"
    )
    assert 150 < zeros < 450


def test_defect_2_room_ids_use_a_secure_generator_and_a_wide_alphabet(seed: SqlSession) -> None:
    seed.conn.execute(SEED_GENERATE_ROOM_ID)

    def alphabet(function: str) -> set[str]:
        ids = [r["v"] for r in seed.all(f"select {function}() as v from generate_series(1, 300)")]
        assert all(re.fullmatch(r"[a-z0-9]{10}", i) for i in ids)
        return set("".join(ids))

    assert alphabet("seed.generate_room_id") <= set("abcdefghij")
    assert reproducible_after_setseed(seed, "seed.generate_room_id")
    ours = alphabet("watchium.generate_room_id")
    assert len(ours) == 32 and ours & set("23456789") and ours & set("xyz")
    assert not reproducible_after_setseed(seed, "watchium.generate_room_id")


# The seed's heartbeat was a direct UPDATE of its room_members row, through this trigger. Ours
# goes through members_update_status, and the position lives in member_heartbeats.
SEED_ROOM_MEMBERS = """
CREATE TABLE seed.room_members (
    room_id VARCHAR(10) NOT NULL,
    user_id VARCHAR(100) NOT NULL,
    current_playback_time DECIMAL(10,2) DEFAULT 0,
    is_synced BOOLEAN DEFAULT true,
    last_heartbeat TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
CREATE TRIGGER on_member_presence_update BEFORE UPDATE ON seed.room_members
    FOR EACH ROW EXECUTE FUNCTION seed.update_member_presence();
"""

Heartbeat = Callable[[float], tuple[Decimal, bool]]  # report a position -> (kept, is_synced)


def heartbeat_keeps_own_position_and_true_sync(heartbeat: Heartbeat) -> bool:
    """The member reports 10 s while the host plays at ~100 s: not synced, own position kept."""
    position, synced = heartbeat(10)
    return bool(position == 10 and synced is False)


def test_defect_3_is_synced_is_the_distance_to_the_host(seed: SqlSession, room: Room) -> None:
    member = join_room(seed, room)
    seed.conn.execute(
        "update watchium.rate_limit_rules set max_requests = 100 where action = 'sync_control'"
    )
    seed.as_user(room.host).rpc(
        "sync_control", room_id=room.room_id, action="play", current_time=100
    )
    backdate_playback(seed, room, 10)  # past the sync grace: the room has played for a while

    def ours(position: float) -> tuple[Decimal, bool]:
        seed.as_user(member).rpc(
            "members_update_status", room_id=room.room_id, current_time=position
        )
        seed.as_admin()
        kept = seed.scalar(
            "select current_playback_time from member_heartbeats where user_id = %s", (member,)
        )
        synced = seed.scalar("select is_synced from room_members where user_id = %s", (member,))
        return kept, synced

    assert heartbeat_keeps_own_position_and_true_sync(ours)

    seed.conn.execute(SEED_UPDATE_MEMBER_PRESENCE)
    seed.conn.execute(SEED_ROOM_MEMBERS)
    seed.conn.execute(
        "insert into seed.room_members (room_id, user_id) values (%s, %s)", (room.room_id, member)
    )

    def seeds(position: float) -> tuple[Decimal, bool]:
        seed.conn.execute(
            "update seed.room_members set current_playback_time = %s where user_id = %s",
            (position, member),
        )
        row = seed.one(
            "select current_playback_time, is_synced from seed.room_members where user_id = %s",
            (member,),
        )
        assert row is not None
        return row["current_playback_time"], row["is_synced"]

    assert not heartbeat_keeps_own_position_and_true_sync(seeds)


def test_defect_4_no_ambiguous_column_references(seed: SqlSession, room: Room) -> None:
    seed.conn.execute(SEED_CHANGE_PLAYBACK_STATE)
    with seed.raises("42702"):
        seed.scalar("select seed.change_playback_state(%s, %s, true)", (room.room_id, room.host))
    assert (
        seed.as_user(room.host).rpc("change_playback_state", room_id=room.room_id, is_playing=True)
        is True
    )
    with seed.raises("WR404"):  # check_room_access's sibling paths resolve too
        seed.rpc("rooms_leave", room_id="zzzzzzzzzz")


def private_room_leaks(sql: SqlSession, room: Room) -> bool:
    stranger = new_user()
    sql.as_user(stranger)
    sql.conn.execute("select set_config('app.current_user_id', %s, true)", (room.host,))
    seen = sql.scalar("select count(*) from rooms where room_id = %s", (room.room_id,))
    updated = sql.conn.execute(
        "update rooms set title = 'pwned' where room_id = %s", (room.room_id,)
    ).rowcount
    sql.as_admin()
    return bool(seen or updated)


def test_defect_5_private_rooms_and_keys_do_not_leak(sql: SqlSession, private_room: Room) -> None:
    assert not private_room_leaks(sql, private_room)
    with sql.conn.transaction():
        sql.conn.execute(SEED_ROOM_POLICIES)
        assert private_room_leaks(sql, private_room)
        raise psycopg.Rollback()  # back to our policies
    assert not private_room_leaks(sql, private_room)


def comments_get_limited(sql: SqlSession, function: str) -> bool:
    user = new_user()
    allowed = [sql.scalar(f"select {function}(%s, 'comments', 1, 5)", (user,)) for _ in range(6)]
    return allowed[-1] is False


def test_defect_6_rate_limits_count_the_limited_action(seed: SqlSession) -> None:
    seed.conn.execute(SEED_CHECK_RATE_LIMIT)
    assert not comments_get_limited(seed, "seed.check_rate_limit")
    assert comments_get_limited(seed, "watchium.check_rate_limit")


def distinct_commands(sql: SqlSession, room: Room, event: str) -> int:
    return int(
        sql.scalar(
            "select count(distinct cmin::text) from sync_states "
            "where room_id = %s and sync_event_type = %s",
            (room.room_id, event),
        )
    )


def test_defect_7_bulk_sync_update_is_one_set_based_insert(seed: SqlSession, room: Room) -> None:
    for _ in range(4):
        join_room(seed, room)
    seed.conn.execute(SEED_BULK_SYNC_UPDATE)
    seed.scalar("select seed.bulk_sync_update(%s, 5, 'seek')", (room.room_id,))
    assert distinct_commands(seed, room, "seek") == 5  # one INSERT per member
    seed.scalar("select watchium.bulk_sync_update(%s, 5, 'play_pause')", (room.room_id,))
    assert distinct_commands(seed, room, "play_pause") == 1
    assert (
        seed.count(
            "sync_states", "room_id = %s and sync_event_type = 'play_pause'", (room.room_id,)
        )
        == 5
    )


def test_defect_8_realtime_and_durability_settings_are_kept(sql: SqlSession) -> None:
    settings = {
        r["name"]: r["setting"]
        for r in sql.all(
            "select name, setting from pg_settings where name in "
            "('wal_level', 'fsync', 'synchronous_commit', 'full_page_writes')"
        )
    }
    assert settings == {
        "wal_level": "logical",
        "fsync": "on",
        "synchronous_commit": "on",
        "full_page_writes": "on",
    }


def test_defect_9_one_configurable_set_of_retention_windows(sql: SqlSession) -> None:
    row = sql.one(
        "select member_timeout::text, sync_states_retention::text, empty_room_ttl::text, "
        "inactive_room_ttl::text from watchium.settings"
    )
    assert row == {
        "member_timeout": "00:00:30",
        "sync_states_retention": "24:00:00",
        "empty_room_ttl": "01:00:00",
        "inactive_room_ttl": "24:00:00",
    }
    assert sql.scalar("select count(*) from watchium.settings") == 1
    with sql.raises("23514"):
        sql.conn.execute("insert into watchium.settings (id) values (false)")
