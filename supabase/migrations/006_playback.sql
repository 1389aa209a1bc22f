-- 006 playback: host controls (play, pause, seek, speed) and the live host time.
--
-- Entry points (RPC): sync_control, sync_get_host_time, and the seeds' change_playback_state and
-- seek_to_time. All of them go through watchium.apply_playback, which checks the caller is the
-- room's host, logs the action for every member (bulk_sync_update) and updates the room; the
-- trigger rooms_playback_guard (002) keeps the reference point consistent and applies the
-- sync_control rate limit. Seed defect 4 (variables named like columns) does not arise: variables
-- are v_-prefixed and every column is qualified.

------------------------------------------------------------------------------------------------
-- Shared helpers.
------------------------------------------------------------------------------------------------

-- The helpers below are plpgsql rather than SQL functions: called from plpgsql, an SQL function's
-- body is planned again on every call, a plpgsql one's plan is cached for the session.
create function watchium.room_json(p_room public.rooms, p_at timestamptz) returns jsonb
language plpgsql stable
set search_path = ''
as $$
begin
  return to_jsonb(p_room) || jsonb_build_object(
    'live_position', round(watchium.live_position(
        p_room.current_playback_time, p_room.is_playing, p_room.playback_speed,
        p_room.playback_updated_at, p_at), 3),
    'server_time', p_at);
end;
$$;
comment on function watchium.room_json(public.rooms, timestamptz) is
  'The room as JSON plus its live position at p_at and p_at itself (server_time, for clock sync).';

create function watchium.is_member_of(p_room_id text, p_user_id text, p_host_only boolean default false)
returns boolean
language plpgsql stable
set search_path = ''
as $$
begin
  return exists (
    select 1 from public.room_members m
     where m.room_id = p_room_id and m.user_id = p_user_id and (m.is_host or not p_host_only));
end;
$$;
comment on function watchium.is_member_of(text, text, boolean) is
  'Whether the user is a member (or, with p_host_only, the host) of the room.';

create function watchium.room_for(p_room_id text, p_user_id text, p_lock boolean default false)
returns public.rooms
language plpgsql volatile
set search_path = ''
as $$
declare
  v_room public.rooms;
begin
  if p_lock then
    select * into v_room from public.rooms r where r.room_id = p_room_id for no key update;
  else
    select * into v_room from public.rooms r where r.room_id = p_room_id;
  end if;
  -- A private room the user is not in does not exist for them: same answer as a missing room.
  if v_room.id is null
     or not (v_room.is_public or watchium.is_privileged()
             or watchium.is_member_of(p_room_id, p_user_id)) then
    raise exception using
      errcode = 'WR404',
      message = format('room %s not found', p_room_id),
      hint = 'check the room id; a private room is visible to its members only';
  end if;
  return v_room;
end;
$$;
comment on function watchium.room_for(text, text, boolean) is
  'The room as the user may see it (optionally locked FOR UPDATE), or WR404.';

