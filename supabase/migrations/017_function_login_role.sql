-- 017 function login role: the role the HTTP functions log in as, and the session check they make.
--
-- The functions run each call as the caller's API role (anon, authenticated or service_role),
-- switching with set_config('role', ...) as PostgREST does. The role they log in as needs
-- nothing else: `watchium_functions` may log in and switch to the three API roles, and holds no
-- privilege of its own (noinherit: none of theirs either until it switches), so it reads no table
-- and bypasses no policy by itself. It is created without a password: the deployment gives it
-- one (docs/API.md, "Running the functions next to a hosted Supabase project"). Roles belong to
-- the cluster, so a database that finds it already there only grants it the API roles.
--
-- Access tokens stay valid until they expire, even after their session ended (a sign-out, a
-- revoked session). watchium.ended_sessions tells the functions which sessions have ended, so
-- they can refuse those tokens; only service_role may call it.

do $$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'watchium_functions') then
    create role watchium_functions
      login noinherit nosuperuser nocreatedb nocreaterole noreplication nobypassrls;
  end if;
end
$$;

grant anon, authenticated, service_role to watchium_functions;

comment on role watchium_functions is
  'The HTTP functions log in as this role and run each call as anon, authenticated or '
  'service_role; it has no privilege of its own.';

-- why security definer: the sessions belong to Supabase Auth (auth.sessions), which no API role
-- may read.
create function watchium.ended_sessions(p_session_ids uuid[]) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
begin
  return coalesce(
    (select jsonb_agg(ids.id)
       from unnest(p_session_ids) as ids(id)
      where not exists (select 1 from auth.sessions s where s.id = ids.id)),
    '[]'::jsonb
  );
end;
$$;
grant execute on function watchium.ended_sessions(uuid[]) to service_role;

comment on function watchium.ended_sessions(uuid[]) is
  'The ids among p_session_ids whose Supabase Auth session has ended (signed out or revoked): '
  'tokens of those sessions are refused.';
