-- 012 realtime cost: what a room costs in Realtime messages grows with its size, not with its
-- size squared.
--
-- Hosted Supabase counts each postgres_changes event once per client listening to it, and limits
-- a project's messages per second (docs/REALTIME.md, "Traffic and the hosted budget"). Until now
-- every member heartbeat (one per member every 10 s) updated the member's room_members row, a
-- Realtime event for every member of the room: N^2 / 10 deliveries per second in a room of N.
-- From here on:
--
-- * public.member_heartbeats (new, not replicated) holds what changes at every heartbeat: each
--   member's last reported position and the time of its last heartbeat. room_members loses those
--   two columns and is written only when something the members show changes (is_synced,
--   is_buffering, username, avatar_url, is_host). The API's answers still carry both values.
-- * is_synced has a grace period (settings.sync_grace) after each playback change: a heartbeat
--   taken while a member's player is still aligning to a host's action does not mark it out of
--   sync, so a host action does not flip members out of sync and back (two events each).
-- * Heartbeats record the room's activity in watchium.room_activity (not replicated) instead of
--   rooms.last_activity, and a join no longer touches the rooms row: each was a rooms UPDATE
--   event for every member. Cleanup reads both.
-- * sync_states leaves the supabase_realtime publication: no client subscribes to it.

------------------------------------------------------------------------------------------------
-- Settings.
------------------------------------------------------------------------------------------------

alter table watchium.settings
  add column sync_grace interval not null default interval '5 seconds'
    constraint valid_sync_grace check (sync_grace >= interval '0');
comment on column watchium.settings.sync_grace is
  'For this long after a playback change (rooms.playback_updated_at), a heartbeat does not mark a '
  'member out of sync: its player may still be aligning. A flip out of sync and back would be two '
  'Realtime events for every member of the room.';
comment on column watchium.settings.activity_throttle is
  'Heartbeats refresh watchium.room_activity at most this often per room.';

------------------------------------------------------------------------------------------------
-- What changes at every heartbeat, outside the replicated membership row.
------------------------------------------------------------------------------------------------

create table public.member_heartbeats (
  member_id uuid primary key references public.room_members (id) on delete cascade,
  room_id varchar(10) not null,
  user_id varchar(100) not null,
  current_playback_time decimal(10, 2) not null default 0,
  last_heartbeat timestamptz not null default clock_timestamp(),
  constraint unique_heartbeat_room_user unique (room_id, user_id),
  constraint valid_heartbeat_playback_time check (current_playback_time >= 0)
);

comment on table public.member_heartbeats is
  'Each member''s last heartbeat and reported position, one row per room_members row. Not in the '
  'supabase_realtime publication: a heartbeat is no Realtime event. Written by the database only.';
comment on column public.member_heartbeats.member_id is 'The membership (room_members.id).';
comment on column public.member_heartbeats.room_id is 'The room (room_members.room_id).';
comment on column public.member_heartbeats.user_id is 'The member (room_members.user_id).';
comment on column public.member_heartbeats.current_playback_time is
  'The member''s own position in seconds at last_heartbeat.';
comment on column public.member_heartbeats.last_heartbeat is
  'Server time of the last heartbeat (or of the join); cleanup removes members silent for '
  'settings.member_timeout.';

create index idx_member_heartbeats_last_heartbeat on public.member_heartbeats (last_heartbeat);

insert into public.member_heartbeats (member_id, room_id, user_id, current_playback_time, last_heartbeat)
select m.id, m.room_id, m.user_id, m.current_playback_time, m.last_heartbeat
  from public.room_members m;

alter table public.member_heartbeats enable row level security;

create policy member_heartbeats_select on public.member_heartbeats
  for select to anon, authenticated
  using (watchium.can_see_room(room_id));

revoke all on public.member_heartbeats from anon, authenticated;
grant select on public.member_heartbeats to anon, authenticated;
grant all on public.member_heartbeats to service_role;

