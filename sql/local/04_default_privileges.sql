-- Supabase compatibility bootstrap, part 5: the default privileges of a Supabase project.
--
-- On Supabase, whatever `postgres` creates in `public` is granted to the API roles by default and
-- RLS decides what they see. Reproducing that here means our migrations are tested against the
-- same starting point: each migration must revoke what it does not want exposed.

grant usage on schema public to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on tables to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on functions to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on sequences to anon, authenticated, service_role;
