-- Demo data for the local stack, loaded by `watchium db reset` (and by `supabase db reset`).
--
-- Two rooms hosted by a demo user: a public one and a private one whose access key is 123456.
-- They are ordinary rooms: with no heartbeat from their host, cleanup removes the host after
-- 30 seconds and the empty rooms after an hour. Direct database sessions act for any user, so the
-- rooms are made with the same function the API uses.

select public.rooms_create(
  p_title => 'Demo: Frieren episode 1',
  p_anime_id => 'frieren',
  p_anime_title => 'Frieren: Beyond Journey''s End',
  p_video_url => 'https://example.com/frieren/01.mkv',
  p_host_username => 'Demo Host',
  p_episode_number => 1,
  p_is_public => true,
  p_host_user_id => '00000000-0000-4000-8000-000000000001');

select public.rooms_create(
  p_title => 'Demo: private Mushishi night',
  p_anime_id => 'mushishi',
  p_anime_title => 'Mushishi',
  p_video_url => 'https://example.com/mushishi/01.mkv',
  p_host_username => 'Demo Host',
  p_episode_number => 1,
  p_is_public => false,
  p_host_user_id => '00000000-0000-4000-8000-000000000001');

update watchium.room_access_keys k set access_key = '123456'
  from public.rooms r
 where r.room_id = k.room_id and r.title = 'Demo: private Mushishi night';