create function watchium.start_member_heartbeat() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  insert into public.member_heartbeats (member_id, room_id, user_id)
  values (new.id, new.room_id, new.user_id);
  return null;
end;
$$;
comment on function watchium.start_member_heartbeat() is
  'Trigger: every new membership gets its member_heartbeats row (the join counts as a heartbeat).';

create trigger on_member_join_start_heartbeat
  after insert on public.room_members
  for each row execute function watchium.start_member_heartbeat();

-- The heartbeat no longer writes room_members; the presence and activity triggers go with the
-- columns they watched.
drop trigger on_member_presence_update on public.room_members;
drop function watchium.update_member_presence();
drop trigger on_heartbeat_update_activity on public.room_members;
drop trigger on_member_join_update_activity on public.room_members;
drop function watchium.update_room_activity();

alter table public.room_members
  drop column current_playback_time,
  drop column last_heartbeat;

comment on table public.room_members is
  'Members of each room and what the others see of them: name, host role, sync status, buffering. '
  'Replicated to Realtime subscribers, so written only when one of those changes; positions and '
  'heartbeats are in member_heartbeats. Exactly one host per non-empty room.';
comment on column public.room_members.is_synced is
  'Whether the member''s position was within settings.sync_tolerance of the live host position at '
  'its last heartbeat; a heartbeat within settings.sync_grace of a playback change does not turn '
  'it false.';
comment on column public.room_members.is_buffering is
  'Whether the member''s player reported buffering at its last heartbeat.';
comment on column public.room_members.updated_at is
  'Last change of a value the members show (not of the heartbeat).';

------------------------------------------------------------------------------------------------
-- The room's activity, outside the replicated rooms row.
------------------------------------------------------------------------------------------------

create table watchium.room_activity (
  room_id varchar(10) primary key references public.rooms (room_id) on delete cascade,
  last_heartbeat timestamptz not null
);
comment on table watchium.room_activity is
  'When a member of the room was last heard from, refreshed by heartbeats at most once per '
  'settings.activity_throttle. Cleanup counts it as activity next to rooms.last_activity; kept '
  'out of public.rooms because every change of that row is a Realtime event for every member.';
comment on column watchium.room_activity.room_id is 'The room.';
comment on column watchium.room_activity.last_heartbeat is 'A recent heartbeat of a member.';

comment on column public.rooms.last_activity is
  'Creation, host actions and host changes; members'' heartbeats are in watchium.room_activity.';

create function watchium.update_room_activity(p_room_id text, p_at timestamptz) returns void
language plpgsql volatile
set search_path = ''
as $$
begin
  if exists (
    select 1 from watchium.room_activity a
     where a.room_id = p_room_id
       and a.last_heartbeat >= p_at - (select s.activity_throttle from watchium.settings s)) then
    return;
  end if;
  insert into watchium.room_activity as a (room_id, last_heartbeat)
  values (p_room_id, p_at)
  on conflict (room_id) do update set last_heartbeat = greatest(a.last_heartbeat, excluded.last_heartbeat);
end;
$$;
comment on function watchium.update_room_activity(text, timestamptz) is
  'Records a heartbeat in the room at p_at as activity, at most once per settings.activity_throttle.';

------------------------------------------------------------------------------------------------
-- A member as the API answers it, and the heartbeat's effect on the member's row.
------------------------------------------------------------------------------------------------

create function watchium.member_json(p_member public.room_members) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
  v_heartbeat public.member_heartbeats;
begin
  select * into v_heartbeat from public.member_heartbeats h where h.member_id = p_member.id;
  return to_jsonb(p_member) || jsonb_build_object(
    'current_playback_time', coalesce(v_heartbeat.current_playback_time, 0),
    'last_heartbeat', coalesce(v_heartbeat.last_heartbeat, p_member.joined_at));
