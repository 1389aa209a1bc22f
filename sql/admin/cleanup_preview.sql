-- What the next cleanup pass would remove (watchium.cleanup_realtime_data(), run every 30 s by
-- pg_cron or `watchium up`), on the windows of watchium.settings. Nothing is deleted here.
--
--   psql "$DATABASE_URL" -f sql/admin/cleanup_preview.sql
--   run it now:  select watchium.cleanup_realtime_data();

select * from watchium.settings;

select 'members silent past member_timeout' as what, count(*) as rows
  from public.member_heartbeats h, watchium.settings s
 where h.last_heartbeat < clock_timestamp() - s.member_timeout
union all
select 'sync_states past sync_states_retention', count(*)
  from public.sync_states st, watchium.settings s
 where st.created_at < now() - s.sync_states_retention
union all
select 'rooms empty past empty_room_ttl or idle past inactive_room_ttl', count(*)
  from public.rooms r
  cross join watchium.settings s
  -- A room's activity: its own (creation, host actions) and its members' heartbeats.
  left join watchium.room_activity a on a.room_id = r.room_id
 where greatest(r.last_activity, a.last_heartbeat) < now() - s.inactive_room_ttl
    or (greatest(r.last_activity, a.last_heartbeat) < now() - s.empty_room_ttl
        and not exists (select 1 from public.room_members m where m.room_id = r.room_id))
union all
select 'spent rate-limit buckets', count(*)
  from watchium.rate_limit_buckets b
 where b.tat < clock_timestamp();
