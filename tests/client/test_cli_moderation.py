"""``watchium kick|ban|mute|cohost`` against the real gateway: members named by their names,
refusals explained in one line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.client.test_cli import create, invoke, ok
from watchium_stack.harness import Stack


def test_moderation_commands(stack: Stack, tmp_path: Path) -> None:
    host, mod, troll, fan = (tmp_path / n for n in ("host", "mod", "troll", "fan"))
    room_id = create(stack, host, "Frieren night", "--username", "hana")["room"]["room_id"]
    for home, name in ((mod, "mod"), (troll, "troll"), (fan, "fan")):
        ok(invoke(stack, home, "rooms", "join", room_id, "-u", name))

    # A member may not moderate.
    refused = invoke(stack, fan, "kick", room_id, "troll")
    assert refused.exit_code == 1
    assert "only the host or a co-host can moderate members" in refused.output

    assert "mod is a co-host" in ok(invoke(stack, host, "cohost", room_id, "mod")).output
    muted = ok(invoke(stack, mod, "mute", room_id, "troll", "-r", "spoilers")).output
    assert f"troll muted in room {room_id}" in muted
    # A co-host cannot act on the host.
    refused = invoke(stack, mod, "ban", room_id, "hana")
    assert refused.exit_code == 1 and "a co-host cannot act on the host" in refused.output

    kicked = json.loads(ok(invoke(stack, mod, "kick", room_id, "troll", "--json")).stdout)
    assert kicked["action"] == "kick" and kicked["changed"] is True
    back = invoke(stack, troll, "rooms", "join", room_id)
    assert back.exit_code == 1 and "you were removed from room" in back.output
    assert "you may join again in" in back.output

    troll_id = kicked["target_user_id"]
    assert f"banned from room {room_id}" in ok(invoke(stack, host, "ban", room_id, troll_id)).output
    again = invoke(stack, troll, "rooms", "join", room_id)
    assert again.exit_code == 1 and "you are banned from room" in again.output
    ok(invoke(stack, host, "ban", room_id, troll_id, "--undo"))
    ok(invoke(stack, troll, "rooms", "join", room_id))

    missing = invoke(stack, host, "kick", room_id, "nobody-here")
    assert missing.exit_code == 1 and "is not a member of room" in missing.output
    assert (
        "no longer a co-host"
        in ok(invoke(stack, host, "cohost", room_id, "mod", "--revoke")).output
    )
