-- 002 rooms: a watch party and its authoritative playback state, plus the secret key of a private
-- room.
--
-- Playback model: the room stores the position and the server time it was set
-- (`playback_updated_at`), so anyone can compute where the host is now:
--   position + (now - playback_updated_at) * playback_speed   while playing.
-- The trigger rooms_playback_guard keeps that model consistent for every writer (the RPC
-- functions and a host updating the row directly) and counts each change against the host's
-- sync_control rate limit.
--
-- The access key of a private room is NOT a column of rooms: rows of rooms are replicated to
-- Realtime subscribers and readable by members, and the key must reach the host only. It lives in
-- watchium.room_access_keys, which no API role can read.

create table public.rooms (
  id uuid primary key default gen_random_uuid(),
  room_id varchar(10) not null,
  title varchar(255) not null,
  anime_id varchar(100) not null,
  anime_title varchar(255) not null,
  episode_number integer not null default 1,
  video_url text not null,
  source_id varchar(100),
  host_user_id varchar(100) not null,
  host_username varchar(100) not null,
  is_public boolean not null default true,
  current_playback_time decimal(10, 2) not null default 0,
  is_playing boolean not null default false,
  playback_speed decimal(3, 2) not null default 1.0,
  playback_updated_at timestamptz not null default clock_timestamp(),
  last_activity timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint unique_room_id unique (room_id),
  constraint valid_room_id check (room_id ~ '^[a-z0-9]{10}$'),
  constraint valid_title check (length(btrim(title)) > 0),
  constraint valid_anime_id check (length(btrim(anime_id)) > 0),
  constraint valid_anime_title check (length(btrim(anime_title)) > 0),
  constraint valid_episode_number check (episode_number > 0),
  constraint valid_video_url check (video_url ~* '^https?://[^[:space:]]+$' and length(video_url) <= 2048),
  constraint valid_host_username check (length(btrim(host_username)) > 0),
  constraint valid_current_playback_time check (current_playback_time >= 0),
  constraint valid_playback_speed check (playback_speed > 0),
  constraint valid_playback_speed_range check (playback_speed between 0.25 and 4)
);

comment on table public.rooms is
  'Watch-party rooms and their authoritative playback state. Public rooms are visible to everyone, '
  'private rooms to their members only. Write through the RPC functions (or, for the host, a direct '
  'UPDATE of the playback columns).';
comment on column public.rooms.id is 'Primary key.';
comment on column public.rooms.room_id is 'The shareable room id: 10 characters from a secure generator.';
comment on column public.rooms.title is 'Display title of the room.';
comment on column public.rooms.anime_id is 'External anime identifier.';
comment on column public.rooms.anime_title is 'Anime display title.';
comment on column public.rooms.episode_number is 'Episode being watched (> 0).';
comment on column public.rooms.video_url is 'http(s) URL of the video source.';
comment on column public.rooms.source_id is 'Optional video source identifier.';
comment on column public.rooms.host_user_id is 'User id (auth.uid()) of the current host.';
comment on column public.rooms.host_username is 'Display name of the current host.';
comment on column public.rooms.is_public is 'Public rooms are listed and joinable without a key.';
comment on column public.rooms.current_playback_time is
  'Playback position in seconds at playback_updated_at (not "now": see live position).';
comment on column public.rooms.is_playing is 'Whether playback is running.';
comment on column public.rooms.playback_speed is 'Playback speed multiplier (0.25 to 4).';
comment on column public.rooms.playback_updated_at is
  'Server time at which current_playback_time was the position. Live position = '
  'current_playback_time + (now - playback_updated_at) * playback_speed while playing.';
comment on column public.rooms.last_activity is 'Last join, heartbeat (throttled) or host action.';
comment on column public.rooms.created_at is 'Creation time.';
comment on column public.rooms.updated_at is 'Last update time.';

-- The seeds' idx_rooms_room_id would duplicate the index of unique_room_id, which already serves
-- every lookup by room_id.
create index idx_rooms_anime_id on public.rooms (anime_id);
create index idx_rooms_is_public on public.rooms (is_public);
create index idx_rooms_last_activity on public.rooms (last_activity);
create index idx_rooms_host_user_id on public.rooms (host_user_id);
create index idx_rooms_state on public.rooms (room_id, is_playing, current_playback_time, updated_at desc);
-- Serves rooms_list_public: newest public rooms first without scanning private ones.
create index idx_rooms_public_activity on public.rooms (last_activity desc) where is_public;

------------------------------------------------------------------------------------------------
-- The access key of a private room (seed defect 5: never readable by anyone but the host).
------------------------------------------------------------------------------------------------

create table watchium.room_access_keys (
  room_id varchar(10) primary key references public.rooms (room_id) on delete cascade,
  access_key varchar(6) not null constraint valid_access_key check (access_key ~ '^[0-9]{6}$'),
  created_at timestamptz not null default now()
);
comment on table watchium.room_access_keys is
  'The 6-digit key of each private room. Not granted to any API role, not replicated: the host gets '
  'it from rooms_create (and rooms_get_access_key).';

