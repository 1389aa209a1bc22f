-- 021 viewer analytics: who was in a room when, and what a room's episode session looked like.
--
-- What was recorded before is not enough to count viewers over time: room_members holds who is
-- in a room now, member_heartbeats only the last heartbeat, and the sync log (sync_states) has a
-- 'leave' row only for an explicit leave: a member removed by cleanup after going silent (a
-- closed laptop, a lost network) leaves no trace. So this migration records the minimum more:
-- public.room_member_history, one row per stay in a room (joined_at, left_at), written by
-- triggers on room_members, so every way in (create, join) and out (leave, cleanup, room
-- deletion) is covered by one rule. A member removed by cleanup is counted as gone at its last
-- heartbeat, not when cleanup ran.
--
-- A room plays one episode (rooms.episode_number is set when it is created), so a room's figures
-- are its episode session's. public.rooms_stats computes them in SQL, for the host (and
-- service_role): viewers (average and peak concurrent, the peak's time, unique), comments (count,
-- per minute, the busiest minute), retention and bounce rate, sync quality (from the sync log's
-- heartbeats), and a per-minute timeline.
--
-- Retention: the history goes with its room (on delete cascade) and, for rooms that live long,
-- stays settings.member_history_retention (30 days) after the stay ended.

alter table watchium.settings
  add column member_history_retention interval not null default interval '30 days'
    constraint valid_member_history_retention check (member_history_retention > interval '0');
comment on column watchium.settings.member_history_retention is
  'A stay in a room (room_member_history) is deleted by cleanup this long after it ended.';

create table public.room_member_history (
  id uuid primary key default gen_random_uuid(),
  room_id varchar(10) not null references public.rooms (room_id) on delete cascade,
  member_id uuid not null,
  user_id varchar(100) not null,
  joined_at timestamptz not null,
  left_at timestamptz,
  left_how text constraint valid_left_how check (left_how in ('left', 'timed_out')),
  constraint stay_ends_after_it_starts check (left_at is null or left_at >= joined_at),
  constraint stay_end_has_a_reason check ((left_at is null) = (left_how is null))
);
comment on table public.room_member_history is
  'One row per stay of a member in a room: when they joined and when they left (NULL while '
  'there). Written by triggers on room_members; the room''s host and the member read it. Not '
  'replicated.';
comment on column public.room_member_history.id is 'Primary key.';
comment on column public.room_member_history.room_id is 'The room.';
comment on column public.room_member_history.member_id is 'The membership (room_members.id) of the stay.';
comment on column public.room_member_history.user_id is 'The member.';
comment on column public.room_member_history.joined_at is 'Start of the stay (room_members.joined_at).';
comment on column public.room_member_history.left_at is
  'End of the stay: the leave, or the last heartbeat of a member removed for silence.';
comment on column public.room_member_history.left_how is 'left (a leave or the room deleted) or timed_out (cleanup).';

create index idx_room_member_history_room on public.room_member_history (room_id, joined_at);
create index idx_room_member_history_member on public.room_member_history (member_id) where left_at is null;
create index idx_room_member_history_left_at on public.room_member_history (left_at);

-- Stays of the members in rooms now.
insert into public.room_member_history (room_id, member_id, user_id, joined_at)
select m.room_id, m.id, m.user_id, m.joined_at from public.room_members m;

alter table public.room_member_history enable row level security;
create policy room_member_history_select on public.room_member_history
  for select to authenticated
  using (user_id = (select auth.uid())::text
         or exists (select 1 from public.rooms r
                     where r.room_id = room_member_history.room_id
                       and r.host_user_id = (select auth.uid())::text));
revoke all on public.room_member_history from anon, authenticated;
grant select on public.room_member_history to authenticated;
grant all on public.room_member_history to service_role;

-- why security definer: a join or leave runs as the member's role, which may not write the
-- history.
create function watchium.record_stay_start() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  insert into public.room_member_history (room_id, member_id, user_id, joined_at)
  values (new.room_id, new.id, new.user_id, new.joined_at);
  return null;
end;
$$;
comment on function watchium.record_stay_start() is
  'Trigger: a new membership starts a stay in room_member_history.';

create trigger on_member_join_record_stay
  after insert on public.room_members
  for each row execute function watchium.record_stay_start();