create function watchium.apply_playback(
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
  if p_position is not null and (p_position < 0 or p_position >= 100000000) then
    raise exception using errcode = 'WR400', message = 'position must be between 0 and 99999999.99 seconds';
  end if;
  if p_speed is not null and (p_speed < 0.25 or p_speed > 4) then
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
  if not watchium.is_member_of(p_room_id, v_uid, true) then
    raise exception using
      errcode = 'WRH03',
      message = 'only the host can control playback',
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
  'Applies a host''s playback change: checks the host, logs it for every member, updates the room '
  '(p_position NULL = continue from the live position; p_at = server time of p_position).';

------------------------------------------------------------------------------------------------
-- Entry points.
------------------------------------------------------------------------------------------------

-- why security definer: writes rooms and sync_states on the host's behalf after checking them.
create function public.sync_control(
  p_room_id text,
  p_action text,
  p_current_time numeric default null,
  p_playback_speed numeric default null,
  p_at timestamptz default null,
  p_user_id text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_room public.rooms;
begin
  case lower(coalesce(p_action, ''))
    when 'play' then
      v_room := watchium.apply_playback(p_room_id, p_user_id, true, p_current_time, null, p_at, 'play_pause');
    when 'pause' then
      v_room := watchium.apply_playback(p_room_id, p_user_id, false, p_current_time, null, p_at, 'play_pause');
    when 'seek' then
      if p_current_time is null then
        raise exception using errcode = 'WR400', message = 'seek needs current_time (the target position)';
      end if;
      v_room := watchium.apply_playback(p_room_id, p_user_id, null, p_current_time, null, p_at, 'seek');
    when 'speed' then
      if p_playback_speed is null then
        raise exception using errcode = 'WR400', message = 'speed needs playback_speed';
      end if;
      v_room := watchium.apply_playback(p_room_id, p_user_id, null, p_current_time, p_playback_speed, p_at, 'speed');
    else
      raise exception using
        errcode = 'WR400',
        message = format('unknown action %L', p_action),
        hint = 'action is one of play, pause, seek, speed';
  end case;
  return watchium.room_json(v_room, clock_timestamp());
end;
$$;
comment on function public.sync_control(text, text, numeric, numeric, timestamptz, text) is
  'Host playback control: action play | pause | seek | speed. p_current_time = the position (required '
  'for seek; for play/pause, optional: default continues from the live position); p_playback_speed '
  'for speed; p_at = server time at which the host was at p_current_time (optional). Returns the room '
  'with live_position and server_time. Errors: WR400, WR401, WR403, WR404, WRH03, WR429.';
grant execute on function public.sync_control(text, text, numeric, numeric, timestamptz, text)
  to anon, authenticated, service_role;

-- why security definer: see sync_control.
create function public.change_playback_state(
  p_room_id varchar(10),
  p_user_id varchar(100) default null,
  p_is_playing boolean default null,
  p_current_time decimal(10, 2) default null
) returns boolean
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  if p_is_playing is null then
    raise exception using errcode = 'WR400', message = 'is_playing is required';
  end if;
  perform watchium.apply_playback(p_room_id, p_user_id, p_is_playing, p_current_time, null, null, 'play_pause');
  return true;
end;
$$;
comment on function public.change_playback_state(varchar, varchar, boolean, numeric) is
  'The seeds'' play/pause call: returns true, or raises (WR400, WR401, WR403, WR404, WRH03, WR429).';
grant execute on function public.change_playback_state(varchar, varchar, boolean, numeric)
  to anon, authenticated, service_role;

-- why security definer: see sync_control.
create function public.seek_to_time(
  p_room_id varchar(10),
  p_user_id varchar(100) default null,
  p_current_time decimal(10, 2) default null
) returns boolean
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  if p_current_time is null then
    raise exception using errcode = 'WR400', message = 'current_time is required';
  end if;
  perform watchium.apply_playback(p_room_id, p_user_id, null, p_current_time, null, null, 'seek');
  return true;
end;
$$;
comment on function public.seek_to_time(varchar, varchar, numeric) is
  'The seeds'' seek call: returns true, or raises (WR400, WR401, WR403, WR404, WRH03, WR429).';
grant execute on function public.seek_to_time(varchar, varchar, numeric) to anon, authenticated, service_role;

-- why security definer: reads a room the caller may see, including its live position.
create function public.sync_get_host_time(p_room_id text) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_room public.rooms;
begin
  select * into v_room from public.rooms r where r.room_id = p_room_id;
  if v_room.id is null or not watchium.can_see_room(p_room_id) then
    raise exception using errcode = 'WR404', message = format('room %s not found', p_room_id);
  end if;
  return watchium.room_json(v_room, clock_timestamp());
end;
$$;
comment on function public.sync_get_host_time(text) is
  'The room''s playback state with live_position (where the host is now) and server_time. WR404 '
  'when the room does not exist or is private and the caller is not a member.';
grant execute on function public.sync_get_host_time(text) to anon, authenticated, service_role;
