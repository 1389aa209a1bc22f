"""The local gateway on 127.0.0.1:54321: one ASGI app standing in for a Supabase project's API.

| path | served by |
| --- | --- |
| ``/functions/v1/<name>`` | the function bundle (:mod:`functions`), as ``authenticator`` |
| ``/auth/v1/...`` | the anonymous-sign-in auth server (:mod:`watchium_stack.auth`) |
| ``/realtime/v1/...`` | ``watchium_stack.realtime.RealtimeService`` if installed; else 503 |
| ``/health`` | whether the database answers and Realtime runs |
| ``/``, other GETs | the web app (``web/dist``, ``config.json``, the demo clip): ``_static`` |

supabase-py and supabase-js pointed at ``http://127.0.0.1:54321`` with the publishable key (or the
legacy anon key) work unchanged.
Raw ASGI dispatch on the path prefix: it costs nothing per request next to a framework's router.

Run it with ``watchium up`` (which also runs the database and cleanup), or alone against a running
database with ``python -m watchium_stack.gateway`` (settings: :class:`GatewaySettings`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import importlib
import logging
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

from watchium_functions import FunctionsApp, FunctionsSettings
from watchium_functions.apikeys import ApiKeys
from watchium_functions.asgi import (
    CORS_HEADERS,
    PREFLIGHT_HEADERS,
    Receive,
    Scope,
    Send,
    run_lifespan,
    send_json,
)
from watchium_functions.jwks import JWKS_PATH
from watchium_stack._config import GatewaySettings, StackSettings, authenticator_url
from watchium_stack._static import StaticSite
from watchium_stack.auth import AuthService
from watchium_stack.keys import SigningKeys

__all__ = [
    "Gateway",
    "GatewaySettings",
    "GatewayServer",
    "PortInUse",
    "authenticator_url",
    "bind_socket",
    "event_loop_factory",
    "log_to_stderr",
    "main",
    "serve",
    "uvicorn_config",
    "KEEP_ALIVE",
    "READY_LINE",
]

logger = logging.getLogger(__name__)

FUNCTIONS = "/functions/v1"
AUTH = "/auth/v1"
REALTIME = "/realtime/v1"
READY_LINE = "WATCHIUM_GATEWAY_READY"

KEEP_ALIVE = 30
"""Seconds an idle HTTP connection is kept open (see ``uvicorn_config``)."""

# Realtime that could not start (the database was down) is tried again after 0.5 s, doubling to 5 s.
_REALTIME_RETRY_FIRST = 0.5
_REALTIME_RETRY_MAX = 5.0


class PortInUse(OSError):
    """The gateway's port is taken by another process."""


def _load_realtime(
    settings: GatewaySettings, signing_keys: SigningKeys | None
) -> tuple[Any | None, str]:
    """The Realtime service when its package is installed, else (None, why not)."""
    try:
        # Imported by name: the package is developed (and may be absent) separately.
        module = importlib.import_module("watchium_stack.realtime")
        service_class = module.RealtimeService
    except (ImportError, AttributeError) as exc:
        return None, f"the Realtime service is not installed ({exc})"
    extra: dict[str, Any] = {}
    if settings.realtime_slot:
        extra["slot_name"] = settings.realtime_slot
    try:
        # The keys straight from their file, as Supabase's own services trust them: a revoked
        # key is refused at once, with no cache in between.
        service = service_class(
            db_url=settings.db_url,
            authorizer_url=settings.functions_db_url,
            jwt_secret=settings.jwt_secret,
            api_keys={settings.publishable_key, settings.secret_key},
            jwks=signing_keys,
            **extra,
        )
    except Exception as exc:
        logger.exception("the Realtime service could not be created")
        return None, f"the Realtime service could not be created: {exc}"
    return service, ""


def _strip_prefix(scope: Scope, prefix: str) -> Scope:
    """The scope as a sub-app mounted at ``prefix`` sees it (path relative, root_path extended)."""
    child = dict(scope)
    path: str = scope["path"][len(prefix) :]
    child["path"] = path or "/"
    raw = scope.get("raw_path")
    if raw is not None:
        child["raw_path"] = bytes(raw)[len(prefix.encode()) :] or b"/"
    child["root_path"] = scope.get("root_path", "") + prefix
    return child


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


