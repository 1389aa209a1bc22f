-- 013 hosted fidelity: what hosted Supabase's advisors ask of the schema, a cleanup schedule that
-- does not depend on when pg_cron was enabled, and "sign in" before "not you".
--
-- * RLS policies read auth.uid() once per statement in the form Supabase's auth_rls_initplan lint
--   recognises, `(select auth.uid())::text`. Migrations 002-005 wrote `(select auth.uid()::text)`:
--   evaluated once too, but reported by the lint as if it ran for every row.
-- * Security definer functions run as their owner, so each is executable only by the roles that
--   must call it. `anon` (a caller without a user) keeps what needs no sign-in: the public room
--   list, a visible room's playback state and member list, and the two functions the policies for
--   `anon` call. Everything else needs a user; without the privilege an anonymous call is refused
--   before it runs (PostgREST and the Watchium functions answer 401).
-- * watchium.schedule_cleanup() schedules the 30-second cleanup with pg_cron. Migration 010
--   scheduled it only when pg_cron was enabled before 010 ran; this migration schedules it when
--   pg_cron is enabled now, and an administrator who enables pg_cron later calls the function.
-- * watchium.acting_user: a caller without a user is told to sign in (WR401) before anything is
--   said about the user id it sent (WR403).

------------------------------------------------------------------------------------------------
-- Policies: auth.uid() in the form the advisors recognise.
------------------------------------------------------------------------------------------------

alter policy rooms_update on public.rooms
  using (host_user_id = (select auth.uid())::text)
  with check (host_user_id = (select auth.uid())::text);

alter policy room_members_update on public.room_members
  using (user_id = (select auth.uid())::text)
  with check (user_id = (select auth.uid())::text);

alter policy comments_select on public.comments
  using (is_public or user_id = (select auth.uid())::text or watchium.is_room_member(room_id));

alter policy comments_update on public.comments
  using (user_id = (select auth.uid())::text and not is_system_message)
  with check (user_id = (select auth.uid())::text and not is_system_message);

alter policy comments_delete on public.comments
  using (user_id = (select auth.uid())::text and not is_system_message);

alter policy sync_states_select on public.sync_states
  using (user_id = (select auth.uid())::text or watchium.is_room_member(room_id));

------------------------------------------------------------------------------------------------
-- Security definer functions: anon keeps only what it must call.
--
--   anon must call                               why
--   public.rooms_list_public                     the public room list needs no sign-in
--   public.sync_get_host_time                    anyone who sees a room may ask where it is
--   public.members_get_list                      anyone who sees a room may list its members
--   watchium.is_room_member                      called by rooms_select and comments_select (anon)
--   watchium.can_see_room                        called by room_members_select (anon)
--
-- Revoked from anon below: every call that acts as a user, and watchium.can_use_room_channel,
-- whose realtime.messages policies apply to `authenticated` only. `authenticated` and
-- `service_role` keep them all: they are the API.
------------------------------------------------------------------------------------------------

revoke execute on function public.rooms_create(text, text, text, text, text, integer, boolean, text, text, text)
  from anon;
revoke execute on function public.rooms_join(text, text, text, text, text) from anon;
revoke execute on function public.rooms_leave(text, text) from anon;
revoke execute on function public.rooms_delete(text, text) from anon;
revoke execute on function public.rooms_get_access_key(text, text) from anon;
revoke execute on function public.sync_control(text, text, numeric, numeric, timestamptz, text) from anon;
revoke execute on function public.change_playback_state(varchar, varchar, boolean, numeric) from anon;
revoke execute on function public.seek_to_time(varchar, varchar, numeric) from anon;
revoke execute on function public.comments_create(text, integer, text, text, text, uuid, numeric, text, text)
  from anon;
revoke execute on function public.members_update_status(text, numeric, boolean, text, text, text)
  from anon;
revoke execute on function watchium.can_use_room_channel(text) from anon;

------------------------------------------------------------------------------------------------
-- The cleanup schedule, whenever pg_cron is enabled.
------------------------------------------------------------------------------------------------

create function watchium.schedule_cleanup() returns bigint
language plpgsql volatile
set search_path = ''
as $$
declare
  v_schedule regprocedure := pg_catalog.to_regprocedure('cron.schedule(text, text, text)');
  v_job bigint;
begin
  if v_schedule is null then
    raise exception using
      errcode = '55000',
      message = 'pg_cron is not enabled',
      hint = 'enable the pg_cron extension (hosted Supabase: Database > Extensions), then call '
             'watchium.schedule_cleanup() again';
  end if;
  -- Called through the function found: the cron schema exists only once pg_cron is enabled.
  execute format('select %s($1, $2, $3)', v_schedule::regproc)
     into v_job
    using 'watchium-cleanup', '30 seconds', 'select watchium.cleanup_realtime_data()';
  return v_job;
end;
$$;
comment on function watchium.schedule_cleanup() is
  'Schedules watchium.cleanup_realtime_data() every 30 seconds with pg_cron (job watchium-cleanup; '
  'calling it again keeps one job) and returns the job id. Run it after enabling pg_cron. '
  'Raises 55000 when pg_cron is not enabled.';

do $$
begin
  if pg_catalog.to_regprocedure('cron.schedule(text, text, text)') is not null then
    perform watchium.schedule_cleanup();
  end if;
end
$$;

------------------------------------------------------------------------------------------------
-- Identity: sign-in required before "you can only act as yourself".
------------------------------------------------------------------------------------------------

create or replace function watchium.acting_user(p_user_id text default null) returns text
language plpgsql stable
set search_path = ''
as $$
declare
  v_uid text := auth.uid()::text;
begin
  if watchium.is_privileged() then
    v_uid := coalesce(p_user_id, v_uid);
  elsif v_uid is null then
    raise exception using
      errcode = 'WR401',
      message = 'sign-in required',
      hint = 'sign in (anonymous sign-in is enough) and send the session''s access token';
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
      hint = 'a privileged session names the user it acts for (p_user_id)';
  end if;
  if length(v_uid) > 100 or length(btrim(v_uid)) = 0 then
    raise exception using errcode = 'WR400', message = 'user id must be 1 to 100 characters';
  end if;
  return v_uid;
end;
$$;
