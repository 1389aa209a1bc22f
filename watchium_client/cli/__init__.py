"""The ``watchium`` command.

| command | does |
| --- | --- |
| ``watchium rooms list\\|create\\|join\\|leave`` | rooms from the command line |
| ``watchium watch ROOM FILE`` | join a room and keep a local mpv in sync (the host controls it) |
| ``watchium demo`` | a simulated party against the stack, with a live table of the drift |
| ``watchium stats ROOM`` | a room's viewer analytics, with a chart (you must host it) |
| ``watchium kick\\|ban\\|mute\\|cohost ROOM USER`` | moderation (docs/NIGHTS.md) |
| ``watchium queue ...`` | the episode queue: list, add, remove, move, next, previous, play, auto |
| ``watchium skip\\|skips ROOM`` | skip the opening or ending for everyone; show or mark them |
| ``watchium ready ROOM`` | a ready check followed until the room starts; answer or cancel it |

Installed plugins (the ``watchium.cli`` entry points, :mod:`watchium_client.cli._plugins`) add
their commands: with the local stack installed alongside (it is, in this repository),
``watchium up``, ``watchium keys`` and ``watchium db ...``. Client commands find the server
through ``--url``/``--key``, ``WATCHIUM_URL``/``WATCHIUM_PUBLISHABLE_KEY`` (or the legacy
``WATCHIUM_ANON_KEY``), or the local stack.
"""

from __future__ import annotations

import typer

from watchium_client.cli._demo import demo
from watchium_client.cli._help import PlainHelpGroup
from watchium_client.cli._moderation import ban, cohost, kick, mute
from watchium_client.cli._nights import ready, skip, skips
from watchium_client.cli._plugins import load_plugins
from watchium_client.cli._queue import queue_app
from watchium_client.cli._rooms import rooms_app
from watchium_client.cli._stats import stats
from watchium_client.cli._watch import watch

__all__ = ["app", "main"]

app = typer.Typer(
    name="watchium",
    cls=PlainHelpGroup,
    help="Watchium: synchronized anime watch parties on Supabase.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(rooms_app, name="rooms")
app.add_typer(queue_app, name="queue")
app.command()(watch)
app.command()(demo)
app.command()(stats)
app.command()(kick)
app.command()(ban)
app.command()(mute)
app.command()(cohost)
app.command()(skip)
app.command()(skips)
app.command()(ready)
load_plugins(app)


def main() -> None:
    """Entry point of the ``watchium`` console script."""
    app()
