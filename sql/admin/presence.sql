-- Presence: members heard from in the last minutes, per room, and how many are in sync now
-- (heartbeats from member_heartbeats, sync status and buffering from room_members).
--
--   psql "$DATABASE_URL" -f sql/admin/presence.sql
--   psql "$DATABASE_URL" -v minutes=1 -f sql/admin/presence.sql
\if :{?minutes}
\else
  \set minutes 5
\endif

select m.room_id,
       count(*) as active_members,
       count(*) filter (where m.is_synced) as synced_members,
       count(*) filter (where m.is_buffering) as buffering,
       count(*) filter (where h.last_heartbeat < clock_timestamp() - s.member_timeout)
         as about_to_be_removed,
       max(h.last_heartbeat) as last_heartbeat
  from public.room_members m
  join public.member_heartbeats h on h.member_id = m.id
 cross join watchium.settings s
 where h.last_heartbeat > now() - make_interval(mins => :minutes)
 group by m.room_id
 order by active_members desc;