-- why security definer: as above. BEFORE DELETE: the member's heartbeat row is still there (it
-- goes with the membership).
create function watchium.record_stay_end() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  v_now timestamptz := clock_timestamp();
  v_heard timestamptz;
  v_timed_out boolean;
begin
  if not exists (select 1 from public.rooms r where r.room_id = old.room_id) then
    return old; -- the room is being deleted: its history goes with it
  end if;
  select h.last_heartbeat into v_heard from public.member_heartbeats h where h.member_id = old.id;
  v_timed_out := v_heard is not null
    and v_heard < v_now - (select s.member_timeout from watchium.settings s);
  update public.room_member_history h
     set left_at = greatest(h.joined_at, case when v_timed_out then v_heard else v_now end),
         left_how = case when v_timed_out then 'timed_out' else 'left' end
   where h.member_id = old.id and h.left_at is null;
  return old;
end;
$$;
comment on function watchium.record_stay_end() is
  'Trigger: a membership that ends closes its stay: now, or at the last heartbeat of a member '
  'removed for silence (timed_out).';

create trigger on_member_leave_record_stay
  before delete on public.room_members
  for each row execute function watchium.record_stay_end();

------------------------------------------------------------------------------------------------
-- The figures.
------------------------------------------------------------------------------------------------

create function watchium.room_stats(p_room_id text, p_now timestamptz) returns jsonb
language sql stable
set search_path = ''
as $$
  with stays as (
    select h.user_id, h.joined_at, coalesce(h.left_at, p_now) as left_at, h.left_at is null as open
      from public.room_member_history h
     where h.room_id = p_room_id and h.joined_at <= p_now
  ),
  span as (
    -- The session: from the first join to now while someone is there, else to the last leave.
    select min(s.joined_at) as started_at,
           case when bool_or(s.open) then p_now else max(s.left_at) end as ended_at
      from stays s
  ),
  edges as (
    select s.joined_at as at, 1 as delta from stays s
    union all
    select s.left_at, -1 from stays s where not s.open
  ),
  running as (
    -- Leaves before joins at the same instant: a hand-over is not a peak.
    select e.at, sum(e.delta) over (order by e.at, e.delta rows unbounded preceding) as viewers
      from edges e
  ),
  peak as (
    select r.viewers, r.at from running r order by r.viewers desc, r.at limit 1
  ),
  per_user as (
    select s.user_id,
           sum(extract(epoch from s.left_at - s.joined_at)) as seconds,
           max(s.left_at) as last_seen,
           bool_or(s.open) as still_there
      from stays s group by s.user_id
  ),
  talk as (
    select c.created_at from public.comments c, span
     where c.origin_room_id = p_room_id and not c.is_system_message
       and c.created_at <= p_now
  ),
  busiest as (
    select date_trunc('minute', t.created_at) as minute, count(*) as n
      from talk t group by 1 order by count(*) desc, 1 limit 1
  ),
  heartbeats as (
    select st.is_synced, st.time_difference
      from public.sync_states st, span
     where st.room_id = p_room_id and st.sync_event_type = 'heartbeat'
       and st.created_at <= p_now
  ),
  minutes as (
    select m.minute from span,
           generate_series(date_trunc('minute', greatest(span.started_at, span.ended_at - interval '4 hours')),
                           span.ended_at, interval '1 minute') as m(minute)
     where span.started_at is not null
  )
  select jsonb_build_object(
    'started_at', span.started_at,
    'ended_at', span.ended_at,
    'duration_seconds', round(coalesce(extract(epoch from span.ended_at - span.started_at), 0), 1),
    'viewers_now', (select count(*) from stays s where s.open),
    'unique_viewers', (select count(*) from per_user),
    'stays', (select count(*) from stays),
    'average_viewers', case when span.ended_at > span.started_at then round(
        (select sum(extract(epoch from s.left_at - s.joined_at)) from stays s)
        / extract(epoch from span.ended_at - span.started_at), 2) else 0 end,
    'peak_viewers', coalesce((select p.viewers from peak p), 0),
    'peak_at', (select p.at from peak p),
    'retention', case when (select count(*) from per_user) = 0 then null else round(
        (select count(*) from per_user u
          where u.still_there or u.last_seen >= span.ended_at - interval '1 minute')::numeric
        / (select count(*) from per_user), 3) end,
    'bounce_rate', case when (select count(*) from per_user) = 0 then null else round(
        (select count(*) from per_user u where not u.still_there and u.seconds < 60)::numeric
        / (select count(*) from per_user), 3) end,
    'comments', (select count(*) from talk),
    'comments_per_minute', case when span.ended_at > span.started_at then round(
        (select count(*) from talk) / (extract(epoch from span.ended_at - span.started_at) / 60), 2)
        else 0 end,
    'busiest_minute', (select b.minute from busiest b),
    'busiest_minute_comments', coalesce((select b.n from busiest b), 0),
    'sync_samples', (select count(*) from heartbeats),
    'in_sync_share', (select round(avg(case when h.is_synced then 1 else 0 end), 3) from heartbeats h),
    'median_drift', (select round(percentile_cont(0.5) within group (order by h.time_difference)::numeric, 3)
                       from heartbeats h),
    'timeline', coalesce((
      select jsonb_agg(jsonb_build_object(
               'minute', m.minute,
               'viewers', (select count(distinct s.user_id) from stays s
                            where s.joined_at < m.minute + interval '1 minute'
                              and s.left_at > m.minute),
               'comments', (select count(*) from talk t
                             where t.created_at >= m.minute and t.created_at < m.minute + interval '1 minute'))
               order by m.minute)
        from minutes m), '[]'::jsonb))
  from span
