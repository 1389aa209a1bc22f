"""supabase-js against the gateway, in both key models (the publishable key and ES256 sessions;
the legacy anon key and HS256 sessions): anonymous sign-in, function calls, a room followed over
Realtime (protocol 2.0.0), refresh, user, sign-out (after which the old token is refused), and
a secret key from a browser refused.

Uses the supabase-js installed for the Realtime tests (``npm ci --prefix tests/js``); skipped when
Node or that install is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import jwt
import pytest

from tests._pg import PROJECT_DIR
from watchium_stack.harness import SESSION_CHECK_INTERVAL, Stack

NODE_MODULES = PROJECT_DIR / "tests" / "js" / "node_modules"
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"

SCRIPT = r"""
const { createClient } = require("@supabase/supabase-js");
const WebSocket = require("ws");  // Node 20 has no global WebSocket for the Realtime client
(async () => {
  const [url, key, secretKey, browser, waitMs] = process.argv.slice(1);
  const supabase = createClient(url, key, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: WebSocket, params: { vsn: "2.0.0" } },
  });
  const out = {};
  const signIn = await supabase.auth.signInAnonymously({ options: { data: { nick: "js" } } });
  if (signIn.error) throw signIn.error;
  out.user = signIn.data.user;
  out.token = signIn.data.session.access_token;
  const created = await supabase.functions.invoke("rooms-create", { body: {
    title: "from js", anime_id: "js-anime", anime_title: "JS", video_url: "https://example.com/v.mp4",
    host_username: "js", is_public: true } });
  if (created.error) throw created.error;
  const room = created.data.data.room;
  out.room = room;
  const bad = await supabase.functions.invoke("sync-control", {
    body: { room_id: room.room_id, action: "warp" } });
  out.badStatus = bad.error && bad.error.context && bad.error.context.status;

  // Follow the room over Realtime, as the signed-in user, and play it.
  await supabase.realtime.setAuth();
  const changed = new Promise((resolve, reject) => {
    const filter = `room_id=eq.${room.room_id}`;
    supabase.channel(`room:${room.room_id}`, { config: { private: true } })
      .on("postgres_changes", { event: "UPDATE", schema: "public", table: "rooms", filter },
          (payload) => resolve(payload.new))
      .subscribe(async (status, err) => {
        if (status === "SUBSCRIBED") {
          const played = await supabase.functions.invoke("sync-control", {
            body: { room_id: room.room_id, action: "play", current_time: 12 } });
          if (played.error) reject(played.error);
        } else if (status === "CHANNEL_ERROR" || status === "TIMED_OUT") {
          reject(new Error(`${status}: ${err}`));
        }
      });
  });
  out.playing = await changed;
  await supabase.removeAllChannels();

  const refreshed = await supabase.auth.refreshSession();
  if (refreshed.error) throw refreshed.error;
  out.rotated = refreshed.data.session.refresh_token !== signIn.data.session.refresh_token;
  const me = await supabase.auth.getUser();
  if (me.error) throw me.error;
  out.me = me.data.user.id;
  const lastToken = refreshed.data.session.access_token;
  const signOut = await supabase.auth.signOut();
  out.signOutError = signOut.error ? String(signOut.error) : null;

  // The signed-out session's token: refused once the functions next look at its session.
  const deadline = Date.now() + Number(waitMs);
  for (;;) {
    const headers = {
      apikey: key, Authorization: `Bearer ${lastToken}`, "Content-Type": "application/json" };
    const response = await fetch(
      `${url}/functions/v1/rooms-list-public`, { method: "POST", body: "{}", headers });
    if (response.status !== 200 || Date.now() > deadline) {
      out.afterSignOut = { status: response.status, body: await response.json() };
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  // A secret key in a browser: refused by Auth and by the functions.
  const inBrowser = createClient(url, secretKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    global: { headers: { "User-Agent": browser } },
  });
  const browserSignIn = await inBrowser.auth.signInAnonymously();
  const signInError = browserSignIn.error;
  out.browserSignIn = signInError ? { status: signInError.status, code: signInError.code } : null;
  const browserCall = await inBrowser.functions.invoke("rooms-list-public", { body: {} });
  out.browserCall = browserCall.error
    ? { status: browserCall.error.context.status, body: await browserCall.error.context.json() }
    : null;
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
"""

pytestmark = [
    pytest.mark.js,
    pytest.mark.skipif(
        shutil.which("node") is None or not (NODE_MODULES / "@supabase" / "supabase-js").is_dir(),
        reason="needs node and `npm ci --prefix tests/js`",
    ),
]


def test_supabase_js_sessions_functions_and_realtime(model_stack: Stack) -> None:
    stack = model_stack
    # Time to wait for the functions to notice the sign-out: their check interval, and more.
    wait_ms = str(int(SESSION_CHECK_INTERVAL * 1000) + 10_000)
    result = subprocess.run(
        ["node", "-e", SCRIPT, stack.url, stack.client_key, stack.secret_key, BROWSER, wait_ms],
        cwd=PROJECT_DIR / "tests" / "js",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    signed_with = jwt.get_unverified_header(out["token"])["alg"]
    assert signed_with == ("HS256" if stack.key_model == "legacy" else "ES256")
    assert out["user"]["is_anonymous"] is True
    assert out["user"]["user_metadata"] == {"nick": "js"}
    assert out["room"]["host_user_id"] == out["user"]["id"] == out["me"]
    assert out["badStatus"] == 400
    assert (
        out["playing"]["is_playing"] is True and out["playing"]["room_id"] == out["room"]["room_id"]
    )
    assert out["rotated"] is True
    assert out["signOutError"] is None
    assert out["afterSignOut"]["status"] == 401
    assert out["afterSignOut"]["body"]["error"]["details"]["reason"] == "session_ended"
    assert out["browserSignIn"] == {"status": 401, "code": "secret_key_in_browser"}
    assert out["browserCall"]["status"] == 401
    assert out["browserCall"]["body"]["error"]["details"]["reason"] == "secret_key_in_browser"
