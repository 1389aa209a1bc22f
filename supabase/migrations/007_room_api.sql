-- 007 room API: create, join, leave, delete and list rooms; verify access keys.
--
-- Guessing a private room's key: 10^6 keys is small, so wrong keys are limited twice: per user
-- (access_key_user) and per room across all users (access_key_room), since anonymous sign-in makes
-- new users cheap. While either limit is exhausted the room refuses to check keys at all (WRL29),
-- so a guess learns nothing. At the default 30 wrong keys per room per hour, finding a key takes
-- about 16,000 hours on average. A wrong key is answered with a result, not an exception, because
-- an exception would roll back the very counter that throttles the guesser.

create function watchium.check_room_access(
  p_room_id varchar(10),
  p_access_key varchar(6) default null,
  p_user_id varchar(100) default null
) returns boolean
language plpgsql volatile
set search_path = ''
as $$
declare
  v_is_public boolean;
  v_key varchar(6);
  v_subject text := coalesce(p_user_id, auth.uid()::text, 'anonymous');
  v_retry double precision;
begin
  select r.is_public, k.access_key into v_is_public, v_key
    from public.rooms r
    left join watchium.room_access_keys k on k.room_id = r.room_id
   where r.room_id = p_room_id;
  if not found then
    return false;
  end if;
  if v_is_public then
    return true;
  end if;

  v_retry := greatest(watchium.rate_limit_peek(v_subject, 'access_key_user'),
                      watchium.rate_limit_peek(p_room_id, 'access_key_room'));
  if v_retry > 0 then
    perform watchium.raise_rate_limited(
      'WRL29', 'access_key', v_retry, 'too many wrong access keys: key checks are paused');
  end if;
  if p_access_key is null then
    return false; -- no key is no guess: nothing counted
  end if;
  if p_access_key = v_key then
    return true;
  end if;
  perform watchium.rate_limit_take(v_subject, 'access_key_user');
  perform watchium.rate_limit_take(p_room_id, 'access_key_room');
  return false;
end;
$$;
comment on function watchium.check_room_access(varchar, varchar, varchar) is
  'Whether p_access_key opens the room (true for public rooms, false for missing ones). Counts wrong '
  'keys per user and per room and raises WRL29 (DETAIL: retry_after) while either limit is exhausted.';

------------------------------------------------------------------------------------------------

