-- 001 foundation: the private schema, deny-by-default privileges, configuration, identity,
-- secure identifiers and rate limiting.
--
-- Everything here lives in the private schema `watchium`. API roles (anon, authenticated) may
-- use that schema only to execute the few helpers that RLS policies call; its tables are not
-- granted to them. The RPC entry points in `public` (later migrations) are the API.
--
-- Errors: every refusal raises a project SQLSTATE (class WR..., listed in docs/ERRORS.md) with a
-- message that says what is wrong and a hint that says what to do.

create schema if not exists watchium;
comment on schema watchium is
  'Watchium internals: helpers, configuration, secrets and rate-limit state. API roles may only '
  'execute the helpers RLS policies call.';
revoke all on schema watchium from public;
grant usage on schema watchium to anon, authenticated, service_role;

-- Deny by default. Supabase grants every new table and function in `public` to the API roles;
-- from here on, nothing is granted unless a migration grants it right under its definition.
alter default privileges revoke execute on functions from public;
alter default privileges in schema public revoke execute on functions from anon, authenticated, service_role;
alter default privileges in schema public revoke all on tables from anon, authenticated;
alter default privileges in schema public revoke all on sequences from anon, authenticated;

------------------------------------------------------------------------------------------------
-- Configuration: one row of documented, tunable windows and limits.
------------------------------------------------------------------------------------------------

create table watchium.settings (
  id boolean primary key default true constraint settings_single_row check (id),
  member_timeout interval not null default interval '30 seconds'
    constraint valid_member_timeout check (member_timeout > interval '0'),
  sync_tolerance numeric(6, 3) not null default 2.0
    constraint valid_sync_tolerance check (sync_tolerance > 0),
  sync_states_retention interval not null default interval '24 hours',
  empty_room_ttl interval not null default interval '1 hour',
  inactive_room_ttl interval not null default interval '24 hours',
  activity_throttle interval not null default interval '1 minute',
  max_room_members integer not null default 500
    constraint valid_max_room_members check (max_room_members > 0),
  comment_max_length integer not null default 1000
    constraint valid_comment_max_length check (comment_max_length > 0),
  max_clock_skew interval not null default interval '5 seconds'
);
insert into watchium.settings default values;

comment on table watchium.settings is
  'The one row of Watchium''s tunable windows and limits (retention, sync tolerance, sizes).';
comment on column watchium.settings.member_timeout is
  'A member without a heartbeat for this long is removed by cleanup (the host role transfers).';
comment on column watchium.settings.sync_tolerance is
  'Seconds: a member is in sync when |member position - live host position| <= this.';
comment on column watchium.settings.sync_states_retention is
  'sync_states rows older than this are deleted by cleanup.';
comment on column watchium.settings.empty_room_ttl is
  'A room with no members and no activity for this long is deleted by cleanup.';
comment on column watchium.settings.inactive_room_ttl is
  'A room with no activity at all for this long is deleted by cleanup, members or not.';
comment on column watchium.settings.activity_throttle is
  'Heartbeats refresh rooms.last_activity at most this often (each refresh is a realtime event).';
comment on column watchium.settings.max_room_members is 'Members a room holds at most.';
comment on column watchium.settings.comment_max_length is 'Characters a comment may have.';
comment on column watchium.settings.max_clock_skew is
  'How far from the server clock a host-supplied reference time (sync_control p_at) may be.';

------------------------------------------------------------------------------------------------
-- Identity: who is calling, from the JWT claims only.
------------------------------------------------------------------------------------------------

create function watchium.is_privileged() returns boolean
language plpgsql stable
set search_path = ''
as $$
begin
  -- service_role is a trusted server. A session with no JWT claims at all is a direct database
  -- session (psql, cron, migrations): every API path (PostgREST, the functions, Realtime) sets
  -- claims, so only someone who can log in to the database gets here without them.
  return auth.role() = 'service_role' or auth.jwt() is null;
end;
$$;
comment on function watchium.is_privileged() is
  'True for service_role and for direct database sessions (no JWT claims): they may act for any user.';

create function watchium.acting_user(p_user_id text default null) returns text
language plpgsql stable
set search_path = ''
as $$
declare
  v_uid text := auth.uid()::text;
