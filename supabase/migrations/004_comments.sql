-- 004 comments: per-episode discussion threads, each opened by a persistent anchor message.
--
-- A thread is (anime_id, room, episode_number); a room-less thread is the global discussion of an
-- episode. Every thread has exactly one anchor (a system message, unique index
-- one_anchor_per_thread) and a comment posted without a parent hangs under it.
--
-- Visibility follows the room: comments of a public room (and global ones) are public, those of a
-- private room are visible to its members. `is_public` and `origin_room_id` are captured when the
-- comment is written, so that when a private room is deleted (room_id becomes NULL, as the seeds
-- keep comment history) its comments do not become public: they stay visible to their authors.

create table public.comments (
  id uuid primary key default gen_random_uuid(),
  anime_id varchar(100) not null,
  room_id varchar(10) references public.rooms (room_id) on delete set null,
  origin_room_id varchar(10),
  episode_number integer not null,
  parent_id uuid references public.comments (id) on delete cascade,
  user_id varchar(100) not null,
  username varchar(100) not null,
  avatar_url text,
  message text not null,
  video_timestamp decimal(10, 2),
  is_anchor boolean not null default false,
  is_system_message boolean not null default false,
  is_public boolean not null default true,
  created_at timestamptz not null default clock_timestamp(),
  updated_at timestamptz not null default now(),
  constraint valid_comment_episode check (episode_number > 0),
  constraint valid_video_timestamp check (video_timestamp is null or video_timestamp >= 0),
  constraint non_empty_message check (length(trim(message)) > 0),
  constraint valid_comment_room check (room_id is null or room_id = origin_room_id),
  constraint anchor_is_system_message check (not is_anchor or is_system_message),
  constraint anchor_has_no_parent check (not is_anchor or parent_id is null)
);

comment on table public.comments is
  'Threaded comments per (anime, room, episode). Post with comments_create; authors may edit and '
  'delete their own non-system comments.';
comment on column public.comments.id is 'Primary key.';
comment on column public.comments.anime_id is 'Anime identifier of the thread.';
comment on column public.comments.room_id is 'The room of the thread; NULL for global threads and after the room is deleted.';
comment on column public.comments.origin_room_id is 'The room the comment was written in (kept after the room is deleted).';
comment on column public.comments.episode_number is 'Episode of the thread.';
comment on column public.comments.parent_id is 'The comment replied to; top-level comments hang under the thread''s anchor.';
comment on column public.comments.user_id is 'Author''s user id (auth.uid()), or ''system''.';
comment on column public.comments.username is 'Author''s display name.';
comment on column public.comments.avatar_url is 'Author''s avatar URL.';
comment on column public.comments.message is 'The text (1 to settings.comment_max_length characters).';
comment on column public.comments.video_timestamp is 'Optional position in the video the comment refers to (seconds).';
comment on column public.comments.is_anchor is 'Whether this is the anchor message opening the thread.';
comment on column public.comments.is_system_message is 'Whether the database wrote it (anchors, host transfers); users cannot edit or delete these.';
comment on column public.comments.is_public is 'Whether the comment''s room was public when it was written (global comments are public).';
comment on column public.comments.created_at is 'Creation time.';
comment on column public.comments.updated_at is 'Last edit time.';

create index idx_comments_anime_id on public.comments (anime_id);
create index idx_comments_room_id on public.comments (room_id);
create index idx_comments_episode_number on public.comments (episode_number);
create index idx_comments_parent_id on public.comments (parent_id);
create index idx_comments_user_id on public.comments (user_id);
create index idx_comments_created_at on public.comments (created_at);
create index idx_comments_video_timestamp on public.comments (video_timestamp);
create index idx_comments_is_anchor on public.comments (is_anchor);
-- The two thread reads (comments_get_by_episode): a room's thread and the global thread.
create index idx_comments_room_thread on public.comments (room_id, episode_number, created_at desc);
create index idx_comments_global_thread on public.comments (anime_id, episode_number, created_at desc)
  where origin_room_id is null;
create unique index one_anchor_per_thread
  on public.comments (anime_id, (coalesce(origin_room_id, '')), episode_number)
  where is_anchor;
comment on index public.one_anchor_per_thread is 'Exactly one anchor per (anime, room, episode) thread.';