-- why security definer: creates the room, its secret key, the host's membership and the thread
-- anchor, none of which API roles may write directly.
create function public.rooms_create(
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

  select * into v_room from public.rooms r where r.id = v_room.id;
  return jsonb_build_object(
    'room', watchium.room_json(v_room, clock_timestamp()),
    'member', to_jsonb(v_member),
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
create function public.rooms_join(
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

  -- Joining again (a reconnect) refreshes the membership and costs nothing.
  update public.room_members m
     set username = coalesce(p_username, m.username),
         avatar_url = coalesce(p_avatar_url, m.avatar_url),
         last_heartbeat = clock_timestamp()
   where m.room_id = p_room_id and m.user_id = v_uid
  returning * into v_member;
  if found then
    return jsonb_build_object(
      'room', watchium.room_json(v_room, clock_timestamp()), 'member', to_jsonb(v_member),
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
      -- why not raise: an exception would roll back the wrong-key count (see the file header).
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
     where r.room_id = p_room_id;
    perform watchium.post_system_comment(p_room_id, v_member.username || ' became the new host');
  end if;

  perform watchium.record_sync_state(
    p_room_id, v_uid,
    round(watchium.live_position(v_room.current_playback_time, v_room.is_playing,
      v_room.playback_speed, v_room.playback_updated_at, clock_timestamp()), 2),
    0, 'join');

  select * into v_room from public.rooms r where r.room_id = p_room_id;
  return jsonb_build_object(
    'room', watchium.room_json(v_room, clock_timestamp()), 'member', to_jsonb(v_member),
    'rejoined', false);
end;
$$;
comment on function public.rooms_join(text, text, text, text, text) is
  'Joins the room (again: idempotent). Private rooms need p_access_key; a wrong key returns '
  '{"error": {"code": "WRK03", ...}} instead of raising, so that it is counted. Returns {room, '
  'member, rejoined}. Errors: WR401, WR403, WR404, WRK03 (no key), WRL29, WRF09, WR429.';
grant execute on function public.rooms_join(text, text, text, text, text) to anon, authenticated, service_role;

-- why security definer: removes the membership; the leave trigger transfers the host role.
create function public.rooms_leave(p_room_id text, p_user_id text default null) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_room public.rooms;
  v_member public.room_members;
begin
  v_room := watchium.room_for(p_room_id, v_uid);
  select * into v_member from public.room_members m where m.room_id = p_room_id and m.user_id = v_uid;
  if not found then
    raise exception using
      errcode = 'WRM03',
      message = format('you are not a member of room %s', p_room_id);
  end if;
  perform watchium.enforce_rate_limit(v_uid, 'room_management');
  perform watchium.record_sync_state(
    p_room_id, v_uid,
    round(watchium.live_position(v_room.current_playback_time, v_room.is_playing,
      v_room.playback_speed, v_room.playback_updated_at, clock_timestamp()), 2),
    v_member.current_playback_time, 'leave');
  delete from public.room_members m where m.id = v_member.id;

  select * into v_room from public.rooms r where r.room_id = p_room_id;
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

-- why security definer: deletes the room and, by cascade, its members and sync log.
create function public.rooms_delete(p_room_id text, p_user_id text default null) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_room public.rooms;
begin
  v_room := watchium.room_for(p_room_id, v_uid, true);
  if not watchium.is_member_of(p_room_id, v_uid, true) then
    raise exception using
      errcode = 'WRH03',
      message = 'only the host can delete the room',
      hint = format('the host of room %s is %s', p_room_id, v_room.host_username);
  end if;
  perform watchium.enforce_rate_limit(v_uid, 'room_management');
  delete from public.rooms r where r.id = v_room.id;
  return jsonb_build_object('room_id', p_room_id, 'deleted', true);
end;
$$;
comment on function public.rooms_delete(text, text) is
  'Deletes the room (host only); its comments stay, without the room. Errors: WR401, WR403, WR404, '
  'WRH03, WR429.';
grant execute on function public.rooms_delete(text, text) to anon, authenticated, service_role;

-- why security definer: counts members without evaluating RLS per member row.
create function public.rooms_list_public(
  p_anime_id text default null,
  p_limit integer default 20,
  p_offset integer default 0
) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_now timestamptz := clock_timestamp();
begin
  if p_limit is null or p_limit < 1 or p_limit > 100 then
    raise exception using errcode = 'WR400', message = 'limit must be between 1 and 100';
  end if;
  if p_offset is null or p_offset < 0 or p_offset > 10000 then
    raise exception using errcode = 'WR400', message = 'offset must be between 0 and 10000';
  end if;
  return jsonb_build_object(
    'rooms', coalesce((
      select jsonb_agg(watchium.room_json(x.room, v_now) || jsonb_build_object('member_count', x.member_count)
                       order by (x.room).last_activity desc)
        from (
          select r as room, c.member_count
            from public.rooms r
            cross join lateral (
              select count(*) as member_count from public.room_members m where m.room_id = r.room_id) c
           where r.is_public
             and (p_anime_id is null or r.anime_id = p_anime_id)
             and c.member_count > 0
           order by r.last_activity desc
           limit p_limit offset p_offset) x),
      '[]'::jsonb),
    'limit', p_limit,
    'offset', p_offset);
end;
$$;
comment on function public.rooms_list_public(text, integer, integer) is
  'Public rooms with at least one member, most recently active first, optionally for one anime. '
  'Returns {rooms: [room + live_position + server_time + member_count], limit, offset}.';
grant execute on function public.rooms_list_public(text, integer, integer) to anon, authenticated, service_role;

-- why security definer: reads the secret key table, for the host only.
create function public.rooms_get_access_key(p_room_id text, p_user_id text default null) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
begin
  perform watchium.room_for(p_room_id, v_uid);
  if not watchium.is_member_of(p_room_id, v_uid, true) and not watchium.is_privileged() then
    raise exception using errcode = 'WRH03', message = 'only the host can see the access key';
  end if;
  return jsonb_build_object(
    'room_id', p_room_id,
    'access_key', (select k.access_key from watchium.room_access_keys k where k.room_id = p_room_id));
end;
$$;
comment on function public.rooms_get_access_key(text, text) is
  'The private room''s access key, for its host (NULL for public rooms). Errors: WR401, WR404, WRH03.';
grant execute on function public.rooms_get_access_key(text, text) to anon, authenticated, service_role;
