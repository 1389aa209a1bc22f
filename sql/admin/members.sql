-- One room's members with their drift from the live host position (what members-get-list shows).
--
--   psql "$DATABASE_URL" -v room=abcdefghij -f sql/admin/members.sql
\if :{?room}
\else
  \echo 'usage: psql -v room=<room_id> -f sql/admin/members.sql'
  \quit
\endif

select m.username,
       m.user_id,
       m.is_host,
       m.is_synced,
       m.is_buffering,
       round(watchium.live_position(m.current_playback_time, r.is_playing and not m.is_buffering,
                                    r.playback_speed, m.last_heartbeat, clock_timestamp())
             - watchium.live_position(r.current_playback_time, r.is_playing, r.playback_speed,
                                      r.playback_updated_at, clock_timestamp()), 3) as drift_s,
       date_trunc('second', clock_timestamp() - m.last_heartbeat) as silent_for,
       m.joined_at
  from public.room_members m
  join public.rooms r on r.room_id = m.room_id
 where m.room_id = :'room'
 order by m.joined_at;