end;
$$;
comment on function watchium.member_json(public.room_members) is
  'The member as the API answers it: its room_members row plus current_playback_time and '
  'last_heartbeat from member_heartbeats (the columns the row had before they moved there).';

create function watchium.update_member_presence(
  p_member public.room_members,
  p_room public.rooms,
  p_heartbeat public.member_heartbeats,
  p_position_reported boolean,
  p_is_buffering boolean,
  p_username text,
  p_avatar_url text
) returns public.room_members
language plpgsql volatile
set search_path = ''
as $$
declare
  v_settings watchium.settings;
  v_synced boolean := p_member.is_synced;
  v_updated public.room_members;
begin
  if p_position_reported then
    select * into v_settings from watchium.settings s;
    if abs(p_heartbeat.current_playback_time - watchium.live_position(
          p_room.current_playback_time, p_room.is_playing, p_room.playback_speed,
          p_room.playback_updated_at, p_heartbeat.last_heartbeat)) <= v_settings.sync_tolerance then
      v_synced := true;
    elsif p_heartbeat.last_heartbeat >= p_room.playback_updated_at + v_settings.sync_grace then
      v_synced := false;
    end if;
  end if;
  -- Only a change the members see touches the replicated row (one Realtime event per member).
  update public.room_members m
     set is_synced = v_synced,
         is_buffering = coalesce(p_is_buffering, m.is_buffering),
         username = coalesce(p_username, m.username),
         avatar_url = coalesce(p_avatar_url, m.avatar_url)
   where m.id = p_member.id
     and (m.is_synced, m.is_buffering, m.username, m.avatar_url) is distinct from
         (v_synced, coalesce(p_is_buffering, m.is_buffering), coalesce(p_username, m.username),
          coalesce(p_avatar_url, m.avatar_url))
  returning * into v_updated;
  if found then
    return v_updated;
  end if;
  return p_member;
end;
$$;
comment on function watchium.update_member_presence(
  public.room_members, public.rooms, public.member_heartbeats, boolean, boolean, text, text) is
  'Applies a heartbeat to the member''s row: is_synced from the reported position against the '
  'live host position (not turned false within settings.sync_grace of a playback change), '
  'buffering, name and avatar. Writes the row only when one of them changes. Returns the row.';

------------------------------------------------------------------------------------------------
-- The heartbeat and the member list.
------------------------------------------------------------------------------------------------

