-- Supabase compatibility bootstrap, part 7: the local Realtime server's row level security check.
--
-- Hosted Realtime decides per subscriber whether a changed row may be sent: with the subscriber's
-- role and JWT claims set, it selects the row by primary key. The local Realtime server
-- (watchium_stack/realtime) asks that question through `_realtime_local.visible`, for every
-- subscriber of a row in one call. Its connections log in as `authenticator`, which may switch to
-- the API roles; no API role may call the function (it would let a client try claims of its
-- choosing). Hosted Supabase does not need this schema.

create schema if not exists _realtime_local;
comment on schema _realtime_local is
  'Helpers of the local Realtime server (watchium_stack.realtime); not needed on hosted Supabase.';
revoke all on schema _realtime_local from public;
grant usage on schema _realtime_local to authenticator;

-- A committed transaction reaches the replication stream as soon as its commit record is on disk,
-- a moment before other sessions' snapshots see it: a check made in that moment would not find
-- an inserted row (and would judge an updated one by its old version). A check therefore first
-- waits until the transactions of the changes it covers are visible.
create or replace function _realtime_local.await_visible(
  p_xids bigint[],
  p_timeout interval default interval '2 seconds'
) returns boolean
language plpgsql volatile
set search_path = ''
as $$
declare
  v_deadline timestamptz := pg_catalog.clock_timestamp() + p_timeout;
  v_snapshot pg_catalog.pg_snapshot;
  v_next bigint;
  v_epoch bigint;
  v_xid bigint;
  v_pending boolean;
begin
  loop
    v_snapshot := pg_catalog.pg_current_snapshot();
    v_next := pg_catalog.pg_snapshot_xmax(v_snapshot)::text::bigint;
    v_pending := false;
    foreach v_xid in array coalesce(p_xids, '{}') loop
      -- pgoutput gives the 32-bit xid: it belongs to the epoch of the snapshot's xmax, or the
      -- one before when the counter wrapped since.
      v_epoch := v_next >> 32;
      if v_xid >= (v_next & 4294967295) then
        v_epoch := v_epoch - 1;
      end if;
      if not pg_catalog.pg_visible_in_snapshot(
          ((v_epoch << 32) | v_xid)::text::xid8, v_snapshot) then
        v_pending := true;
        exit;
      end if;
    end loop;
    if not v_pending then
      return true;
    end if;
    if pg_catalog.clock_timestamp() > v_deadline then
      return false;
    end if;
    perform pg_catalog.pg_sleep(0.001);
  end loop;
end;
$$;
comment on function _realtime_local.await_visible(bigint[], interval) is
  'Waits (at most p_timeout) until the committed transactions p_xids (32-bit xids, as logical '
  'decoding reports them) are visible to new snapshots; returns whether they are.';
revoke all on function _realtime_local.await_visible(bigint[], interval) from public;
grant execute on function _realtime_local.await_visible(bigint[], interval) to authenticator;

drop function if exists _realtime_local.visible(regclass, text[], text[], text[], text[]);
create or replace function _realtime_local.visible(
  p_relation regclass,
  p_key_columns text[],
  p_key_values text[],
  p_roles text[],
  p_claims text[],
  p_xids bigint[] default '{}'
) returns boolean[]
language plpgsql volatile
set search_path = ''
as $$
declare
  v_where text;
  v_sql text;
  v_name text;
  v_execute text;
  v_ok boolean;
  v_out boolean[] := array_fill(false, array[coalesce(array_length(p_roles, 1), 0)]);
begin
  select string_agg(format('%I = ($1[%s])::%s', a.attname, k.i,
                           pg_catalog.format_type(a.atttypid, a.atttypmod)), ' and ')
    into v_where
    from unnest(p_key_columns) with ordinality as k(name, i)
    join pg_catalog.pg_attribute a on a.attrelid = p_relation and a.attname = k.name;
  if v_where is null then
    return v_out;
  end if;
  perform _realtime_local.await_visible(p_xids);
  v_sql := format('select exists (select 1 from %s where %s)', p_relation, v_where);
  -- A statement prepared once per connection and table key (named after its text): its plan,
  -- the table's policies included, is made once per role and reused for every subscriber,
  -- where a dynamic query would be parsed and planned again for each of them.
  v_name := '_realtime_visible_' || md5(v_sql);
  if not exists (select 1 from pg_catalog.pg_prepared_statements s where s.name = v_name) then
    execute format('prepare %I(text[]) as %s', v_name, v_sql);
  end if;
  v_execute := format('execute %I(%L)', v_name, p_key_values);
  for i in 1 .. coalesce(array_length(p_roles, 1), 0) loop
    begin
      perform pg_catalog.set_config('role', p_roles[i], true),
              pg_catalog.set_config('request.jwt.claims', p_claims[i], true);
      execute v_execute into v_ok;
      v_out[i] := coalesce(v_ok, false);
    exception when others then
      -- A policy that fails for this subscriber hides the row from it.
      v_out[i] := false;
    end;
  end loop;
  return v_out;
end;
$$;
comment on function _realtime_local.visible(regclass, text[], text[], text[], text[], bigint[]) is
  'For each (role, claims): whether that subscriber can SELECT the row with the given key, once '
  'the transactions p_xids (those of the changes checked) are visible.';
revoke all on function _realtime_local.visible(regclass, text[], text[], text[], text[], bigint[])
  from public;
grant execute on function _realtime_local.visible(regclass, text[], text[], text[], text[], bigint[])
  to authenticator;
