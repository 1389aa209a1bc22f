-- Supabase compatibility bootstrap, part 4: what Supabase Realtime expects in the database.
--
-- * The publication `supabase_realtime`, created empty: migrations add their tables to it.
-- * `realtime.messages` and `realtime.topic()`: hosted Realtime authorises private channels by
--   evaluating the RLS policies of realtime.messages with `realtime.topic` set to the channel's
--   topic. Our local Realtime server does the same, so the policies a migration writes work on
--   both. Only the columns those policies may reference are reproduced.

do $$
begin
  if not exists (select 1 from pg_catalog.pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end
$$;

create schema if not exists realtime;
grant usage on schema realtime to anon, authenticated, service_role;

create table if not exists realtime.messages (
  id uuid primary key default gen_random_uuid(),
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  inserted_at timestamp not null default now(),
  updated_at timestamp not null default now()
);
alter table realtime.messages enable row level security;
grant select, insert on realtime.messages to anon, authenticated;
grant all on realtime.messages to service_role;

create or replace function realtime.topic() returns text
language sql stable
as $$
  select nullif(current_setting('realtime.topic', true), '')::text
$$;
grant execute on function realtime.topic() to anon, authenticated, service_role;
