-- Supabase compatibility bootstrap, part 2: the `extensions` schema.
--
-- Supabase installs extensions into a schema of their own; migrations call
-- `extensions.gen_random_bytes(...)`, which therefore works unchanged on both. As on hosted,
-- `postgres` may create objects there and the API roles may use them.

create schema if not exists extensions;
create extension if not exists pgcrypto with schema extensions;
grant usage on schema extensions to anon, authenticated, service_role;
grant all on schema extensions to postgres;
