-- Supabase compatibility bootstrap, part 4: what Supabase Realtime keeps in the database.
--
-- * The publication `supabase_realtime`, created empty and owned by `postgres`: migrations add
--   their tables to it.
-- * `realtime.messages` and `realtime.topic()`, as Realtime's own migrations make them: hosted
--   Realtime authorises private channels by evaluating the RLS policies of realtime.messages with
--   `realtime.topic` set to the channel's topic, and the local Realtime server does the same, so
--   the policies a migration writes work on both. The table is partitioned by `inserted_at` and
--   owned by `supabase_realtime_admin`, as on hosted: `postgres` may read, insert and update rows,
--   and may create policies on it only through the policy grant of part 8, so a migration that
--   would need more (owning the table, altering it) fails here as it would on hosted.
-- * Hosted Realtime creates one partition per day, a few days ahead; the local Realtime server
--   keeps no messages (its authorization probes are rolled back), so one default partition takes
--   whatever is inserted.
--
-- An older local database had a plain realtime.messages: it is rebuilt partitioned, keeping its
-- policies.

do $$
begin
  if not exists (select 1 from pg_catalog.pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end
$$;
alter publication supabase_realtime owner to postgres;

create schema if not exists realtime;
grant usage on schema realtime to supabase_realtime_admin, anon, authenticated, service_role;
grant usage on schema realtime to postgres with grant option;
revoke create on schema realtime from postgres;

do $$
declare
  v_policy record;
begin
  if exists (select 1 from pg_catalog.pg_class
              where oid = to_regclass('realtime.messages') and relkind = 'r') then
    alter table realtime.messages rename to messages_unpartitioned;
  end if;

  create table if not exists realtime.messages (
    topic text not null,
    extension text not null,
    payload jsonb,
    event text,
    private boolean default false,
    updated_at timestamp not null default now(),
    inserted_at timestamp not null default now(),
    id uuid not null default gen_random_uuid(),
    primary key (id, inserted_at)
  ) partition by range (inserted_at);

  if to_regclass('realtime.messages_unpartitioned') is not null then
    for v_policy in
      select p.polname, p.polcmd, p.polpermissive,
             pg_catalog.pg_get_expr(p.polqual, p.polrelid) as qual,
             pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) as with_check,
             (select string_agg(quote_ident(r.rolname), ', ')
                from pg_catalog.pg_roles r where r.oid = any(p.polroles)) as roles
        from pg_catalog.pg_policy p
       where p.polrelid = 'realtime.messages_unpartitioned'::regclass
    loop
      execute format('create policy %I on realtime.messages as %s for %s to %s%s%s',
        v_policy.polname,
        case when v_policy.polpermissive then 'permissive' else 'restrictive' end,
        case v_policy.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update'
                             when 'd' then 'delete' else 'all' end,
        coalesce(v_policy.roles, 'public'),
        coalesce(' using (' || v_policy.qual || ')', ''),
        coalesce(' with check (' || v_policy.with_check || ')', ''));
    end loop;
    drop table realtime.messages_unpartitioned;
  end if;
end
$$;

create table if not exists realtime.messages_local partition of realtime.messages default;
comment on table realtime.messages is
  'Local stand-in for Supabase Realtime''s messages: its RLS policies authorise private channels.';
comment on table realtime.messages_local is
  'The one partition of realtime.messages locally (hosted Realtime keeps one per day).';
alter table realtime.messages enable row level security;
alter table realtime.messages owner to supabase_realtime_admin;
alter table realtime.messages_local owner to supabase_realtime_admin;
grant select, insert, update on realtime.messages to postgres, anon, authenticated, service_role;

create or replace function realtime.topic() returns text
language sql stable
as $$
  select nullif(current_setting('realtime.topic', true), '')::text
$$;
alter function realtime.topic() owner to supabase_realtime_admin;
grant execute on function realtime.topic() to postgres, anon, authenticated, service_role;
