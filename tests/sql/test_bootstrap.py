"""The Supabase compatibility bootstrap: roles, auth functions, extensions, publication."""

from __future__ import annotations

import json

from tests._pg import SqlSession, new_user


def test_api_roles_exist_with_supabase_attributes(sql: SqlSession) -> None:
    roles = {
        r["rolname"]: r
        for r in sql.all(
            "select rolname, rolcanlogin, rolbypassrls, rolinherit from pg_roles "
            "where rolname in ('anon', 'authenticated', 'service_role', 'authenticator')"
        )
    }
    assert set(roles) == {"anon", "authenticated", "service_role", "authenticator"}
    assert not roles["anon"]["rolcanlogin"] and not roles["authenticated"]["rolcanlogin"]
    assert roles["service_role"]["rolbypassrls"]
    assert not roles["anon"]["rolbypassrls"] and not roles["authenticated"]["rolbypassrls"]
    assert roles["authenticator"]["rolcanlogin"] and not roles["authenticator"]["rolinherit"]
    members = sql.scalar(
        "select array_agg(r.rolname order by r.rolname) from pg_auth_members am "
        "join pg_roles r on r.oid = am.roleid join pg_roles m on m.oid = am.member "
        "where m.rolname = 'authenticator'"
    )
    assert members == ["anon", "authenticated", "service_role"]


def test_auth_functions_read_request_jwt_claims(sql: SqlSession) -> None:
    uid = new_user()
    sql.as_user(uid, email="a@example.com")
    row = sql.one(
        "select auth.uid()::text as uid, auth.role() as role, auth.email() as email, "
        "auth.jwt() ->> 'sub' as sub"
    )
    assert row == {"uid": uid, "role": "authenticated", "email": "a@example.com", "sub": uid}


def test_auth_functions_read_the_older_one_claim_per_setting_form(sql: SqlSession) -> None:
    uid = new_user()
    sql.conn.execute(
        "select set_config('request.jwt.claim.sub', %s, true), "
        "set_config('request.jwt.claim.role', 'authenticated', true)",
        (uid,),
    )
    assert sql.one("select auth.uid()::text as uid, auth.role() as role") == {
        "uid": uid,
        "role": "authenticated",
    }


def test_auth_functions_are_null_without_claims(sql: SqlSession) -> None:
    assert sql.one("select auth.uid() as uid, auth.role() as role, auth.jwt() as jwt") == {
        "uid": None,
        "role": None,
        "jwt": None,
    }


def test_pgcrypto_lives_in_the_extensions_schema(sql: SqlSession) -> None:
    assert (
        sql.scalar(
            "select n.nspname from pg_extension e join pg_namespace n "
            "on n.oid = e.extnamespace where e.extname = 'pgcrypto'"
        )
        == "extensions"
    )
    assert len(sql.scalar("select extensions.gen_random_bytes(16)")) == 16


def test_publication_holds_exactly_the_tables_clients_subscribe_to(sql: SqlSession) -> None:
    # Not sync_states nor member_heartbeats: a change of a published table is a Realtime message
    # for every client listening, and nobody listens to those.
    tables = sql.scalar(
        "select array_agg(tablename::text order by tablename) from "
        "pg_publication_tables where pubname = 'supabase_realtime'"
    )
    assert tables == [
        "comment_reaction_counts",
        "comments",
        "ready_checks",
        "room_members",
        "room_queue",
        "rooms",
    ]


def test_replica_identity_full_where_old_records_are_needed(sql: SqlSession) -> None:
    identity = dict(
        (r["relname"], r["relreplident"])
        for r in sql.all(
            "select relname, relreplident from pg_class where relname in "
            "('rooms', 'room_members', 'comments', 'sync_states', 'room_queue') "
            "and relnamespace = 'public'::regnamespace"
        )
    )
    # room_queue: its (room_id, id) index, so a DELETE names its room and nothing more.
    assert identity == {
        "rooms": "f",
        "room_members": "f",
        "comments": "f",
        "sync_states": "d",
        "room_queue": "i",
    }


def test_realtime_topic_reads_the_channel_setting(sql: SqlSession) -> None:
    sql.conn.execute("select set_config('realtime.topic', 'room:abcdefghij', true)")
    assert sql.scalar("select realtime.topic()") == "room:abcdefghij"


def test_migration_history_is_recorded_like_the_supabase_cli(sql: SqlSession) -> None:
    rows = sql.all(
        "select version, name, statements from supabase_migrations.schema_migrations "
        "order by version"
    )
    assert [r["version"] for r in rows][:2] == ["001", "002"]
    assert rows[0]["name"] == "foundation"
    assert all(r["statements"] for r in rows)


def test_claims_json_round_trip(sql: SqlSession) -> None:
    # PostgREST stores the whole claims object; auth.jwt() returns it unchanged.
    uid = new_user()
    sql.as_user(uid, app_metadata={"provider": "anonymous"}, is_anonymous=True)
    jwt = sql.scalar("select auth.jwt()")
    assert jwt["app_metadata"] == {"provider": "anonymous"} and jwt["is_anonymous"] is True
    assert json.loads(json.dumps(jwt))["sub"] == uid