------------------------------------------------------------------------------------------------
-- Triggers.
------------------------------------------------------------------------------------------------

create trigger update_comments_updated_at
  before update on public.comments
  for each row execute function watchium.update_updated_at_column();

-- why security definer: an author's direct edit runs this as `authenticated`, which may not read
-- the settings.
create function watchium.comments_validate() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  v_max integer := (select s.comment_max_length from watchium.settings s);
begin
  if char_length(new.message) > v_max then
    raise exception using
      errcode = 'WR413',
      message = format('comment is too long: %s characters, at most %s', char_length(new.message), v_max),
      hint = 'shorten the message';
  end if;
  if tg_op = 'INSERT' then
    new.origin_room_id := coalesce(new.origin_room_id, new.room_id);
    if new.room_id is not null then
      new.is_public := (select r.is_public from public.rooms r where r.room_id = new.room_id);
    end if;
  end if;
  return new;
end;
$$;
comment on function watchium.comments_validate() is
  'Trigger: enforces the message length (WR413) and derives origin_room_id and is_public from the room.';

create trigger comments_validate
  before insert or update of message on public.comments
  for each row execute function watchium.comments_validate();

------------------------------------------------------------------------------------------------
-- Anchors and system messages.
------------------------------------------------------------------------------------------------

create function watchium.get_or_create_anchor(
  p_anime_id varchar(100),
  p_room_id varchar(10),
  p_episode_number integer,
  p_host_username varchar(100)
) returns uuid
language plpgsql volatile
set search_path = ''
as $$
declare
  v_anchor_id uuid;
begin
  insert into public.comments (
    anime_id, room_id, episode_number, user_id, username, message, is_anchor, is_system_message)
  values (
    p_anime_id, p_room_id, p_episode_number, 'system', coalesce(p_host_username, 'System'),
    'Discussion for Episode ' || p_episode_number, true, true)
  on conflict (anime_id, (coalesce(origin_room_id, '')), episode_number) where is_anchor do nothing
  returning id into v_anchor_id;
  if v_anchor_id is null then
    select c.id into v_anchor_id from public.comments c
     where c.is_anchor and c.anime_id = p_anime_id and c.episode_number = p_episode_number
       and coalesce(c.origin_room_id, '') = coalesce(p_room_id, '');
  end if;
  return v_anchor_id;
end;
$$;
comment on function watchium.get_or_create_anchor(varchar, varchar, integer, varchar) is
  'The anchor comment of the (anime, room, episode) thread, created on first use; race-free.';

create function watchium.post_system_comment(p_room_id varchar(10), p_message text) returns uuid
language plpgsql volatile
set search_path = ''
as $$
declare
  v_room public.rooms;
  v_id uuid;
begin
  select * into v_room from public.rooms r where r.room_id = p_room_id;
  if not found then
    return null;
  end if;
  insert into public.comments (
    anime_id, room_id, episode_number, parent_id, user_id, username, message, is_system_message)
  values (
    v_room.anime_id, v_room.room_id, v_room.episode_number,
    watchium.get_or_create_anchor(v_room.anime_id, v_room.room_id, v_room.episode_number, v_room.host_username),
    'system', 'System', p_message, true)
  returning id into v_id;
  return v_id;
end;
$$;
comment on function watchium.post_system_comment(varchar, text) is
  'Posts a system message into the room''s current episode thread.';

------------------------------------------------------------------------------------------------
-- Row level security and privileges.
------------------------------------------------------------------------------------------------

alter table public.comments enable row level security;

create policy comments_select on public.comments
  for select to anon, authenticated
  using (is_public or user_id = (select auth.uid()::text) or watchium.is_room_member(room_id));

create policy comments_update on public.comments
  for update to authenticated
  using (user_id = (select auth.uid()::text) and not is_system_message)
  with check (user_id = (select auth.uid()::text) and not is_system_message);

create policy comments_delete on public.comments
  for delete to authenticated
  using (user_id = (select auth.uid()::text) and not is_system_message);

revoke all on public.comments from anon, authenticated;
grant select on public.comments to anon, authenticated;
grant update (message) on public.comments to authenticated;
grant delete on public.comments to authenticated;
grant all on public.comments to service_role;

alter table public.comments replica identity full;
alter publication supabase_realtime add table public.comments;