-- why security definer: writes the caller's heartbeat, member row, the room's activity and the
-- sync log.
create or replace function public.members_update_status(
  p_room_id text,
  p_current_time numeric default null,
  p_is_buffering boolean default null,
  p_username text default null,
  p_avatar_url text default null,
  p_user_id text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_room public.rooms;
  v_member public.room_members;
  v_heartbeat public.member_heartbeats;
begin
  if p_current_time is not null and (p_current_time < 0 or p_current_time >= 100000000) then
    raise exception using errcode = 'WR400', message = 'current_time must be between 0 and 99999999.99 seconds';
  end if;
  v_room := watchium.room_for(p_room_id, v_uid);

  -- A leave that commits first removes this row with the membership (cascade): not a member.
  update public.member_heartbeats h
     set current_playback_time = coalesce(p_current_time, h.current_playback_time),
         last_heartbeat = clock_timestamp()
   where h.room_id = p_room_id and h.user_id = v_uid
  returning * into v_heartbeat;
  if not found then
    raise exception using
      errcode = 'WRM03',
      message = format('you are not a member of room %s', p_room_id),
      hint = 'join the room again: members silent for longer than the member timeout are removed';
  end if;
  select * into v_member from public.room_members m where m.id = v_heartbeat.member_id;

  v_member := watchium.update_member_presence(
    v_member, v_room, v_heartbeat, p_current_time is not null, p_is_buffering, p_username,
    p_avatar_url);
  perform watchium.update_room_activity(p_room_id, v_heartbeat.last_heartbeat);

  if p_current_time is not null then
    perform watchium.record_sync_state(
      p_room_id, v_uid,
      round(watchium.live_position(v_room.current_playback_time, v_room.is_playing,
        v_room.playback_speed, v_room.playback_updated_at, v_heartbeat.last_heartbeat), 2),
      v_heartbeat.current_playback_time, 'heartbeat');
  end if;
  return jsonb_build_object(
    'member', watchium.member_json(v_member),
    'room', watchium.room_json(v_room, clock_timestamp()));
end;
$$;
comment on function public.members_update_status(text, numeric, boolean, text, text, text) is
  'The member heartbeat: records the caller''s position (p_current_time) in member_heartbeats, '
  'its buffering state and optionally a new username/avatar; is_synced is computed by the '
  'database. room_members is written only when a value the members see changes. Returns {member '
  '(with current_playback_time and last_heartbeat), room (with live_position and server_time)}. '
  'Errors: WR400, WR401, WR403, WR404, WRM03.';
grant execute on function public.members_update_status(text, numeric, boolean, text, text, text)
  to anon, authenticated, service_role;

-- why security definer: reads the settings (member timeout) and the members of a visible room
-- without evaluating RLS per member row.
create or replace function public.members_get_list(p_room_id text) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_now timestamptz := clock_timestamp();
  v_room public.rooms;
  v_host_position numeric;
begin
  select * into v_room from public.rooms r where r.room_id = p_room_id;
  if v_room.id is null or not watchium.can_see_room(p_room_id) then
    raise exception using errcode = 'WR404', message = format('room %s not found', p_room_id);
  end if;
  v_host_position := watchium.live_position(
    v_room.current_playback_time, v_room.is_playing, v_room.playback_speed,
    v_room.playback_updated_at, v_now);

  return jsonb_build_object(
    'room', watchium.room_json(v_room, v_now),
    'members', coalesce((
      select jsonb_agg(
               to_jsonb(m) || jsonb_build_object(
                 'current_playback_time', h.position,
                 'last_heartbeat', h.heard_at,
                 -- The member's last report carried forward to now, minus where the host is now.
                 'drift', round(watchium.live_position(
                    h.position, v_room.is_playing and not m.is_buffering,
                    v_room.playback_speed, h.heard_at, v_now) - v_host_position, 3),
                 'online', h.heard_at > v_now - s.member_timeout)
               order by m.joined_at, m.id)
        from public.room_members m
        -- Every membership has its heartbeat row (a trigger makes it); a missing one reads as
        -- a member heard from at its join.
        cross join lateral (
          select coalesce(max(b.current_playback_time), 0) as position,
                 coalesce(max(b.last_heartbeat), m.joined_at) as heard_at
            from public.member_heartbeats b
           where b.member_id = m.id) h
        cross join watchium.settings s
       where m.room_id = p_room_id), '[]'::jsonb),
    'synced_count', (select count(*) from public.room_members m
                      where m.room_id = p_room_id and m.is_synced),
    'member_count', (select count(*) from public.room_members m where m.room_id = p_room_id));
end;
$$;
comment on function public.members_get_list(text) is
  'The room''s members (join order) with is_synced, current_playback_time and last_heartbeat, '
  'drift (seconds ahead of the live host position, estimated now) and online (heartbeat within '
  'settings.member_timeout), plus the room state. Errors: WR404.';
grant execute on function public.members_get_list(text) to anon, authenticated, service_role;

------------------------------------------------------------------------------------------------
-- Joining, creating and leaving: the member as before in the answers, no rooms UPDATE on a join.
------------------------------------------------------------------------------------------------

-- why security definer: creates the room, its secret key, the host's membership and the thread
-- anchor, none of which API roles may write directly.
create or replace function public.rooms_create(
  p_title text,
  p_anime_id text,
  p_anime_title text,
  p_video_url text,
  p_host_username text,
  p_episode_number integer default 1,
  p_is_public boolean default true,
  p_source_id text default null,
  p_avatar_url text default null,
  p_host_user_id text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_host_user_id);
  v_room public.rooms;
  v_member public.room_members;
  v_key varchar(6);
begin
  perform watchium.enforce_rate_limit(v_uid, 'room_creation');

  insert into public.rooms (
    room_id, title, anime_id, anime_title, episode_number, video_url, source_id,
    host_user_id, host_username, is_public)
  values (
    watchium.generate_room_id(), p_title, p_anime_id, p_anime_title, coalesce(p_episode_number, 1),
    p_video_url, p_source_id, v_uid, p_host_username, coalesce(p_is_public, true))
  returning * into v_room;

  if not v_room.is_public then
    v_key := watchium.generate_access_key();
    insert into watchium.room_access_keys (room_id, access_key) values (v_room.room_id, v_key);
  end if;

  insert into public.room_members (room_id, user_id, username, avatar_url, is_host)
  values (v_room.room_id, v_uid, p_host_username, p_avatar_url, true)
  returning * into v_member;

  perform watchium.get_or_create_anchor(v_room.anime_id, v_room.room_id, v_room.episode_number, v_room.host_username);
  perform watchium.record_sync_state(v_room.room_id, v_uid, 0, 0, 'join');

  return jsonb_build_object(
    'room', watchium.room_json(v_room, clock_timestamp()),
    'member', watchium.member_json(v_member),
    'access_key', v_key);
end;
$$;
comment on function public.rooms_create(text, text, text, text, text, integer, boolean, text, text, text) is
  'Creates a room hosted by the caller. Returns {room, member, access_key} (access_key is NULL for '
  'public rooms and shown only here and by rooms_get_access_key). Errors: WR401, WR403, WR429 (10 '
  'rooms per hour), 23514/22001 for invalid fields.';
grant execute on function public.rooms_create(text, text, text, text, text, integer, boolean, text, text, text)
  to anon, authenticated, service_role;

-- why security definer: checks the secret key and writes the membership.
create or replace function public.rooms_join(
  p_room_id text,
  p_username text,
  p_avatar_url text default null,
  p_access_key text default null,
  p_user_id text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_room public.rooms;
  v_member public.room_members;
  v_member_id uuid;
  v_becomes_host boolean;
begin
  -- The row lock serialises joins into one room: two joiners cannot both take a free host slot
  -- or the last free place.
  select * into v_room from public.rooms r where r.room_id = p_room_id for no key update;
  if not found then
    raise exception using
      errcode = 'WR404',
      message = format('room %s not found', p_room_id),
      hint = 'check the room id';
  end if;

  -- Joining again (a reconnect) counts as a heartbeat and costs nothing; the member's row
  -- changes only for a new name or avatar.
  update public.member_heartbeats h
     set last_heartbeat = clock_timestamp()
   where h.room_id = p_room_id and h.user_id = v_uid
  returning h.member_id into v_member_id;
  if found then
    select * into v_member from public.room_members m where m.id = v_member_id;
    v_member := watchium.update_member_presence(
      v_member, v_room, null, false, null, p_username, p_avatar_url);
    return jsonb_build_object(
      'room', watchium.room_json(v_room, clock_timestamp()), 'member', watchium.member_json(v_member),
      'rejoined', true);
  end if;

  if not v_room.is_public and not watchium.is_privileged() then
    if p_access_key is null then
      raise exception using
        errcode = 'WRK03',
        message = 'this room is private: an access key is required',
        hint = 'ask the host for the 6-digit access key';
    end if;
    if not watchium.check_room_access(p_room_id, p_access_key, v_uid) then
      -- why not raise: an exception would roll back the wrong-key count (see 007's header).
      return jsonb_build_object('error', jsonb_build_object(
        'code', 'WRK03',
        'message', 'wrong access key',
        'hint', 'ask the host for the 6-digit access key'));
    end if;
  end if;

  perform watchium.enforce_rate_limit(v_uid, 'room_management');

  if (select count(*) from public.room_members m where m.room_id = p_room_id)
       >= (select s.max_room_members from watchium.settings s) then
    raise exception using
      errcode = 'WRF09',
      message = format('room %s is full', p_room_id),
      hint = 'try again when someone leaves';
  end if;

  v_becomes_host := not exists (
    select 1 from public.room_members m where m.room_id = p_room_id and m.is_host);
  insert into public.room_members (room_id, user_id, username, avatar_url, is_host)
  values (p_room_id, v_uid, p_username, p_avatar_url, v_becomes_host)
  returning * into v_member;

  if v_becomes_host then
    update public.rooms r set host_user_id = v_uid, host_username = v_member.username
     where r.room_id = p_room_id
    returning * into v_room;
    perform watchium.post_system_comment(p_room_id, v_member.username || ' became the new host');
  end if;

  perform watchium.record_sync_state(
    p_room_id, v_uid,
    round(watchium.live_position(v_room.current_playback_time, v_room.is_playing,
      v_room.playback_speed, v_room.playback_updated_at, clock_timestamp()), 2),
    0, 'join');

  return jsonb_build_object(
    'room', watchium.room_json(v_room, clock_timestamp()), 'member', watchium.member_json(v_member),
    'rejoined', false);
end;
$$;
comment on function public.rooms_join(text, text, text, text, text) is
  'Joins the room (again: idempotent, and a heartbeat). Private rooms need p_access_key; a wrong '
  'key returns {"error": {"code": "WRK03", ...}} instead of raising, so that it is counted. '
  'Returns {room, member, rejoined}. Errors: WR401, WR403, WR404, WRK03 (no key), WRL29, WRF09, '
  'WR429.';
grant execute on function public.rooms_join(text, text, text, text, text) to anon, authenticated, service_role;

-- why security definer: removes the membership; the leave trigger transfers the host role.
create or replace function public.rooms_leave(p_room_id text, p_user_id text default null) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_room public.rooms;
  v_member public.room_members;
  v_position numeric;
begin
  v_room := watchium.room_for(p_room_id, v_uid);
  select * into v_member from public.room_members m where m.room_id = p_room_id and m.user_id = v_uid;
  if not found then
    raise exception using
      errcode = 'WRM03',
      message = format('you are not a member of room %s', p_room_id);
  end if;
  perform watchium.enforce_rate_limit(v_uid, 'room_management');
  select h.current_playback_time into v_position
    from public.member_heartbeats h where h.member_id = v_member.id;
  perform watchium.record_sync_state(
    p_room_id, v_uid,
    round(watchium.live_position(v_room.current_playback_time, v_room.is_playing,
      v_room.playback_speed, v_room.playback_updated_at, clock_timestamp()), 2),
    coalesce(v_position, 0), 'leave');
  delete from public.room_members m where m.id = v_member.id;

  return jsonb_build_object(
    'room_id', p_room_id,
    'left', true,
    'was_host', v_member.is_host,
    'host_user_id', (select m.user_id from public.room_members m
                      where m.room_id = p_room_id and m.is_host),
    'members_left', (select count(*) from public.room_members m where m.room_id = p_room_id));
end;
$$;
comment on function public.rooms_leave(text, text) is
  'Leaves the room. When the host leaves, the earliest-joined member becomes host. Returns {room_id, '
  'left, was_host, host_user_id (the host now, NULL when the room is empty), members_left}. '
  'Errors: WR401, WR403, WR404, WRM03, WR429.';
grant execute on function public.rooms_leave(text, text) to anon, authenticated, service_role;

------------------------------------------------------------------------------------------------
-- The sync log of a host action, and cleanup, on the heartbeats' new home.
------------------------------------------------------------------------------------------------

create or replace function watchium.bulk_sync_update(
  p_room_id varchar(10),
  p_host_time decimal(10, 2),
  p_sync_event_type varchar(50),
  p_touch_room boolean default true
) returns void
language plpgsql volatile
set search_path = ''
as $$
declare
  v_now timestamptz := clock_timestamp();
begin
  -- One set-based insert (seed defect 7). Each member's position is their last report carried
  -- forward to now at the room's current speed and state.
  insert into public.sync_states (
    room_id, user_id, host_time, member_time, time_difference, is_synced, sync_event_type)
  select p.room_id, p.user_id, p_host_time, p.member_time, abs(p.member_time - p_host_time),
         abs(p.member_time - p_host_time) <= s.sync_tolerance, p_sync_event_type
    from (
      select h.room_id, h.user_id,
             round(watchium.live_position(h.current_playback_time, r.is_playing, r.playback_speed,
                                          h.last_heartbeat, v_now), 2) as member_time
        from public.member_heartbeats h
        join public.rooms r on r.room_id = h.room_id
       where h.room_id = p_room_id
      offset 0 -- computed once per member, not once per use below
    ) p
    cross join watchium.settings s;

  if p_touch_room then
    update public.rooms r set last_activity = now() where r.room_id = p_room_id;
  end if;
end;
$$;
comment on function watchium.bulk_sync_update(varchar, numeric, varchar, boolean) is
  'Logs a host action for every member of the room in one insert and, unless p_touch_room is false '
  '(the caller updates the room itself), refreshes the room''s activity.';

create or replace function watchium.cleanup_inactive_rooms() returns integer
language plpgsql volatile
set search_path = ''
as $$
declare
  v_deleted integer;
begin
  -- A room's activity is the later of rooms.last_activity and its members' heartbeats
  -- (room_activity); only rooms whose own last_activity is past the shorter window can qualify.
  with candidates as (
    select r.id,
           greatest(r.last_activity, a.last_heartbeat) as active_at,
           exists (select 1 from public.room_members m where m.room_id = r.room_id) as occupied
      from public.rooms r
      cross join watchium.settings s
      left join watchium.room_activity a on a.room_id = r.room_id
     where r.last_activity < now() - least(s.empty_room_ttl, s.inactive_room_ttl))
  delete from public.rooms r
   using candidates c, watchium.settings s
   where r.id = c.id
     and (c.active_at < now() - s.inactive_room_ttl
          or (c.active_at < now() - s.empty_room_ttl and not c.occupied));
  get diagnostics v_deleted = row_count;
  return v_deleted;
end;
$$;
comment on function watchium.cleanup_inactive_rooms() is
  'Deletes rooms empty for settings.empty_room_ttl or idle for settings.inactive_room_ttl (activity: '
  'rooms.last_activity and members'' heartbeats); returns how many.';

create or replace function watchium.cleanup_realtime_data() returns jsonb
language plpgsql volatile
set search_path = ''
as $$
declare
  v_members integer;
  v_buckets integer;
begin
  delete from public.room_members m
   using public.member_heartbeats h, watchium.settings s
   where h.member_id = m.id
     and h.last_heartbeat < clock_timestamp() - s.member_timeout;
  get diagnostics v_members = row_count;

  delete from watchium.rate_limit_buckets b where b.tat < clock_timestamp();
  get diagnostics v_buckets = row_count;

  return jsonb_build_object(
    'members_removed', v_members,
    'sync_states_deleted', watchium.cleanup_old_sync_states(),
    'rooms_deleted', watchium.cleanup_inactive_rooms(),
    'rate_limit_buckets_deleted', v_buckets);
end;
$$;
comment on function watchium.cleanup_realtime_data() is
  'All retention in one call (run every 30 s): removes silent members (member_heartbeats; the host '
  'role transfers), old sync states, empty or idle rooms and spent rate-limit buckets. Returns the '
  'counts.';

------------------------------------------------------------------------------------------------
-- Realtime: nobody subscribes to the sync log.
------------------------------------------------------------------------------------------------

alter publication supabase_realtime drop table public.sync_states;
