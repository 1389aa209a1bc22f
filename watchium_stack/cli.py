"""``watchium db ...``: the local database from the command line.

| command | does |
| --- | --- |
| ``watchium db start`` | create (first time) and start the cluster, migrate (seed a new one) |
| ``watchium db stop`` | stop the cluster |
| ``watchium db status`` | whether it runs, where, and which migrations are applied |
| ``watchium db migrate`` | apply pending migrations |
| ``watchium db reset [--hard]`` | drop and rebuild the database from the migrations and seed.sql |
| ``watchium db psql [ARGS]`` | open psql on the database |
| ``watchium db url`` | print the connection URL |
| ``watchium db binaries`` | print which PostgreSQL binaries would be used (exit 1 if none) |
| ``watchium up`` | the whole local stack: database, cleanup, gateway on :54321; Ctrl-C stops it |
| ``watchium keys [--env\\|--export]`` | print the API URL and the project's keys |

The keys lead with the kind the stack issues (``WATCHIUM_KEYS``): the publishable and secret keys
of today's Supabase by default, the legacy ``anon`` and ``service_role`` keys with ``legacy``.

The ``watchium`` command (:mod:`watchium_client.cli`) loads these through the ``watchium.cli``
entry point, :func:`register`, which also tells its client commands where the local stack is.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from watchium_functions.jwks import JWKS_PATH
from watchium_stack._config import StackSettings
from watchium_stack._up_rooms import local_rooms, print_next_steps, print_rooms
from watchium_stack.binaries import find_binaries
from watchium_stack.database import Database, DatabaseError
from watchium_stack.keys import KeyModel, ProjectKeys
from watchium_stack.migrate import Migration, MigrationError, applied_versions, load_migrations
from watchium_stack.postgres import PostgresError

__all__ = ["db_app", "register", "fail", "load_config", "local_stack"]

console = Console(stderr=True, highlight=False)
out = Console(highlight=False)

db_app = typer.Typer(
    help="The local PostgreSQL: start, stop, migrate, reset, psql.", no_args_is_help=True
)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> typer.Exit:
    """Print an error the way every command does and return the exit to raise."""
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(1)


def friendly_errors(fn: F) -> F:
    """Turn the stack's expected failures into one red line and exit code 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (PostgresError, DatabaseError, MigrationError, FileNotFoundError, ValueError) as exc:
            raise fail(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def load_config() -> StackSettings:
    """The stack's settings from the environment.

    Raises:
        ValueError: a variable holds a malformed value (the message names it).
        FileNotFoundError: no project directory was found.
    """
    return StackSettings.from_env()


def _progress(mig: Migration) -> None:
    console.print(f"  applying [cyan]{mig.path.name}[/]")


def print_connection(db: Database) -> None:
    out.print(f"[bold]Database[/]  {db.url}", soft_wrap=True)
    psql = shutil.which("psql")
    if psql:
        out.print(f"[bold]psql[/]      psql '{db.url}'   (or: watchium db psql)", soft_wrap=True)
    else:
        out.print("[bold]psql[/]      watchium db psql")


@db_app.command()
@friendly_errors
def start() -> None:
    """Start the database (creating it on first use) and apply pending migrations."""
    db = Database(load_config())
    console.print("Starting PostgreSQL..." if not db.external else "Checking WATCHIUM_DB_URL...")
    applied = db.ensure_ready(progress=_progress)
    console.print(f"[green]ready[/] ({len(applied)} migration(s) applied)")
    print_connection(db)


@db_app.command()
@friendly_errors
def stop() -> None:
    """Stop the local database."""
    db = Database(load_config())
    if db.external:
        raise fail("WATCHIUM_DB_URL points at an external database: nothing to stop")
    console.print("[green]stopped[/]" if db.stop() else "not running")


@db_app.command()
@friendly_errors
def status() -> None:
    """Show whether the database runs and which migrations are applied."""
    config = load_config()
    db = Database(config)
    if db.cluster is not None:
        st = db.cluster.status()
        state = f"[green]running[/] (pid {st.pid})" if st.running else "[yellow]stopped[/]"
        if not st.initialized:
            state = "[yellow]not created yet[/] (watchium db start creates it)"
        out.print(f"[bold]Cluster[/]    {st.pgdata} — {state}")
        out.print(f"[bold]Port[/]       {config.host}:{st.port}")
        if not st.running:
            return
    try:
        with db.connect() as conn:
            applied = applied_versions(conn)
    except DatabaseError as exc:
        raise fail(str(exc)) from None
    pending = [m for m in load_migrations(config.migrations_dir) if m.version not in applied]
    out.print(f"[bold]Database[/]   {db.url}")
    out.print(f"[bold]Migrations[/] {len(applied)} applied, {len(pending)} pending")
    for mig in pending:
        out.print(f"  pending: {mig.path.name}")


@db_app.command()
@friendly_errors
def migrate() -> None:
    """Apply pending migrations."""
    db = Database(load_config())
    applied = db.setup(seed=False, progress=_progress)
    console.print(f"[green]up to date[/] ({len(applied)} migration(s) applied)")


@db_app.command()
@friendly_errors
def reset(
    hard: Annotated[
        bool,
        typer.Option(
            "--hard", help="Delete the whole cluster first (e.g. after a version change)."
        ),
    ] = False,
    seed: Annotated[bool, typer.Option("--seed/--no-seed", help="Load supabase/seed.sql.")] = True,
) -> None:
    """Drop the local database and rebuild it from the migrations (and seed.sql)."""
    db = Database(load_config())
    applied = db.reset(hard=hard, seed=seed, progress=_progress)
    seeded = ", seed data loaded" if seed else ""
    console.print(f"[green]reset[/] ({len(applied)} migration(s) applied{seeded})")
    print_connection(db)
    print_rooms(*local_rooms(db))


@db_app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@friendly_errors
def psql(ctx: typer.Context) -> None:
    """Open psql on the database (extra arguments go to psql)."""
    config = load_config()
    db = Database(config)
    program = shutil.which("psql")
    if program is None and db.cluster is not None:
        candidate = db.cluster.binaries.bindir / "psql"
        program = str(candidate) if candidate.exists() else None
    if program is None:
        raise fail(
            "psql not found: install the PostgreSQL client "
            "(Debian: apt-get install postgresql-client)"
        )
    os.execvp(program, [program, db.url, *ctx.args])


@db_app.command()
@friendly_errors
def url() -> None:
    """Print the database URL."""
    out.print(Database(load_config()).url, soft_wrap=True)


@db_app.command()
@friendly_errors
def binaries() -> None:
    """Print which PostgreSQL server binaries the stack would use (exit 1 when there are none)."""
    config = load_config()
    found = find_binaries(config.pg_bindir)
    out.print(f"{found.bindir} (PostgreSQL {found.major}, from {found.source})")


def _snippet(api_url: str, key: str) -> str:
    return f"""from supabase import create_client

client = create_client("{api_url}", "{key}")
client.auth.sign_in_anonymously()
room = client.functions.invoke("rooms-create", {{"responseType": "json", "body": {{
    "title": "Frieren night", "anime_id": "frieren", "anime_title": "Frieren",
    "episode_number": 1, "video_url": "https://example.com/frieren/01.mkv",
    "host_username": "me", "is_public": True}}}})
print(room["data"]["room"]["room_id"], room["data"]["realtime_channel"])"""


def client_key(keys: ProjectKeys, model: KeyModel) -> str:
    """The key a client of this stack starts with: the publishable key, or the legacy anon key."""
    return keys.anon_key if model == "legacy" else keys.publishable_key


def _key_lines(keys: ProjectKeys, model: KeyModel) -> list[tuple[str, str]]:
    if model == "legacy":
        return [("anon key", keys.anon_key), ("service_role key", keys.service_role_key)]
    return [("Publishable key", keys.publishable_key), ("Secret key", keys.secret_key)]


def print_api(api_url: str, keys: ProjectKeys, model: KeyModel, *, every_key: bool = False) -> None:
    """The URLs and keys a client needs (``every_key``: the other kind of keys too)."""
    ws_url = api_url.replace("http", "ws", 1)
    lines = [
        ("API URL", api_url),
        ("Realtime", f"{ws_url}/realtime/v1"),
        ("OpenAPI", f"{api_url}/functions/v1/openapi.json"),
        ("JWKS", f"{api_url}{JWKS_PATH}"),
        *_key_lines(keys, model),
    ]
    if every_key:
        other: KeyModel = "current" if model == "legacy" else "legacy"
        label = "Legacy {}" if other == "legacy" else "{} (also accepted)"
        lines += [(label.format(name), key) for name, key in _key_lines(keys, other)]
    width = max(len(name) for name, _ in lines) + 1
    for name, value in lines:
        out.print(f"[bold]{name}[/]{' ' * (width - len(name))}{value}", soft_wrap=True)


@friendly_errors
def up() -> None:
    """Run the local stack until Ctrl-C: database, migrations, cleanup timer and the gateway
    (functions, anonymous auth, Realtime) on WATCHIUM_HOST:WATCHIUM_PORT (127.0.0.1:54321)."""
    import asyncio
    import signal

    from watchium_stack.cleanup import cleanup_loop
    from watchium_stack.gateway import (
        GatewaySettings,
        PortInUse,
        bind_socket,
        event_loop_factory,
        log_to_stderr,
        serve,
    )
    from watchium_stack.keys import load_or_create_keys

    config = load_config()
    log_to_stderr()  # the gateway's warnings and errors, a failure's cause among them
    # Take the port first: a clash is reported before anything else starts.
    try:
        sock = bind_socket(config.host, config.port)
    except PortInUse as exc:
        raise fail(str(exc)) from None
    db = Database(config)
    was_running = db.cluster is not None and db.cluster.running_pid() is not None
    try:
        console.print("Starting PostgreSQL..." if db.cluster else "Checking WATCHIUM_DB_URL...")
        applied = db.ensure_ready(progress=_progress)
        console.print(f"[green]ready[/] ({len(applied)} migration(s) applied)")
        print_connection(db)
        rooms, total = local_rooms(db)
        keys = load_or_create_keys(config.data_dir)
        # The stack's own database and data-directory keys; the rest (WATCHIUM_API_DB_URL,
        # WATCHIUM_ANON_SIGNUPS_PER_HOUR, ...) from the environment, as GatewaySettings reads it.
        settings = GatewaySettings.from_env(
            db_url=db.url,
            jwt_secret=keys.jwt_secret,
            anon_key=keys.anon_key,
            service_role_key=keys.service_role_key,
            publishable_key=keys.publishable_key,
            secret_key=keys.secret_key,
            data_dir=config.data_dir,
            host=config.host,
            port=config.port,
        )
        model = settings.key_model

        def ready() -> None:
            print_api(config.api_url, keys, model)
            if not db.external:
                print_rooms(rooms, total)
            print_next_steps(rooms)
            out.print("\n[bold]Or with supabase-py[/] (pip install supabase):\n")
            snippet = _snippet(config.api_url, client_key(keys, model))
            out.print(snippet, soft_wrap=True, markup=False)
            # The web app (docs/WEB.md): the one link to open.
            out.print(f"\n[bold]Open the watch party:[/] {config.api_url}/", soft_wrap=True)
            console.print("\nRunning cleanup every 10 s. [bold]Ctrl-C[/] stops the stack.")

        async def run() -> None:
            loop = asyncio.get_running_loop()
            stop = asyncio.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            cleanup = asyncio.create_task(cleanup_loop(db.url))
            try:
                await serve(settings, sock=sock, on_ready=ready, stop=stop)
            finally:
                cleanup.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await cleanup

        # A server that goes down (a crash whose recovery failed, e.g. on a full disk) is
        # started again: nobody has to restart the stack.
        with db.supervised(), asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(run())
        console.print("Gateway stopped.")
    except RuntimeError as exc:
        raise fail(str(exc)) from None
    finally:
        sock.close()
        if not was_running and db.stop():
            console.print("PostgreSQL stopped.")


@friendly_errors
def keys(
    env: Annotated[
        bool, typer.Option("--env", help="Print SUPABASE_URL=... lines for a .env file.")
    ] = False,
    export: Annotated[
        bool,
        typer.Option(
            "--export",
            help="Print export lines of the API URL and the publishable key, as WATCHIUM_URL "
            "and WATCHIUM_PUBLISHABLE_KEY (the SDK examples and the client commands) and as "
            "SUPABASE_URL and SUPABASE_PUBLISHABLE_KEY (supabase clients): "
            'eval "$(watchium keys --export)". With WATCHIUM_KEYS=legacy, the anon key, as '
            "WATCHIUM_ANON_KEY and SUPABASE_ANON_KEY.",
        ),
    ] = False,
) -> None:
    """Print the API URL and the project's keys (publishable and secret; anon and service_role,
    the legacy ones)."""
    from watchium_stack.keys import load_or_create_keys

    config = load_config()
    project = load_or_create_keys(config.data_dir)
    model = config.key_model
    if export:
        name = "ANON_KEY" if model == "legacy" else "PUBLISHABLE_KEY"
        url, key = shlex.quote(config.api_url), shlex.quote(client_key(project, model))
        for prefix in ("WATCHIUM", "SUPABASE"):
            out.print(f"export {prefix}_URL={url} {prefix}_{name}={key}", soft_wrap=True)
        return
    if env:
        lines = {
            "SUPABASE_URL": config.api_url,
            "SUPABASE_PUBLISHABLE_KEY": project.publishable_key,
            "SUPABASE_SECRET_KEY": project.secret_key,
            "SUPABASE_ANON_KEY": project.anon_key,
            "SUPABASE_SERVICE_ROLE_KEY": project.service_role_key,
            "SUPABASE_JWT_SECRET": project.jwt_secret,
        }
        for variable, value in lines.items():
            out.print(f"{variable}={value}", soft_wrap=True)
        return
    print_api(config.api_url, project, model, every_key=True)
    out.print(f"[bold]Keys kept in[/] {config.data_dir}", soft_wrap=True)


def local_stack() -> tuple[str, str | None] | None:
    """The local stack's API URL and the key its clients use (the publishable key, or the legacy
    anon key with ``WATCHIUM_KEYS=legacy``; None when it has never been started here), for the
    client commands; None when the stack's settings cannot tell (no project, a malformed
    variable: the client then uses its own defaults and reports the variable itself)."""
    try:
        config = load_config()
    except (FileNotFoundError, ValueError):
        return None
    # Read the keys only if the stack made them: never create a secret from a client command.
    if not (config.data_dir / "jwt_secret").exists():
        return config.api_url, None
    from watchium_stack.keys import load_or_create_keys

    try:
        project = load_or_create_keys(config.data_dir)
    except ValueError:
        return config.api_url, None
    return config.api_url, client_key(project, config.key_model)


def register(app: typer.Typer) -> Callable[[], tuple[str, str | None] | None]:
    """The ``watchium.cli`` plugin: adds the stack's commands (``up``, ``keys``, ``db ...``) to the
    ``watchium`` application and returns how its client commands find the local stack."""
    app.command()(up)
    app.command()(keys)
    app.add_typer(db_app, name="db")
    return local_stack
