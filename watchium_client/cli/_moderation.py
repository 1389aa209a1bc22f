"""``watchium kick|ban|mute|cohost ROOM USER``: moderation from the command line (docs/NIGHTS.md).

| command | does |
| --- | --- |
| ``watchium kick ROOM USER [-r REASON]`` | remove a member (no joining again for 5 minutes) |
| ``watchium ban ROOM USER [-r REASON] [--undo]`` | remove a user, refuse their joins |
| ``watchium mute ROOM USER [-r REASON] [--undo]`` | refuse a member's comments |
| ``watchium cohost ROOM USER [--revoke]`` | make a member co-host (host only) |

USER is a member's name in the room, or a user id (a ban may name someone not in the room). The
host and co-hosts moderate; a co-host cannot act on the host or another co-host.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from watchium_client._api import WatchiumClient
from watchium_client.cli._common import (
    CommandError,
    JsonOption,
    KeyOption,
    UrlOption,
    out,
    resolve_target,
    run_command,
    signed_in,
)

__all__ = ["ban", "cohost", "kick", "mute"]

RoomArgument = Annotated[str, typer.Argument(metavar="ROOM", help="The room's id.")]
UserArgument = Annotated[
    str, typer.Argument(metavar="USER", help="A member's name in the room, or a user id.")
]
ReasonOption = Annotated[
    str | None, typer.Option("--reason", "-r", help="Why (kept in the audit log; 200 characters).")
]
UndoOption = Annotated[bool, typer.Option("--undo", help="Lift it instead.")]


async def _user_id(client: WatchiumClient, room_id: str, user: str) -> tuple[str, str]:
    """The user id and a name for ``user``: a member's name (which must be unambiguous), or
    else taken as a user id."""
    listed = await client.members(room_id)
    named = [m for m in listed.members if m.username == user]
    if len(named) > 1:
        raise CommandError(
            f"{len(named)} members of room {room_id} are called {user!r}: give the user id "
            f"({', '.join(m.user_id for m in named)})"
        )
    if named:
        return named[0].user_id, user
    return user, user


async def _moderate(
    room_id: str,
    user: str,
    action: str,
    reason: str | None,
    as_json: bool,
    url: str | None,
    key: str | None,
) -> None:
    target = resolve_target(url, key)
    async with signed_in(target, room_id) as client:
        user_id, name = await _user_id(client, room_id, user)
        result = await client.moderate(room_id, action, user_id, reason=reason)
    if as_json:
        out.print_json(json.dumps(result.model_dump(), default=str))
        return
    done = {
        "kick": "removed from",
        "ban": "banned from",
        "unban": "no longer banned from",
        "mute": "muted in",
        "unmute": "no longer muted in",
    }[action]
    tail = "" if result.changed else " (already)"
    out.print(f"{name} {done} room {room_id}{tail}")


@run_command
async def kick(
    room_id: RoomArgument,
    user: UserArgument,
    reason: ReasonOption = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Remove a member from a room you host or co-host (they may come back after 5 minutes)."""
    await _moderate(room_id, user, "kick", reason, as_json, url, key)


@run_command
async def ban(
    room_id: RoomArgument,
    user: UserArgument,
    reason: ReasonOption = None,
    undo: UndoOption = False,
    as_json: JsonOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Ban a user from a room you host or co-host: no key or invite lets them in again."""
    await _moderate(room_id, user, "unban" if undo else "ban", reason, as_json, url, key)


@run_command
async def mute(
    room_id: RoomArgument,
    user: UserArgument,
    reason: ReasonOption = None,
    undo: UndoOption = False,
    as_json: JsonOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Mute a member of a room you host or co-host: their comments there are refused."""
    await _moderate(room_id, user, "unmute" if undo else "mute", reason, as_json, url, key)


@run_command
async def cohost(
    room_id: RoomArgument,
    user: UserArgument,
    revoke: Annotated[bool, typer.Option("--revoke", help="Take co-host back.")] = False,
    as_json: JsonOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Make a member of a room you host a co-host: playback control and moderation."""
    target = resolve_target(url, key)
    async with signed_in(target, room_id) as client:
        user_id, name = await _user_id(client, room_id, user)
        result = await client.set_cohost(room_id, user_id, not revoke)
    if as_json:
        out.print_json(json.dumps(result.model_dump(), default=str))
        return
    state = "a co-host" if result.member.is_cohost else "no longer a co-host"
    out.print(f"{name} is {state} of room {room_id}")
