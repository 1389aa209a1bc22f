-- What the next cleanup pass would remove (watchium.cleanup_realtime_data(), run every 30 s by
-- pg_cron or `watchium up`), on the windows of watchium.settings. Nothing is deleted here.
--
--   psql "$DATABASE_URL" -f sql/admin/cleanup_preview.sql
--   run it now:  select watchium.cleanup_realtime_data();

select * from watchium.settings;

select 'members silent past member_timeout' as what, count(*) as rows
  from public.room_members m, watchium.settings s
 where m.last_heartbeat < clock_timestamp() - s.member_timeout
union all
select 'sync_states past sync_states_retention', count(*)
  from public.sync_states st, watchium.settings s
 where st.created_at < now() - s.sync_states_retention
union all
select 'rooms empty past empty_room_ttl or idle past inactive_room_ttl', count(*)
  from public.rooms r, watchium.settings s
 where r.last_activity < now() - s.inactive_room_ttl
    or (r.last_activity < now() - s.empty_room_ttl
        and not exists (select 1 from public.room_members m where m.room_id = r.room_id))
union all
select 'spent rate-limit buckets', count(*)
  from watchium.rate_limit_buckets b
 where b.tat < clock_timestamp();
