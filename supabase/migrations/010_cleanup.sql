-- 010 cleanup: retention on the windows of watchium.settings (seed defect 9: the seeds disagreed;
-- this is the one documented set, see docs/SCHEMA.md).
--
-- * members without a heartbeat for settings.member_timeout (30 s) are removed, so the host role
--   transfers away from a host who vanished;
-- * sync_states older than settings.sync_states_retention (24 h) are deleted;
-- * rooms empty for settings.empty_room_ttl (1 h), or without any activity for
--   settings.inactive_room_ttl (24 h), are deleted;
-- * fully refilled rate-limit buckets are dropped (they carry no state).
--
-- Scheduling: with pg_cron (hosted Supabase: enable it under Database > Extensions) this migration
-- schedules watchium.cleanup_realtime_data() every 30 seconds; without it, the local stack runs the
-- same function on a timer (`watchium up`).

create function watchium.cleanup_old_sync_states() returns integer
language plpgsql volatile
set search_path = ''
as $$
declare
  v_deleted integer;
begin
  delete from public.sync_states st
   where st.created_at < now() - (select s.sync_states_retention from watchium.settings s);
  get diagnostics v_deleted = row_count;
  return v_deleted;
end;
$$;
comment on function watchium.cleanup_old_sync_states() is
  'Deletes sync_states older than settings.sync_states_retention; returns how many.';

create function watchium.cleanup_inactive_rooms() returns integer
language plpgsql volatile
set search_path = ''
as $$
declare
  v_deleted integer;
begin
  delete from public.rooms r
   using watchium.settings s
   where r.last_activity < now() - s.inactive_room_ttl
      or (r.last_activity < now() - s.empty_room_ttl
          and not exists (select 1 from public.room_members m where m.room_id = r.room_id));
  get diagnostics v_deleted = row_count;
  return v_deleted;
end;
$$;
comment on function watchium.cleanup_inactive_rooms() is
  'Deletes rooms empty for settings.empty_room_ttl or idle for settings.inactive_room_ttl; returns how many.';

create function watchium.cleanup_realtime_data() returns jsonb
language plpgsql volatile
set search_path = ''
as $$
declare
  v_members integer;
  v_buckets integer;
begin
  delete from public.room_members m
   using watchium.settings s
   where m.last_heartbeat < clock_timestamp() - s.member_timeout;
  get diagnostics v_members = row_count;

  delete from watchium.rate_limit_buckets b where b.tat < clock_timestamp();
  get diagnostics v_buckets = row_count;

  return jsonb_build_object(
    'members_removed', v_members,
    'sync_states_deleted', watchium.cleanup_old_sync_states(),
    'rooms_deleted', watchium.cleanup_inactive_rooms(),
    'rate_limit_buckets_deleted', v_buckets);
end;
$$;
comment on function watchium.cleanup_realtime_data() is
  'All retention in one call (run every 30 s): removes silent members (the host role transfers), old '
  'sync states, empty or idle rooms and spent rate-limit buckets. Returns the counts.';

do $$
begin
  if exists (select 1 from pg_catalog.pg_extension where extname = 'pg_cron') then
    perform cron.schedule('watchium-cleanup', '30 seconds', 'select watchium.cleanup_realtime_data()');
  end if;
end
$$;
