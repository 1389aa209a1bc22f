-- 023 ready check: the whole room starts the next episode together (docs/NIGHTS.md, "Ready check").
--
-- The host or a co-host opens a check (ready_check_start), usually moving the room to the next
-- episode of its queue at the same time, paused at 0: every player loads it while the check
-- runs. Every member present answers (ready_check_respond); the room starts by itself, scheduled
-- settings.start_lead ahead so all players start on the same frame, as soon as every member of
-- the room has answered ready, or once the deadline the host chose has passed, so one absent
-- member never holds the room. A member who joins during the check is one more member to wait
-- for; one who leaves (or is kicked) is one less, and the room may start at that moment.
--
-- Nothing runs by itself in the database: the deadline passes when a member's session calls
-- ready_check_settle after it (every session does; the first call starts the room, the rest
-- change nothing), as auto-advance works.
--
-- Traffic: one published row per room, public.ready_checks, carrying the check's state, who is
-- ready and how many are expected. Answers go to watchium.ready_responses, which is not
-- published; the row is rewritten at most once per settings.ready_publish_interval while the
-- check fills (an answer inside the interval is held, and the answering session settles it once
-- the interval is over), and at once when the check opens and ends. A check in a room of N
-- members costs at most N * (2 + answers published) messages, with answers published at most
-- min(N, timeout / interval + 1) times: a member's answer never becomes a message from every
-- member to every member.

alter table watchium.settings
  add column ready_check_timeout interval not null default interval '30 seconds'
    constraint valid_ready_check_timeout check (
      ready_check_timeout >= interval '5 seconds' and ready_check_timeout <= interval '5 minutes'),
  add column ready_publish_interval interval not null default interval '1 second'
    constraint valid_ready_publish_interval check (
      ready_publish_interval >= interval '0' and ready_publish_interval <= interval '10 seconds');
comment on column watchium.settings.ready_check_timeout is
  'A ready check''s deadline when the host gives none.';
comment on column watchium.settings.ready_publish_interval is
  'How often at most a filling ready check''s row is rewritten (each rewrite is one message per member).';

insert into watchium.rate_limit_rules (action, max_requests, per, description) values
  ('ready_check', 30, interval '1 hour', 'ready checks a host or co-host opens or cancels'),
  ('ready_response', 30, interval '1 minute', 'answers and settles of ready checks by a user');

create table public.ready_checks (
  room_id varchar(10) primary key references public.rooms (room_id) on delete cascade,
  check_id uuid not null default gen_random_uuid(),
  status text not null default 'open',
  started_by varchar(100) not null,
  started_at timestamptz not null default clock_timestamp(),
  deadline timestamptz not null,
  entry_id uuid references public.room_queue (id) on delete set null,
  ready_user_ids text[] not null default '{}',
  ready_count integer not null default 0,
  expected_count integer not null default 0,
  settled_at timestamptz,
  published_at timestamptz not null default clock_timestamp(),
  constraint valid_ready_status check (status in ('open', 'passed', 'timed_out', 'cancelled')),
  constraint valid_ready_deadline check (deadline > started_at),
  constraint settled_when_closed check ((status = 'open') = (settled_at is null)),
  constraint valid_ready_counts check (
    ready_count = cardinality(ready_user_ids) and ready_count >= 0 and expected_count >= 0)
);
comment on table public.ready_checks is
  'The room''s latest ready check (one row per room, rewritten by each new check). Written by '
  'ready_check_start, ready_check_respond, ready_check_settle; readable as the room is; '
  'published, at most once per settings.ready_publish_interval while it fills.';
comment on column public.ready_checks.room_id is 'The room.';
comment on column public.ready_checks.check_id is 'This check (answers name it).';
comment on column public.ready_checks.status is
  'open, passed (every member present was ready), timed_out (the deadline passed), cancelled.';
