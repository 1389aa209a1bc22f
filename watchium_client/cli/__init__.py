"""The ``watchium`` command.

| command | does |
| --- | --- |
| ``watchium rooms list\\|create\\|join\\|leave`` | rooms from the command line |
| ``watchium watch ROOM FILE`` | join a room and keep a local mpv in sync (the host controls it) |
| ``watchium demo`` | a simulated party against the stack, with a live table of the drift |

When the local-stack package is installed alongside (it is, in this repository), its commands
(``watchium up``, ``watchium keys``, ``watchium db ...``) are added too. Client commands find the
server through ``--url``/``--key``, ``WATCHIUM_URL``/``WATCHIUM_ANON_KEY``, or the local stack.
"""

from __future__ import annotations

import typer

from watchium_client.cli._demo import demo
from watchium_client.cli._rooms import rooms_app
from watchium_client.cli._watch import watch

__all__ = ["app", "main"]

app = typer.Typer(
    name="watchium",
    help="Watchium: synchronized anime watch parties on Supabase.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(rooms_app, name="rooms")
app.command()(watch)
app.command()(demo)

try:
    from watchium_stack.cli import register as _register_stack
except ImportError:  # the SDK without the local stack
    pass
else:
    _register_stack(app)


def main() -> None:
    """Entry point of the ``watchium`` console script."""
    app()