$$;
comment on function watchium.room_stats(text, timestamptz) is
  'A room''s episode session up to p_now, from room_member_history, comments and the sync log: '
  'viewers (average and peak concurrent, peak_at, unique), comments (count, per minute, busiest '
  'minute), retention (share of viewers there in the session''s last minute), bounce rate (share '
  'gone after less than a minute in all), sync quality (share of heartbeats in sync, median '
  'drift) and a per-minute timeline (at most the last 4 hours).';

-- why security definer: reads the room's history, comments and sync log whoever's rows they are.
create function public.rooms_stats(p_room_id text, p_user_id text default null) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_uid text;
  v_room public.rooms;
begin
  -- service_role and direct sessions need not name a user to read a room's figures.
  if not watchium.is_privileged() or p_user_id is not null then
    v_uid := watchium.acting_user(p_user_id);
  end if;
  v_room := watchium.room_for(p_room_id, v_uid);
  if not watchium.is_privileged() and not watchium.is_member_of(p_room_id, v_uid, true) then
    raise exception using
      errcode = 'WRH03',
      message = 'only the host can see the room''s analytics',
      hint = format('the host of room %s is %s', p_room_id, v_room.host_username);
  end if;
  return jsonb_build_object(
    'room_id', v_room.room_id,
    'anime_id', v_room.anime_id,
    'episode_number', v_room.episode_number,
    'title', v_room.title) || watchium.room_stats(p_room_id, clock_timestamp());
end;
$$;
comment on function public.rooms_stats(text, text) is
  'The room''s viewer analytics (its episode session; see watchium.room_stats), for its host. '
  'Errors: WR401, WR403, WR404, WRH03.';
grant execute on function public.rooms_stats(text, text) to authenticated, service_role;

------------------------------------------------------------------------------------------------
-- Retention: the history and the read state join the cleanup.
------------------------------------------------------------------------------------------------

create function watchium.cleanup_member_history() returns integer
language plpgsql volatile
set search_path = ''
as $$
declare
  v_deleted integer;
begin
  delete from public.room_member_history h
   using watchium.settings s
   where h.left_at < now() - s.member_history_retention;
  get diagnostics v_deleted = row_count;
  return v_deleted;
end;
$$;
comment on function watchium.cleanup_member_history() is
  'Deletes stays that ended more than settings.member_history_retention ago; returns how many.';

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
    'rate_limit_buckets_deleted', v_buckets,
    'read_states_deleted', watchium.cleanup_read_state(),
    'member_history_deleted', watchium.cleanup_member_history());
end;
$$;
comment on function watchium.cleanup_realtime_data() is
  'All retention in one call (run every 30 s): removes silent members (member_heartbeats; the host '
  'role transfers), old sync states, empty or idle rooms, spent rate-limit buckets, read state '
  'unused for settings.read_state_retention and stays older than '
  'settings.member_history_retention. Returns the counts.';
