-- Moderation: the audit log (every kick, ban, unban, mute, unmute, co-host grant and key
-- rotation, with who did it, as what, to whom and why), the moderators who acted most, and the
-- bans, mutes and kick cooldowns in force. With -v room=<room_id>, that room's only. Read-only.
--
--   psql "$DATABASE_URL" -f sql/admin/moderation.sql
--   psql "$DATABASE_URL" -v hours=168 -v limit=200 -f sql/admin/moderation.sql
--   psql "$DATABASE_URL" -v room=k3xq9mfa2p -f sql/admin/moderation.sql
\if :{?hours}
\else
  \set hours 24
\endif
\if :{?limit}
\else
  \set limit 100
\endif
\if :{?room}
\else
  \set room ''
\endif

\echo 'Moderation actions (newest first)'
select l.created_at,
       l.room_id,
       l.action,
       l.actor_role,
       coalesce(a.username, l.actor_user_id) as actor,
       coalesce(t.username, l.target_user_id) as target,
       l.reason
  from watchium.moderation_log l
  left join public.room_members a on a.room_id = l.room_id and a.user_id = l.actor_user_id
  left join public.room_members t on t.room_id = l.room_id and t.user_id = l.target_user_id
 where l.created_at > now() - make_interval(hours => :'hours'::int)
   and (:'room' = '' or l.room_id = :'room')
 order by l.created_at desc, l.id desc
 limit :'limit'::int;

\echo 'Actions per moderator'
select l.actor_user_id,
       l.actor_role,
       count(*) as actions,
       count(*) filter (where l.action = 'kick') as kicks,
       count(*) filter (where l.action = 'ban') as bans,
       count(*) filter (where l.action = 'mute') as mutes,
       count(distinct l.room_id) as rooms,
       max(l.created_at) as last_action
  from watchium.moderation_log l
 where l.created_at > now() - make_interval(hours => :'hours'::int)
   and (:'room' = '' or l.room_id = :'room')
 group by l.actor_user_id, l.actor_role
 order by actions desc
 limit :'limit'::int;

\echo 'Restrictions in force'
select x.room_id,
       x.kind,
       x.user_id,
       x.created_by,
       x.created_at,
       x.expires_at,
       x.reason
  from public.room_restrictions x
 where (x.expires_at is null or x.expires_at > clock_timestamp())
   and (:'room' = '' or x.room_id = :'room')
 order by x.created_at desc
 limit :'limit'::int;
