"""Hosted Supabase's privilege model: who may execute what, and as whom the schema was built."""

from __future__ import annotations

import re

from tests._pg import PROJECT_DIR, SqlSession, new_user

SCHEMA_DOC = PROJECT_DIR / "docs" / "SCHEMA.md"

SECURITY_DEFINER = """
select format('%s.%s', n.nspname, p.proname) as function,
       has_function_privilege('anon', p.oid, 'execute') as anon,
       has_function_privilege('authenticated', p.oid, 'execute') as authenticated
  from pg_proc p
  join pg_namespace n on n.oid = p.pronamespace
 where p.prosecdef and n.nspname in ('public', 'watchium')
"""


def documented_security_definer() -> dict[str, tuple[bool, bool]]:
    """docs/SCHEMA.md's table of security definer functions: name -> (anon, authenticated)."""
    text = SCHEMA_DOC.read_text()
    section = text.split("### Security definer functions", 1)[1].split("\n#", 1)[0]
    rows: dict[str, tuple[bool, bool]] = {}
    for line in section.splitlines():
        m = re.match(r"\| `([a-z_.]+)` \| (yes|no) \| (yes|no) \|", line)
        if m:
            rows[m.group(1)] = (m.group(2) == "yes", m.group(3) == "yes")
    return rows


def test_security_definer_functions_are_executable_as_documented(sql: SqlSession) -> None:
    actual = {
        r["function"]: (r["anon"], r["authenticated"])
        for r in sql.all(SECURITY_DEFINER)
        if r["anon"] or r["authenticated"]
    }
    documented = documented_security_definer()
    assert len(documented) >= 10, "the table in docs/SCHEMA.md was found"
    assert actual == documented


def test_anon_may_execute_only_what_needs_no_sign_in(sql: SqlSession) -> None:
    anon = {r["function"] for r in sql.all(SECURITY_DEFINER) if r["anon"]}
    assert anon == {
        "public.rooms_list_public",
        "public.sync_get_host_time",
        "public.members_get_list",
        "public.comments_replay",
        "public.queue_get",
        "watchium.is_room_member",
        "watchium.can_see_room",
    }


def test_every_security_definer_function_fixes_its_search_path(sql: SqlSession) -> None:
    loose = sql.all(
        "select p.oid::regprocedure::text as f from pg_proc p "
        "join pg_namespace n on n.oid = p.pronamespace "
        "where p.prosecdef and n.nspname in ('public', 'watchium') "
        "and not exists (select 1 from unnest(p.proconfig) c where c like 'search_path=%%')"
    )
    assert loose == []


def test_a_caller_without_a_user_is_told_to_sign_in_before_anything_else(
    sql: SqlSession,
) -> None:
    # A signed-in role whose token names no user, acting for someone: "sign in" comes first.
    sql.conn.execute(
        "select set_config('role', 'authenticated', true), "
        """set_config('request.jwt.claims', '{"role": "authenticated"}', true)"""
    )
    with sql.raises("WR401"):
        sql.rpc(
            "rooms_create",
            title="t",
            anime_id="a",
            anime_title="A",
            video_url="https://example.com/v.mp4",
            host_username="x",
            host_user_id=new_user(),
        )


def test_the_schema_belongs_to_postgres_which_is_not_a_superuser(sql: SqlSession) -> None:
    assert sql.one(
        "select r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolreplication "
        "from pg_roles r where r.rolname = current_user"
    ) == {"rolsuper": False, "rolbypassrls": True, "rolcreaterole": True, "rolreplication": True}
    owners = sql.all(
        "select distinct pg_get_userbyid(c.relowner) as owner from pg_class c "
        "where c.relnamespace in ('public'::regnamespace, 'watchium'::regnamespace)"
    )
    assert owners == [{"owner": "postgres"}]


def test_realtime_messages_is_realtimes_own_partitioned_table(sql: SqlSession) -> None:
    assert sql.one(
        "select c.relkind, pg_get_userbyid(c.relowner) as owner, "
        "pg_get_partkeydef(c.oid) as partition_key "
        "from pg_class c where c.oid = 'realtime.messages'::regclass"
    ) == {
        "relkind": "p",
        "owner": "supabase_realtime_admin",
        "partition_key": "RANGE (inserted_at)",
    }
    assert sql.scalar("select pg_has_role('postgres', 'supabase_realtime_admin', 'usage')") is False
    # What migration 011 made through the policy grant.
    policies = sql.all(
        "select polname from pg_policy where polrelid = 'realtime.messages'::regclass order by 1"
    )
    assert [p["polname"] for p in policies] == [
        "watchium_room_channel_insert",
        "watchium_room_channel_select",
    ]


def test_postgres_manages_policies_of_realtime_messages_but_not_the_table(sql: SqlSession) -> None:
    sql.conn.execute(
        "create policy probe_select on realtime.messages for select to authenticated using (false)"
    )
    sql.conn.execute("drop policy probe_select on realtime.messages")
    with sql.raises("42501"):
        sql.conn.execute("alter table realtime.messages add column probe int")
    with sql.raises("42501"):
        sql.conn.execute(
            "create policy probe on realtime.messages_local for select to authenticated "
            "using (true)"
        )
    assert sql.one(
        "select rolsuper, pg_has_role('postgres', 'supabase_realtime_admin', 'usage') as owner "
        "from pg_roles where rolname = 'postgres'"
    ) == {"rolsuper": False, "owner": False}


def test_postgres_creates_allowed_extensions_only(sql: SqlSession) -> None:
    if not sql.scalar(
        "select exists (select 1 from pg_available_extensions where name = 'file_fdw')"
    ):
        return
    with sql.raises("42501"):
        sql.conn.execute("create extension file_fdw")
    assert sql.scalar("select rolsuper from pg_roles where rolname = 'postgres'") is False
