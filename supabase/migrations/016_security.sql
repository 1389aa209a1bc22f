-- 016 security: what an attacker with the publishable key and free anonymous users could do, closed.
--
-- * Privileged means service_role or a direct database session. A session without JWT claims
--   that acts as an API role (anon, authenticated) is neither: it gets nothing for free.
-- * Positions never overflow. live_position is bounded by what the columns store (99999999.99 s),
--   so a room played from the largest position does not wedge every later call; positions are
--   checked as they will be stored (rounded to 2 places), so 99999999.995 is a WR400, not a 22003.
-- * Joining a room that does not exist, or a private room without the right key or invite, is one
--   answer, WR404, and every such attempt counts: per user (anonymous users are free) and per
--   client address, with back-off (an attempt made while paused extends the pause). There is no
--   room-wide limit any more: outsiders guessing cannot lock a room's door for its members.
-- * A host can rotate the room's key (members stay; the old key and every invite stop working) and
--   share a signed invite token instead of the 6-digit key: HMAC-SHA256 of the room id and an expiry
--   under a per-room secret, checked here.
-- * Heartbeats are rate limited (member_status).
-- * Deleting a comment no longer deletes other users' replies with it (cascades bypass RLS): a
--   comment with replies by someone else can be deleted only by service_role.

------------------------------------------------------------------------------------------------
-- Identity.
------------------------------------------------------------------------------------------------

create or replace function watchium.is_privileged() returns boolean
language plpgsql stable
set search_path = ''
as $$
begin
  if auth.role() = 'service_role' then
    return true;
  end if;
  -- A direct database session (psql, cron, migrations) has no JWT claims. A session that switched
  -- to an API role without claims is not one: it is a caller that forgot (or withheld) its token.
  return auth.jwt() is null
     and coalesce(current_setting('role', true), 'none') not in ('anon', 'authenticated');
end;
$$;
comment on function watchium.is_privileged() is
  'True for service_role and for direct database sessions (no JWT claims and not acting as anon or '
  'authenticated): they may act for any user.';

-- The client address a call came from, as the subject of per-address limits. The HTTP functions
-- set watchium.client_address for each call from the connection they served (an IPv6 address by
-- its /56). Nothing else sets it: PostgREST's callers cannot (the headers it passes in
-- request.headers are the caller's to choose), so every direct RPC caller shares one subject,
-- "unknown", and cannot claim another address.
create function watchium.client_address() returns text
language plpgsql stable
set search_path = ''
as $$
begin
  return coalesce(nullif(current_setting('watchium.client_address', true), ''), 'unknown');
end;
$$;
comment on function watchium.client_address() is
  'The caller''s client address as the HTTP functions set it per call ("unknown" for direct RPC '
  'callers and database sessions): the subject of per-address limits.';

------------------------------------------------------------------------------------------------
-- Positions never overflow.
------------------------------------------------------------------------------------------------

create or replace function watchium.live_position(
  p_position numeric,
  p_is_playing boolean,
  p_speed numeric,
  p_since timestamptz,
  p_at timestamptz
) returns numeric
language sql immutable
set search_path = ''
as $$
  select case
    when p_is_playing then
      least(greatest(p_position + extract(epoch from (p_at - p_since)) * p_speed, 0), 99999999.99)
    else p_position
  end
$$;
comment on function watchium.live_position(numeric, boolean, numeric, timestamptz, timestamptz) is
  'Where playback is at time p_at, given the position stored at p_since: position + elapsed * '
  'speed while playing (at most 99999999.99, the largest position stored), the stored position '
  'while paused.';

-- A position as it will be stored: rounded to 2 places, between 0 and 99999999.99.
create function watchium.check_position(p_position numeric, p_name text) returns void
language plpgsql immutable
set search_path = ''
as $$
begin
  if p_position is not null and (p_position < 0 or round(p_position, 2) > 99999999.99) then
    raise exception using
      errcode = 'WR400',
      message = format('%s must be between 0 and 99999999.99 seconds', p_name);
  end if;
end;
$$;
comment on function watchium.check_position(numeric, text) is
  'Raises WR400 unless the position, rounded as it is stored (2 places), is within 0..99999999.99.';

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
-- Rate limits: refused joins per user and per address, heartbeats.
------------------------------------------------------------------------------------------------

