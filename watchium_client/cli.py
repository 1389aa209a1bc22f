"""The ``watchium`` command.

Client commands live here; when the local-stack package is installed alongside (it is, in this
repository), its commands (``watchium up``, ``watchium db ...``) are added too.
"""

from __future__ import annotations

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    name="watchium",
    help="Watchium: synchronized anime watch parties on Supabase.",
    no_args_is_help=True,
    add_completion=False,
)

try:
    from watchium_stack.cli import register as _register_stack
except ImportError:  # the SDK without the local stack
    pass
else:
    _register_stack(app)


def main() -> None:
    """Entry point of the ``watchium`` console script."""
    app()