comment on column public.ready_checks.started_by is 'The host or co-host who opened it.';
comment on column public.ready_checks.started_at is 'When it opened.';
comment on column public.ready_checks.deadline is 'When the room starts whoever is ready.';
comment on column public.ready_checks.entry_id is 'The queue entry the room moved to for it, if any.';
comment on column public.ready_checks.ready_user_ids is
  'Members who answered ready, as of the last rewrite (members only: a leaver drops out).';
comment on column public.ready_checks.ready_count is 'How many of them.';
comment on column public.ready_checks.expected_count is 'Members of the room at the last rewrite.';
comment on column public.ready_checks.settled_at is 'When it ended (NULL while open).';
comment on column public.ready_checks.published_at is 'When the row was last rewritten.';
create index idx_ready_checks_entry on public.ready_checks (entry_id);

create table watchium.ready_responses (
  check_id uuid not null,
  room_id varchar(10) not null references public.rooms (room_id) on delete cascade,
  user_id varchar(100) not null,
  ready boolean not null,
  responded_at timestamptz not null default clock_timestamp(),
  primary key (check_id, user_id)
);
comment on table watchium.ready_responses is
  'Each member''s answer to a ready check (not published; ready_checks carries the result). '
  'A new check of the room deletes the answers to the one before.';
comment on column watchium.ready_responses.check_id is 'The check (ready_checks.check_id).';
comment on column watchium.ready_responses.room_id is 'Its room.';
comment on column watchium.ready_responses.user_id is 'The member.';
comment on column watchium.ready_responses.ready is 'Ready (true) or not yet (false).';
comment on column watchium.ready_responses.responded_at is 'When the member last answered.';
create index idx_ready_responses_room on watchium.ready_responses (room_id);
alter table watchium.ready_responses enable row level security;
revoke all on watchium.ready_responses from anon, authenticated;

alter table public.ready_checks enable row level security;
create policy ready_checks_select on public.ready_checks
  for select to anon, authenticated
  using (watchium.can_see_room(room_id));
revoke all on public.ready_checks from anon, authenticated;
grant select on public.ready_checks to anon, authenticated;
grant all on public.ready_checks to service_role;
alter publication supabase_realtime add table public.ready_checks;

------------------------------------------------------------------------------------------------
-- Evaluation.
------------------------------------------------------------------------------------------------

-- Brings the room's open check up to date, the room locked by the caller: starts the room when
-- every member is ready or the deadline has passed, else rewrites the row when the answers
-- changed and the interval allows (p_force: at once). Returns the check as it stands, with
-- 'held' (seconds until a held change may be published; 0 when nothing is held).
create function watchium.ready_check_evaluate(p_room_id text, p_force boolean default false)
returns jsonb
language plpgsql volatile
set search_path = ''
as $$
declare
  v_check public.ready_checks;
  v_room public.rooms;
  v_now timestamptz := clock_timestamp();
  v_ready text[];
  v_expected integer;
  v_waiting integer;
  v_interval interval := (select s.ready_publish_interval from watchium.settings s);
  v_held double precision := 0;
  v_status text;