begin
  if watchium.is_privileged() then
    v_uid := coalesce(p_user_id, v_uid);
  elsif p_user_id is not null and p_user_id is distinct from v_uid then
    raise exception using
      errcode = 'WR403',
      message = 'you can only act as yourself',
      hint = 'the user comes from the access token: leave the user id out or send your own';
  end if;
  if v_uid is null then
    raise exception using
      errcode = 'WR401',
      message = 'sign-in required',
      hint = 'sign in (anonymous sign-in is enough) and send the session''s access token';
  end if;
  if length(v_uid) > 100 or length(btrim(v_uid)) = 0 then
    raise exception using errcode = 'WR400', message = 'user id must be 1 to 100 characters';
  end if;
  return v_uid;
end;
$$;
comment on function watchium.acting_user(text) is
  'The user a call acts for: auth.uid() for API callers (a different p_user_id raises WR403, none '
  'raises WR401); p_user_id for service_role and direct database sessions.';

------------------------------------------------------------------------------------------------
-- Secure identifiers (seed defects 1 and 2).
------------------------------------------------------------------------------------------------

create function watchium.generate_room_id() returns varchar(10)
language plpgsql volatile
set search_path = ''
as $$
declare
  -- 32 symbols, so `byte % 32` is unbiased; no 0/o or 1/l to misread when a room id is shared.
  v_alphabet constant text := 'abcdefghijkmnpqrstuvwxyz23456789';
  v_bytes bytea;
  v_id text;
begin
  loop
    v_bytes := extensions.gen_random_bytes(10);
    v_id := '';
    for i in 0..9 loop
      v_id := v_id || substr(v_alphabet, (get_byte(v_bytes, i) % 32) + 1, 1);
    end loop;
    exit when not exists (select 1 from public.rooms r where r.room_id = v_id);
  end loop;
  return v_id;
end;
$$;
comment on function watchium.generate_room_id() is
  'A new unused 10-character room id from a cryptographically secure generator (2^50 ids).';

create function watchium.generate_access_key() returns varchar(6)
language plpgsql volatile
set search_path = ''
as $$
declare
  v_n bigint;
begin
  loop
    v_n := ('x' || encode(extensions.gen_random_bytes(4), 'hex'))::bit(32)::bigint;
    -- 4294000000 is the largest multiple of 10^6 below 2^32: rejecting above it keeps every
    -- key equally likely.
    exit when v_n < 4294000000;
  end loop;
  return lpad((v_n % 1000000)::text, 6, '0');
end;
$$;
comment on function watchium.generate_access_key() is
  'A uniformly random 6-digit access key (always 6 digits, leading zeros kept), from a secure generator.';

------------------------------------------------------------------------------------------------
-- Shared trigger function and playback arithmetic.
------------------------------------------------------------------------------------------------

create function watchium.update_updated_at_column() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;
comment on function watchium.update_updated_at_column() is 'Trigger: keeps updated_at current.';

