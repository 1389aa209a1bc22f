-- Supabase compatibility bootstrap, part 8: what supautils lends `postgres` on hosted Supabase.
--
-- Hosted Supabase loads the supautils library, which lets `postgres` (its privileged role), one
-- statement at a time:
-- * create, alter and drop the RLS policies of a few tables it does not own (`policy_grants`:
--   realtime.messages is the one Watchium's migrations use);
-- * create the extensions of an allow list that only a superuser could create
--   (`privileged_extensions`: pg_cron, plpgsql_check, ...).
-- This cluster does not load supautils; event triggers have the same effect. As such a statement
-- starts, `postgres` is lent what it needs (membership of the owner of the granted tables, or the
-- superuser attribute); as it ends, the loan is taken back and the statement is checked against
-- the lists: a policy on a table that is not granted, or an extension that is not allowed, fails
-- as it would on hosted. A statement that fails takes the loan back with its rollback.

create schema if not exists _supautils_local;
comment on schema _supautils_local is
  'Local stand-in for supautils'' policy grants and privileged extensions; not needed on hosted '
  'Supabase.';
revoke all on schema _supautils_local from public;

create table if not exists _supautils_local.policy_grants (
  role_name name not null,
  relation text not null,
  primary key (role_name, relation)
);
comment on table _supautils_local.policy_grants is
  'Tables on which role_name may manage RLS policies without owning them (supautils.policy_grants).';
insert into _supautils_local.policy_grants (role_name, relation) values
  ('postgres', 'auth.users'),
  ('postgres', 'auth.sessions'),
  ('postgres', 'auth.refresh_tokens'),
  ('postgres', 'realtime.messages')
on conflict do nothing;

create table if not exists _supautils_local.privileged_extensions (
  name text primary key
);
comment on table _supautils_local.privileged_extensions is
  'Extensions postgres may create although they need a superuser (supautils.privileged_extensions).';
insert into _supautils_local.privileged_extensions (name)
select unnest(array[
  'address_standardizer', 'address_standardizer_data_us', 'autoinc', 'bloom', 'btree_gin',
  'btree_gist', 'citext', 'cube', 'dblink', 'dict_int', 'dict_xsyn', 'earthdistance',
  'fuzzystrmatch', 'hstore', 'http', 'hypopg', 'index_advisor', 'insert_username', 'intarray',
  'isn', 'ltree', 'moddatetime', 'pg_cron', 'pg_graphql', 'pg_hashids', 'pg_jsonschema', 'pg_net',
  'pg_partman', 'pg_repack', 'pg_stat_monitor', 'pg_stat_statements', 'pg_tle', 'pg_trgm',
  'pg_walinspect', 'pgaudit', 'pgcrypto', 'pgjwt', 'pg_prewarm', 'pgmq', 'pgroonga',
  'pgroonga_database', 'pgrouting', 'pgrowlocks', 'pgstattuple', 'pgsodium', 'pgtap', 'plcoffee',
  'pljava', 'plls', 'plpgsql', 'plpgsql_check', 'plv8', 'postgis', 'postgis_raster',
  'postgis_sfcgal', 'postgis_tiger_geocoder', 'postgis_topology', 'postgres_fdw', 'refint', 'rum',
  'seg', 'sslinfo', 'supabase_vault', 'tablefunc', 'tcn', 'timescaledb', 'tsm_system_rows',
  'tsm_system_time', 'unaccent', 'uuid-ossp', 'vector', 'wrappers'])
on conflict do nothing;

create or replace function _supautils_local.acting_role() returns name
language sql stable
set search_path = ''
as $$
  -- Inside a security definer function current_user is its owner; the role the statement runs
  -- as is the one SET ROLE chose, else the session's.
  select coalesce(nullif(pg_catalog.current_setting('role'), 'none'), session_user)::name
$$;
comment on function _supautils_local.acting_role() is
  'The role the current statement runs as, seen from inside a security definer function.';

-- why security definer: lending a membership or the superuser attribute needs a superuser.
create or replace function _supautils_local.lend() returns event_trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  v_role name := _supautils_local.acting_role();
  v_owners text[];
begin
  if v_role is distinct from 'postgres'
     or (select r.rolsuper from pg_catalog.pg_roles r where r.rolname = v_role) then
    return;
  end if;
  if tg_tag = 'CREATE EXTENSION' then
    execute format('alter role %I superuser', v_role);
    perform pg_catalog.set_config('_supautils_local.loan', 'superuser', true);
    return;
  end if;
  select array_agg(distinct o.rolname::text) into v_owners
    from _supautils_local.policy_grants g
    join pg_catalog.pg_class c on c.oid = pg_catalog.to_regclass(g.relation)
    join pg_catalog.pg_roles o on o.oid = c.relowner
   where g.role_name = v_role and not pg_catalog.pg_has_role(v_role, c.relowner, 'USAGE');
  for i in 1 .. coalesce(array_length(v_owners, 1), 0) loop
    execute format('grant %I to %I', v_owners[i], v_role);
  end loop;
  perform pg_catalog.set_config('_supautils_local.loan', array_to_string(v_owners, ','), true);
end;
$$;
comment on function _supautils_local.lend() is
  'Event trigger: lends postgres, for one statement, what supautils would (see the schema).';

-- Raises when a policy statement of v_role reached a table only through the loan of v_owners.
create or replace function _supautils_local.check_policy_table(
  p_role name, p_owners text[], p_schema text, p_table text
) returns void
language plpgsql stable
set search_path = ''
as $$
begin
  if exists (select 1 from pg_catalog.pg_class c
               join pg_catalog.pg_namespace n on n.oid = c.relnamespace
              where n.nspname = p_schema and c.relname = p_table
                and pg_catalog.pg_get_userbyid(c.relowner)::text = any(p_owners))
     and not exists (select 1 from _supautils_local.policy_grants g
                      where g.role_name = p_role
                        and g.relation = format('%s.%s', p_schema, p_table)) then
    raise exception using
      errcode = '42501',
      message = format('must be owner of table %s', p_table),
      hint = 'hosted Supabase lets postgres manage policies only on its own tables and on those '
             'of supautils.policy_grants';
  end if;
end;
$$;
comment on function _supautils_local.check_policy_table(name, text[], text, text) is
  'Refuses a policy on p_schema.p_table that only the lent ownership allowed.';

-- why security definer: taking the loan back needs a superuser.
create or replace function _supautils_local.take_back() returns event_trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  v_role name := _supautils_local.acting_role();
  v_loan text := pg_catalog.current_setting('_supautils_local.loan', true);
  v_owners text[];
  v_object record;
begin
  if v_loan is null or v_loan = '' then
    return;
  end if;
  if tg_event = 'sql_drop' then
    -- The policies are gone: check the tables they were on; the loan ends with the statement.
    for v_object in
      select o.address_names[1] as schema_name, o.address_names[2] as table_name
        from pg_catalog.pg_event_trigger_dropped_objects() o
       where o.object_type = 'policy'
    loop
      perform _supautils_local.check_policy_table(
        v_role, string_to_array(v_loan, ','), v_object.schema_name, v_object.table_name);
    end loop;
    return;
  end if;
  perform pg_catalog.set_config('_supautils_local.loan', '', true);
  if v_loan = 'superuser' then
    execute format('alter role %I nosuperuser', v_role);
    for v_object in
      select e.extname
        from pg_catalog.pg_event_trigger_ddl_commands() d
        join pg_catalog.pg_extension e on e.oid = d.objid
       where d.classid = 'pg_catalog.pg_extension'::regclass
         and not exists (select 1 from _supautils_local.privileged_extensions p
                          where p.name = e.extname)
         and not exists (select 1 from pg_catalog.pg_available_extension_versions v
                          where v.name = e.extname and v.version = e.extversion and v.trusted)
    loop
      raise exception using
        errcode = '42501',
        message = format('permission denied to create extension "%s"', v_object.extname),
        hint = 'hosted Supabase lets postgres create trusted extensions and those of '
               'supautils.privileged_extensions';
    end loop;
    return;
  end if;
  v_owners := string_to_array(v_loan, ',');
  for v_object in
    select n.nspname::text as schema_name, c.relname::text as table_name
      from pg_catalog.pg_event_trigger_ddl_commands() d
      join pg_catalog.pg_policy p on p.oid = d.objid
      join pg_catalog.pg_class c on c.oid = p.polrelid
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where d.classid = 'pg_catalog.pg_policy'::regclass
  loop
    perform _supautils_local.check_policy_table(
      v_role, v_owners, v_object.schema_name, v_object.table_name);
  end loop;
  for i in 1 .. coalesce(array_length(v_owners, 1), 0) loop
    execute format('revoke %I from %I', v_owners[i], v_role);
  end loop;
end;
$$;
comment on function _supautils_local.take_back() is
  'Event trigger: takes back what lend() lent and checks the statement against the allow lists.';

revoke all on all functions in schema _supautils_local from public;
revoke all on all tables in schema _supautils_local from public;

drop event trigger if exists _supautils_local_lend;
create event trigger _supautils_local_lend on ddl_command_start
  when tag in ('CREATE POLICY', 'ALTER POLICY', 'DROP POLICY', 'CREATE EXTENSION')
  execute function _supautils_local.lend();

drop event trigger if exists _supautils_local_check_drop;
create event trigger _supautils_local_check_drop on sql_drop
  when tag in ('DROP POLICY')
  execute function _supautils_local.take_back();

drop event trigger if exists _supautils_local_take_back;
create event trigger _supautils_local_take_back on ddl_command_end
  when tag in ('CREATE POLICY', 'ALTER POLICY', 'DROP POLICY', 'CREATE EXTENSION')
  execute function _supautils_local.take_back();