delete from watchium.rate_limit_rules where action in ('access_key_user', 'access_key_room');
delete from watchium.rate_limit_buckets where action in ('access_key_user', 'access_key_room');
insert into watchium.rate_limit_rules (action, max_requests, per, description) values
  ('join_refused_user', 5, interval '10 minutes',
   'refused joins (no such room, or a private room without the right key or invite) by one user'),
  ('join_refused_address', 20, interval '1 hour',
   'refused joins from one client address (an IPv6 /56), whichever users make them'),
  ('member_status', 30, interval '1 minute', 'heartbeats (members_update_status) by a user');

-- Back-off: a request made while p_subject is paused for p_action pushes its pause back by one
-- more interval (per / max_requests), up to a day. Patience costs nothing; hammering costs more.
create function watchium.rate_limit_penalize(p_subject text, p_action text) returns void
language plpgsql volatile
set search_path = ''
as $$
begin
  update watchium.rate_limit_buckets b
     set tat = least(b.tat + r.per / r.max_requests, clock_timestamp() + interval '1 day')
    from watchium.rate_limit_rules r
   where r.action = b.action and b.subject = p_subject and b.action = p_action;
end;
$$;
comment on function watchium.rate_limit_penalize(text, text) is
  'Back-off: extends p_subject''s pause for p_action by one step (at most a day ahead).';

------------------------------------------------------------------------------------------------
-- Access keys, rotation and invites.
------------------------------------------------------------------------------------------------

alter table watchium.room_access_keys
  add column invite_secret bytea not null default extensions.gen_random_bytes(32),
  add column rotated_at timestamptz;
comment on column watchium.room_access_keys.invite_secret is
  'The key invite tokens are signed with (HMAC-SHA256); replaced when the key is rotated.';
comment on column watchium.room_access_keys.rotated_at is 'When the host last rotated the key.';

-- The signature of an invite to p_room_id valid until p_expires (epoch seconds).
create function watchium.invite_signature(p_room_id text, p_expires bigint, p_secret bytea)
returns text
language sql immutable
set search_path = ''
as $$
  select rtrim(translate(encode(
    extensions.hmac(convert_to(p_room_id || '.' || p_expires::text, 'UTF8'), p_secret, 'sha256'),
    'base64'), '+/', '-_'), '=')
$$;
comment on function watchium.invite_signature(text, bigint, bytea) is
  'base64url HMAC-SHA256 of "<room_id>.<expires>" under the room''s invite secret.';

-- Whether p_token (<room_id>.<expires>.<signature>) is a valid, unexpired invite to p_room_id.
create function watchium.invite_opens(p_room_id text, p_token text) returns boolean
language plpgsql stable
set search_path = ''
as $$
declare
  v_parts text[];
  v_expires bigint;
  v_secret bytea;
begin
  if p_token is null or length(p_token) > 200 then
    return false;
  end if;
  v_parts := string_to_array(p_token, '.');
  if cardinality(v_parts) <> 3 or v_parts[1] is distinct from p_room_id
     or v_parts[2] !~ '^[0-9]{1,12}$' then
    return false;
  end if;
  v_expires := v_parts[2]::bigint;
  if v_expires <= extract(epoch from clock_timestamp()) then
    return false;
  end if;
  select k.invite_secret into v_secret from watchium.room_access_keys k where k.room_id = p_room_id;
  if v_secret is null then
    return false;
  end if;
  return watchium.invite_signature(p_room_id, v_expires, v_secret) = v_parts[3];
end;
$$;
comment on function watchium.invite_opens(text, text) is
  'Whether p_token is an unexpired invite to p_room_id signed with the room''s current secret.';

