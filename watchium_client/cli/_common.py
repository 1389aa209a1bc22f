"""What every client command of ``watchium`` shares: where the server is, who you are, and how a
refusal is told.

* **The server**: ``--url`` / ``--key``, else ``WATCHIUM_URL`` / ``WATCHIUM_PUBLISHABLE_KEY``
  (or the legacy ``WATCHIUM_ANON_KEY``), else the local stack: its URL and key as the
  local-stack plugin finds them (its data directory, as ``watchium keys`` prints them), or
  without it ``http://WATCHIUM_HOST:WATCHIUM_PORT``. The key is the project's publishable key or
  its legacy anon key; a secret key is refused (it bypasses row level security, and a command
  line is no place for it).
  The variables are :class:`~watchium_client.cli._settings.CliSettings`.
* **The identity**: the anonymous session (access and refresh token) is kept per URL in
  ``<config dir>/sessions.json`` (``WATCHIUM_CONFIG_DIR``, or the platform's config directory),
  readable by you only, so every command acts as the same user: the room you create, you host.
* **Refusals** become one red line that says what to do (start the stack, pass the key, wait N
  seconds), and exit code 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from watchium_client._api import WatchiumClient, key_role
from watchium_client._errors import (
    Banned,
    ConnectionFailed,
    KeyChecksPaused,
    Muted,
    NotHost,
    NotMember,
    RateLimited,
    RoomFull,
    RoomNotFound,
    SignInRequired,
    WatchiumError,
)
from watchium_client.cli._plugins import local_server
from watchium_client.cli._settings import CliSettings

__all__ = [
    "Target",
    "AccessKeyOption",
    "UrlOption",
    "KeyOption",
    "JsonOption",
    "UsernameOption",
    "CommandError",
    "config_dir",
    "connect_as",
    "console",
    "default_username",
    "explain",
    "explained",
    "load_sessions",
    "mpv_not_found",
    "session_tokens",
    "settings",
    "store_sessions",
    "out",
    "fail",
    "parse_position",
    "parse_segment",
    "open_client",
    "signed_in",
    "save_session",
    "resolve_target",
    "run_command",
]

console = Console(stderr=True, highlight=False)
out = Console(highlight=False)

P = ParamSpec("P")
T = TypeVar("T")

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        metavar="URL",
        help="The API URL (env WATCHIUM_URL; default: the local stack).",
    ),
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        metavar="KEY",
        help="The project's publishable key, or its legacy anon key (env "
        "WATCHIUM_PUBLISHABLE_KEY or WATCHIUM_ANON_KEY; default: the local stack's).",
    ),
]
AccessKeyOption = Annotated[
    str | None,
    typer.Option("--access-key", "-a", metavar="KEY", help="A private room's 6-digit access key."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
UsernameOption = Annotated[
    str | None,
    typer.Option(
        "--username",
        "-u",
        metavar="NAME",
        help="Your name in the room (default: your login name).",
    ),
]


class CommandError(Exception):
    """A failure to report as one line (exit code 1)."""


@dataclass(frozen=True)
class Target:
    """The server a command talks to."""

    url: str
    key: str
    local: bool
    """Whether it is the local stack (errors then suggest starting it)."""


def fail(message: str) -> typer.Exit:
    """Prints an error the way every command does and returns the exit to raise."""
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(1)


def settings() -> CliSettings:
    """The client commands' settings from the environment.

    Raises:
        CommandError: a variable holds a malformed value (the message names it).
    """
    try:
        return CliSettings.from_env()
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def default_username() -> str:
    """WATCHIUM_USERNAME, else the login name, else ``viewer``."""
    return (settings().username or "viewer")[:100]


def resolve_target(url: str | None, key: str | None) -> Target:
    """The server from the options, the environment or the local stack.

    Raises:
        CommandError: no key could be found, a secret key was given, or a setting is malformed.
    """
    env = settings()
    url = (url or env.url or "").rstrip("/") or None
    key = key or env.key or None
    local_url, local_key = local_server() or (env.local_url, None)
    if url is None:
        url = local_url
    local = url == local_url
    if key is None and local:
        key = local_key
    if key is None:
        if local:
            raise CommandError(
                f"no API key for the local stack at {url}: start it with `make dev` "
                "(or `watchium up`), or pass --key / set WATCHIUM_PUBLISHABLE_KEY"
            )
        raise CommandError(
            f"no API key for {url}: pass the project's publishable key with --key "
            "or set WATCHIUM_PUBLISHABLE_KEY"
        )
    if key_role(key) == "service_role":
        raise CommandError(
            "that is a secret key: it bypasses row level security and belongs on servers; "
            "pass the project's publishable key (or its legacy anon key) instead"
        )
    return Target(url=url, key=key, local=local)


def config_dir() -> Path:
    """Where the CLI keeps its sessions (WATCHIUM_CONFIG_DIR, or the platform's config dir)."""
    return settings().config_dir or Path(typer.get_app_dir("watchium"))


def _sessions_path(kind: str) -> Path:
    return config_dir() / f"{kind}.json"


def load_sessions(kind: str = "sessions") -> dict[str, Any]:
    """The cached sessions file (``{url: ...}``); empty when missing or unreadable."""
    try:
        data = json.loads(_sessions_path(kind).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def store_sessions(data: dict[str, Any], kind: str = "sessions") -> None:
    """Writes the sessions file atomically, readable by the user only (tokens are secrets)."""
    path = _sessions_path(kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{kind}-")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


async def session_tokens(client: WatchiumClient) -> dict[str, str] | None:
    """The client's current session as a dict to cache (None when signed out)."""
    session = await client.supabase.auth.get_session()
    if session is None or not session.refresh_token:
        return None
    return {
        "access_token": session.access_token,
        "refresh_token": session.refresh_token,
        "user_id": session.user.id if session.user else "",
    }


async def connect_as(
    target: Target, cached: dict[str, Any] | None, *, sign_in: bool = True
) -> WatchiumClient:
    """A client with the cached session when it is still good, else a new anonymous one.

    Raises:
        ConnectionFailed: the server does not answer.
    """
    if cached and cached.get("access_token") and cached.get("refresh_token"):
        try:
            return await WatchiumClient.connect(
                target.url,
                target.key,
                access_token=str(cached["access_token"]),
                refresh_token=str(cached["refresh_token"]),
            )
        except SignInRequired:
            pass  # expired for good, or another stack: a new identity
    return await WatchiumClient.connect(target.url, target.key, sign_in=sign_in)


async def open_client(target: Target, *, sign_in: bool = True) -> WatchiumClient:
    """The client for ``target`` as this user's cached identity (signing in the first time).

    With ``sign_in=False`` and no cached identity the client stays anonymous (public reads).

    Raises:
        ConnectionFailed: the server does not answer.
    """
    sessions = load_sessions()
    client = await connect_as(target, sessions.get(target.url), sign_in=sign_in)
    await save_session(client, target)
    return client


async def save_session(client: WatchiumClient, target: Target) -> None:
    """Caches the client's session for ``target`` (call again when done: tokens rotate)."""
    tokens = await session_tokens(client)
    if tokens is None:
        return
    sessions = load_sessions()
    if sessions.get(target.url) != tokens:
        sessions[target.url] = tokens
        store_sessions(sessions)


def explain(
    exc: WatchiumError,
    target: Target | None,
    *,
    room_id: str | None = None,
    access_key: str | None = None,
) -> str:
    """One line that says what went wrong and what to do (``access_key``: the key the command
    was given, which tells a missing key from a wrong one)."""
    room = f"room {room_id}" if room_id else "the room"
    if isinstance(exc, ConnectionFailed):
        if target is not None and target.local:
            return (
                f"cannot reach the local stack at {target.url}: is it running? "
                "Start it with `make dev` (or `watchium up`)"
            )
        where = target.url if target is not None else "the server"
        return f"cannot reach {where}: check --url / WATCHIUM_URL ({exc.message})"
    if isinstance(exc, KeyChecksPaused):
        return (
            f"too many refused joins (unknown rooms, wrong keys): joining rooms that need a key "
            f"is paused; try again in {_seconds(exc.retry_after)}"
        )
    if isinstance(exc, RateLimited):
        action = exc.details.get("action")
        what = f" ({action})" if action else ""
        return f"rate limited{what}: try again in {_seconds(exc.retry_after)}"
    if isinstance(exc, RoomNotFound):
        if access_key is not None:
            return (
                f"{room} not found, or the access key is wrong: check both with the host "
                "(refused joins are counted, and too many pause joining for a while)"
            )
        return f"{room} not found (a private room needs --access-key or --invite)"
    if isinstance(exc, RoomFull):
        return f"{room} is full"
    if isinstance(exc, NotHost):
        return f"not allowed in {room}: {exc.message}"
    if isinstance(exc, NotMember):
        if "user" in exc.message:  # the member a moderator named
            return exc.message
        return f"you are not a member of {room}: join it first"
    if isinstance(exc, Banned):
        return f"{exc.message}: {exc.hint}" if exc.hint else exc.message
    if isinstance(exc, Muted):
        return f"you are muted in {room}: {exc.hint}" if exc.hint else exc.message
    if isinstance(exc, SignInRequired):
        return f"sign-in refused: {exc.message}"
    return str(exc)


_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_CLOCK = re.compile(r"(?:([0-9]+):)?([0-9]+):([0-5][0-9](?:\.[0-9]+)?)")


def parse_position(text: str) -> float:
    """A position in the video as people write it: seconds (``90``, ``90.5``), ``m:ss``
    (``1:30``) or ``h:mm:ss`` (``1:02:03.5``).

    Raises:
        ValueError: ``text`` is none of these (the message shows the forms).
    """
    text = text.strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    clock = _CLOCK.fullmatch(text)
    if clock is None or (clock.group(1) is not None and int(clock.group(2)) >= 60):
        raise ValueError(f"{text!r} is not a position: give seconds (90), m:ss (1:30) or h:mm:ss")
    hours, minutes, seconds = clock.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)


def parse_segment(text: str, option: str) -> tuple[float, float]:
    """``START-END`` (each a :func:`parse_position`) as seconds, for the option ``option``.

    Raises:
        CommandError: not two positions, or the end is not after the start (says what to fix).
    """
    start, dash, end = text.partition("-")
    if not dash:
        raise CommandError(
            f"{option} {text!r}: give START-END, in seconds or m:ss (e.g. {option} 1:30-3:00)"
        )
    try:
        segment = parse_position(start), parse_position(end)
    except ValueError as exc:
        raise CommandError(f"{option}: {exc}") from None
    if round(segment[0], 2) >= round(segment[1], 2):
        raise CommandError(f"{option} {text}: the end must come after the start")
    return segment


def mpv_not_found(mpv: str) -> str:
    """What to do when the mpv binary ``mpv`` cannot be found."""
    return (
        f"mpv not found ({mpv!r} is not on PATH): install it (Debian, Ubuntu: "
        "`apt-get install mpv`; Fedora: `dnf install mpv`; macOS: `brew install mpv`; others: "
        "https://mpv.io/installation/), pass its path with --mpv PATH, "
        "or use --player simulated"
    )


def _seconds(value: float) -> str:
    if value < 90:
        return f"{max(1, round(value))} s"
    return f"{round(value / 60)} min"


def run_command(
    fn: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, T]:
    """Runs an async command; expected failures become one red line and exit code 1."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return asyncio.run(fn(*args, **kwargs))
        except CommandError as exc:
            raise fail(str(exc)) from None
        except WatchiumError as exc:
            raise fail(explain(exc, None)) from None
        except KeyboardInterrupt:
            console.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper


@contextlib.asynccontextmanager
async def explained(
    target: Target, room_id: str | None = None, *, access_key: str | None = None
) -> AsyncIterator[None]:
    """Turns a WatchiumError raised inside into the command's one-line explanation."""
    try:
        yield
    except WatchiumError as exc:
        raise CommandError(explain(exc, target, room_id=room_id, access_key=access_key)) from exc


@contextlib.asynccontextmanager
async def signed_in(
    target: Target,
    room_id: str | None = None,
    *,
    sign_in: bool = True,
    access_key: str | None = None,
) -> AsyncIterator[WatchiumClient]:
    """A client for one command: refusals explained (see :func:`explained`), the session's
    tokens cached again when the command is done (they rotate), the client closed."""
    async with explained(target, room_id, access_key=access_key):
        client = await open_client(target, sign_in=sign_in)
        try:
            yield client
            await save_session(client, target)
        finally:
            await client.close()
