"""``watchium rooms list|create|join|leave``: rooms from the command line.

| command | does |
| --- | --- |
| ``watchium rooms list [--anime ID]`` | the public rooms with members, most recently active first |
| ``watchium rooms create TITLE --anime-id ID --video-url URL [--private]`` | a room you host |
| ``watchium rooms join ROOM [--access-key KEY]`` | join (a private room needs its key) |
| ``watchium rooms join --invite TOKEN`` | join a private room with a host's invite |
| ``watchium rooms leave ROOM`` | leave (a leaving host hands over to the earliest member) |
| ``watchium rooms invite ROOM [--ttl SECONDS]`` | a signed invite to a private room you host |
| ``watchium rooms rotate-key ROOM`` | a new access key: the old one and every invite stop working |

A membership lapses 30 s after its last heartbeat; ``watchium watch`` keeps one alive.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from watchium_client._api import invite_room_id
from watchium_client.cli._common import (
    AccessKeyOption,
    CommandError,
    JsonOption,
    KeyOption,
    UrlOption,
    UsernameOption,
    console,
    default_username,
    out,
    resolve_target,
    run_command,
    signed_in,
)
from watchium_wire.responses import Member, RoomSnapshot

__all__ = ["rooms_app", "format_position"]

rooms_app = typer.Typer(
    help="Rooms: list the public ones, create, join and leave; invite and rotate keys.",
    no_args_is_help=True,
)


def format_position(seconds: float) -> str:
    """``1:02:03.4`` / ``2:03.4``: a playback position for people."""
    seconds = max(0.0, seconds)
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:04.1f}" if hours else f"{minutes}:{secs:04.1f}"


def _playback(room: RoomSnapshot) -> str:
    sign = "▶" if room.is_playing else "⏸"
    speed = f" ×{room.playback_speed:g}" if room.playback_speed != 1 else ""
    return f"{sign} {format_position(room.live_position)}{speed}"


def _dump(data: Any) -> None:
    out.print_json(json.dumps(data, default=str))


def _print_room(room: RoomSnapshot, members: list[Member] | None = None) -> None:
    out.print(f"[bold]{room.title}[/]  [dim]{room.room_id}[/]")
    visibility = "public" if room.is_public else "private"
    out.print(
        f"  {room.anime_title} ({room.anime_id}) episode {room.episode_number} · {visibility}"
        f" · host {room.host_username}"
    )
    out.print(f"  {_playback(room)}  {room.video_url}", soft_wrap=True)
    if members:
        names = ", ".join(m.username + (" (host)" if m.is_host else "") for m in members)
        out.print(f"  members: {names}")


@rooms_app.command("list")
@run_command
async def list_rooms(
    anime: Annotated[
        str | None, typer.Option("--anime", metavar="ID", help="Only this anime id.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100, metavar="N")] = 20,
    as_json: JsonOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """List public rooms with members, most recently active first."""
    target = resolve_target(url, key)
    # A public read: no new identity just for this.
    async with signed_in(target, sign_in=False) as client:
        listed = await client.list_public_rooms(anime_id=anime, limit=limit)
    if as_json:
        _dump([room.model_dump() for room in listed.rooms])
        return
    if not listed.rooms:
        console.print("No public rooms with members right now. Create one: watchium rooms create")
        return
    table = Table(title_justify="left", box=None, pad_edge=False)
    for column in ("room", "title", "anime", "ep", "members", "playback", "host"):
        table.add_column(column, justify="right" if column in ("ep", "members") else "left")
    for room in listed.rooms:
        table.add_row(
            room.room_id,
            room.title,
            room.anime_title,
            str(room.episode_number),
            str(room.member_count),
            _playback(room),
            room.host_username,
        )
    out.print(table)


@rooms_app.command("create")
@run_command
async def create_room(
    title: Annotated[str, typer.Argument(metavar="TITLE", help="The room's title.")],
    anime_id: Annotated[str, typer.Option("--anime-id", metavar="ID", help="The anime's id.")],
    video_url: Annotated[
        str, typer.Option("--video-url", metavar="URL", help="http(s) URL of the video.")
    ],
    anime_title: Annotated[
        str | None, typer.Option("--anime-title", metavar="TEXT", help="Default: the anime id.")
    ] = None,
    episode: Annotated[int, typer.Option("--episode", min=1, metavar="N")] = 1,
    private: Annotated[
        bool, typer.Option("--private", help="Members need the 6-digit access key.")
    ] = False,
    username: UsernameOption = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Create a room hosted by you."""
    target = resolve_target(url, key)
    async with signed_in(target) as client:
        created = await client.create_room(
            title=title,
            anime_id=anime_id,
            anime_title=anime_title or anime_id,
            video_url=video_url,
            username=username or default_username(),
            episode_number=episode,
            is_public=not private,
        )
    if as_json:
        _dump(
            {
                "room": created.room.model_dump(),
                "access_key": created.access_key,
                "realtime": created.realtime.model_dump(by_alias=True),
            }
        )
        return
    room_id = created.room.room_id
    console.print(f"[green]created[/] room [bold]{room_id}[/] (you are the host)")
    _print_room(created.room)
    if created.access_key:
        out.print(f"  access key: [bold]{created.access_key}[/] (share it with your friends)")
    key_hint = f" --access-key {created.access_key}" if created.access_key else ""
    console.print(f"Watch it: watchium watch {room_id} FILE{key_hint}")


