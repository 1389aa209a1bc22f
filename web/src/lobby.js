// The lobby: live public rooms with their member counts, a form to create a room, and joining
// by link or by id and access key.
import { call, explain } from './api.js';
import { h, fill, field, clockText } from './dom.js';

const REFRESH_EVERY = 5000;

/** A room link or id (and the key in a link) from what the user pasted. */
export function parseRoomRef(text) {
  const value = (text || '').trim();
  const link = /#\/room\/([A-Za-z0-9_-]{1,32})(?:\?(.*))?$/.exec(value);
  if (link) return { roomId: link[1], key: new URLSearchParams(link[2] || '').get('key') || '' };
  return /^[A-Za-z0-9_-]{1,32}$/.test(value) ? { roomId: value, key: '' } : null;
}

const slug = (text) =>
  text.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 100) || 'anime';

export async function showLobby(app, view) {
  const list = h('ul.rooms', { 'aria-live': 'polite' });
  const listStatus = h('p.muted', {}, 'Loading public rooms…');
  const name = h('input', { value: app.username, maxLength: 100, required: true, autocomplete: 'nickname' });
  name.addEventListener('change', () => {
    if (name.value.trim()) app.username = name.value;
  });

  const createError = h('p.error', { role: 'alert' });
  const title = h('input', { name: 'title', maxLength: 255, required: true, placeholder: 'Friday night' });
  const anime = h('input', { name: 'anime', maxLength: 255, required: true, placeholder: 'Frieren' });
  const episode = h('input', { name: 'episode', type: 'number', min: 1, value: '1', required: true });
  const video = h('input', { name: 'video', type: 'url', maxLength: 2048, required: true, value: app.config.demoClip });
  const isPrivate = h('input', { name: 'private', type: 'checkbox' });
  const createButton = h('button.primary', { type: 'submit' }, 'Create room');
  const createForm = h(
    'form.card',
    { 'aria-labelledby': 'create-title' },
    h('h2', { id: 'create-title' }, 'Create a room'),
    field('Title', title),
    field('Anime', anime),
    field('Episode', episode),
    field('Video URL', video, 'Any address your browser can play (mp4, webm). Members can also pick a local file.'),
    h('label.check', {}, isPrivate, ' Private: only people with the key or the share link can join'),
    createButton,
    createError,
  );
  createForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!name.value.trim()) return name.focus();
    app.username = name.value;
    createButton.disabled = true;
    fill(createError);
    try {
      const created = await call(app.supabase, 'rooms-create', {
        title: title.value.trim(),
        anime_id: slug(anime.value),
        anime_title: anime.value.trim(),
        episode_number: Number(episode.value) || 1,
        video_url: video.value.trim(),
        host_username: app.username,
        is_public: !isPrivate.checked,
      });
      const id = created.room.room_id;
      if (created.access_key) sessionStorage.setItem(`watchium.key.${id}`, created.access_key);
      app.go(`#/room/${id}${created.access_key ? `?key=${created.access_key}` : ''}`);
    } catch (err) {
      fill(createError, explain(err));
      createButton.disabled = false;
    }
  });

  const joinError = h('p.error', { role: 'alert' });
  const ref = h('input', { name: 'room', required: true, placeholder: 'Room link or id' });
  const key = h('input', { name: 'key', inputMode: 'numeric', pattern: '[0-9]{6}', maxLength: 6, placeholder: '6 digits' });
  const joinForm = h(
    'form.card',
    { 'aria-labelledby': 'join-title' },
    h('h2', { id: 'join-title' }, 'Join a room'),
    field('Room link or id', ref),
    field('Access key', key, 'Private rooms only; a share link already has it.'),
    h('button', { type: 'submit' }, 'Join'),
    joinError,
  );
  joinForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const parsed = parseRoomRef(ref.value);
    if (!parsed) return fill(joinError, 'That is neither a room link nor a room id.');
    if (name.value.trim()) app.username = name.value;
    const k = key.value.trim() || parsed.key;
    if (k && !/^\d{6}$/.test(k)) return fill(joinError, 'An access key is 6 digits.');
    app.go(`#/room/${parsed.roomId}${k ? `?key=${k}` : ''}`);
  });

  fill(
    view,
    h('header.top', {}, h('h1', {}, 'Watchium'), h('p.muted', {}, 'Watch anime together, in step.')),
    h('section.card.you', {}, field('Your name', name)),
    h('div.lobby', {}, h('section.card', { 'aria-labelledby': 'public-title' }, h('h2', { id: 'public-title' }, 'Public rooms'), listStatus, list), h('div.side', {}, createForm, joinForm)),
  );

  let stopped = false;
  let timer = null;
  const refresh = async () => {
    timer = null;
    try {
      const answer = await call(app.supabase, 'rooms-list-public', { limit: 50 });
      if (stopped) return;
      fill(listStatus, answer.rooms.length ? '' : 'No public rooms right now: create one.');
      fill(list, answer.rooms.map((room) => roomItem(app, room)));
    } catch (err) {
      if (!stopped) fill(listStatus, explain(err));
    }
    if (!stopped) timer = setTimeout(refresh, document.hidden ? REFRESH_EVERY * 6 : REFRESH_EVERY);
  };
  await refresh();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}

function roomItem(app, room) {
  const members = `${room.member_count} watching`;
  const where = `${room.anime_title} · episode ${room.episode_number} · ${room.is_playing ? 'playing' : 'paused'} at ${clockText(room.live_position)}`;
  return h(
    'li.room',
    { dataset: { roomId: room.room_id } },
    h('div', {}, h('strong', {}, room.title), h('div.muted', {}, where)),
    h('span.count', { 'aria-label': members }, members),
    h('button', { type: 'button', 'aria-label': `Join ${room.title}`, onclick: () => app.go(`#/room/${room.room_id}`) }, 'Join'),
  );
}
