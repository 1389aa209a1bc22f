-- Over 500 lines: moderation is one feature (co-hosts, kick, ban, mute, the audit log) whose
-- rules read each other; splitting it would scatter one permission table over files.
--
-- 018 moderation and co-hosts (docs/NIGHTS.md, "Moderation").
--
-- Co-hosts: the host grants and revokes playback control (room_members.is_cohost, a published
-- column: members see who holds it). A co-host may use sync_control like the host (its changes
-- count against the room's one playback budget, the host's sync_control limit) and moderate
-- members; when the host leaves, the earliest co-host takes over before the earliest joiner.
--
-- Moderation: kick (the membership row is deleted, so the Realtime server ends the member's
-- channel access at once, and joining again is refused for settings.kick_cooldown, 5 minutes:
-- long enough that a client which rejoins by itself after losing its membership stays out), ban (kept in room_restrictions by user id, so it survives signing in
-- again under the same user; a banned user cannot join with any key or invite) and mute
-- (comments refused in the room), with unban and unmute. Who may act on whom:
--
--   actor \ target   member   co-host   host
--   host             yes      yes       -
--   co-host          yes      no        no
--   service_role     yes      yes       yes
--
-- Only the host grants or revokes co-host. Every action, and every rotation of the access key,
-- leaves a system message in the room's thread and a row of watchium.moderation_log (for psql
-- admins: sql/admin/moderation.sql). Moderation is limited to 60 actions an hour per moderator.

------------------------------------------------------------------------------------------------
-- Co-hosts.
------------------------------------------------------------------------------------------------

alter table public.room_members
  add column is_cohost boolean not null default false,
  add constraint host_is_not_cohost check (not (is_host and is_cohost));
comment on column public.room_members.is_cohost is
  'Granted by the host (members_set_cohost): may control playback and moderate members.';

-- The role the user holds in the room: 'host', 'cohost' or NULL.
create function watchium.room_role(p_room_id text, p_user_id text) returns text
language sql stable
set search_path = ''
as $$
  select case when m.is_host then 'host' when m.is_cohost then 'cohost' end
    from public.room_members m
   where m.room_id = p_room_id and m.user_id = p_user_id
$$;
comment on function watchium.room_role(text, text) is
  'The user''s role in the room: host, cohost, or NULL (a plain member or not a member).';

create or replace function watchium.apply_playback(
  p_room_id text,
  p_user_id text,
  p_is_playing boolean,
  p_position numeric,
  p_speed numeric,
  p_at timestamptz,
  p_event text
) returns public.rooms
language plpgsql volatile
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_now timestamptz := clock_timestamp();
  v_room public.rooms;
begin
  perform watchium.check_position(p_position, 'position');
  if p_speed is not null and (p_speed < 0.25 or round(p_speed, 2) > 4) then
    raise exception using errcode = 'WR400', message = 'playback speed must be between 0.25 and 4';
  end if;
  if p_at is not null and abs(extract(epoch from (p_at - v_now)))
       > extract(epoch from (select s.max_clock_skew from watchium.settings s)) then
    raise exception using
      errcode = 'WR400',
      message = 'the reference time is too far from the server clock',
      hint = 'send the server time at which the player was at the position, or leave it out';
  end if;

  v_room := watchium.room_for(p_room_id, v_uid, true);
  -- A change that waited for another one's lock comes after it: its time is the time it got
  -- the room, so reference times follow commit order (members keep the newest row by it).
  v_now := clock_timestamp();
  if watchium.room_role(p_room_id, v_uid) is null then
    raise exception using
      errcode = 'WRH03',
      message = 'only the host or a co-host can control playback',
      hint = format('the host of room %s is %s', p_room_id, v_room.host_username);
  end if;

  if p_position is null
     and (p_is_playing is null or p_is_playing = v_room.is_playing)
     and (p_speed is null or p_speed = v_room.playback_speed) then
    return v_room; -- nothing changes: no event, no rate-limit charge
  end if;

  perform watchium.bulk_sync_update(
    p_room_id,
    round(coalesce(p_position, watchium.live_position(
      v_room.current_playback_time, v_room.is_playing, v_room.playback_speed,
      v_room.playback_updated_at, v_now)), 2),
    p_event,
    false);

  update public.rooms r
     set is_playing = coalesce(p_is_playing, r.is_playing),
         playback_speed = coalesce(p_speed, r.playback_speed),
         current_playback_time = coalesce(p_position, r.current_playback_time),
         playback_updated_at = case when p_position is null then r.playback_updated_at
                                    else coalesce(p_at, v_now) end
   where r.room_id = p_room_id
  returning * into v_room;
  return v_room;
