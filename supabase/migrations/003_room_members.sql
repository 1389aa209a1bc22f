-- 003 room_members: who is in a room, who hosts it, and how far each member is from the host.
--
-- Invariants, all enforced here:
-- * at most one host per room (unique partial index one_host_per_room);
-- * at least one host in a non-empty room: when the host leaves (or is removed by cleanup), the
--   earliest-joined remaining member becomes host, rooms.host_* follow, and a system comment says
--   so (trigger on_member_leave_transfer_host); a join into a room without a host makes the joiner
--   host (rooms_join);
-- * is_synced means |member position - live host position| <= settings.sync_tolerance, computed on
--   every heartbeat (seed defect 3: the seed stored the room's is_playing there and overwrote the
--   member's own position with the host's).

create table public.room_members (
  id uuid primary key default gen_random_uuid(),
  room_id varchar(10) not null references public.rooms (room_id) on delete cascade,
  user_id varchar(100) not null,
  username varchar(100) not null,
  avatar_url text,
  is_host boolean not null default false,
  is_synced boolean not null default true,
  is_buffering boolean not null default false,
  current_playback_time decimal(10, 2) not null default 0,
  last_heartbeat timestamptz not null default clock_timestamp(),
  joined_at timestamptz not null default clock_timestamp(),
  updated_at timestamptz not null default now(),
  constraint unique_room_user unique (room_id, user_id),
  constraint valid_member_username check (length(btrim(username)) > 0),
  constraint valid_member_avatar_url check (
    avatar_url is null or (avatar_url ~* '^https?://[^[:space:]]+$' and length(avatar_url) <= 2048)),
  constraint valid_member_current_playback_time check (current_playback_time >= 0)
);

comment on table public.room_members is
  'Members of each room with their last reported position and sync status. Exactly one host per '
  'non-empty room.';
comment on column public.room_members.id is 'Primary key.';
comment on column public.room_members.room_id is 'The room (rooms.room_id).';
comment on column public.room_members.user_id is 'The member''s user id (auth.uid()).';
comment on column public.room_members.username is 'Display name in this room.';
comment on column public.room_members.avatar_url is 'Optional http(s) URL of the member''s avatar.';
comment on column public.room_members.is_host is 'Whether this member controls playback.';
comment on column public.room_members.is_synced is
  'Whether |current_playback_time - live host position| <= settings.sync_tolerance at the last heartbeat.';
comment on column public.room_members.is_buffering is 'Whether the member''s player reported buffering.';
comment on column public.room_members.current_playback_time is
  'The member''s own position in seconds at last_heartbeat.';
comment on column public.room_members.last_heartbeat is
  'Server time of the last status update; cleanup removes members silent for settings.member_timeout.';
comment on column public.room_members.joined_at is 'Join time; the earliest joiner inherits the host role.';
comment on column public.room_members.updated_at is 'Last update time.';

-- The seeds' idx_room_members_room_id would duplicate the leading column of unique_room_user's
-- index (and of idx_room_members_presence).
create index idx_room_members_user_id on public.room_members (user_id);
create index idx_room_members_last_heartbeat on public.room_members (last_heartbeat);
create index idx_room_members_is_synced on public.room_members (is_synced);
create index idx_room_members_presence on public.room_members (room_id, last_heartbeat desc, is_synced);
create unique index one_host_per_room on public.room_members (room_id) where is_host;
comment on index public.one_host_per_room is 'At most one host per room.';

------------------------------------------------------------------------------------------------
-- Triggers.
------------------------------------------------------------------------------------------------

create trigger update_room_members_updated_at
  before update on public.room_members
  for each row execute function watchium.update_updated_at_column();

-- why security definer: a member's direct UPDATE runs this as `authenticated`, which may not read
-- the settings.
create function watchium.update_member_presence() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  v_room public.rooms;
begin
  new.last_heartbeat := clock_timestamp();
  select * into v_room from public.rooms r where r.room_id = new.room_id;
  new.is_synced := abs(new.current_playback_time - watchium.live_position(
      v_room.current_playback_time, v_room.is_playing, v_room.playback_speed,
      v_room.playback_updated_at, new.last_heartbeat))
    <= (select s.sync_tolerance from watchium.settings s);
  return new;
end;
$$;
comment on function watchium.update_member_presence() is
  'Trigger: on a status update, stamps last_heartbeat and sets is_synced from the member''s own '
  'position against the live host position.';

create trigger on_member_presence_update
  before update on public.room_members
  for each row
  when (old.current_playback_time is distinct from new.current_playback_time
        or old.last_heartbeat is distinct from new.last_heartbeat
        or old.is_buffering is distinct from new.is_buffering)
  execute function watchium.update_member_presence();

-- why security definer: a member's heartbeat must refresh the room's activity, which only the
-- host may update under RLS.
create function watchium.update_room_activity() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  update public.rooms r
     set last_activity = now()
   where r.room_id = new.room_id
     and (tg_op = 'INSERT'
          or r.last_activity < now() - (select s.activity_throttle from watchium.settings s));
  return null;
end;
$$;
comment on function watchium.update_room_activity() is
  'Trigger: a join refreshes rooms.last_activity; heartbeats do so at most once per '
  'settings.activity_throttle (each refresh is a rooms UPDATE event for every subscriber).';

create trigger on_member_join_update_activity
  after insert on public.room_members
  for each row execute function watchium.update_room_activity();

create trigger on_heartbeat_update_activity
  after update on public.room_members
  for each row
  when (old.last_heartbeat is distinct from new.last_heartbeat)
  execute function watchium.update_room_activity();

-- why security definer: the leaving member's role may not update other members, the room or
-- comments; the transfer is the database's own bookkeeping.
create function watchium.transfer_host_on_leave() returns trigger
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
     order by m.joined_at, m.id
     limit 1;
    exit when not found;
    -- If that member is leaving in a concurrent transaction, this UPDATE waits for it and then
    -- finds no row: pick the next earliest member.
    update public.room_members m set is_host = true where m.id = v_new_id;
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
  'Trigger: when the host leaves, the earliest-joined remaining member becomes host, the room '
  'records it and a system comment announces it. Safe against concurrent leaves.';

create trigger on_member_leave_transfer_host
  after delete on public.room_members
  for each row execute function watchium.transfer_host_on_leave();

------------------------------------------------------------------------------------------------
-- Row level security and privileges.
------------------------------------------------------------------------------------------------

alter table public.room_members enable row level security;

create policy room_members_select on public.room_members
  for select to anon, authenticated
  using (watchium.can_see_room(room_id));

create policy room_members_update on public.room_members
  for update to authenticated
  using (user_id = (select auth.uid()::text))
  with check (user_id = (select auth.uid()::text));

revoke all on public.room_members from anon, authenticated;
grant select on public.room_members to anon, authenticated;
grant update (username, avatar_url, current_playback_time, is_buffering, last_heartbeat)
  on public.room_members to authenticated;
grant all on public.room_members to service_role;

alter table public.room_members replica identity full;
alter publication supabase_realtime add table public.room_members;