begin
  select * into v_check from public.ready_checks c where c.room_id = p_room_id for update;
  if v_check.room_id is null then
    return null;
  end if;
  if v_check.status <> 'open' then
    return to_jsonb(v_check) || jsonb_build_object('held', 0);
  end if;

  select coalesce(array_agg(m.user_id order by m.user_id) filter (where x.ready), '{}'),
         count(*),
         count(*) filter (where x.ready is not true)
    into v_ready, v_expected, v_waiting
    from public.room_members m
    left join watchium.ready_responses x
      on x.check_id = v_check.check_id and x.user_id = m.user_id
   where m.room_id = p_room_id;

  if v_waiting = 0 and v_expected > 0 then
    v_status := 'passed';
  elsif v_now >= v_check.deadline then
    v_status := 'timed_out';
  end if;

  if v_status is not null then
    begin
      -- The room starts from where it is, settings.start_lead ahead, unless it already plays.
      select * into v_room from public.rooms r where r.room_id = p_room_id;
      if not v_room.is_playing then
        perform watchium.bulk_sync_update(
          p_room_id, v_room.current_playback_time, 'play_pause', false);
        update public.rooms r
           set is_playing = true,
               playback_updated_at =
                 clock_timestamp() + (select s.start_lead from watchium.settings s)
         where r.room_id = p_room_id;
      end if;
      update public.ready_checks c
         set status = v_status, settled_at = v_now, ready_user_ids = v_ready,
             ready_count = cardinality(v_ready), expected_count = v_expected, published_at = v_now
       where c.room_id = p_room_id
      returning * into v_check;
    exception when sqlstate 'WR429' then
      -- Starting the room counts against its host's playback budget, spent this instant: the
      -- answers stand, the check stays open, and a settle shortly after starts the room.
      v_held := 0.5;
    end;
  elsif v_ready is distinct from v_check.ready_user_ids or v_expected <> v_check.expected_count then
    if p_force or v_now >= v_check.published_at + v_interval then
      update public.ready_checks c
         set ready_user_ids = v_ready, ready_count = cardinality(v_ready),
             expected_count = v_expected, published_at = v_now
       where c.room_id = p_room_id
      returning * into v_check;
    else
      v_held := extract(epoch from (v_check.published_at + v_interval - v_now));
    end if;
  end if;
  return to_jsonb(v_check) || jsonb_build_object('held', round(v_held::numeric, 3));
end;
$$;
comment on function watchium.ready_check_evaluate(text, boolean) is
  'Brings the room''s open ready check up to date: starts the room (start_lead ahead) when every '
  'member is ready or the deadline passed, else publishes changed answers at most once per '
  'ready_publish_interval (p_force: now). Returns the check with held (seconds to wait).';

-- A member leaving may be the one the room waited for.
create function watchium.ready_check_on_leave() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if exists (select 1 from public.ready_checks c where c.room_id = old.room_id and c.status = 'open')
     and exists (select 1 from public.rooms r where r.room_id = old.room_id) then
    -- The room first, then the check: the order every other writer of a check takes.
    perform 1 from public.rooms r where r.room_id = old.room_id for no key update;
    -- The answer leaves with the member: one who comes back during the check joins it, one more
    -- member to wait for, and answers again.
    delete from watchium.ready_responses x
     where x.room_id = old.room_id and x.user_id = old.user_id;
    perform watchium.ready_check_evaluate(old.room_id, true);
  end if;
  return null;
end;
$$;
comment on function watchium.ready_check_on_leave() is
  'Trigger: a member leaving an open ready check is one less to wait for (their answer goes with '
  'them); the room may start now.';
create trigger ready_check_on_leave
  after delete on public.room_members
  for each row execute function watchium.ready_check_on_leave();

------------------------------------------------------------------------------------------------
-- Entry points.
------------------------------------------------------------------------------------------------