create function watchium.live_position(
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
    when p_is_playing then greatest(p_position + extract(epoch from (p_at - p_since)) * p_speed, 0)
    else p_position
  end
$$;
comment on function watchium.live_position(numeric, boolean, numeric, timestamptz, timestamptz) is
  'Where playback is at time p_at, given the position stored at p_since: position + elapsed * '
  'speed while playing, the stored position while paused.';

------------------------------------------------------------------------------------------------
-- Rate limiting (seed defect 6): a generic cell-rate algorithm, one row per (subject, action).
--
-- A rule allows `max_requests` per `per` with bursts up to max_requests. Each bucket stores the
-- theoretical arrival time (TAT) of the next request; a request is allowed when
-- max(TAT, now) + per/max_requests - now <= per, and then advances TAT by per/max_requests.
-- The upsert makes take-and-check atomic under concurrency; the state is one row per subject.
------------------------------------------------------------------------------------------------

create table watchium.rate_limit_rules (
  action text primary key,
  max_requests integer not null constraint valid_max_requests check (max_requests > 0),
  per interval not null constraint valid_per check (per > interval '0'),
  description text not null
);
comment on table watchium.rate_limit_rules is 'Rate limits by action: max_requests per interval.';

insert into watchium.rate_limit_rules (action, max_requests, per, description) values
  ('room_creation', 10, interval '1 hour', 'rooms a user may create'),
  ('sync_control', 2, interval '1 second', 'playback changes (play, pause, seek, speed) by a host'),
  ('comments', 5, interval '1 minute', 'comments a user may post'),
  ('room_management', 20, interval '1 hour', 'joins (new memberships), leaves and deletions by a user'),
  ('access_key_user', 5, interval '1 minute', 'wrong access keys a user may try'),
  ('access_key_room', 30, interval '1 hour',
   'wrong access keys a private room takes from everyone together before it refuses key checks');

create table watchium.rate_limit_buckets (
  subject text not null,
  action text not null,
  tat timestamptz not null,
  primary key (subject, action)
);
comment on table watchium.rate_limit_buckets is
  'Rate-limit state: the theoretical arrival time (GCRA) per subject (a user or a room) and action.';

create function watchium.rate_limit_take(
  p_subject text,
  p_action text,
  p_max_requests integer default null,
  p_per interval default null
) returns double precision
language plpgsql volatile
set search_path = ''
as $$
declare
  v_max integer := p_max_requests;
  v_per interval := p_per;
  v_now timestamptz := clock_timestamp();
  v_step interval;
  v_tat timestamptz;
begin
  if v_max is null or v_per is null then
    select coalesce(v_max, r.max_requests), coalesce(v_per, r.per) into v_max, v_per
      from watchium.rate_limit_rules r where r.action = p_action;
    if not found then
      raise exception using errcode = 'WR400', message = format('no rate limit rule for %L', p_action);
    end if;
  end if;
  v_step := v_per / v_max;
  insert into watchium.rate_limit_buckets as b (subject, action, tat)
    values (p_subject, p_action, v_now + v_step)
  on conflict (subject, action) do update
    set tat = greatest(b.tat, v_now) + v_step
    where greatest(b.tat, v_now) + v_step - v_now <= v_per
  returning b.tat into v_tat;
  if found then
    return 0;
  end if;
  select b.tat into v_tat from watchium.rate_limit_buckets b
    where b.subject = p_subject and b.action = p_action;
  return greatest(extract(epoch from (v_tat + v_step - v_per - v_now))::double precision, 0.001);
end;
$$;
comment on function watchium.rate_limit_take(text, text, integer, interval) is
  'Counts one request of p_subject for p_action: returns 0 when allowed (and counted), otherwise '
  'the seconds until it would be allowed (nothing counted). Limits come from rate_limit_rules '
  'unless given.';

create function watchium.rate_limit_peek(p_subject text, p_action text) returns double precision
language plpgsql stable
set search_path = ''
as $$
begin
  return coalesce(
    (select greatest(extract(epoch from (b.tat + r.per / r.max_requests - r.per - clock_timestamp())), 0)
       from watchium.rate_limit_buckets b
       join watchium.rate_limit_rules r on r.action = b.action
      where b.subject = p_subject and b.action = p_action
        and greatest(b.tat, clock_timestamp()) + r.per / r.max_requests - clock_timestamp() > r.per),
    0)::double precision;
end;
$$;
comment on function watchium.rate_limit_peek(text, text) is
  'Seconds until p_subject may do p_action again (0 when allowed now), without counting anything.';

create function watchium.raise_rate_limited(
  p_code text, p_action text, p_retry_after double precision, p_message text
) returns void
language plpgsql
set search_path = ''
as $$
begin
  raise exception using
    errcode = p_code,
    message = p_message,
    detail = json_build_object('action', p_action, 'retry_after', round(p_retry_after::numeric, 3))::text,
    hint = format('retry after %s seconds', ceil(p_retry_after));
end;
$$;
comment on function watchium.raise_rate_limited(text, text, double precision, text) is
  'Raises a rate-limit error whose DETAIL is JSON {"action", "retry_after"} (seconds).';

create function watchium.enforce_rate_limit(p_subject text, p_action text) returns void
language plpgsql volatile
set search_path = ''
as $$
declare
  v_retry double precision := watchium.rate_limit_take(p_subject, p_action);
begin
  if v_retry > 0 then
    perform watchium.raise_rate_limited(
      'WR429', p_action, v_retry, format('rate limit reached for %s', replace(p_action, '_', ' ')));
  end if;
end;
$$;
comment on function watchium.enforce_rate_limit(text, text) is
  'Counts one request, or raises WR429 (DETAIL: JSON with retry_after seconds) when over the limit.';

create function watchium.check_rate_limit(
  p_user_id varchar(100),
  p_action varchar(50),
  p_window_minutes integer default null,
  p_max_requests integer default null
) returns boolean
language sql volatile
set search_path = ''
as $$
  select watchium.rate_limit_take(
    p_user_id, p_action, p_max_requests, p_window_minutes * interval '1 minute') = 0
$$;
comment on function watchium.check_rate_limit(varchar, varchar, integer, integer) is
  'The seeds'' rate-limit check, on the dedicated bucket store: counts one request and returns '
  'whether it was allowed. Limits come from rate_limit_rules unless window/max are given.';
