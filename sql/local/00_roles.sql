-- Supabase compatibility bootstrap, part 1: the API roles.
--
-- A hosted Supabase project (and `supabase start`) has these roles; a plain PostgreSQL does not.
-- PostgREST and Realtime connect as `authenticator` and switch to the role named in the JWT:
-- `anon` (no user), `authenticated` (a signed-in user, anonymous ones included) or
-- `service_role` (trusted servers: bypasses RLS). Every statement here is idempotent.

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
end
$$;

grant anon, authenticated, service_role to authenticator;
-- With admin option, as on Supabase: a migration running as `postgres` may grant these roles to a
-- login role of its own (017_function_login_role.sql).
grant anon, authenticated, service_role to postgres with admin option;
