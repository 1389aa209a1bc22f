"""Commands other packages add to ``watchium``: the ``watchium.cli`` entry-point group.

A plugin is a function ``register(app: typer.Typer)`` named by an entry point in that group. It
adds its commands to ``app`` and may return a *local server finder*: a function that takes no
argument and returns the URL and client key (publishable, or legacy anon) of a server running
on this machine (the key None
when it has none yet), or None when it cannot tell. The client commands use the first finder's
answer when neither ``--url`` nor ``WATCHIUM_URL`` names a server. The local stack is such a
plugin (``watchium_stack.cli:register``: ``watchium up``, ``keys``, ``db ...``), so the SDK
never imports it.

A plugin whose import fails (the SDK installed without the ``stack`` extra, say) is skipped,
with a debug log line saying why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import entry_points

import typer

__all__ = ["ENTRY_POINT_GROUP", "LocalServerFinder", "load_plugins", "local_server"]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "watchium.cli"

LocalServerFinder = Callable[[], tuple[str, str | None] | None]
"""Returns ``(url, client key or None)`` of a server on this machine, or None when it cannot
tell."""

_finders: list[LocalServerFinder] = []


def load_plugins(app: typer.Typer) -> list[str]:
    """Registers every installed plugin's commands on ``app``; returns the names loaded."""
    loaded: list[str] = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            register = entry.load()
        except ImportError as exc:
            logger.debug("watchium CLI plugin %r (%s) skipped: %s", entry.name, entry.value, exc)
            continue
        finder = register(app)
        if callable(finder):
            _finders.append(finder)
        loaded.append(entry.name)
    return loaded


def local_server() -> tuple[str, str | None] | None:
    """The first answer of the plugins' local server finders (None when none can tell)."""
    for finder in _finders:
        found = finder()
        if found is not None:
            return found
    return None
