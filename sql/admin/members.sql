-- One room's members with their drift from the live host position (what members-get-list shows).
-- Positions and heartbeats are in member_heartbeats (not replicated to Realtime); what the members
-- see of each other (sync status, buffering, host) is in room_members.
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
       h.current_playback_time as reported_position_s,
       round(watchium.live_position(h.current_playback_time, r.is_playing and not m.is_buffering,
                                    r.playback_speed, h.last_heartbeat, clock_timestamp())
             - watchium.live_position(r.current_playback_time, r.is_playing, r.playback_speed,
                                      r.playback_updated_at, clock_timestamp()), 3) as drift_s,
       date_trunc('second', clock_timestamp() - h.last_heartbeat) as silent_for,
       m.joined_at
  from public.room_members m
  join public.member_heartbeats h on h.member_id = m.id
  join public.rooms r on r.room_id = m.room_id
 where m.room_id = :'room'
 order by m.joined_at;
