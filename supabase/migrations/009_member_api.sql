-- 009 member API: the member list with live sync status, and the member heartbeat.
--
-- A member calls members_update_status on a steady cadence (the SDK: every 10 s, well inside
-- settings.member_timeout) with their player's position; the presence trigger (003) stamps the
-- heartbeat and computes is_synced, and a 'heartbeat' row goes to the sync log. The answer carries
-- the room's live state and the server time, so the heartbeat doubles as a clock-sync sample.

-- why security definer: reads the settings (member timeout) and the members of a visible room
-- without evaluating RLS per member row.
create function public.members_get_list(p_room_id text) returns jsonb
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
                 -- The member's last report carried forward to now, minus where the host is now.
                 'drift', round(watchium.live_position(
                    m.current_playback_time, v_room.is_playing and not m.is_buffering,
                    v_room.playback_speed, m.last_heartbeat, v_now) - v_host_position, 3),
                 'online', m.last_heartbeat > v_now - s.member_timeout)
               order by m.joined_at, m.id)
        from public.room_members m
        cross join watchium.settings s
       where m.room_id = p_room_id), '[]'::jsonb),
    'synced_count', (select count(*) from public.room_members m
                      where m.room_id = p_room_id and m.is_synced),
    'member_count', (select count(*) from public.room_members m where m.room_id = p_room_id));
end;
$$;
comment on function public.members_get_list(text) is
  'The room''s members (join order) with is_synced, drift (seconds ahead of the live host position, '
  'estimated now) and online (heartbeat within settings.member_timeout), plus the room state. '
  'Errors: WR404.';
grant execute on function public.members_get_list(text) to anon, authenticated, service_role;

-- why security definer: writes the caller's own member row and the sync log.
create function public.members_update_status(
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
  v_now timestamptz;
  v_room public.rooms;
  v_member public.room_members;
begin
  if p_current_time is not null and (p_current_time < 0 or p_current_time >= 100000000) then
    raise exception using errcode = 'WR400', message = 'current_time must be between 0 and 99999999.99 seconds';
  end if;
  v_room := watchium.room_for(p_room_id, v_uid);

  update public.room_members m
     set current_playback_time = coalesce(p_current_time, m.current_playback_time),
         is_buffering = coalesce(p_is_buffering, m.is_buffering),
         username = coalesce(p_username, m.username),
         avatar_url = coalesce(p_avatar_url, m.avatar_url),
         last_heartbeat = clock_timestamp()
   where m.room_id = p_room_id and m.user_id = v_uid
  returning * into v_member;
  if not found then
    raise exception using
      errcode = 'WRM03',
      message = format('you are not a member of room %s', p_room_id),
      hint = 'join the room again: members silent for longer than the member timeout are removed';
  end if;

  v_now := v_member.last_heartbeat;
  if p_current_time is not null then
    perform watchium.record_sync_state(
      p_room_id, v_uid,
      round(watchium.live_position(v_room.current_playback_time, v_room.is_playing,
        v_room.playback_speed, v_room.playback_updated_at, v_now), 2),
      v_member.current_playback_time, 'heartbeat');
  end if;
  return jsonb_build_object(
    'member', to_jsonb(v_member),
    'room', watchium.room_json(v_room, clock_timestamp()));
end;
$$;
comment on function public.members_update_status(text, numeric, boolean, text, text, text) is
  'The member heartbeat: records the caller''s position (p_current_time), buffering state and '
  'optionally a new username/avatar; is_synced is computed by the database. Returns {member, room '
  '(with live_position and server_time)}. Errors: WR400, WR401, WR403, WR404, WRM03.';
grant execute on function public.members_update_status(text, numeric, boolean, text, text, text)
  to anon, authenticated, service_role;
