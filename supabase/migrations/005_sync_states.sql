-- 005 sync_states: an append-only log of sync events (joins, leaves, heartbeats, host actions)
-- with each member's distance from the host, for analytics and debugging (sql/admin/).
--
-- Rows are written only by the database's own functions; members read the log of their rooms.
-- Retention: settings.sync_states_retention (cleanup).

create table public.sync_states (
  id uuid primary key default gen_random_uuid(),
  room_id varchar(10) not null references public.rooms (room_id) on delete cascade,
  user_id varchar(100) not null,
  host_time decimal(10, 2) not null,
  member_time decimal(10, 2) not null,
  time_difference decimal(10, 2) not null,
  is_synced boolean not null,
  sync_event_type varchar(50) not null,
  created_at timestamptz not null default now(),
  constraint valid_sync_host_time check (host_time >= 0),
  constraint valid_sync_member_time check (member_time >= 0),
  constraint valid_sync_time_difference check (time_difference >= 0),
  constraint valid_sync_event_type check (
    sync_event_type in ('heartbeat', 'seek', 'play_pause', 'speed', 'join', 'leave'))
);

comment on table public.sync_states is
  'Log of sync events with each member''s distance from the host (analytics; written by the database).';
comment on column public.sync_states.id is 'Primary key.';
comment on column public.sync_states.room_id is 'The room.';
comment on column public.sync_states.user_id is 'The member the row is about.';
comment on column public.sync_states.host_time is 'Live host position at the event (seconds).';
comment on column public.sync_states.member_time is 'The member''s position at the event (seconds).';
comment on column public.sync_states.time_difference is '|member_time - host_time| in seconds.';
comment on column public.sync_states.is_synced is 'Whether time_difference <= settings.sync_tolerance.';
comment on column public.sync_states.sync_event_type is
  'heartbeat, seek, play_pause, speed (host actions, one row per member), join or leave.';
comment on column public.sync_states.created_at is 'Event time.';

create index idx_sync_states_room_id on public.sync_states (room_id);
create index idx_sync_states_user_id on public.sync_states (user_id);
create index idx_sync_states_created_at on public.sync_states (created_at);
create index idx_sync_states_sync_event_type on public.sync_states (sync_event_type);

------------------------------------------------------------------------------------------------
-- Writers.
------------------------------------------------------------------------------------------------

create function watchium.record_sync_state(
  p_room_id varchar(10),
  p_user_id varchar(100),
  p_host_time numeric,
  p_member_time numeric,
  p_event text
) returns void
language plpgsql volatile
set search_path = ''
as $$
begin
  insert into public.sync_states (
    room_id, user_id, host_time, member_time, time_difference, is_synced, sync_event_type)
  select p_room_id, p_user_id, p_host_time, p_member_time, abs(p_member_time - p_host_time),
         abs(p_member_time - p_host_time) <= s.sync_tolerance, p_event
    from watchium.settings s;
end;
$$;
comment on function watchium.record_sync_state(varchar, varchar, numeric, numeric, text) is
  'Appends one sync_states row for one member.';

create function watchium.bulk_sync_update(
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
  -- Seed defect 7: one set-based insert instead of a row per member in a loop. Each member's
  -- position is their last report carried forward to now at the room's current speed and state,
  -- so a member who reported 10 s ago while playing is not counted 10 s behind.
  insert into public.sync_states (
    room_id, user_id, host_time, member_time, time_difference, is_synced, sync_event_type)
  select p.room_id, p.user_id, p_host_time, p.member_time, abs(p.member_time - p_host_time),
         abs(p.member_time - p_host_time) <= s.sync_tolerance, p_sync_event_type
    from (
      select m.room_id, m.user_id,
             round(watchium.live_position(m.current_playback_time, r.is_playing, r.playback_speed,
                                          m.last_heartbeat, v_now), 2) as member_time
        from public.room_members m
        join public.rooms r on r.room_id = m.room_id
       where m.room_id = p_room_id
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

------------------------------------------------------------------------------------------------
-- Row level security and privileges.
------------------------------------------------------------------------------------------------

alter table public.sync_states enable row level security;

create policy sync_states_select on public.sync_states
  for select to authenticated
  using (user_id = (select auth.uid()::text) or watchium.is_room_member(room_id));

revoke all on public.sync_states from anon, authenticated;
grant select on public.sync_states to authenticated;
grant all on public.sync_states to service_role;

alter publication supabase_realtime add table public.sync_states;
