-- 014 playback order: a host's playback changes take their time once they hold the room.
--
-- watchium.apply_playback took the server time before locking the room. Two changes at once
-- (a host's double click, two devices of one host) could then commit in one order and carry
-- reference times in the other: the row left in the table had an older playback_updated_at than
-- the change before it, and clients, which keep the newest row by that time, kept the other one.
-- Now the time is read again after the lock, so playback_updated_at follows commit order. The
-- reference-time check (p_at within settings.max_clock_skew) still uses the time of the call.

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