class Gateway:
    """The gateway ASGI app (see the module docstring). Its lifespan starts and stops the parts."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        signing_keys = settings.signing_keys()
        # The functions as they run next to a hosted project: the keys by value, the signing
        # keys from the published JWKS (this gateway's own, over HTTP), the legacy secret.
        self.functions = FunctionsApp(
            FunctionsSettings(
                db_url=settings.functions_db_url,
                jwks_url=settings.url + JWKS_PATH,
                publishable_keys=(settings.publishable_key,),
                secret_keys=(settings.secret_key,),
                jwt_secret=settings.jwt_secret,
                jwks_ttl=settings.jwks_ttl,
                session_check_interval=settings.session_check_interval,
                pool_max=settings.pool_max,
            )
        )
        self.auth = AuthService(
            settings.db_url,
            settings.jwt_secret,
            signing_keys=signing_keys,
            api_keys=ApiKeys([settings.publishable_key], [settings.secret_key]),
            issuer=settings.url + AUTH,
            anonymous_signups_per_hour=settings.anonymous_signups_per_hour,
        )
        self.realtime, self.realtime_problem = _load_realtime(settings, signing_keys)
        self.realtime_running = False
        stack = StackSettings.from_env()
        self.site = StaticSite(
            stack.project_dir / "web" / "dist",
            publishable_key=settings.publishable_key,
            seed_file=stack.seed_file,
        )
        self.realtime_restarts = 0
        """How many times Realtime was restarted in place (SIGHUP, :meth:`restart_realtime`)."""
        self._realtime_lock = asyncio.Lock()
        self._realtime_retry: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        """Open the pools and start Realtime. A Realtime failure (the database is down, say) is
        logged, not fatal: the gateway keeps trying in the background until Realtime runs."""
        await self.functions.startup()
        await self.auth.start()
        if self.realtime is not None and not await self._start_realtime():
            self._realtime_retry = asyncio.create_task(self._keep_starting_realtime())

    async def shutdown(self) -> None:
        """Stop Realtime and close the pools."""
        if self._realtime_retry is not None:
            self._realtime_retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._realtime_retry
            self._realtime_retry = None
        await self._stop_realtime()
        await self.auth.stop()
        await self.functions.shutdown()

    async def restart_realtime(self) -> None:
        """Stop Realtime and start it again (``python -m watchium_stack.gateway`` does this on
        SIGHUP): every socket is closed (1001 "server shutting down"), the service makes a new
        replication slot, and clients reconnect, rejoin and refetch."""
        if self.realtime is None:
            return
        await self._stop_realtime()
        if await self._start_realtime():
            self.realtime_restarts += 1
        elif self._realtime_retry is None or self._realtime_retry.done():
            self._realtime_retry = asyncio.create_task(self._keep_starting_realtime())

    async def _start_realtime(self) -> bool:
        assert self.realtime is not None
        async with self._realtime_lock:
            if self.realtime_running:
                return True
            try:
                await self.realtime.start()
            except Exception as exc:
                logger.warning("the Realtime service failed to start: %s", exc)
                self.realtime_problem = f"the Realtime service failed to start: {exc}"
                return False
            self.realtime_running = True
            self.realtime_problem = ""
            return True

    async def _stop_realtime(self) -> None:
        if self.realtime is None:
            return
        async with self._realtime_lock:
            if not self.realtime_running:
                return
            self.realtime_running = False
            try:
                await self.realtime.stop()
            except Exception:
                logger.exception("the Realtime service failed to stop cleanly")

    async def _keep_starting_realtime(self) -> None:
        delay = _REALTIME_RETRY_FIRST
        while True:
            await asyncio.sleep(delay)
            if await self._start_realtime():
                logger.warning("the Realtime service started")
                return
            delay = min(delay * 2, _REALTIME_RETRY_MAX)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope.get("path", "")
        if _under(path, REALTIME):
            await self._realtime(scope, receive, send)
        elif kind != "http":
            await self._refuse_websocket(receive, send)
        elif _under(path, FUNCTIONS):
            await self.functions(scope, receive, send)
        elif _under(path, AUTH):
            await self.auth(_strip_prefix(scope, AUTH), receive, send)
        elif path in ("/health", "/health/"):
            await self._health(scope, send)
        elif scope["method"] == "OPTIONS":
            await send_json(send, 204, None, headers=PREFLIGHT_HEADERS)
        elif self.site.handles(scope):
            await self.site(scope, receive, send)
        else:
            await send_json(
                send,
                404,
                {
                    "error": {
                        "code": "WH404",
                        "message": f"nothing at {path}",
                        "hint": f"the API is under {FUNCTIONS}, {AUTH} and {REALTIME}",
                    }
                },
                headers=CORS_HEADERS,
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await run_lifespan(receive, send, self.startup, self.shutdown, name="the gateway")

    async def _realtime(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.realtime is not None and self.realtime_running:
            await self.realtime.app(_strip_prefix(scope, REALTIME), receive, send)
            return
        if scope["type"] == "websocket":
            await self._refuse_websocket(receive, send)
            return
        if scope["type"] == "http":
            await send_json(
                send,
                503,
                {
                    "error": {
                        "code": "WH503",
                        "message": self.realtime_problem or "Realtime is down",
                    }
                },
                headers=[(b"retry-after", b"5"), *CORS_HEADERS],
            )

    async def _refuse_websocket(self, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] == "websocket.connect":
            # 1013: try again later.
            await send({"type": "websocket.close", "code": 1013})

    async def _health(self, scope: Scope, send: Send) -> None:
        database = await self.functions.db.ping()
        if self.realtime is None:
            realtime = "not installed"
        elif self.realtime_running:
            realtime = "up"
        else:
            realtime = "failed"
        body = {
            "status": "ok" if database else "degraded",
            "database": database,
            "realtime": realtime,
            "realtime_detail": self.realtime_problem or None,
            "realtime_restarts": self.realtime_restarts,
            "functions": "up",
            "auth": "up",
        }
        await send_json(send, 200 if database else 503, body, headers=CORS_HEADERS)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port), for uvicorn.

    Raises:
        PortInUse: another process holds the port.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise PortInUse(
                f"port {port} on {host} is already in use (another `watchium up`, or "
                "`supabase start`?): stop it, or choose another port with WATCHIUM_PORT"
            ) from None
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class GatewayServer(uvicorn.Server):
    """uvicorn's server without its own signal handling (the caller decides when to stop, by
    setting ``should_exit``, so ``watchium up`` can stop the database and cleanup too) and with a
    callback once it listens."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None] | None = None):
        super().__init__(config)
        self._on_ready = on_ready

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._on_ready is not None:
            self._on_ready()


