-- 011 realtime authorization: who may use the private Realtime channel `room:<room_id>`.
--
-- Supabase Realtime authorises private channels (`config: {private: true}`) by evaluating the RLS
-- policies of realtime.messages for the connecting user, with realtime.topic() returning the
-- channel's topic: SELECT decides who may join and receive broadcasts and presence, INSERT who may
-- send them. Watchium's rule: a room's channel is for the room's members (the seeds: "only room
-- members can see presence data"). postgres_changes on the channel are authorised separately, row
-- by row, by the RLS of the tables. The local Realtime server evaluates these same policies.

-- why security definer: reads room membership regardless of the caller's RLS.
create function watchium.can_use_room_channel(p_topic text) returns boolean
language plpgsql stable security definer
set search_path = ''
as $$
begin
  if p_topic is null or p_topic !~ '^room:[a-z0-9]{10}$' then
    return false;
  end if;
  return watchium.is_room_member(substr(p_topic, 6));
end;
$$;
comment on function watchium.can_use_room_channel(text) is
  'Whether the caller may join, receive and send on the private channel p_topic (room:<room_id>): '
  'members of the room only.';
grant execute on function watchium.can_use_room_channel(text) to anon, authenticated, service_role;

create policy watchium_room_channel_select on realtime.messages
  for select to authenticated
  using (watchium.can_use_room_channel((select realtime.topic())));

create policy watchium_room_channel_insert on realtime.messages
  for insert to authenticated
  with check (watchium.can_use_room_channel((select realtime.topic())));
