"""What ``watchium up`` says about the rooms: the first rooms of the local database (a private
one with its access key) and what to type in another terminal to use them."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from watchium_stack.database import Database

__all__ = ["RoomLine", "local_rooms", "print_rooms", "print_next_steps"]

out = Console(highlight=False)


@dataclass(frozen=True)
class RoomLine:
    """A room of the local database, as ``watchium up`` lists it."""

    room_id: str
    title: str
    access_key: str | None


_ROOMS_SHOWN = 5


def local_rooms(db: Database) -> tuple[list[RoomLine], int]:
    """The first rooms of the local database (oldest first, a private one with its access key)
    and how many there are; none for an external database, whose keys are not ours to print.

    Raises:
        DatabaseError: the database does not answer.
    """
    if db.external:
        return [], 0
    with db.connect() as conn:
        rows = conn.execute(
            "select r.room_id, r.title, k.access_key, count(*) over () "
            "from public.rooms r left join watchium.room_access_keys k using (room_id) "
            "order by r.created_at, r.is_public desc, r.title limit %s",
            (_ROOMS_SHOWN,),
        ).fetchall()
    total = int(rows[0][3]) if rows else 0
    return [RoomLine(room_id, title, key) for room_id, title, key, _ in rows], total


def print_rooms(rooms: list[RoomLine], total: int) -> None:
    label = "[bold]Rooms[/]            "
    if not rooms:
        out.print(f"{label}none (`watchium db reset` loads the two demo rooms of seed.sql)")
        return
    for room in rooms:
        kind = "public" if room.access_key is None else f"private, access key {room.access_key}"
        out.print(f"{label}{room.room_id}  {escape(room.title)} ({kind})", soft_wrap=True)
        label = " " * 17
    if total > len(rooms):
        out.print(f"{label}and {total - len(rooms)} more")


def _on_path() -> tuple[str | None, str]:
    """How to run ``watchium`` from another shell: the line that puts it on PATH (None when it is
    there already) and the command to type."""
    here = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    found = shutil.which("watchium")
    if found is not None and (here is None or Path(found).resolve() == here):
        return None, "watchium"
    if sys.prefix != sys.base_prefix:  # a virtualenv: activating it puts watchium on PATH
        activate = Path(sys.prefix) / "bin" / "activate"
        with contextlib.suppress(ValueError):
            activate = activate.relative_to(Path.cwd())
        return f"source {shlex.quote(str(activate))}", "watchium"
    script = Path(sys.executable).parent / "watchium"
    return None, shlex.quote(str(script)) if script.exists() else "watchium"


def print_next_steps(rooms: list[RoomLine]) -> None:
    activate, watchium = _on_path()
    out.print("\n[bold]From another terminal[/]:")
    if activate is not None:
        out.print(f"  {activate}   [dim]# puts watchium and the SDK on your PATH[/]")
    # The other terminal finds this stack only with the same settings.
    settings = " ".join(
        f"{name}={shlex.quote(os.environ[name])}"
        for name in ("WATCHIUM_HOST", "WATCHIUM_PORT", "WATCHIUM_DATA_DIR", "WATCHIUM_KEYS")
        if os.environ.get(name)
    )
    out.print(
        f'  eval "$({settings + " " if settings else ""}{watchium} keys --export)"   '
        "[dim]# the URL and the key, for the examples[/]",
        soft_wrap=True,
    )
    private = next((room for room in rooms if room.access_key is not None), None)
    if private is not None:
        out.print(
            f"  {watchium} rooms join {private.room_id} --access-key {private.access_key}",
            soft_wrap=True,
        )
    else:
        out.print(f"  {watchium} demo")
