-- Room activity: every room with its members, host, live position and how recently it was active.
-- Members are counted (count of member rows), so an empty room shows 0, not 1.
--
--   psql "$DATABASE_URL" -f sql/admin/room_activity.sql
--   psql "$DATABASE_URL" -v limit=100 -f sql/admin/room_activity.sql
\if :{?limit}
\else
  \set limit 50
\endif

select r.room_id,
       r.title,
       case when r.is_public then 'public' else 'private' end as visibility,
       r.host_username,
       count(m.id) as members,
       count(m.id) filter (where m.is_synced) as synced,
       r.is_playing,
       round(watchium.live_position(r.current_playback_time, r.is_playing, r.playback_speed,
                                    r.playback_updated_at, clock_timestamp()), 1) as position_s,
       r.playback_speed as speed,
       date_trunc('second', now() - r.last_activity) as idle_for
  from public.rooms r
  left join public.room_members m on m.room_id = r.room_id
 group by r.id
 order by r.last_activity desc
 limit :limit;
