-- 008 comment API: post a comment, read an episode thread, comment analytics.
--
-- Posting checks what the table's policies cannot: membership of the room, the thread of the
-- parent, the comments rate limit (5 per minute) and the message size (trigger, WR413). Reads are
-- security invoker: RLS decides what the caller sees, exactly as for a direct SELECT.

-- why security definer: inserts comments (API roles have no INSERT privilege) after checking them.
create function public.comments_create(
  p_anime_id text,
  p_episode_number integer,
  p_message text,
  p_username text,
  p_room_id text default null,
  p_parent_id uuid default null,
  p_video_timestamp numeric default null,
  p_avatar_url text default null,
  p_user_id text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_uid text := watchium.acting_user(p_user_id);
  v_room public.rooms;
  v_parent public.comments;
  v_comment public.comments;
begin
  if p_room_id is not null then
    v_room := watchium.room_for(p_room_id, v_uid);
    if not watchium.is_member_of(p_room_id, v_uid) then
      raise exception using
        errcode = 'WRM03',
        message = format('only members of room %s can comment there', p_room_id),
        hint = 'join the room first';
    end if;
    if p_anime_id is distinct from v_room.anime_id then
      raise exception using
        errcode = 'WR400',
        message = format('anime_id %L does not match the room''s anime %L', p_anime_id, v_room.anime_id);
    end if;
  end if;

  if p_parent_id is not null then
    select * into v_parent from public.comments c where c.id = p_parent_id;
    if v_parent.id is null
       or not (v_parent.is_public or v_parent.user_id = v_uid or watchium.is_privileged()
               or watchium.is_member_of(v_parent.room_id, v_uid)) then
      raise exception using errcode = 'WRC04', message = format('comment %s not found', p_parent_id);
    end if;
    if (v_parent.anime_id, v_parent.episode_number, coalesce(v_parent.origin_room_id, ''))
       is distinct from (p_anime_id, p_episode_number, coalesce(p_room_id, '')) then
      raise exception using
        errcode = 'WR409',
        message = 'the parent comment belongs to another thread',
        hint = 'reply within the same anime, episode and room';
    end if;
  end if;

  perform watchium.enforce_rate_limit(v_uid, 'comments');

  insert into public.comments (
    anime_id, room_id, episode_number, parent_id, user_id, username, avatar_url, message,
    video_timestamp)
  values (
    p_anime_id, p_room_id, p_episode_number,
    coalesce(p_parent_id, watchium.get_or_create_anchor(
      p_anime_id, p_room_id, p_episode_number, coalesce(v_room.host_username, 'System'))),
    v_uid, p_username, p_avatar_url, p_message, p_video_timestamp)
  returning * into v_comment;
  return to_jsonb(v_comment);
end;
$$;
comment on function public.comments_create(text, integer, text, text, text, uuid, numeric, text, text) is
  'Posts a comment into the (anime, room, episode) thread, under p_parent_id or the thread''s anchor. '
  'Returns the comment. Errors: WR400, WR401, WR403, WR404, WRM03, WRC04, WR409, WR413, WR429, '
  '23514 (empty message, bad episode or timestamp).';
grant execute on function public.comments_create(text, integer, text, text, text, uuid, numeric, text, text)
  to anon, authenticated, service_role;

create function public.comments_get_by_episode(
  p_anime_id text,
  p_episode_number integer,
  p_room_id text default null,
  p_limit integer default 100,
  p_before timestamptz default null
) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
  v_rows jsonb;
  v_count integer;
  v_anchor jsonb;
begin
  if p_limit is null or p_limit < 1 or p_limit > 500 then
    raise exception using errcode = 'WR400', message = 'limit must be between 1 and 500';
  end if;
  if p_room_id is not null
     and not exists (select 1 from public.rooms r where r.room_id = p_room_id) then
    raise exception using errcode = 'WR404', message = format('room %s not found', p_room_id);
  end if;

  -- Newest page first (keyset pagination on created_at), returned oldest to newest.
  select coalesce(jsonb_agg(to_jsonb(page) order by page.created_at, page.id), '[]'::jsonb), count(*)
    into v_rows, v_count
    from (
      select c.* from public.comments c
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
    'next_before', case when v_count > p_limit then v_rows -> 0 ->> 'created_at' end);
end;
$$;
comment on function public.comments_get_by_episode(text, integer, text, integer, timestamptz) is
  'A page of an episode thread (the room''s, or the global one without p_room_id), oldest to newest, '
  'with the thread''s anchor. Page back with p_before = next_before. Visibility is RLS''s. Errors: '
  'WR400, WR404.';
grant execute on function public.comments_get_by_episode(text, integer, text, integer, timestamptz)
  to anon, authenticated, service_role;

create function public.comments_get_history(
  p_room_id text default null,
  p_anime_id text default null,
  p_hours integer default 24
) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
  v_since timestamptz := now() - make_interval(hours => p_hours);
begin
  if p_room_id is null and p_anime_id is null then
    raise exception using errcode = 'WR400', message = 'give a room_id, an anime_id or both';
  end if;
  if p_hours is null or p_hours < 1 or p_hours > 720 then
    raise exception using errcode = 'WR400', message = 'hours must be between 1 and 720';
  end if;
  if p_room_id is not null
     and not exists (select 1 from public.rooms r where r.room_id = p_room_id) then
    raise exception using errcode = 'WR404', message = format('room %s not found', p_room_id);
  end if;

  return (
    with scope as (
      select c.* from public.comments c
       where (p_room_id is null or c.room_id = p_room_id)
         and (p_anime_id is null or c.anime_id = p_anime_id)
         and c.created_at >= v_since
         and not c.is_system_message
    )
    select jsonb_build_object(
      'since', v_since,
      'total', (select count(*) from scope),
      'participants', (select count(distinct s.user_id) from scope s),
      'by_episode', coalesce((
        select jsonb_agg(jsonb_build_object(
                 'episode_number', e.episode_number, 'comments', e.n, 'last_comment_at', e.last_at)
                 order by e.episode_number)
          from (select s.episode_number, count(*) as n, max(s.created_at) as last_at
                  from scope s group by s.episode_number) e), '[]'::jsonb),
      'top_commenters', coalesce((
        select jsonb_agg(jsonb_build_object('user_id', u.user_id, 'username', u.username, 'comments', u.n)
                 order by u.n desc, u.user_id)
          from (select s.user_id, max(s.username) as username, count(*) as n
                  from scope s group by s.user_id order by count(*) desc, s.user_id limit 10) u), '[]'::jsonb),
      'per_hour', coalesce((
        select jsonb_agg(jsonb_build_object('hour', h.hour, 'comments', h.n) order by h.hour)
          from (select date_trunc('hour', s.created_at) as hour, count(*) as n
                  from scope s group by 1) h), '[]'::jsonb))
  );
end;
$$;
comment on function public.comments_get_history(text, text, integer) is
  'Comment analytics over the last p_hours (1-720) for a room and/or an anime: total, participants, '
  'per episode, top 10 commenters, per hour. System messages are not counted. Errors: WR400, WR404.';
grant execute on function public.comments_get_history(text, text, integer) to anon, authenticated, service_role;
