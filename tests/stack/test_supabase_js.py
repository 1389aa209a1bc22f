"""supabase-js against the gateway: anonymous sign-in, a function call, refresh, user, sign-out.

Uses the supabase-js installed for the Realtime tests (``npm ci --prefix tests/js``); skipped when
Node or that install is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests._pg import PROJECT_DIR
from watchium_stack.harness import Stack

NODE_MODULES = PROJECT_DIR / "tests" / "js" / "node_modules"

SCRIPT = r"""
const { createClient } = require("@supabase/supabase-js");
const WebSocket = require("ws");  // Node 20 has no global WebSocket for the Realtime client
(async () => {
  const [url, key] = process.argv.slice(1);
  const supabase = createClient(url, key, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: WebSocket },
  });
  const out = {};
  const signIn = await supabase.auth.signInAnonymously({ options: { data: { nick: "js" } } });
  if (signIn.error) throw signIn.error;
  out.user = signIn.data.user;
  const created = await supabase.functions.invoke("rooms-create", { body: {
    title: "from js", anime_id: "js-anime", anime_title: "JS", video_url: "https://example.com/v.mp4",
    host_username: "js", is_public: true } });
  if (created.error) throw created.error;
  out.room = created.data.data.room;
  const bad = await supabase.functions.invoke("sync-control", {
    body: { room_id: out.room.room_id, action: "warp" } });
  out.badStatus = bad.error && bad.error.context && bad.error.context.status;
  const refreshed = await supabase.auth.refreshSession();
  if (refreshed.error) throw refreshed.error;
  out.rotated = refreshed.data.session.refresh_token !== signIn.data.session.refresh_token;
  const me = await supabase.auth.getUser();
  if (me.error) throw me.error;
  out.me = me.data.user.id;
  const signOut = await supabase.auth.signOut();
  out.signOutError = signOut.error ? String(signOut.error) : null;
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


def test_supabase_js_anonymous_session_and_functions(stack: Stack) -> None:
    result = subprocess.run(
        ["node", "-e", SCRIPT, stack.url, stack.anon_key],
        cwd=PROJECT_DIR / "tests" / "js",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["user"]["is_anonymous"] is True
    assert out["user"]["user_metadata"] == {"nick": "js"}
    assert out["room"]["host_user_id"] == out["user"]["id"] == out["me"]
    assert out["badStatus"] == 400
    assert out["rotated"] is True
    assert out["signOutError"] is None