end;
$$;
comment on function watchium.apply_playback(text, text, boolean, numeric, numeric, timestamptz, text) is
  'Applies a playback change of the host or a co-host: checks the role, logs it for every member, '
  'updates the room (p_position NULL = continue from the live position; p_at = server time of '
  'p_position). The change counts against the host''s sync_control limit (rooms_playback_guard).';

-- The host leaving: the earliest co-host takes over, else the earliest joiner.
create or replace function watchium.transfer_host_on_leave() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  v_new_id uuid;
  v_new_user varchar(100);
  v_new_name varchar(100);
begin
  if not old.is_host then
    return null;
  end if;
  loop
    select m.id, m.user_id, m.username into v_new_id, v_new_user, v_new_name
      from public.room_members m
     where m.room_id = old.room_id
     order by m.is_cohost desc, m.joined_at, m.id
     limit 1;
    exit when not found;
    -- If that member is leaving in a concurrent transaction, this UPDATE waits for it and then
    -- finds no row: pick the next one.
    update public.room_members m set is_host = true, is_cohost = false where m.id = v_new_id;
    exit when found;
    v_new_id := null;
  end loop;

  if v_new_id is null then
    return null; -- the room is empty; cleanup deletes it after settings.empty_room_ttl
  end if;

  update public.rooms r
     set host_user_id = v_new_user, host_username = v_new_name, last_activity = now()
   where r.room_id = old.room_id;
  perform watchium.post_system_comment(old.room_id, v_new_name || ' became the new host');
  return null;
end;
$$;
comment on function watchium.transfer_host_on_leave() is
  'Trigger: when the host leaves, the earliest co-host (else the earliest-joined member) becomes '
  'host, the room records it and a system comment announces it. Safe against concurrent leaves.';

------------------------------------------------------------------------------------------------
-- Bans, kicks and mutes, and the audit log.
------------------------------------------------------------------------------------------------

alter table watchium.settings
  add column kick_cooldown interval not null default interval '5 minutes'
    constraint valid_kick_cooldown check (kick_cooldown >= interval '0');
comment on column watchium.settings.kick_cooldown is
  'How long a kicked member may not join the room again.';

create table public.room_restrictions (
  room_id varchar(10) not null references public.rooms (room_id) on delete cascade,
  user_id varchar(100) not null,
  kind text not null constraint valid_restriction_kind check (kind in ('ban', 'kick', 'mute')),
  created_by varchar(100) not null,
  reason varchar(200),
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  constraint only_kicks_expire check ((kind = 'kick') = (expires_at is not null)),
  primary key (room_id, user_id, kind)
);
comment on table public.room_restrictions is
  'Bans (the user cannot join the room), kicks (cannot join it again before expires_at) and '
  'mutes (cannot comment in it), by user id: they survive leaving, rejoining and signing in again. Written by rooms_moderate; read by the '
  'restricted user and the room''s host and co-hosts. Not replicated.';
comment on column public.room_restrictions.room_id is 'The room.';
comment on column public.room_restrictions.user_id is 'The restricted user.';
comment on column public.room_restrictions.kind is 'ban, kick or mute.';
comment on column public.room_restrictions.created_by is 'The moderator who imposed it.';
comment on column public.room_restrictions.reason is 'The moderator''s reason, if given (200 characters).';
comment on column public.room_restrictions.created_at is 'When it was imposed.';
comment on column public.room_restrictions.expires_at is
  'A kick''s end (settings.kick_cooldown after it); NULL for bans and mutes, which last until lifted.';

