-- Viewer analytics: each room's episode session (watchium.room_stats, the figures rooms_stats
-- gives a host): viewers (average, peak and when, unique), retention, bounce rate, comments per
-- minute and the busiest minute, sync quality. With -v room=<room_id>, that room's minute-by-
-- minute timeline as well. Read-only.
--
--   psql "$DATABASE_URL" -f sql/admin/viewer_analytics.sql
--   psql "$DATABASE_URL" -v limit=100 -f sql/admin/viewer_analytics.sql
--   psql "$DATABASE_URL" -v room=k3xq9mfa2p -f sql/admin/viewer_analytics.sql
\if :{?limit}
\else
  \set limit 20
\endif
\if :{?room}
\else
  \set room ''
\endif
select :'room' <> '' as one_room \gset

select r.room_id,
       r.anime_id || ' #' || r.episode_number as episode,
       date_trunc('second', (s ->> 'started_at')::timestamptz) as started,
       round((s ->> 'duration_seconds')::numeric / 60, 1) as minutes,
       (s ->> 'viewers_now')::int as now,
       (s ->> 'unique_viewers')::int as viewers,
       (s ->> 'average_viewers')::numeric as avg,
       (s ->> 'peak_viewers')::int as peak,
       to_char((s ->> 'peak_at')::timestamptz, 'HH24:MI:SS') as peak_at,
       round((s ->> 'retention')::numeric * 100) as "retention %",
       round((s ->> 'bounce_rate')::numeric * 100) as "bounce %",
       (s ->> 'comments')::int as comments,
       (s ->> 'comments_per_minute')::numeric as per_min,
       to_char((s ->> 'busiest_minute')::timestamptz, 'HH24:MI') as busiest,
       round((s ->> 'in_sync_share')::numeric * 100) as "in sync %",
       round((s ->> 'median_drift')::numeric * 1000) as "median drift ms"
  from public.rooms r
  cross join lateral (select watchium.room_stats(r.room_id, clock_timestamp()) as s) stats
  left join watchium.room_activity a on a.room_id = r.room_id
 where (s ->> 'started_at') is not null
   and (:'room' = '' or r.room_id = :'room')
 order by greatest(r.last_activity, a.last_heartbeat) desc
 limit :limit;

\if :one_room
select to_char((m ->> 'minute')::timestamptz, 'HH24:MI') as minute,
       (m ->> 'viewers')::int as viewers,
       repeat('█', (m ->> 'viewers')::int) as "viewers chart",
       (m ->> 'comments')::int as comments,
       repeat('▪', least((m ->> 'comments')::int, 60)) as "comments chart"
  from jsonb_array_elements(watchium.room_stats(:'room', clock_timestamp()) -> 'timeline') m;
\endif