-- why security definer: writes the check and moves the room after checking the role.
create function public.ready_check_start(
  p_room_id text,
  p_to text default 'none',
  p_entry_id uuid default null,
  p_timeout numeric default null,
  p_user_id text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_to text := lower(coalesce(p_to, ''));
  v_room public.rooms := watchium.room_for_controller(p_room_id, v_uid, 'start a ready check');
  v_timeout interval;
  v_check public.ready_checks;
  v_now timestamptz;
begin
  if v_to not in ('none', 'next', 'entry') then
    raise exception using
      errcode = 'WR400',
      message = format('unknown destination %L', p_to),
      hint = 'to is none (this episode), next, or entry (with entry_id)';
  end if;
  if p_timeout is not null and (p_timeout < 5 or p_timeout > 300) then
    raise exception using
      errcode = 'WR400',
      message = 'timeout must be between 5 and 300 seconds',
      hint = 'leave it out for the default';
  end if;
  v_timeout := coalesce(make_interval(secs => p_timeout::double precision),
                        (select s.ready_check_timeout from watchium.settings s));
  -- An open check whose deadline has passed is over, even if no member settled it (every
  -- session may have gone): the new one replaces it.
  if exists (select 1 from public.ready_checks c
              where c.room_id = p_room_id and c.status = 'open' and c.deadline > clock_timestamp()) then
    raise exception using
      errcode = 'WR409',
      message = format('room %s already has a ready check open', p_room_id),
      hint = 'wait for it, or cancel it with ready-check-settle (cancel)';
  end if;
  perform watchium.enforce_rate_limit(v_uid, 'ready_check');
  if v_to <> 'none' then
    perform public.queue_go(p_room_id, v_to, p_entry_id, v_uid);
  elsif v_room.is_playing then
    -- Checking who is ready for what is already running: pause it first.
    perform watchium.apply_playback(p_room_id, v_uid, false, null, null, null, 'play_pause');
  end if;
  select * into v_room from public.rooms r where r.room_id = p_room_id;

  delete from watchium.ready_responses x where x.room_id = p_room_id;
  v_now := clock_timestamp();
  insert into public.ready_checks as c (
    room_id, check_id, status, started_by, started_at, deadline, entry_id, ready_user_ids,
    ready_count, expected_count, settled_at, published_at)
  values (
    p_room_id, gen_random_uuid(), 'open', v_uid, v_now, v_now + v_timeout,
    v_room.current_entry_id, '{}', 0,
    (select count(*) from public.room_members m where m.room_id = p_room_id), null, v_now)
  on conflict (room_id) do update
    set check_id = excluded.check_id, status = excluded.status, started_by = excluded.started_by,
        started_at = excluded.started_at, deadline = excluded.deadline,
        entry_id = excluded.entry_id, ready_user_ids = excluded.ready_user_ids,
        ready_count = excluded.ready_count, expected_count = excluded.expected_count,
        settled_at = excluded.settled_at, published_at = excluded.published_at
  returning * into v_check;
  return jsonb_build_object('check', to_jsonb(v_check) || jsonb_build_object('held', 0),
                            'room', watchium.room_json(v_room, clock_timestamp()));
end;
$$;
comment on function public.ready_check_start(text, text, uuid, numeric, text) is
  'Opens a ready check (host or co-host): p_to none (this episode, paused), next or entry '
  '(p_entry_id) moves the room there first, paused at 0; p_timeout seconds (5..300, default '
  'settings.ready_check_timeout) until the room starts anyway. Returns {check, room}. Errors: '
  'WR400, WR401, WR403, WR404, WRH03, WR409 (a check is open, or no such episode), WR429.';
grant execute on function public.ready_check_start(text, text, uuid, numeric, text)
  to authenticated, service_role;

-- why security definer: writes the answer (not readable nor writable by API roles) after
-- checking membership.
create function public.ready_check_respond(
  p_room_id text, p_check_id uuid, p_ready boolean default true, p_user_id text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_room public.rooms := watchium.room_for(p_room_id, v_uid, true);
  v_check public.ready_checks;
begin
  if p_ready is null then
    raise exception using errcode = 'WR400', message = 'ready must be true or false';
  end if;
  if not watchium.is_member_of(p_room_id, v_uid) then
    raise exception using
      errcode = 'WRM03',
      message = format('only members of room %s answer its ready check', p_room_id),
      hint = 'join the room first';
  end if;
  select * into v_check from public.ready_checks c where c.room_id = p_room_id;
  if v_check.check_id is distinct from p_check_id then
    raise exception using
      errcode = 'WR409',
      message = format('that ready check of room %s is over', p_room_id),
      hint = 'answer the room''s current check';
  end if;
  if v_check.status <> 'open' then
    return to_jsonb(v_check) || jsonb_build_object('held', 0);
  end if;
  perform watchium.enforce_rate_limit(v_uid, 'ready_response');
  insert into watchium.ready_responses (check_id, room_id, user_id, ready)
  values (p_check_id, p_room_id, v_uid, p_ready)
  on conflict (check_id, user_id) do update
    set ready = excluded.ready, responded_at = clock_timestamp();
  return watchium.ready_check_evaluate(p_room_id);
end;
$$;
comment on function public.ready_check_respond(text, uuid, boolean, text) is
  'A member answers the room''s open ready check (p_check_id) ready or not; the room starts when '
  'every member is ready. Returns the check with held: seconds after which ready-check-settle '
  'publishes an answer held back (0: nothing held). Errors: WR400, WR401, WR403, WR404, WRM03, '
  'WR409 (another check), WR429.';
grant execute on function public.ready_check_respond(text, uuid, boolean, text)
  to authenticated, service_role;

-- why security definer: updates the check and may start the room, for any member.
create function public.ready_check_settle(
  p_room_id text, p_check_id uuid, p_cancel boolean default false, p_user_id text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_room public.rooms := watchium.room_for(p_room_id, v_uid, true);
  v_check public.ready_checks;
begin
  if p_cancel then
    v_room := watchium.room_for_controller(p_room_id, v_uid, 'cancel a ready check');
  elsif not watchium.is_member_of(p_room_id, v_uid) and not watchium.is_privileged() then
    raise exception using
      errcode = 'WRM03',
      message = format('only members of room %s settle its ready check', p_room_id);
  end if;
  select * into v_check from public.ready_checks c where c.room_id = p_room_id for update;
  if v_check.check_id is distinct from p_check_id then
    raise exception using
      errcode = 'WR409',
      message = format('that ready check of room %s is over', p_room_id),
      hint = 'settle the room''s current check';
  end if;
  if v_check.status <> 'open' then
    return to_jsonb(v_check) || jsonb_build_object('held', 0);
  end if;
  if p_cancel then
    perform watchium.enforce_rate_limit(v_uid, 'ready_check');
    update public.ready_checks c
       set status = 'cancelled', settled_at = clock_timestamp(), published_at = clock_timestamp()
     where c.room_id = p_room_id
    returning * into v_check;
    return to_jsonb(v_check) || jsonb_build_object('held', 0);
  end if;
  perform watchium.enforce_rate_limit(v_uid, 'ready_response');
  return watchium.ready_check_evaluate(p_room_id);
end;
$$;
comment on function public.ready_check_settle(text, uuid, boolean, text) is
  'Brings the room''s open ready check (p_check_id) up to date, any member: starts the room once '
  'every member is ready or the deadline has passed, publishes answers held back. p_cancel: the '
  'host or a co-host ends it without starting the room. Returns the check with held. Errors: '
  'WR401, WR403, WR404, WRH03 (cancel), WRM03, WR409 (another check), WR429.';
grant execute on function public.ready_check_settle(text, uuid, boolean, text)
  to authenticated, service_role;

-- The room's night, for a session that (re)joins: its queue and its ready check, in one call.
-- why security definer: reads the queue and the check of a room the caller may see (the rule of
-- the room_queue_select and ready_checks_select policies), for anyone, as members-get-list does.
create function public.queue_get(p_room_id text) returns jsonb
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
  return jsonb_build_object(
    'room_id', p_room_id,
    'current_entry_id', v_room.current_entry_id,
    'auto_advance', v_room.auto_advance,
    'entries', coalesce((select jsonb_agg(to_jsonb(q) order by q.sort_key)
                           from public.room_queue q where q.room_id = p_room_id), '[]'::jsonb),
    'ready_check', (select to_jsonb(c) from public.ready_checks c where c.room_id = p_room_id));
end;
$$;
comment on function public.queue_get(text) is
  'The room''s queue in order, the entry it plays, whether it auto-advances and its latest ready '
  'check: {room_id, current_entry_id, auto_advance, entries, ready_check}. Errors: WR404.';
grant execute on function public.queue_get(text) to anon, authenticated, service_role;