-- The compatibility key check, on the new limits: true for public rooms and the right key, false
-- for a missing room and a wrong or missing key (each of which counts).
create or replace function watchium.check_room_access(
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
  v_opens boolean;
begin
  select r.is_public, k.access_key into v_is_public, v_key
    from public.rooms r
    left join watchium.room_access_keys k on k.room_id = r.room_id
   where r.room_id = p_room_id;
  if v_is_public then
    return true;
  end if;
  v_opens := watchium.try_room_door(
    v_subject, v_key is not null and p_access_key is not distinct from v_key);
  if v_opens is null then
    perform watchium.raise_rate_limited(
      'WRL29', 'join_refused', watchium.door_retry_after(v_subject),
      'too many refused joins: key checks are paused');
  end if;
  return v_opens;
end;
$$;
comment on function watchium.check_room_access(varchar, varchar, varchar) is
  'Whether p_access_key opens the room (true for public rooms). A missing room, a missing or wrong '
  'key counts against the user''s and the client address''s join_refused limits; while either is '
  'paused, raises WRL29 (DETAIL: retry_after) whatever the key.';

-- One attempt at a closed door (a private room, or a room that may not exist) by p_subject from
-- the caller's address. p_opens: whether the key or invite presented opens it. While either
-- limit is paused nothing is checked (WRL29, and the pause grows); a refusal is counted.
-- why a result, not an exception, for a refusal: an exception would roll back the count.
create function watchium.try_room_door(p_subject text, p_opens boolean) returns boolean
language plpgsql volatile
set search_path = ''
as $$
declare
  v_address text := 'address:' || watchium.client_address();
  v_retry double precision;
begin
  v_retry := greatest(watchium.rate_limit_peek(p_subject, 'join_refused_user'),
                      watchium.rate_limit_peek(v_address, 'join_refused_address'));
  if v_retry > 0 then
    perform watchium.rate_limit_penalize(p_subject, 'join_refused_user');
    perform watchium.rate_limit_penalize(v_address, 'join_refused_address');
    return null; -- paused: the caller answers WRL29 (committed, so the back-off holds)
  end if;
  if p_opens then
    return true;
  end if;
  perform watchium.rate_limit_take(p_subject, 'join_refused_user');
  perform watchium.rate_limit_take(v_address, 'join_refused_address');
  return false;
end;
$$;
comment on function watchium.try_room_door(text, boolean) is
  'One attempt at a private or missing room: true when it opens, false when refused (counted per '
  'user and per client address), NULL while either limit is paused (the pause is extended).';

create function watchium.door_retry_after(p_subject text) returns double precision
language sql stable
set search_path = ''
as $$
  select greatest(
    watchium.rate_limit_peek(p_subject, 'join_refused_user'),
    watchium.rate_limit_peek('address:' || watchium.client_address(), 'join_refused_address'))
$$;
comment on function watchium.door_retry_after(text) is
  'Seconds until p_subject (and the caller''s address) may try a closed room again.';

drop function public.rooms_join(text, text, text, text, text);

-- why security definer: checks the secret key and invites and writes the membership.
create function public.rooms_join(
  p_room_id text,
  p_username text,
  p_avatar_url text default null,
  p_access_key text default null,
  p_invite_token text default null,
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
  v_opens boolean;
  v_retry double precision;
begin
  -- The row lock serialises joins into one room: two joiners cannot both take a free host slot
  -- or the last free place.
  select * into v_room from public.rooms r where r.room_id = p_room_id for no key update;

  if v_room.id is not null then
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
        'room', watchium.room_json(v_room, clock_timestamp()),
        'member', watchium.member_json(v_member),
        'rejoined', true);
    end if;
  end if;

  -- A missing room and a private room without the right key or invite look alike (WR404) and
  -- count alike, so neither the answer nor the limits tell whether a private room exists.
  -- A valid invite opens the room even while key checks are paused: it cannot be guessed, so
  -- checking it tells a guesser nothing, and a member who shares an address with a guesser
  -- still gets in with one.
  if (v_room.id is null or not (v_room.is_public or watchium.is_privileged()))
     and not (v_room.id is not null and watchium.invite_opens(p_room_id, p_invite_token)) then
    v_opens := watchium.try_room_door(
      v_uid,
      v_room.id is not null
        and p_access_key is not null
        and p_access_key = (select k.access_key from watchium.room_access_keys k
                             where k.room_id = p_room_id));
    if v_opens is null then
      v_retry := watchium.door_retry_after(v_uid);
      -- why a result, not an exception: the extended pause must be committed.
      return jsonb_build_object('error', jsonb_build_object(
        'code', 'WRL29',
        'message', 'too many refused joins: joining rooms that need a key is paused',
        'hint', format('retry after %s seconds', ceil(v_retry)),
        'detail', json_build_object('action', 'join_refused', 'retry_after',
                                    round(v_retry::numeric, 3))::text));
    end if;
    if not v_opens then
      return jsonb_build_object('error', jsonb_build_object(
        'code', 'WR404',
        'message', format('room %s not found', p_room_id),
        'hint', 'check the room id; a private room needs its access key or an invite'));
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
comment on function public.rooms_join(text, text, text, text, text, text) is
  'Joins the room (again: idempotent, and a heartbeat). A private room needs p_access_key or an '
  'invite (p_invite_token). A missing room and a private room without the right key or invite '
  'both return {"error": {"code": "WR404", ...}} (returned, not raised, so the attempt counts: '
  'per user and per client address); while those limits are paused, {"error": {"code": "WRL29", '
  '..., "detail"}}. Returns {room, member, rejoined}. Errors: WR401, WR403, WRF09, WR429.';
revoke all on function public.rooms_join(text, text, text, text, text, text) from public;
grant execute on function public.rooms_join(text, text, text, text, text, text) to authenticated, service_role;

-- why security definer: replaces the secret key and invite secret, which no API role may write.
create function public.rooms_rotate_access_key(p_room_id text, p_user_id text default null)
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_room public.rooms;
  v_old varchar(6);
  v_key varchar(6);
begin
  v_room := watchium.room_for(p_room_id, v_uid, true);
  if not watchium.is_member_of(p_room_id, v_uid, true) and not watchium.is_privileged() then
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
  return jsonb_build_object('room_id', p_room_id, 'access_key', v_key);
end;
$$;
comment on function public.rooms_rotate_access_key(text, text) is
  'Gives the private room a new access key and invite secret (host only): the old key and every '
  'invite stop working; members stay. Returns {room_id, access_key}. Errors: WR400 (public room), '
  'WR401, WR403, WR404, WRH03, WR429.';
revoke all on function public.rooms_rotate_access_key(text, text) from public;
grant execute on function public.rooms_rotate_access_key(text, text) to authenticated, service_role;

-- why security definer: signs with the room's invite secret, which no API role may read.
create function public.rooms_create_invite(
  p_room_id text,
  p_ttl_seconds integer default 86400,
  p_user_id text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_room public.rooms;
  v_expires bigint;
  v_secret bytea;
begin
  if p_ttl_seconds is null or p_ttl_seconds < 60 or p_ttl_seconds > 604800 then
    raise exception using
      errcode = 'WR400', message = 'an invite lasts 60 seconds to 7 days (ttl_seconds 60 to 604800)';
  end if;
  v_room := watchium.room_for(p_room_id, v_uid);
  if not watchium.is_member_of(p_room_id, v_uid, true) and not watchium.is_privileged() then
    raise exception using errcode = 'WRH03', message = 'only the host can create invites';
  end if;
  if v_room.is_public then
    raise exception using
      errcode = 'WR400',
      message = 'a public room needs no invite',
      hint = 'share the room id: anyone may join a public room';
  end if;
  select k.invite_secret into v_secret from watchium.room_access_keys k where k.room_id = p_room_id;
  v_expires := ceil(extract(epoch from clock_timestamp()))::bigint + p_ttl_seconds;
  return jsonb_build_object(
    'room_id', p_room_id,
    'invite_token', p_room_id || '.' || v_expires || '.'
                    || watchium.invite_signature(p_room_id, v_expires, v_secret),
    'expires_at', to_timestamp(v_expires));
end;
$$;
comment on function public.rooms_create_invite(text, integer, text) is
  'A signed invite to the private room (host only), valid for p_ttl_seconds (60 to 604800) or until '
  'the key is rotated: rooms_join with p_invite_token joins without the key. Returns {room_id, '
  'invite_token, expires_at}. Errors: WR400, WR401, WR403, WR404, WRH03.';
revoke all on function public.rooms_create_invite(text, integer, text) from public;
grant execute on function public.rooms_create_invite(text, integer, text) to authenticated, service_role;

------------------------------------------------------------------------------------------------
-- The heartbeat: bounded positions and a rate limit.
------------------------------------------------------------------------------------------------

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
  perform watchium.check_position(p_current_time, 'current_time');
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
  perform watchium.enforce_rate_limit(v_uid, 'member_status');
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
  'database. room_members is written only when a value the members see changes. At most 30 per '
  'minute per user (member_status). Returns {member (with current_playback_time and '
  'last_heartbeat), room (with live_position and server_time)}. Errors: WR400, WR401, WR403, '
  'WR404, WRM03, WR429.';

------------------------------------------------------------------------------------------------
-- Comments: a reply by someone else is not deleted with its parent.
------------------------------------------------------------------------------------------------

-- why security definer: reads replies the deleting user may not see.
create function watchium.comments_keep_others_replies() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if not watchium.is_privileged() and exists (
      select 1 from public.comments c
       where c.parent_id = old.id and c.user_id is distinct from old.user_id) then
    raise exception using
      errcode = 'WR409',
      message = 'this comment has replies by other users and cannot be deleted',
      hint = 'edit its message instead';
  end if;
  return old;
end;
$$;
comment on function watchium.comments_keep_others_replies() is
  'Trigger: refuses (WR409) deleting a comment, directly or by cascade from its parent, that has '
  'replies by another user, unless service_role or a direct session deletes it.';

create trigger comments_keep_others_replies
  before delete on public.comments
  for each row execute function watchium.comments_keep_others_replies();
