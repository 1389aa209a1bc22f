-- Sync performance over the last hours, per room and event type: how far members were from the
-- host (sync_states logs every heartbeat and every host action with each member's distance).
--
--   psql "$DATABASE_URL" -f sql/admin/sync_performance.sql
--   psql "$DATABASE_URL" -v hours=6 -f sql/admin/sync_performance.sql
\if :{?hours}
\else
  \set hours 1
\endif

select s.room_id,
       s.sync_event_type,
       count(*) as events,
       round(avg(s.time_difference), 3) as avg_diff_s,
       percentile_cont(0.95) within group (order by s.time_difference) as p95_diff_s,
       max(s.time_difference) as max_diff_s,
       count(*) filter (where s.is_synced) as synced,
       round(100.0 * count(*) filter (where s.is_synced) / count(*), 1) as synced_pct
  from public.sync_states s
 where s.created_at > now() - make_interval(hours => :hours)
 group by s.room_id, s.sync_event_type
 order by events desc;
