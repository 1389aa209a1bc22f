-- Supabase compatibility bootstrap, part 1: the roles, with hosted Supabase's privilege model.
--
-- Run by the cluster's superuser, `supabase_admin` as on hosted Supabase. What a Supabase project
-- has, reproduced so that a migration that would fail on hosted fails here too:
--
-- * `postgres` is not a superuser: it logs in, creates databases and roles, replicates and
--   bypasses RLS, owns the database (and so `public`) and what the migrations create, and holds
--   the memberships and parameter rights hosted gives it. Migrations run as `postgres`.
-- * The API roles: `anon` (no user), `authenticated` (a signed-in user, anonymous ones included),
--   `service_role` (trusted servers: bypasses RLS). PostgREST and Realtime log in as
--   `authenticator` and switch to the role named in the JWT.
-- * `supabase_auth_admin` owns the `auth` tables and `supabase_realtime_admin` owns
--   `realtime.messages` (parts 3 and 4); `postgres` is a member of the first, not of the second.
--
-- A cluster whose `postgres` is still its superuser (made before this model) keeps it: a superuser
-- cannot be demoted in place; `watchium db reset --hard` rebuilds such a cluster. Every statement
-- here is idempotent.

do $$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'authenticator') then
    -- The local stack's well-known password, as `supabase start` has it; the cluster listens
    -- on 127.0.0.1 only.
    create role authenticator login noinherit password 'postgres';
  end if;
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin nologin noinherit createrole;
  end if;
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'supabase_realtime_admin') then
    create role supabase_realtime_admin nologin noinherit noreplication;
  end if;
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'postgres') then
    create role postgres login password 'postgres';
  end if;
  if not (select rolsuper from pg_catalog.pg_roles where rolname = 'postgres') then
    alter role postgres nosuperuser createdb createrole login replication bypassrls;
  end if;
  -- Hosted lets `postgres` set session_replication_role (supautils' privileged_role_allowed_configs);
  -- PostgreSQL 15 grants the same right per parameter.
  if current_setting('server_version_num')::int >= 150000 then
    execute 'grant set on parameter session_replication_role to postgres';
  end if;
  execute format('alter database %I owner to postgres', current_database());
end
$$;

grant anon, authenticated, service_role to authenticator;
-- With admin option, as on Supabase: a migration running as `postgres` may grant these roles to a
-- login role of its own (017_function_login_role.sql).
grant anon, authenticated, service_role to postgres with admin option;
grant supabase_auth_admin to postgres;
grant pg_monitor, pg_read_all_data, pg_signal_backend to postgres;
grant usage, create on schema public to postgres;
