// The page's entry: reads config.json (the project's URL and publishable key), signs in
// anonymously with supabase-js, and shows the lobby or a room by the address's #fragment:
//   #/                          the lobby
//   #/room/<id>                 a room (public, or one you are already in)
//   #/room/<id>?key=<6 digits>  a private room's share link (the key never leaves the browser
//                               in a request line: fragments are not sent to servers)
import { createClient } from '@supabase/supabase-js';
import { h, fill } from './dom.js';
import { showLobby } from './lobby.js';
import { showRoom } from './room.js';

const NAME_KEY = 'watchium.username';

async function loadConfig() {
  const response = await fetch('./config.json', { cache: 'no-store' });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const config = await response.json();
  if (!config.publishableKey) throw new Error('config.json has no publishableKey');
  return {
    supabaseUrl: config.supabaseUrl || window.location.origin,
    publishableKey: config.publishableKey,
    demoClip: config.demoClip ? new URL(config.demoClip, window.location.href).href : '',
    videoAliases: config.videoAliases || {},
    // Next to hosted Supabase the functions run as a service of their own (docs/API.md).
    functionsUrl: config.functionsUrl || '',
  };
}

export function parseRoute(hash) {
  const m = /^#\/room\/([A-Za-z0-9_-]{1,32})(?:\?(.*))?$/.exec(hash || '');
  if (!m) return { view: 'lobby' };
  const params = new URLSearchParams(m[2] || '');
  return { view: 'room', roomId: m[1], key: params.get('key') || '' };
}

async function boot() {
  const root = document.getElementById('app');
  const status = document.getElementById('boot-status');
  let config;
  try {
    config = await loadConfig();
  } catch (exc) {
    fill(status, `This page is not set up: ${exc.message}. See docs/WEB.md ("Deploying the page").`);
    return;
  }
  const supabase = createClient(config.supabaseUrl, config.publishableKey, {
    auth: { persistSession: true, autoRefreshToken: true, storageKey: 'watchium.auth' },
    realtime: { heartbeatIntervalMs: 10000 },
  });
  if (config.functionsUrl) supabase.functionsUrl = new URL(config.functionsUrl.replace(/\/+$/, ''));
  let session = (await supabase.auth.getSession()).data.session;
  if (!session) {
    const { data, error } = await supabase.auth.signInAnonymously();
    if (error) {
      fill(status, `Could not sign in: ${error.message}. Reload to try again.`);
      return;
    }
    session = data.session;
  }
  status.remove();
  const app = {
    supabase,
    config,
    userId: session.user.id,
    get username() {
      return localStorage.getItem(NAME_KEY) || `Guest-${session.user.id.slice(0, 4)}`;
    },
    set username(value) {
      localStorage.setItem(NAME_KEY, value.trim().slice(0, 100));
    },
    go(hash) {
      window.location.hash = hash;
    },
  };
  let cleanup = null;
  const render = async () => {
    if (cleanup) await cleanup();
    cleanup = null;
    const route = parseRoute(window.location.hash);
    const view = h('div.view');
    fill(root, view);
    cleanup = route.view === 'room' ? await showRoom(app, view, route) : await showLobby(app, view);
  };
  window.addEventListener('hashchange', render);
  await render();
}

boot();