-- why security definer: a deferred trigger runs at COMMIT as the session's role (e.g.
-- `authenticated` after rooms_create), which may not read the key table.
create function watchium.check_private_room_key() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if exists (select 1 from public.rooms r where r.id = new.id and not r.is_public)
     and not exists (select 1 from watchium.room_access_keys k where k.room_id = new.room_id) then
    raise exception using
      errcode = '23514',
      constraint = 'valid_access_key',
      table = 'rooms',
      message = format('private room %s has no 6-digit access key', new.room_id);
  end if;
  return null;
end;
$$;
comment on function watchium.check_private_room_key() is
  'Constraint trigger: a private room must have an access key by the end of its transaction.';

create constraint trigger rooms_private_room_has_key
  after insert or update of is_public on public.rooms
  deferrable initially deferred
  for each row execute function watchium.check_private_room_key();

------------------------------------------------------------------------------------------------
-- Triggers.
------------------------------------------------------------------------------------------------

create trigger update_rooms_updated_at
  before update on public.rooms
  for each row execute function watchium.update_updated_at_column();

-- why security definer: a host's direct UPDATE runs this as `authenticated`, which may not write
-- the rate-limit state.
create function watchium.rooms_playback_guard() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  v_now timestamptz;
begin
  if (new.is_playing, new.current_playback_time, new.playback_speed, new.playback_updated_at)
     is not distinct from
     (old.is_playing, old.current_playback_time, old.playback_speed, old.playback_updated_at) then
    return new;
  end if;
  v_now := clock_timestamp();
  if new.playback_updated_at is distinct from old.playback_updated_at then
    -- An explicit position with its reference time, set by watchium.apply_playback. API roles
    -- have no privilege on this column, so only the RPC functions get here.
    null;
  elsif new.current_playback_time is distinct from old.current_playback_time then
    -- A direct UPDATE that sets the position: it is the position now.
    new.playback_updated_at := v_now;
  else
    -- Play, pause or a speed change without a position: continue from where playback is now.
    new.current_playback_time := watchium.live_position(
      old.current_playback_time, old.is_playing, old.playback_speed, old.playback_updated_at, v_now);
    new.playback_updated_at := v_now;
  end if;
  new.last_activity := now();
  perform watchium.enforce_rate_limit(new.host_user_id, 'sync_control');
  return new;
end;
$$;
comment on function watchium.rooms_playback_guard() is
  'Trigger: keeps (current_playback_time, playback_updated_at) a consistent reference point on '
  'every playback change and counts the change against the host''s sync_control rate limit.';

create trigger rooms_playback_guard
  before update on public.rooms
  for each row execute function watchium.rooms_playback_guard();

------------------------------------------------------------------------------------------------
-- Row level security and privileges.
------------------------------------------------------------------------------------------------

alter table public.rooms enable row level security;

-- Membership test used by the policies of several tables. why security definer: the policies of
-- rooms and room_members read room_members, whose own policy would otherwise recurse.
create function watchium.is_room_member(p_room_id text) returns boolean
language plpgsql stable security definer
set search_path = ''
as $$
begin
  return exists (
    select 1 from public.room_members m
     where m.room_id = p_room_id and m.user_id = (select auth.uid()::text));
end;
$$;
comment on function watchium.is_room_member(text) is
  'Whether the caller (auth.uid()) is a member of the room. Used by RLS policies.';
grant execute on function watchium.is_room_member(text) to anon, authenticated, service_role;

-- why security definer: reads rooms and room_members regardless of the caller's RLS.
create function watchium.can_see_room(p_room_id text) returns boolean
language plpgsql stable security definer
set search_path = ''
as $$
begin
  return watchium.is_privileged()
      or exists (select 1 from public.rooms r where r.room_id = p_room_id and r.is_public)
      or watchium.is_room_member(p_room_id);
end;
$$;
comment on function watchium.can_see_room(text) is
  'Whether the caller may see the room: it is public, the caller is a member, or the caller is privileged.';
grant execute on function watchium.can_see_room(text) to anon, authenticated, service_role;

create policy rooms_select on public.rooms
  for select to anon, authenticated
  using (is_public or watchium.is_room_member(room_id));

create policy rooms_update on public.rooms
  for update to authenticated
  using (host_user_id = (select auth.uid()::text))
  with check (host_user_id = (select auth.uid()::text));

revoke all on public.rooms from anon, authenticated;
grant select on public.rooms to anon, authenticated;
grant update (title, is_playing, current_playback_time, playback_speed) on public.rooms to authenticated;
grant all on public.rooms to service_role;

------------------------------------------------------------------------------------------------
-- Realtime: UPDATE events carry the whole old row (old_record) only with REPLICA IDENTITY FULL.
------------------------------------------------------------------------------------------------

alter table public.rooms replica identity full;
alter publication supabase_realtime add table public.rooms;
