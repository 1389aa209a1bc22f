-- 020 living comments: timed replay, spoiler gating, reactions and read state (docs/COMMENTS.md).
--
-- * Timed replay: public.comments_replay returns the comments stamped within a window of an
--   episode's video, from every party that watched it, capped per second of video. Each comment
--   passes watchium.can_see_comment, the comments_select policy's rule, so a private room's
--   comments never replay to anyone outside it. The partial index idx_comments_replay serves it.
-- * Spoilers: comments_get_by_episode now knows where the caller is (the position it sends, or
--   its room's live position) and withholds the text of comments stamped later, or posted in a
--   later episode, unless asked (p_reveal_spoilers). Each comment carries is_spoiler.
-- * Reactions: one per user per emoji per comment, from a fixed set, rate limited, only on a
--   comment the caller may see (WRC04 otherwise). The counts live in their own compact row
--   (public.comment_reaction_counts, published): a reaction costs one small change per listener,
--   not a copy of the comment, and one that changes nothing costs nothing.
-- * Read state: each user's last-read point per thread (public.comment_reads), so that a member
--   coming back sees how many comments are new.
--
-- Retention: reactions and their counts go with their comment (comments are kept); read state
-- unused for settings.read_state_retention (90 days) is deleted by cleanup, and with its thread.

------------------------------------------------------------------------------------------------
-- Settings and limits.
------------------------------------------------------------------------------------------------

alter table watchium.settings
  add column replay_per_second integer not null default 4
    constraint valid_replay_per_second check (replay_per_second between 1 and 50),
  add column replay_max_window numeric(6, 2) not null default 120
    constraint valid_replay_max_window check (replay_max_window > 0),
  add column read_state_retention interval not null default interval '90 days'
    constraint valid_read_state_retention check (read_state_retention > interval '0');
comment on column watchium.settings.replay_per_second is
  'Timed replay returns at most this many comments per second of video (the viewer''s own room''s '
  'first, then in video order).';
comment on column watchium.settings.replay_max_window is
  'Seconds of video one comments_replay call may cover at most.';
comment on column watchium.settings.read_state_retention is
  'A thread''s read state not updated for this long is deleted by cleanup.';

insert into watchium.rate_limit_rules (action, max_requests, per, description) values
  ('reactions', 30, interval '1 minute', 'reactions a user may add or remove');

------------------------------------------------------------------------------------------------
-- Who may see a comment: the comments_select policy as a function, for the functions that run
-- as their owner and must check a comment for the caller.
------------------------------------------------------------------------------------------------

create function watchium.can_see_comment(p_comment public.comments, p_user_id text) returns boolean
language sql stable
set search_path = ''
as $$
  select p_comment.id is not null
     and (p_comment.is_public or p_comment.user_id = p_user_id or watchium.is_privileged()
          or watchium.is_member_of(p_comment.room_id, p_user_id))
$$;
comment on function watchium.can_see_comment(public.comments, text) is
  'Whether the user may see the comment: what the comments_select policy allows (public, their '
  'own, or of a room they are in), for security definer functions acting for that user.';

------------------------------------------------------------------------------------------------
-- Timed replay.
------------------------------------------------------------------------------------------------

-- The window read: one range of one episode's timed comments, user comments only.
create index idx_comments_replay on public.comments (anime_id, episode_number, video_timestamp)
  where video_timestamp is not null and not is_system_message;
comment on index public.idx_comments_replay is
  'Timed replay (comments_replay): an episode''s timed user comments in video order.';

-- why security definer: reads the replay settings, which API roles may not; every comment it
-- returns passes can_see_comment for the caller, and a room passes room_for.
create function public.comments_replay(
  p_anime_id text,
  p_episode_number integer,
  p_start numeric,
  p_end numeric,
  p_room_id text default null,
  p_only_room boolean default false,
  p_per_second integer default null
) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_settings watchium.settings;
  v_cap integer;
  v_uid text := (select auth.uid())::text;
begin
  select * into v_settings from watchium.settings s;
  if p_start is null or p_end is null or p_start < 0 or p_end <= p_start then
    raise exception using errcode = 'WR400', message = 'give a window with 0 <= from < to (seconds)';
  end if;
  if p_end - p_start > v_settings.replay_max_window then
    raise exception using
      errcode = 'WR400',
      message = format('a window covers at most %s seconds of video', v_settings.replay_max_window),
      hint = 'fetch the video in consecutive windows';
  end if;
  if p_per_second is not null and p_per_second < 1 then
    raise exception using errcode = 'WR400', message = 'per_second must be at least 1';
  end if;
  if coalesce(p_only_room, false) and p_room_id is null then
    raise exception using errcode = 'WR400', message = 'only_room needs a room_id';
  end if;
  if p_room_id is not null then
    perform watchium.room_for(p_room_id, v_uid); -- a private room the caller is not in: WR404
  end if;
  v_cap := least(coalesce(p_per_second, v_settings.replay_per_second), v_settings.replay_per_second);

  -- Per second of video, the first v_cap comments in video order straight off the index (a
  -- popular second holds many more; they are never read), plus the caller's room's comments
  -- of the window (few: read through the room's thread index); then v_cap per second, the
  -- room's first.
  return jsonb_build_object(
    'start', p_start,
    'end', p_end,
    'per_second', v_cap,
    'comments', coalesce((
      select jsonb_agg(jsonb_build_object(
               'id', w.id, 'user_id', w.user_id, 'username', w.username, 'message', w.message,
               'video_timestamp', w.video_timestamp, 'in_room', w.in_room)
               order by w.video_timestamp, w.id)
        from (
          select p.*,
                 row_number() over (
                   partition by floor(p.video_timestamp)
                   order by p.in_room desc, p.video_timestamp, p.id) as nth
            from (
              select x.* from generate_series(floor(p_start)::bigint, ceil(p_end)::bigint - 1) sec
              cross join lateral (
                select c.id, c.user_id, c.username, c.message, c.video_timestamp, false as in_room
                  from public.comments c
                 where c.anime_id = p_anime_id
                   and c.episode_number = p_episode_number
                   and c.video_timestamp >= greatest(p_start, sec)
                   and c.video_timestamp < least(p_end, sec + 1)
                   and not c.is_system_message
                   and (p_room_id is null or c.room_id is distinct from p_room_id)
                   and not coalesce(p_only_room, false)
                   -- The rule is can_see_comment's; a public comment skips the call.
                   and (c.is_public or watchium.can_see_comment(c, v_uid))
                 order by c.video_timestamp, c.id
                 limit v_cap) x
              union all
              select c.id, c.user_id, c.username, c.message, c.video_timestamp, true
                from public.comments c
               where p_room_id is not null
                 and c.room_id = p_room_id
                 and c.anime_id = p_anime_id
                 and c.episode_number = p_episode_number
                 and c.video_timestamp >= p_start
                 and c.video_timestamp < p_end
                 and not c.is_system_message
                 and watchium.can_see_comment(c, v_uid)) p) w
       where w.nth <= v_cap), '[]'::jsonb));
end;
$$;
comment on function public.comments_replay(text, integer, numeric, numeric, text, boolean, integer) is
  'Timed replay: the comments stamped in [p_start, p_end) of the episode''s video, from every party '
  'that watched it and that the caller may see (RLS), at most settings.replay_per_second (or '
  'p_per_second, if lower) per second of video, the caller''s room''s (p_room_id) first; with '
  'p_only_room, that room''s only. Ordered by video timestamp. Errors: WR400, WR404.';
grant execute on function public.comments_replay(text, integer, numeric, numeric, text, boolean, integer)
  to anon, authenticated, service_role;

------------------------------------------------------------------------------------------------
-- Spoiler gating in the thread read.
------------------------------------------------------------------------------------------------

-- Runs as the caller, like the thread read that calls it: a room it cannot see is not found.
create function watchium.viewer_progress(
  p_anime_id text,
  p_episode_number integer,
  p_room_id text,
  p_position numeric
) returns numeric[]
language plpgsql stable
set search_path = ''
as $$
declare
  v_room public.rooms;
begin
  if p_position is not null then
    return array[p_episode_number, p_position];
  end if;
  if p_room_id is not null then
    select * into v_room from public.rooms r where r.room_id = p_room_id;
    if v_room.id is not null and v_room.anime_id = p_anime_id
       and watchium.is_room_member(p_room_id) then
      return array[v_room.episode_number, watchium.live_position(
        v_room.current_playback_time, v_room.is_playing, v_room.playback_speed,
        v_room.playback_updated_at, clock_timestamp())];
    end if;
  end if;
  return array[p_episode_number, 0];
end;
$$;
comment on function watchium.viewer_progress(text, integer, text, numeric) is
  'Where the caller is, as {episode, seconds}: the position it sent in this episode; else, for a '
  'member of p_room_id, the room''s episode and live position; else the start of this episode.';
grant execute on function watchium.viewer_progress(text, integer, text, numeric) to anon, authenticated, service_role;
-- The live-position arithmetic, for viewer_progress running as the caller.
grant execute on function watchium.live_position(numeric, boolean, numeric, timestamptz, timestamptz)
  to anon, authenticated, service_role;

drop function public.comments_get_by_episode(text, integer, text, integer, timestamptz);

create function public.comments_get_by_episode(
  p_anime_id text,
  p_episode_number integer,
  p_room_id text default null,
  p_limit integer default 100,
  p_before timestamptz default null,
  p_position numeric default null,
  p_reveal_spoilers boolean default false
) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
  v_rows jsonb;
  v_count integer;
  v_anchor jsonb;
  v_progress numeric[];
  v_uid text := (select auth.uid())::text;
  v_reveal boolean := coalesce(p_reveal_spoilers, false);
begin
  if p_limit is null or p_limit < 1 or p_limit > 500 then
    raise exception using errcode = 'WR400', message = 'limit must be between 1 and 500';
  end if;
  if p_position is not null and (p_position < 0 or p_position >= 100000000) then
    raise exception using errcode = 'WR400', message = 'position must be between 0 and 99999999.99 seconds';
  end if;
  if p_room_id is not null
     and not exists (select 1 from public.rooms r where r.room_id = p_room_id) then
    raise exception using errcode = 'WR404', message = format('room %s not found', p_room_id);
  end if;
  v_progress := watchium.viewer_progress(p_anime_id, p_episode_number, p_room_id, p_position);

  -- Newest page first (keyset pagination on created_at), returned oldest to newest. A spoiler
  -- (a comment of someone else stamped after where the caller is, or posted in a later episode
  -- than theirs) comes without its text unless the caller asks to see spoilers.
  select coalesce(jsonb_agg(
           case when page.is_spoiler and not v_reveal
                then page.body || jsonb_build_object('message', null, 'is_spoiler', true)
                else page.body || jsonb_build_object('is_spoiler', page.is_spoiler) end
           order by page.created_at, page.id), '[]'::jsonb),
         count(*)
    into v_rows, v_count
    from (
      select to_jsonb(c) as body, c.created_at, c.id,
             coalesce(c.user_id is distinct from v_uid and not c.is_system_message
                      and (v_progress[1] < c.episode_number
                           or (v_progress[1] = c.episode_number and c.video_timestamp > v_progress[2])),
                      false) as is_spoiler
        from public.comments c
       where c.anime_id = p_anime_id
         and c.episode_number = p_episode_number
         and not c.is_anchor
         and (case when p_room_id is null then c.origin_room_id is null else c.room_id = p_room_id end)
         and (p_before is null or c.created_at < p_before)
       order by c.created_at desc, c.id desc
       limit p_limit + 1) page;

  select to_jsonb(c) into v_anchor from public.comments c
   where c.is_anchor and c.anime_id = p_anime_id and c.episode_number = p_episode_number
     and coalesce(c.origin_room_id, '') = coalesce(p_room_id, '');

  if v_count > p_limit then
    v_rows := v_rows - 0; -- drop the oldest: it only proved there is more
  end if;
  return jsonb_build_object(
    'anchor', v_anchor,
    'comments', v_rows,
    'has_more', v_count > p_limit,
    'next_before', case when v_count > p_limit then v_rows -> 0 ->> 'created_at' end,
    'progress', jsonb_build_object('episode_number', v_progress[1], 'position', v_progress[2]),
    'spoilers_hidden', case when v_reveal then 0 else (
      select count(*) from jsonb_array_elements(v_rows) e where (e ->> 'is_spoiler')::boolean) end);
end;
$$;
comment on function public.comments_get_by_episode(text, integer, text, integer, timestamptz, numeric, boolean) is
  'A page of an episode thread (the room''s, or the global one without p_room_id), oldest to newest, '
  'with the thread''s anchor. Page back with p_before = next_before. Visibility is RLS''s. Spoilers '
  '(others'' comments stamped after the caller''s position, p_position or its room''s live position, '
  'or in a later episode) have is_spoiler and no message unless p_reveal_spoilers. Errors: WR400, '
  'WR404.';
grant execute on function public.comments_get_by_episode(text, integer, text, integer, timestamptz, numeric, boolean)
  to anon, authenticated, service_role;

------------------------------------------------------------------------------------------------
-- Reactions.
------------------------------------------------------------------------------------------------

create table public.comment_reactions (
  comment_id uuid not null references public.comments (id) on delete cascade,
  user_id varchar(100) not null,
  emoji text not null
    constraint valid_reaction_emoji check (emoji in ('👍', '😂', '😮', '😢', '🔥', '👏')),
  created_at timestamptz not null default clock_timestamp(),
  primary key (comment_id, user_id, emoji)
);
comment on table public.comment_reactions is
  'Who reacted to which comment with which emoji: one row per (comment, user, emoji). Written by '
  'comments_react only; each user reads their own. Not replicated: the counts are.';
comment on column public.comment_reactions.comment_id is 'The comment.';
comment on column public.comment_reactions.user_id is 'Who reacted (auth.uid()).';
comment on column public.comment_reactions.emoji is 'One of the fixed set.';
comment on column public.comment_reactions.created_at is 'When.';

create index idx_comment_reactions_user_id on public.comment_reactions (user_id);

alter table public.comment_reactions enable row level security;
create policy comment_reactions_select on public.comment_reactions
  for select to authenticated
  using (user_id = (select auth.uid())::text);
revoke all on public.comment_reactions from anon, authenticated;
grant select on public.comment_reactions to authenticated;
grant all on public.comment_reactions to service_role;

create table public.comment_reaction_counts (
  comment_id uuid primary key references public.comments (id) on delete cascade,
  room_id varchar(10),
  counts jsonb not null default '{}'::jsonb,
  total integer not null default 0 constraint valid_reaction_total check (total >= 0),
  updated_at timestamptz not null default clock_timestamp()
);
comment on table public.comment_reaction_counts is
  'Reaction counts of a comment, e.g. {"👍": 3, "🔥": 1}: one compact row per reacted comment, in '
  'the supabase_realtime publication (subscribe with room_id=eq.<room>). Visible with its comment.';
comment on column public.comment_reaction_counts.comment_id is 'The comment.';
comment on column public.comment_reaction_counts.room_id is 'The comment''s room (for Realtime filters).';
comment on column public.comment_reaction_counts.counts is 'Count per emoji (emoji with no reaction left out).';
comment on column public.comment_reaction_counts.total is 'All reactions of the comment.';
comment on column public.comment_reaction_counts.updated_at is 'Last change.';

create index idx_comment_reaction_counts_room_id on public.comment_reaction_counts (room_id);

alter table public.comment_reaction_counts enable row level security;
-- The comment's own policy decides: the subquery reads comments under the caller's RLS.
create policy comment_reaction_counts_select on public.comment_reaction_counts
  for select to anon, authenticated
  using (exists (select 1 from public.comments c where c.id = comment_id));
revoke all on public.comment_reaction_counts from anon, authenticated;
grant select on public.comment_reaction_counts to anon, authenticated;
grant all on public.comment_reaction_counts to service_role;

alter publication supabase_realtime add table public.comment_reaction_counts;

-- why security definer: writes reactions and counts (API roles may not) after checking that the
-- caller may see the comment.
create function public.comments_react(
  p_comment_id uuid,
  p_emoji text,
  p_on boolean default true,
  p_user_id text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_comment public.comments;
  v_on boolean := coalesce(p_on, true);
  v_changed boolean;
  v_counts public.comment_reaction_counts;
begin
  select * into v_comment from public.comments c where c.id = p_comment_id;
  if not watchium.can_see_comment(v_comment, v_uid) then
    raise exception using errcode = 'WRC04', message = format('comment %s not found', p_comment_id);
  end if;
  if v_comment.is_anchor then
    raise exception using
      errcode = 'WR400', message = 'a thread''s anchor takes no reactions',
      hint = 'react to a comment of the thread';
  end if;
  if p_emoji is null or p_emoji not in ('👍', '😂', '😮', '😢', '🔥', '👏') then
    raise exception using
      errcode = 'WR400', message = format('unknown reaction %L', p_emoji),
      hint = 'react with one of 👍 😂 😮 😢 🔥 👏';
  end if;

  perform watchium.enforce_rate_limit(v_uid, 'reactions');

  if v_on then
    insert into public.comment_reactions (comment_id, user_id, emoji)
    values (p_comment_id, v_uid, p_emoji)
    on conflict do nothing;
  else
    delete from public.comment_reactions r
     where r.comment_id = p_comment_id and r.user_id = v_uid and r.emoji = p_emoji;
  end if;
  v_changed := found;

  -- Only a real change writes the published counts row (a Realtime event per listener).
  if v_changed then
    insert into public.comment_reaction_counts as k (comment_id, room_id, counts, total)
    values (p_comment_id, v_comment.room_id, jsonb_build_object(p_emoji, 1), 1)
    on conflict (comment_id) do update
      set counts = case
            when coalesce((k.counts ->> p_emoji)::integer, 0) + (case when v_on then 1 else -1 end) <= 0
              then k.counts - p_emoji
            else k.counts || jsonb_build_object(
              p_emoji, coalesce((k.counts ->> p_emoji)::integer, 0) + (case when v_on then 1 else -1 end))
          end,
          total = greatest(k.total + (case when v_on then 1 else -1 end), 0),
          updated_at = clock_timestamp()
    returning * into v_counts;
  else
    select * into v_counts from public.comment_reaction_counts k where k.comment_id = p_comment_id;
  end if;

  return jsonb_build_object(
    'comment_id', p_comment_id,
    'emoji', p_emoji,
    'reacted', v_on,
    'changed', v_changed,
    'counts', coalesce(v_counts.counts, '{}'::jsonb),
    'total', coalesce(v_counts.total, 0));
end;
$$;
comment on function public.comments_react(uuid, text, boolean, text) is
  'Adds (p_on, default) or removes the caller''s p_emoji reaction (one of 👍 😂 😮 😢 🔥 👏) on a '
  'comment they may see. Idempotent: a reaction already there (or already gone) changes nothing '
  'and sends no Realtime event. Returns {comment_id, emoji, reacted, changed, counts, total}. '
  'Errors: WR400, WR401, WR403, WRC04 (no such comment for you), WR429 (30 per minute).';
grant execute on function public.comments_react(uuid, text, boolean, text) to authenticated, service_role;

------------------------------------------------------------------------------------------------
-- Read state.
------------------------------------------------------------------------------------------------

create table public.comment_reads (
  user_id varchar(100) not null,
  anchor_id uuid not null references public.comments (id) on delete cascade,
  last_read_at timestamptz not null,
  last_read_comment_id uuid,
  updated_at timestamptz not null default clock_timestamp(),
  primary key (user_id, anchor_id)
);
comment on table public.comment_reads is
  'Each user''s last-read point per thread (the thread''s anchor): comments written after '
  'last_read_at are new to them. Written by comments_mark_read; each user reads their own. Not '
  'replicated. Retention: settings.read_state_retention after its last update.';
comment on column public.comment_reads.user_id is 'The reader (auth.uid()).';
comment on column public.comment_reads.anchor_id is 'The thread (its anchor comment).';
comment on column public.comment_reads.last_read_at is 'created_at of the last comment read.';
comment on column public.comment_reads.last_read_comment_id is 'The last comment read.';
comment on column public.comment_reads.updated_at is 'Last update (cleanup reads it).';

create index idx_comment_reads_anchor_id on public.comment_reads (anchor_id);
create index idx_comment_reads_updated_at on public.comment_reads (updated_at);

alter table public.comment_reads enable row level security;
create policy comment_reads_select on public.comment_reads
  for select to authenticated
  using (user_id = (select auth.uid())::text);
revoke all on public.comment_reads from anon, authenticated;
grant select on public.comment_reads to authenticated;
grant all on public.comment_reads to service_role;

create function watchium.thread_anchor(p_anime_id text, p_episode_number integer, p_room_id text)
returns uuid
language sql stable
set search_path = ''
as $$
  select c.id from public.comments c
   where c.is_anchor and c.anime_id = p_anime_id and c.episode_number = p_episode_number
     and coalesce(c.origin_room_id, '') = coalesce(p_room_id, '')
$$;
comment on function watchium.thread_anchor(text, integer, text) is
  'The anchor of the (anime, room, episode) thread, or NULL before its first comment.';

create function watchium.thread_read_state(p_anchor_id uuid, p_user_id text) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'anchor_id', p_anchor_id,
    'last_read_at', r.last_read_at,
    'last_read_comment_id', r.last_read_comment_id,
    'new_count', (
      select count(*) from public.comments c
       where c.anime_id = a.anime_id and c.episode_number = a.episode_number
         and coalesce(c.origin_room_id, '') = coalesce(a.origin_room_id, '')
         and not c.is_anchor
         and c.user_id is distinct from p_user_id
         and (r.last_read_at is null or c.created_at > r.last_read_at)
         and watchium.can_see_comment(c, p_user_id)),
    'latest_at', (
      select max(c.created_at) from public.comments c
       where c.anime_id = a.anime_id and c.episode_number = a.episode_number
         and coalesce(c.origin_room_id, '') = coalesce(a.origin_room_id, '') and not c.is_anchor
         and watchium.can_see_comment(c, p_user_id)))
  from public.comments a
  left join public.comment_reads r on r.anchor_id = a.id and r.user_id = p_user_id
  where a.id = p_anchor_id
$$;
comment on function watchium.thread_read_state(uuid, text) is
  'The user''s read state of a thread: last read point and how many comments (others'', visible '
  'to them) came after it.';

-- why security definer: writes the caller's read state, which API roles may not write.
create function public.comments_mark_read(
  p_anime_id text,
  p_episode_number integer,
  p_room_id text default null,
  p_comment_id uuid default null,
  p_user_id text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_anchor uuid;
  v_comment public.comments;
begin
  if p_room_id is not null then
    perform watchium.room_for(p_room_id, v_uid);
  end if;
  v_anchor := watchium.thread_anchor(p_anime_id, p_episode_number, p_room_id);
  if p_comment_id is not null then
    select * into v_comment from public.comments c where c.id = p_comment_id;
    if not watchium.can_see_comment(v_comment, v_uid) then
      raise exception using errcode = 'WRC04', message = format('comment %s not found', p_comment_id);
    end if;
    if v_anchor is null
       or (v_comment.anime_id, v_comment.episode_number, coalesce(v_comment.origin_room_id, ''))
          is distinct from (p_anime_id, p_episode_number, coalesce(p_room_id, '')) then
      raise exception using
        errcode = 'WR409', message = 'the comment belongs to another thread',
        hint = 'mark a comment of this anime, episode and room as read';
    end if;
  elsif v_anchor is not null then
    -- The newest comment of the thread the caller may see.
    select * into v_comment from public.comments c
     where c.anime_id = p_anime_id and c.episode_number = p_episode_number
       and coalesce(c.origin_room_id, '') = coalesce(p_room_id, '') and not c.is_anchor
       and watchium.can_see_comment(c, v_uid)
     order by c.created_at desc, c.id desc
     limit 1;
  end if;
  if v_anchor is null then
    return jsonb_build_object('anchor_id', null, 'last_read_at', null, 'last_read_comment_id', null,
                              'new_count', 0, 'latest_at', null);
  end if;

  if v_comment.id is not null then
    -- The read point only moves forward.
    insert into public.comment_reads as r (user_id, anchor_id, last_read_at, last_read_comment_id)
    values (v_uid, v_anchor, v_comment.created_at, v_comment.id)
    on conflict (user_id, anchor_id) do update
      set last_read_at = greatest(r.last_read_at, excluded.last_read_at),
          last_read_comment_id = case when excluded.last_read_at > r.last_read_at
                                      then excluded.last_read_comment_id
                                      else r.last_read_comment_id end,
          updated_at = clock_timestamp();
  end if;
  return watchium.thread_read_state(v_anchor, v_uid);
end;
$$;
comment on function public.comments_mark_read(text, integer, text, uuid, text) is
  'Marks the thread read up to p_comment_id (default: its newest comment the caller may see); the '
  'read point only moves forward. Returns {anchor_id, last_read_at, last_read_comment_id, '
  'new_count, latest_at}. Errors: WR401, WR403, WR404, WRC04, WR409.';
grant execute on function public.comments_mark_read(text, integer, text, uuid, text) to authenticated, service_role;

-- why security definer: reads the caller's read state and counts what they may see without a
-- policy check per row (watchium.can_see_comment is the same rule).
create function public.comments_unread(
  p_anime_id text,
  p_episode_number integer,
  p_room_id text default null,
  p_user_id text default null
) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_anchor uuid;
begin
  if p_room_id is not null then
    perform watchium.room_for(p_room_id, v_uid);
  end if;
  v_anchor := watchium.thread_anchor(p_anime_id, p_episode_number, p_room_id);
  if v_anchor is null then
    return jsonb_build_object('anchor_id', null, 'last_read_at', null, 'last_read_comment_id', null,
                              'new_count', 0, 'latest_at', null);
  end if;
  return watchium.thread_read_state(v_anchor, v_uid);
end;
$$;
comment on function public.comments_unread(text, integer, text, text) is
  'The caller''s read state of the thread: {anchor_id, last_read_at, last_read_comment_id, '
  'new_count (others'' comments after the read point), latest_at}. Errors: WR401, WR403, WR404.';
grant execute on function public.comments_unread(text, integer, text, text) to authenticated, service_role;

------------------------------------------------------------------------------------------------
-- Retention.
------------------------------------------------------------------------------------------------

create function watchium.cleanup_read_state() returns integer
language plpgsql volatile
set search_path = ''
as $$
declare
  v_deleted integer;
begin
  delete from public.comment_reads r
   using watchium.settings s
   where r.updated_at < now() - s.read_state_retention;
  get diagnostics v_deleted = row_count;
  return v_deleted;
end;
$$;
comment on function watchium.cleanup_read_state() is
  'Deletes read state not updated for settings.read_state_retention; returns how many.';