create table watchium.moderation_log (
  id bigint generated always as identity primary key,
  room_id varchar(10) not null,
  actor_user_id varchar(100) not null,
  actor_role text not null constraint valid_actor_role check (actor_role in ('host', 'cohost', 'service')),
  action text not null constraint valid_moderation_action check (action in (
    'kick', 'ban', 'unban', 'mute', 'unmute', 'grant_cohost', 'revoke_cohost', 'rotate_key')),
  target_user_id varchar(100),
  reason varchar(200),
  created_at timestamptz not null default clock_timestamp()
);
comment on table watchium.moderation_log is
  'Every moderation action (kick, ban, unban, mute, unmute, co-host grants, key rotations): who '
  'did what to whom in which room. For psql admins (sql/admin/moderation.sql); no API role reads '
  'it. Kept after the room is gone.';
create index idx_moderation_log_room on watchium.moderation_log (room_id, created_at);
create index idx_moderation_log_created_at on watchium.moderation_log (created_at);
alter table watchium.moderation_log enable row level security;

create function watchium.log_moderation(
  p_room_id text, p_actor text, p_role text, p_action text, p_target text, p_reason text,
  p_message text
) returns void
language plpgsql volatile
set search_path = ''
as $$
begin
  insert into watchium.moderation_log (room_id, actor_user_id, actor_role, action, target_user_id, reason)
  values (p_room_id, p_actor, p_role, p_action, p_target, p_reason);
  perform watchium.post_system_comment(p_room_id, p_message);
end;
$$;
comment on function watchium.log_moderation(text, text, text, text, text, text, text) is
  'Records a moderation action in watchium.moderation_log and posts its system message.';

-- A banned user's membership cannot be created, whichever path creates it (rooms_join with a key
-- or an invite, service_role). The row lock rooms_join and rooms_moderate take on the room
-- orders a ban and a concurrent join.
-- why security definer: the joiner's role may not read other users' restrictions.
create function watchium.refuse_banned_member() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  v_kind text;
  v_until timestamptz;
begin
  select x.kind, x.expires_at into v_kind, v_until
    from public.room_restrictions x
   where x.room_id = new.room_id and x.user_id = new.user_id
     and (x.kind = 'ban' or (x.kind = 'kick' and x.expires_at > clock_timestamp()))
   order by x.kind -- a ban before a kick
   limit 1;
  if v_kind = 'ban' then
    raise exception using
      errcode = 'WRB03',
      message = format('you are banned from room %s', new.room_id),
      hint = 'only the host or a co-host can lift the ban',
      detail = json_build_object('kind', 'ban')::text;
  elsif v_kind = 'kick' then
    raise exception using
      errcode = 'WRB03',
      message = format('you were removed from room %s', new.room_id),
      hint = format('you may join again in %s seconds',
                    ceil(extract(epoch from v_until - clock_timestamp()))),
      detail = json_build_object(
        'kind', 'kick',
        'retry_after', round(extract(epoch from v_until - clock_timestamp())::numeric, 3))::text;
  end if;
  return new;
end;
$$;
comment on function watchium.refuse_banned_member() is
  'Trigger: refuses (WRB03) a membership of a user banned from the room, or kicked from it less '
  'than settings.kick_cooldown ago; DETAIL is JSON {"kind": "ban"} or {"kind": "kick", '
  '"retry_after"}.';
create trigger on_member_join_refuse_banned
  before insert on public.room_members
  for each row execute function watchium.refuse_banned_member();

-- why security definer: the author's role may not read other users' restrictions.
create function watchium.refuse_muted_comment() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if new.room_id is not null and not new.is_system_message
     and exists (select 1 from public.room_restrictions x
                  where x.room_id = new.room_id and x.user_id = new.user_id and x.kind = 'mute') then
    raise exception using
      errcode = 'WRS03',
      message = format('you are muted in room %s', new.room_id),
      hint = 'the host or a co-host can unmute you';
  end if;
  return new;
end;
$$;
comment on function watchium.refuse_muted_comment() is
  'Trigger: refuses (WRS03) a comment, or an edit of one, by a user muted in its room.';
create trigger on_comment_refuse_muted
  before insert or update of message on public.comments
  for each row execute function watchium.refuse_muted_comment();