def uvicorn_config(app: Gateway, *, log_level: str = "warning") -> uvicorn.Config:
    """uvicorn settings for the gateway: httptools when installed, no access log."""
    return uvicorn.Config(
        app,
        http="auto",
        ws="auto",
        # Realtime frames a broadcast once for all its sockets; per-socket compression would
        # cost ~9.5 us per frame per socket and defeat that (docs/REALTIME.md).
        ws_per_message_deflate=False,
        lifespan="on",
        access_log=False,
        log_level=log_level,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=5,
        # An idle keep-alive connection is kept longer than the SDK waits between its calls (a
        # clock sample every 5 s, a heartbeat every 10 s): closed at uvicorn's default of 5 s,
        # it was now and then closed just as a client reused it, and that request failed.
        timeout_keep_alive=KEEP_ALIVE,
    )


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory when uvloop is installed (it is, with uvicorn[standard])."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def serve(
    settings: GatewaySettings,
    *,
    sock: socket.socket | None = None,
    on_ready: Callable[[], None] | None = None,
    stop: asyncio.Event | None = None,
    log_level: str = "warning",
) -> None:
    """Serve the gateway until ``stop`` is set (or SIGINT/SIGTERM when ``stop`` is None; then
    SIGHUP restarts Realtime in place).

    Raises:
        PortInUse: the port is taken.
        RuntimeError: the gateway failed to start.
    """
    sock = sock or bind_socket(settings.host, settings.port)
    gateway = Gateway(settings)
    server = GatewayServer(uvicorn_config(gateway, log_level=log_level), on_ready)
    loop = asyncio.get_running_loop()
    restarts: set[asyncio.Task[None]] = set()

    def restart_realtime() -> None:
        task = loop.create_task(gateway.restart_realtime())
        restarts.add(task)
        task.add_done_callback(restarts.discard)

    if stop is None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, restart_realtime)

    async def stopper() -> None:
        await stop.wait()
        server.should_exit = True

    watcher = asyncio.create_task(stopper())
    try:
        await server.serve(sockets=[sock])
    except SystemExit:
        # uvicorn exits the process when the lifespan startup fails; report it instead.
        raise RuntimeError("the gateway failed to start (see the log above)") from None
    finally:
        watcher.cancel()
        sock.close()
    if not server.started:
        raise RuntimeError("the gateway failed to start (see the log above)")


def log_to_stderr(level: str = "warning") -> None:
    """Show the stack's log records of ``level`` and above on stderr: the packages only add a
    ``NullHandler``, so without this a 500's cause, logged by the function app, is never seen."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m watchium_stack.gateway``: serve the gateway; prints READY_LINE once listening."""
    parser = argparse.ArgumentParser(prog="python -m watchium_stack.gateway")
    parser.add_argument("--host", help="listen address (default WATCHIUM_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default WATCHIUM_PORT or 54321)")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    log_to_stderr(args.log_level)
    overrides: dict[str, Any] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    try:
        settings = GatewaySettings.from_env(**overrides)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    def ready() -> None:
        print(f"{READY_LINE} {settings.url}", flush=True)

    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(serve(settings, on_ready=ready, log_level=args.log_level))
    except PortInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