@rooms_app.command("join")
@run_command
async def join_room(
    room_id: Annotated[
        str | None, typer.Argument(metavar="ROOM", help="The room id (not with --invite).")
    ] = None,
    access_key: AccessKeyOption = None,
    invite: Annotated[
        str | None,
        typer.Option("--invite", "-i", metavar="TOKEN", help="A host's invite to a private room."),
    ] = None,
    username: UsernameOption = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Join a room (a private one needs its access key or an invite).

    The membership lapses after 30 s without heartbeats: `watchium watch` keeps it.
    """
    if invite is not None:
        try:
            invited = invite_room_id(invite)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if room_id is not None and room_id != invited:
            raise CommandError(f"the invite is for room {invited}, not {room_id}")
        room_id = invited
    if room_id is None:
        raise CommandError("name the ROOM to join, or give --invite TOKEN")
    target = resolve_target(url, key)
    async with signed_in(target, room_id, access_key=access_key) as client:
        joined = await client.join_room(
            room_id,
            username=username or default_username(),
            access_key=access_key,
            invite_token=invite,
        )
        listed = await client.members(room_id)
    if as_json:
        _dump(
            {
                "room": joined.room.model_dump(),
                "member": joined.member.model_dump(),
                "rejoined": joined.rejoined,
                "members": [m.model_dump() for m in listed.members],
            }
        )
        return
    verb = "rejoined" if joined.rejoined else "joined"
    role = " as its host" if joined.member.is_host else ""
    console.print(f"[green]{verb}[/] room [bold]{room_id}[/]{role}")
    _print_room(listed.room, list(listed.members))


@rooms_app.command("invite")
@run_command
async def invite(
    room_id: Annotated[str, typer.Argument(metavar="ROOM", help="A private room you host.")],
    ttl: Annotated[
        int, typer.Option("--ttl", metavar="SECONDS", help="How long it works (60 to 604800).")
    ] = 86_400,
    as_json: JsonOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """A signed invite to a private room you host: it cannot be guessed, and rotating the key
    ends it."""
    target = resolve_target(url, key)
    async with signed_in(target, room_id) as client:
        created = await client.create_invite(room_id, ttl_seconds=ttl)
    if as_json:
        _dump(created.model_dump(mode="json"))
        return
    console.print(
        f"invite to [bold]{room_id}[/], valid until {created.expires_at:%Y-%m-%d %H:%M} UTC:"
    )
    out.print(created.invite_token)
    console.print(f"  join with: watchium rooms join --invite {created.invite_token}")


@rooms_app.command("rotate-key")
@run_command
async def rotate_key(
    room_id: Annotated[str, typer.Argument(metavar="ROOM", help="A private room you host.")],
    as_json: JsonOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Give a private room you host a new access key: the old key and every invite stop
    working; members stay."""
    target = resolve_target(url, key)
    async with signed_in(target, room_id) as client:
        rotated = await client.rotate_access_key(room_id)
    if as_json:
        _dump(rotated.model_dump())
        return
    console.print(f"new access key of [bold]{room_id}[/]: [bold]{rotated.access_key}[/]")


@rooms_app.command("leave")
@run_command
async def leave_room(
    room_id: Annotated[str, typer.Argument(metavar="ROOM", help="The room id.")],
    as_json: JsonOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Leave a room (a leaving host hands the room to the earliest-joined member)."""
    target = resolve_target(url, key)
    async with signed_in(target, room_id) as client:
        left = await client.leave_room(room_id)
    if as_json:
        _dump(left.model_dump())
        return
    console.print(f"[green]left[/] room [bold]{room_id}[/]")
    if left.was_host:
        if left.host_user_id:
            console.print(f"  the host role moved on ({left.members_left} member(s) left)")
        else:
            console.print("  the room is empty now")