insert into watchium.rate_limit_rules (action, max_requests, per, description) values
  ('moderation', 60, interval '1 hour',
   'moderation actions (kick, ban, unban, mute, unmute, co-host grants) by a moderator');

------------------------------------------------------------------------------------------------
-- Entry points.
------------------------------------------------------------------------------------------------

-- The caller's right to moderate the target: returns the caller's role ('host', 'cohost' or
-- 'service'), or raises WRH03.
create function watchium.moderator_role(p_room_id text, p_actor text, p_target text) returns text
language plpgsql stable
set search_path = ''
as $$
declare
  v_role text := watchium.room_role(p_room_id, p_actor);
  v_target_role text := watchium.room_role(p_room_id, p_target);
begin
  if watchium.is_privileged() and v_role is null then
    return 'service';
  end if;
  if v_role is null then
    raise exception using
      errcode = 'WRH03',
      message = 'only the host or a co-host can moderate members';
  end if;
  if v_role = 'cohost' and v_target_role is not null then
    raise exception using
      errcode = 'WRH03',
      message = format('a co-host cannot act on the %s', case v_target_role
        when 'host' then 'host' else 'other co-hosts' end),
      hint = 'ask the host';
  end if;
  return v_role;
end;
$$;
comment on function watchium.moderator_role(text, text, text) is
  'The caller''s moderating role over the target in the room (host, cohost, service), or WRH03: '
  'members may not moderate, and a co-host may not act on the host or another co-host.';

