"""How ``watchium ... --help`` shows parameters.

typer tags every parameter in the help with its Python type (``--json <bool>``, ``ROOM <str>``),
which tells a command-line user little and is wrong for flags, which take no value. Here a flag
shows nothing, an option its metavar (``--video-url URL``; each value option names one) and an
argument its name alone; the usage line writes a required argument as ``ROOM``, an optional one
as ``[ROOM]``.

:class:`PlainHelpGroup` is the ``watchium`` application's group class: it gives every command it
hands out, the plugins' included, this help, so no command has to ask for it.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

__all__ = ["PlainHelpGroup"]

# An option without a metavar of its own shows the kind of value it takes.
_KINDS = {
    "str": "TEXT",
    "int": "INTEGER",
    "int range": "INTEGER",
    "float": "NUMBER",
    "float range": "NUMBER",
    "path": "PATH",
}


class _PlainOption(TyperOption):
    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        if self.metavar is not None:
            return str(self.metavar)
        shown = (super().display_type_rich(ctx) or "").strip("<>")
        if "|" in shown:
            return f"[{shown}]"  # the choices, as they are typed
        return _KINDS.get(shown, shown.upper())


class _PlainArgument(TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = str(self.metavar or self.name or "").upper()
        return [name if self.required else f"[{name}]"]


def _plain_params(params: list[Any]) -> list[Any]:
    # typer makes its parameters itself, so they are given their plain class here; the
    # subclasses add methods only, so the objects stay what they were otherwise.
    for param in params:
        if type(param) is TyperOption:
            param.__class__ = _PlainOption
        elif type(param) is TyperArgument:
            param.__class__ = _PlainArgument
    return params


class _PlainHelpCommand(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_params(super().get_params(ctx))


class PlainHelpGroup(TyperGroup):
    """A command group whose help, and every subcommand's, shows no Python type tags."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_params(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if type(command) is TyperCommand:
            command.__class__ = _PlainHelpCommand
        elif type(command) is TyperGroup:
            command.__class__ = PlainHelpGroup
        return command
