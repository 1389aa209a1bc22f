-- 022 episode queue: the episode queue (docs/NIGHTS.md, "The queue").
--
-- A room plays one entry of its queue at a time. public.room_queue holds the entries (anime,
-- episode number, title, video URL, duration) in sort_key order; the host and co-hosts add,
-- remove and reorder them, and move the room to the next, the previous or any entry
-- (queue_go): the room's anime, episode and video become the entry's, paused at 0, in one
-- UPDATE of rooms, so every member's player follows as it follows any host action. With
-- rooms.auto_advance on, any member may report that the current entry has ended
-- (queue_go to => 'ended'); the database checks that the room really is at its end, and the
-- first report advances the room (the others change nothing).
--
-- Skip together: an entry may carry the opening and the ending of its episode (start and end,
-- seconds), and the room carries those of the episode it plays (copied from the entry by queue_go,
-- or set by rooms_set_skips). rooms_skip moves the whole room past one with a single change:
-- the position is the segment's end and, while playing, the reference time is settings.start_lead
-- ahead, so every player holds at the same frame and starts at the same instant.
--
-- Traffic: each change of room_queue is one message per member carrying that entry only: an
-- addition one INSERT, a removal one DELETE, a move one UPDATE (sort_key takes a value between
-- its new neighbours: one row changes, whatever the queue's length). The replica identity is
-- (room_id, id): a DELETE carries its room, so it reaches the members of that room (and passes
-- their room_id filter), while an UPDATE carries no old row.

alter table watchium.settings
  add column max_queue_entries integer not null default 100
    constraint valid_max_queue_entries check (max_queue_entries > 0),
  add column start_lead interval not null default interval '0.6 seconds'
    constraint valid_start_lead check (start_lead >= interval '0' and start_lead <= interval '3 seconds');
comment on column watchium.settings.max_queue_entries is 'Entries a room''s queue holds at most.';
comment on column watchium.settings.start_lead is
  'How far ahead a start the whole room makes together (a skip, a ready check passing) is '
  'scheduled: longer than a change takes to reach the members, so all players start at once.';

insert into watchium.rate_limit_rules (action, max_requests, per, description) values
  ('queue', 120, interval '1 hour', 'queue edits (add, remove, move, auto-advance) by a user');

create table public.room_queue (
  id uuid primary key default gen_random_uuid(),
  room_id varchar(10) not null references public.rooms (room_id) on delete cascade,
  sort_key numeric not null,
  anime_id varchar(100) not null,
  anime_title varchar(255) not null,
  episode_number integer not null,
  title varchar(255),
  video_url text not null,
  duration numeric(10, 2) not null,
  added_by varchar(100) not null,
  created_at timestamptz not null default now(),
  constraint unique_queue_order unique (room_id, sort_key),
  constraint valid_queue_anime_id check (length(btrim(anime_id)) > 0),
  constraint valid_queue_anime_title check (length(btrim(anime_title)) > 0),
  constraint valid_queue_episode_number check (episode_number > 0),
  constraint valid_queue_title check (title is null or length(btrim(title)) > 0),
  constraint valid_queue_video_url check (
    video_url ~* '^https?://[^[:space:]]+$' and length(video_url) <= 2048),
  constraint valid_queue_duration check (duration > 0),
  opening_start numeric(10, 2),
  opening_end numeric(10, 2),
  ending_start numeric(10, 2),
  ending_end numeric(10, 2),
  constraint valid_queue_opening check (
    (opening_start is null) = (opening_end is null)
    and (opening_start is null or (0 <= opening_start and opening_start < opening_end
                                   and opening_end <= duration))),
  constraint valid_queue_ending check (
    (ending_start is null) = (ending_end is null)
    and (ending_start is null or (0 <= ending_start and ending_start < ending_end
                                  and ending_end <= duration)))
);
comment on table public.room_queue is
  'A room''s episode queue, in sort_key order. Written by queue_add, queue_remove, queue_move; '
  'readable as the room is; published (one message per member per change).';
comment on column public.room_queue.id is 'Primary key.';
comment on column public.room_queue.room_id is 'The room.';
comment on column public.room_queue.sort_key is
  'Order in the queue (ascending): a move gives the entry a value between its new neighbours.';
comment on column public.room_queue.anime_id is 'The anime (the room''s when added without one).';
comment on column public.room_queue.anime_title is 'The anime''s title.';
comment on column public.room_queue.episode_number is 'The episode (> 0).';
comment on column public.room_queue.title is 'The episode''s title, if given.';
comment on column public.room_queue.video_url is 'http(s) URL of the episode''s video.';
comment on column public.room_queue.duration is 'The video''s length in seconds.';
comment on column public.room_queue.opening_start is 'Where the opening starts, seconds (NULL: not marked).';
comment on column public.room_queue.opening_end is 'Where the opening ends, seconds.';
comment on column public.room_queue.ending_start is 'Where the ending starts, seconds (NULL: not marked).';
comment on column public.room_queue.ending_end is 'Where the ending ends, seconds.';
comment on column public.room_queue.added_by is 'Who added it.';
comment on column public.room_queue.created_at is 'When it was added.';
create index idx_room_queue_room on public.room_queue (room_id, sort_key);
create unique index room_queue_room_entry on public.room_queue (room_id, id);
alter table public.room_queue replica identity using index room_queue_room_entry;

alter table public.rooms
  add column current_entry_id uuid references public.room_queue (id) on delete set null,
  add column auto_advance boolean not null default false,
  add column opening_start numeric(10, 2),
  add column opening_end numeric(10, 2),
  add column ending_start numeric(10, 2),
  add column ending_end numeric(10, 2),
  add constraint valid_room_opening check (
    (opening_start is null) = (opening_end is null)
    and (opening_start is null or (0 <= opening_start and opening_start < opening_end))),
  add constraint valid_room_ending check (
    (ending_start is null) = (ending_end is null)
    and (ending_start is null or (0 <= ending_start and ending_start < ending_end)));
comment on column public.rooms.opening_start is
  'Where the episode''s opening starts, seconds (NULL: not marked; docs/NIGHTS.md, "Skip together").';
comment on column public.rooms.opening_end is 'Where the episode''s opening ends, seconds.';
comment on column public.rooms.ending_start is 'Where the episode''s ending starts, seconds (NULL: not marked).';
comment on column public.rooms.ending_end is 'Where the episode''s ending ends, seconds.';
comment on column public.rooms.current_entry_id is
  'The queue entry the room plays (NULL: none; the room''s own episode and video).';
-- A removed entry sets current_entry_id to NULL in the rooms that point at it: this index keeps
-- that lookup (and Supabase's unindexed-foreign-key advisor) from scanning rooms.
create index idx_rooms_current_entry on public.rooms (current_entry_id);
comment on column public.rooms.auto_advance is
  'Whether the room moves to the next entry by itself when the current one ends.';

alter table public.room_queue enable row level security;
create policy room_queue_select on public.room_queue
  for select to anon, authenticated
  using (watchium.can_see_room(room_id));
revoke all on public.room_queue from anon, authenticated;
grant select on public.room_queue to anon, authenticated;
grant all on public.room_queue to service_role;
alter publication supabase_realtime add table public.room_queue;

------------------------------------------------------------------------------------------------
-- Helpers.
------------------------------------------------------------------------------------------------

-- The room, locked, for a host or co-host (WRH03 otherwise; WR404 for who may not see it).
create function watchium.room_for_controller(
  p_room_id text, p_user_id text, p_what text default 'change the queue'
) returns public.rooms
language plpgsql volatile
set search_path = ''
as $$
declare
  v_room public.rooms := watchium.room_for(p_room_id, p_user_id, true);
begin
  if watchium.room_role(p_room_id, p_user_id) is null and not watchium.is_privileged() then
    raise exception using
      errcode = 'WRH03',
      message = format('only the host or a co-host can %s', p_what),
      hint = format('the host of room %s is %s', p_room_id, v_room.host_username);
  end if;
  return v_room;
end;
$$;
comment on function watchium.room_for_controller(text, text, text) is
  'The room locked for a change by its host or a co-host (or a privileged caller), else WRH03.';

-- Playback changes take their role check from room_for_controller, as every other change of a
-- room by its host or co-hosts does: a privileged caller acting for a user (service_role) may
-- make them too. rooms_skip and ready_check_start change playback through it.
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

  v_room := watchium.room_for_controller(p_room_id, v_uid, 'control playback');
  -- A change that waited for another one's lock comes after it: its time is the time it got
  -- the room, so reference times follow commit order (members keep the newest row by it).
  v_now := clock_timestamp();

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
  'Applies a playback change of the host or a co-host (or a privileged caller): checks the role '
  '(room_for_controller), logs it for every member, updates the room (p_position NULL = continue '
  'from the live position; p_at = server time of p_position). The change counts against the '
  'host''s sync_control limit (rooms_playback_guard).';

create function watchium.queue_entry(p_room_id text, p_entry_id uuid) returns public.room_queue
language plpgsql stable
set search_path = ''
as $$
declare
  v_entry public.room_queue;
begin
  select * into v_entry from public.room_queue q where q.id = p_entry_id and q.room_id = p_room_id;
  if v_entry.id is null then
    raise exception using
      errcode = 'WR400',
      message = format('entry %s is not in the queue of room %s', p_entry_id, p_room_id);
  end if;
  return v_entry;
end;
$$;
comment on function watchium.queue_entry(text, uuid) is
  'The entry of the room''s queue, or WR400.';

-- A segment (opening or ending) as given: both ends or neither, 0 <= start < end (<= duration
-- when known), each a position as stored; WR400 otherwise, with what to fix.
create function watchium.check_segment(
  p_name text, p_start numeric, p_end numeric, p_duration numeric default null
) returns void
language plpgsql immutable
set search_path = ''
as $$
begin
  if (p_start is null) <> (p_end is null) then
    raise exception using
      errcode = 'WR400',
      message = format('%s needs both its start and its end (or neither)', p_name);
  end if;
  if p_start is null then
    return;
  end if;
  perform watchium.check_position(p_start, p_name || '_start');
  perform watchium.check_position(p_end, p_name || '_end');
  if round(p_start, 2) >= round(p_end, 2) then
    raise exception using
      errcode = 'WR400',
      message = format('the %s must end after it starts (%s >= %s)', p_name, p_start, p_end);
  end if;
  if p_duration is not null and round(p_end, 2) > p_duration then
    raise exception using
      errcode = 'WR400',
      message = format('the %s ends after the episode (%s > %s)', p_name, p_end, p_duration);
  end if;
end;
$$;
comment on function watchium.check_segment(text, numeric, numeric, numeric) is
  'Raises WR400 unless the opening or ending is unset, or set with 0 <= start < end (<= duration).';

------------------------------------------------------------------------------------------------
-- Entry points.
------------------------------------------------------------------------------------------------

-- why security definer: writes the queue (API roles have no INSERT) after checking the role.
create function public.queue_add(
  p_room_id text,
  p_episode_number integer,
  p_video_url text,
  p_duration numeric,
  p_title text default null,
  p_anime_id text default null,
  p_anime_title text default null,
  p_opening_start numeric default null,
  p_opening_end numeric default null,
  p_ending_start numeric default null,
  p_ending_end numeric default null,
  p_user_id text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_room public.rooms := watchium.room_for_controller(p_room_id, v_uid);
  v_entry public.room_queue;
begin
  perform watchium.check_position(p_duration, 'duration');
  perform watchium.check_segment('opening', p_opening_start, p_opening_end, round(p_duration, 2));
  perform watchium.check_segment('ending', p_ending_start, p_ending_end, round(p_duration, 2));
  if (select count(*) from public.room_queue q where q.room_id = p_room_id)
       >= (select s.max_queue_entries from watchium.settings s) then
    raise exception using
      errcode = 'WR409',
      message = format('the queue of room %s is full', p_room_id),
      hint = 'remove an entry first';
  end if;
  perform watchium.enforce_rate_limit(v_uid, 'queue');
  insert into public.room_queue (
    room_id, sort_key, anime_id, anime_title, episode_number, title, video_url, duration,
    opening_start, opening_end, ending_start, ending_end, added_by)
  values (
    p_room_id,
    coalesce((select max(q.sort_key) from public.room_queue q where q.room_id = p_room_id), 0) + 1,
    coalesce(p_anime_id, v_room.anime_id),
    coalesce(p_anime_title, case when p_anime_id is null or p_anime_id = v_room.anime_id
                                 then v_room.anime_title end, p_anime_id),
    p_episode_number, p_title, p_video_url, p_duration,
    p_opening_start, p_opening_end, p_ending_start, p_ending_end, v_uid)
  returning * into v_entry;
  return jsonb_build_object('entry', to_jsonb(v_entry));
end;
$$;
comment on function public.queue_add(
  text, integer, text, numeric, text, text, text, numeric, numeric, numeric, numeric, text) is
  'Appends an episode to the room''s queue (host or co-host): anime (default the room''s), '
  'episode, title, video URL, duration in seconds, and optionally its opening and ending '
  '(start, end in seconds). Returns {entry}. Errors: WR400, WR401, WR403, '
  'WR404, WRH03, WR409 (the queue is full), WR429, 23514.';
grant execute on function public.queue_add(
  text, integer, text, numeric, text, text, text, numeric, numeric, numeric, numeric, text)
  to authenticated, service_role;

-- why security definer: deletes from the queue after checking the role.
create function public.queue_remove(p_room_id text, p_entry_id uuid, p_user_id text default null)
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_room public.rooms := watchium.room_for_controller(p_room_id, v_uid);
  v_entry public.room_queue := watchium.queue_entry(p_room_id, p_entry_id);
begin
  perform watchium.enforce_rate_limit(v_uid, 'queue');
  -- The room keeps playing the removed entry's video; it just no longer points at the entry.
  delete from public.room_queue q where q.id = v_entry.id;
  return jsonb_build_object('room_id', p_room_id, 'entry_id', p_entry_id, 'removed', true);
end;
$$;
comment on function public.queue_remove(text, uuid, text) is
  'Removes an entry from the room''s queue (host or co-host); the room keeps playing its video. '
  'Returns {room_id, entry_id, removed}. Errors: WR400 (not in the queue), WR401, WR403, WR404, '
  'WRH03, WR429.';
grant execute on function public.queue_remove(text, uuid, text) to authenticated, service_role;

-- why security definer: updates the queue after checking the role.
create function public.queue_move(
  p_room_id text,
  p_entry_id uuid,
  p_after_entry_id uuid default null,
  p_user_id text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_room public.rooms := watchium.room_for_controller(p_room_id, v_uid);
  v_entry public.room_queue := watchium.queue_entry(p_room_id, p_entry_id);
  v_low numeric;
  v_high numeric;
begin
  if p_after_entry_id = p_entry_id then
    raise exception using errcode = 'WR400', message = 'an entry cannot follow itself';
  end if;
  if p_after_entry_id is null then
    v_low := null;
  else
    v_low := (watchium.queue_entry(p_room_id, p_after_entry_id)).sort_key;
  end if;
  select min(q.sort_key) into v_high from public.room_queue q
   where q.room_id = p_room_id and q.id <> p_entry_id
     and (v_low is null or q.sort_key > v_low);
  perform watchium.enforce_rate_limit(v_uid, 'queue');
  update public.room_queue q
     set sort_key = case
           when v_low is null and v_high is null then 1
           when v_low is null then v_high - 1
           when v_high is null then v_low + 1
           else (v_low + v_high) / 2 end
   where q.id = p_entry_id
  returning * into v_entry;
  return jsonb_build_object('entry', to_jsonb(v_entry));
end;
$$;
comment on function public.queue_move(text, uuid, uuid, text) is
  'Moves an entry of the room''s queue after p_after_entry_id (NULL: to the front), host or '
  'co-host; one row changes. Returns {entry}. Errors: WR400, WR401, WR403, WR404, WRH03, WR429.';
grant execute on function public.queue_move(text, uuid, uuid, text) to authenticated, service_role;

-- why security definer: changes the room's episode after checking the role (or, for 'ended',
-- that the room really is at the end of its entry).
create function public.queue_go(
  p_room_id text,
  p_to text default 'next',
  p_entry_id uuid default null,
  p_user_id text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_to text := lower(coalesce(p_to, ''));
  v_room public.rooms;
  v_current public.room_queue;
  v_target public.room_queue;
  v_now timestamptz;
begin
  if v_to not in ('next', 'previous', 'entry', 'ended') then
    raise exception using
      errcode = 'WR400',
      message = format('unknown destination %L', p_to),
      hint = 'to is one of next, previous, entry (with entry_id), ended (with entry_id)';
  end if;
  if v_to in ('entry', 'ended') and p_entry_id is null then
    raise exception using errcode = 'WR400', message = format('%s needs entry_id', v_to);
  end if;

  if v_to = 'ended' then
    -- Any member may report the end; the database checks it, and only the first report of
    -- the current entry's end moves the room.
    v_room := watchium.room_for(p_room_id, v_uid, true);
    if not watchium.is_member_of(p_room_id, v_uid) and not watchium.is_privileged() then
      raise exception using
        errcode = 'WRM03',
        message = format('only members of room %s can report the end of an episode', p_room_id);
    end if;
    v_now := clock_timestamp();
    select * into v_current from public.room_queue q where q.id = v_room.current_entry_id;
    if not v_room.auto_advance or v_current.id is distinct from p_entry_id
       or watchium.live_position(v_room.current_playback_time, v_room.is_playing,
            v_room.playback_speed, v_room.playback_updated_at, v_now) < v_current.duration - 1 then
      -- Not (or no longer) at the end of that entry: nothing to do.
      return watchium.room_json(v_room, v_now) || jsonb_build_object('advanced', false);
    end if;
  else
    v_room := watchium.room_for_controller(p_room_id, v_uid, 'move the room to another episode');
    select * into v_current from public.room_queue q where q.id = v_room.current_entry_id;
  end if;

  if v_to = 'entry' then
    v_target := watchium.queue_entry(p_room_id, p_entry_id);
  elsif v_to = 'previous' then
    select * into v_target from public.room_queue q
     where q.room_id = p_room_id and v_current.id is not null and q.sort_key < v_current.sort_key
     order by q.sort_key desc limit 1;
  else
    select * into v_target from public.room_queue q
     where q.room_id = p_room_id and (v_current.id is null or q.sort_key > v_current.sort_key)
     order by q.sort_key limit 1;
  end if;
  if v_target.id is null then
    if v_to = 'ended' then
      return watchium.room_json(v_room, clock_timestamp()) || jsonb_build_object('advanced', false);
    end if;
    raise exception using
      errcode = 'WR409',
      message = format('the queue of room %s has no %s episode', p_room_id,
                       case v_to when 'previous' then 'previous' else 'next' end),
      hint = 'add one with queue-add';
  end if;

  perform watchium.bulk_sync_update(p_room_id, 0, 'seek', false);
  update public.rooms r
     set current_entry_id = v_target.id,
         anime_id = v_target.anime_id,
         anime_title = v_target.anime_title,
         episode_number = v_target.episode_number,
         video_url = v_target.video_url,
         opening_start = v_target.opening_start,
         opening_end = v_target.opening_end,
         ending_start = v_target.ending_start,
         ending_end = v_target.ending_end,
         is_playing = false,
         current_playback_time = 0,
         playback_updated_at = clock_timestamp()
   where r.room_id = p_room_id
  returning * into v_room;
  return watchium.room_json(v_room, clock_timestamp()) || jsonb_build_object('advanced', true);
end;
$$;
comment on function public.queue_go(text, text, uuid, text) is
  'Moves the room to an entry of its queue: p_to next, previous, entry (p_entry_id), by the host '
  'or a co-host; or ended (p_entry_id: the entry that ended), by any member when auto_advance '
  'is on and the room is within 1 s of that entry''s end (else nothing changes). The room takes '
  'the entry''s anime, episode, video, opening and ending, paused at 0. Returns the room with live_position, '
  'server_time and advanced. Errors: WR400, WR401, WR403, WR404, WRH03, WRM03, WR409 (no such '
  'episode), WR429.';
grant execute on function public.queue_go(text, text, uuid, text) to authenticated, service_role;

-- why security definer: API roles may not write this column.
create function public.queue_auto_advance(
  p_room_id text, p_on boolean default true, p_user_id text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_room public.rooms := watchium.room_for_controller(p_room_id, v_uid);
begin
  if p_on is null then
    raise exception using errcode = 'WR400', message = 'on must be true or false';
  end if;
  if v_room.auto_advance is distinct from p_on then
    perform watchium.enforce_rate_limit(v_uid, 'queue');
    update public.rooms r set auto_advance = p_on where r.room_id = p_room_id
    returning * into v_room;
  end if;
  return watchium.room_json(v_room, clock_timestamp());
end;
$$;
comment on function public.queue_auto_advance(text, boolean, text) is
  'Turns the room''s auto-advance on or off (host or co-host): when on, the room moves to the '
  'next entry when the current one ends. Returns the room. Errors: WR400, WR401, WR403, WR404, '
  'WRH03, WR429.';
grant execute on function public.queue_auto_advance(text, boolean, text) to authenticated, service_role;

-- queue_get, which reads the queue with the room's ready check, is in 023_ready_check.sql.

------------------------------------------------------------------------------------------------
-- Skip together.
------------------------------------------------------------------------------------------------

-- why security definer: API roles may not write these columns (nor the queue).
create function public.rooms_set_skips(
  p_room_id text,
  p_opening_start numeric default null,
  p_opening_end numeric default null,
  p_ending_start numeric default null,
  p_ending_end numeric default null,
  p_user_id text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_room public.rooms :=
    watchium.room_for_controller(p_room_id, v_uid, 'mark the opening and ending');
  v_duration numeric;
begin
  select q.duration into v_duration from public.room_queue q where q.id = v_room.current_entry_id;
  perform watchium.check_segment('opening', p_opening_start, p_opening_end, v_duration);
  perform watchium.check_segment('ending', p_ending_start, p_ending_end, v_duration);
  perform watchium.enforce_rate_limit(v_uid, 'queue');
  update public.rooms r
     set opening_start = p_opening_start, opening_end = p_opening_end,
         ending_start = p_ending_start, ending_end = p_ending_end
   where r.room_id = p_room_id
  returning * into v_room;
  -- The entry keeps them, for the next time the room plays it.
  update public.room_queue q
     set opening_start = p_opening_start, opening_end = p_opening_end,
         ending_start = p_ending_start, ending_end = p_ending_end
   where q.id = v_room.current_entry_id;
  return watchium.room_json(v_room, clock_timestamp());
end;
$$;
comment on function public.rooms_set_skips(text, numeric, numeric, numeric, numeric, text) is
  'Marks the opening and ending of the episode the room plays (host or co-host; start and end '
  'in seconds, NULL pairs clear them); the current queue entry keeps them too. Returns the room. '
  'Errors: WR400, WR401, WR403, WR404, WRH03, WR429.';
grant execute on function public.rooms_set_skips(text, numeric, numeric, numeric, numeric, text)
  to authenticated, service_role;

-- why security definer: changes the room's playback (API roles may not write it) after checking
-- the role.
create function public.rooms_skip(
  p_room_id text, p_segment text default null, p_user_id text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_segment text := lower(p_segment);
  v_room public.rooms := watchium.room_for_controller(p_room_id, v_uid, 'skip for the room');
  v_now timestamptz := clock_timestamp();
  v_position numeric;
  v_end numeric;
begin
  if v_segment is not null and v_segment not in ('opening', 'ending') then
    raise exception using
      errcode = 'WR400',
      message = format('unknown segment %L', p_segment),
      hint = 'segment is opening or ending (or left out: the one playing now)';
  end if;
  v_position := watchium.live_position(v_room.current_playback_time, v_room.is_playing,
                                       v_room.playback_speed, v_room.playback_updated_at, v_now);
  if v_segment is null then
    if v_position >= v_room.opening_start and v_position < v_room.opening_end then
      v_segment := 'opening';
    elsif v_position >= v_room.ending_start and v_position < v_room.ending_end then
      v_segment := 'ending';
    else
      raise exception using
        errcode = 'WR409',
        message = format('room %s is not in its opening or ending (at %s s)', p_room_id,
                         round(v_position, 2)),
        hint = 'name the segment to skip, or mark them with rooms-set-skips';
    end if;
  end if;
  v_end := case v_segment when 'opening' then v_room.opening_end else v_room.ending_end end;
  if v_end is null then
    raise exception using
      errcode = 'WR409',
      message = format('the %s of this episode is not marked', v_segment),
      hint = 'mark it with rooms-set-skips';
  end if;
  -- While playing, every player holds at the segment's end and starts at the same instant.
  v_room := watchium.apply_playback(
    p_room_id, v_uid, null, v_end, null,
    case when v_room.is_playing
         then clock_timestamp() + (select s.start_lead from watchium.settings s) end,
    'seek');
  return watchium.room_json(v_room, clock_timestamp())
      || jsonb_build_object('skipped', v_segment, 'to', v_end);
end;
$$;
comment on function public.rooms_skip(text, text, text) is
  'Skips the opening or ending (p_segment; NULL: the one the room is in) for the whole room, host '
  'or co-host: the room moves to the segment''s end and, while playing, starts from there '
  'settings.start_lead ahead, so all players land on the same frame. Returns the room with '
  'skipped and to. Errors: WR400, WR401, WR403, WR404, WRH03, WR409 (not in a segment, or it is '
  'not marked), WR429.';
grant execute on function public.rooms_skip(text, text, text) to authenticated, service_role;