-- why security definer: deletes other users' memberships and writes restrictions and the audit
-- log, which no API role may write, after checking the caller's role.
create function public.rooms_moderate(
  p_room_id text,
  p_action text,
  p_target_user_id text,
  p_reason text default null,
  p_user_id text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_action text := lower(coalesce(p_action, ''));
  v_room public.rooms;
  v_role text;
  v_target public.room_members;
  v_actor_name text;
  v_target_name text;
  v_changed boolean;
begin
  if v_action not in ('kick', 'ban', 'unban', 'mute', 'unmute') then
    raise exception using
      errcode = 'WR400',
      message = format('unknown moderation action %L', p_action),
      hint = 'action is one of kick, ban, unban, mute, unmute';
  end if;
  if p_target_user_id is null or length(p_target_user_id) not between 1 and 100 then
    raise exception using errcode = 'WR400', message = 'target_user_id must be 1 to 100 characters';
  end if;
  if length(p_reason) > 200 then
    raise exception using errcode = 'WR400', message = 'reason must be at most 200 characters';
  end if;
  if p_target_user_id = v_uid then
    raise exception using
      errcode = 'WR400',
      message = 'you cannot moderate yourself',
      hint = 'leave the room with rooms-leave';
  end if;

  v_room := watchium.room_for(p_room_id, v_uid, true);
  v_role := watchium.moderator_role(p_room_id, v_uid, p_target_user_id);
  select * into v_target from public.room_members m
   where m.room_id = p_room_id and m.user_id = p_target_user_id;
  if v_target.id is null and v_action in ('kick', 'mute') then
    raise exception using
      errcode = 'WRM03',
      message = format('user %s is not a member of room %s', p_target_user_id, p_room_id);
  end if;
  perform watchium.enforce_rate_limit(v_uid, 'moderation');

  v_actor_name := coalesce(
    (select m.username from public.room_members m where m.room_id = p_room_id and m.user_id = v_uid),
    'a moderator');
  v_target_name := coalesce(v_target.username, 'a user');

  case v_action
    when 'kick' then
      insert into public.room_restrictions (room_id, user_id, kind, created_by, reason, expires_at)
      values (p_room_id, p_target_user_id, 'kick', v_uid, p_reason,
              clock_timestamp() + (select s.kick_cooldown from watchium.settings s))
      on conflict (room_id, user_id, kind) do update
        set created_by = excluded.created_by, reason = excluded.reason,
            created_at = excluded.created_at, expires_at = excluded.expires_at;
      delete from public.room_members m where m.id = v_target.id;
      v_changed := true;
    when 'ban' then
      insert into public.room_restrictions (room_id, user_id, kind, created_by, reason)
      values (p_room_id, p_target_user_id, 'ban', v_uid, p_reason)
      on conflict do nothing;
      v_changed := found;
      delete from public.room_members m where m.id = v_target.id;
      v_changed := v_changed or found;
    when 'mute' then
      insert into public.room_restrictions (room_id, user_id, kind, created_by, reason)
      values (p_room_id, p_target_user_id, 'mute', v_uid, p_reason)
      on conflict do nothing;
      v_changed := found;
    when 'unban' then
      -- Lifts a kick's cooldown too.
      delete from public.room_restrictions x
       where x.room_id = p_room_id and x.user_id = p_target_user_id
         and (x.kind = 'ban' or (x.kind = 'kick' and x.expires_at > clock_timestamp()));
      v_changed := found;
      delete from public.room_restrictions x
       where x.room_id = p_room_id and x.user_id = p_target_user_id and x.kind = 'kick';
    else
      delete from public.room_restrictions x
       where x.room_id = p_room_id and x.user_id = p_target_user_id and x.kind = 'mute';
      v_changed := found;
  end case;

  if v_changed then
    perform watchium.log_moderation(
      p_room_id, v_uid, v_role, v_action, p_target_user_id, p_reason,
      format('%s was %s by %s', v_target_name, case v_action
        when 'kick' then 'removed' when 'ban' then 'banned' when 'unban' then 'unbanned'
        when 'mute' then 'muted' else 'unmuted' end, v_actor_name));
  end if;
  return jsonb_build_object(
    'room_id', p_room_id, 'action', v_action, 'target_user_id', p_target_user_id,
    'changed', v_changed);
end;
$$;
comment on function public.rooms_moderate(text, text, text, text, text) is
  'Moderates a member (host or co-host; a co-host not the host nor another co-host): p_action '
  'kick (removes the membership; joining again is refused for settings.kick_cooldown), ban '
  '(removes it and refuses every later join), unban (lifts a ban or a kick''s cooldown), mute '
  '(refuses their comments in the room), unmute. Leaves a system message and an audit row when '
  'something changed. Returns {room_id, action, target_user_id, changed}. Errors: WR400, WR401, '
  'WR403, WR404, WRH03, WRM03 (kick or mute of a non-member), WR429.';
revoke all on function public.rooms_moderate(text, text, text, text, text) from public;
grant execute on function public.rooms_moderate(text, text, text, text, text) to authenticated, service_role;

-- why security definer: writes another member's row, which no API role may.
create function public.members_set_cohost(
  p_room_id text,
  p_target_user_id text,
  p_is_cohost boolean default true,
  p_user_id text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_room public.rooms;
  v_role text;
  v_target public.room_members;
begin
  if p_is_cohost is null then
    raise exception using errcode = 'WR400', message = 'is_cohost must be true or false';
  end if;
  v_room := watchium.room_for(p_room_id, v_uid, true);
  v_role := watchium.room_role(p_room_id, v_uid);
  if v_role is distinct from 'host' and not (watchium.is_privileged() and v_role is null) then
    raise exception using
      errcode = 'WRH03',
      message = 'only the host can grant or revoke co-host',
      hint = format('the host of room %s is %s', p_room_id, v_room.host_username);
  end if;
  select * into v_target from public.room_members m
   where m.room_id = p_room_id and m.user_id = p_target_user_id
   for update;
  if v_target.id is null then
    raise exception using
      errcode = 'WRM03',
      message = format('user %s is not a member of room %s', p_target_user_id, p_room_id);
  end if;
  if v_target.is_host then
    raise exception using errcode = 'WR400', message = 'the host already controls the room';
  end if;
  perform watchium.enforce_rate_limit(v_uid, 'moderation');
  if v_target.is_cohost is distinct from p_is_cohost then
    update public.room_members m set is_cohost = p_is_cohost where m.id = v_target.id
    returning * into v_target;
    perform watchium.log_moderation(
      p_room_id, v_uid, coalesce(v_role, 'service'),
      case when p_is_cohost then 'grant_cohost' else 'revoke_cohost' end,
      p_target_user_id, null,
      format('%s is %s a co-host', v_target.username, case when p_is_cohost then 'now' else 'no longer' end));
  end if;
  return jsonb_build_object('member', watchium.member_json(v_target));
end;
$$;
comment on function public.members_set_cohost(text, text, boolean, text) is
  'Grants (p_is_cohost true) or revokes co-host to a member (host only): playback control and '
  'moderation. Leaves a system message and an audit row when it changes. Returns {member}. '
  'Errors: WR400, WR401, WR403, WR404, WRH03, WRM03, WR429.';
revoke all on function public.members_set_cohost(text, text, boolean, text) from public;
grant execute on function public.members_set_cohost(text, text, boolean, text) to authenticated, service_role;

-- Rotating the key is a moderation action too (after a ban, the key the banned user knew stops
-- working for everyone it was passed on to): a system message and an audit row.
create or replace function public.rooms_rotate_access_key(p_room_id text, p_user_id text default null)
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_room public.rooms;
  v_old varchar(6);
  v_key varchar(6);
  v_host boolean;
begin
  v_room := watchium.room_for(p_room_id, v_uid, true);
  v_host := watchium.is_member_of(p_room_id, v_uid, true);
  if not v_host and not watchium.is_privileged() then
    raise exception using errcode = 'WRH03', message = 'only the host can rotate the access key';
  end if;
  if v_room.is_public then
    raise exception using
      errcode = 'WR400',
      message = 'a public room has no access key',
      hint = 'only private rooms have keys and invites';
  end if;
  perform watchium.enforce_rate_limit(v_uid, 'room_management');
  select k.access_key into v_old from watchium.room_access_keys k where k.room_id = p_room_id;
  loop
    v_key := watchium.generate_access_key();
    exit when v_key is distinct from v_old;
  end loop;
  update watchium.room_access_keys k
     set access_key = v_key,
         invite_secret = extensions.gen_random_bytes(32),
         rotated_at = clock_timestamp()
   where k.room_id = p_room_id;
  perform watchium.log_moderation(
    p_room_id, v_uid, case when v_host then 'host' else 'service' end, 'rotate_key', null, null,
    'the access key was changed: the old key and earlier invites no longer open the room');
  return jsonb_build_object('room_id', p_room_id, 'access_key', v_key);
end;
$$;
comment on function public.rooms_rotate_access_key(text, text) is
  'Gives the private room a new access key and invite secret (host only): the old key and every '
  'invite stop working; members stay. A moderation action: a system message and an audit row. '
  'Returns {room_id, access_key}. Errors: WR400 (public room), WR401, WR403, WR404, WRH03, WR429.';

------------------------------------------------------------------------------------------------
-- Row level security and privileges.
------------------------------------------------------------------------------------------------

alter table public.room_restrictions enable row level security;

-- why security definer: the policy reads room_members, whose own policy would otherwise recurse.
create function watchium.is_room_moderator(p_room_id text) returns boolean
language plpgsql stable security definer
set search_path = ''
as $$
begin
  return watchium.room_role(p_room_id, (select auth.uid()::text)) is not null;
end;
$$;
comment on function watchium.is_room_moderator(text) is
  'Whether the caller (auth.uid()) is the room''s host or a co-host. Used by RLS policies.';
revoke all on function watchium.is_room_moderator(text) from public;
grant execute on function watchium.is_room_moderator(text) to authenticated, service_role;

create policy room_restrictions_select on public.room_restrictions
  for select to authenticated
  using (user_id = (select auth.uid())::text or watchium.is_room_moderator(room_id));

revoke all on public.room_restrictions from anon, authenticated;
grant select on public.room_restrictions to authenticated;
grant all on public.room_restrictions to service_role;

revoke all on watchium.moderation_log from anon, authenticated, service_role;

revoke all on function watchium.room_role(text, text) from public;
revoke all on function watchium.moderator_role(text, text, text) from public;
revoke all on function watchium.log_moderation(text, text, text, text, text, text, text) from public;
revoke all on function watchium.refuse_banned_member() from public;
revoke all on function watchium.refuse_muted_comment() from public;
