"""The whole local gateway for tests: functions, auth and Realtime (when installed) on a free port.

``start_stack(database)`` runs ``python -m watchium_stack.gateway`` in a **subprocess** against the
test run's database (the ``database`` fixture) and returns a :class:`Stack`. A subprocess rather
than a thread: fault tests can kill it and start it again (``stack.restart()``), and the server's
event loop, signal handling and crashes stay out of the test process. Its log goes to
``stack.log_path`` (shown when it fails to start).

The session fixture ``stack`` (tests/conftest.py) is the one to use::

    async def test_something(stack: Stack) -> None:
        async with stack.client() as client:            # signed in anonymously
            options = {"body": {...}, "responseType": "json"}
            room = await client.functions.invoke("rooms-create", options)
        token = stack.access_token()                    # another user, without signing in
        url = f"{stack.url}/functions/v1/rooms-join"
        r = httpx.post(url, headers=stack.headers(token), json={...})

| attribute | what |
| --- | --- |
| ``url`` | ``http://127.0.0.1:PORT`` (what supabase-py calls SUPABASE_URL) |
| ``realtime_url`` | ``ws://127.0.0.1:PORT/realtime/v1`` |
| ``anon_key``, ``service_role_key`` | the project's keys (JWTs signed with ``jwt_secret``) |
| ``jwt_secret`` | the test run's secret |
| ``db_url`` | the superuser URL of the database (``database.url``) |
| ``api_db_url`` | the same database as ``authenticator`` |

Helpers:

* ``client(sign_in=True, key=None, **options)``: async context manager yielding a supabase-py
  ``AsyncClient`` on the stack, signed in anonymously (or not; ``key`` defaults to the anon key);
* ``sync_client(...)``: the same with the sync ``Client``;
* ``access_token(user_id=None, **claims)``: mint a user's access token without signing in (fast;
  the user has no ``auth.users`` row, which only the auth endpoints care about);
* ``headers(token=None)``: ``apikey`` and ``Authorization`` headers for raw HTTP;
* ``stop()``, ``start()``, ``restart()``: stop (SIGTERM) and start the gateway process again, on
  the same port.

The gateway's Realtime service (when installed) uses a replication slot of its own,
``watchium_stack_<port>``, so other Realtime servers on the same database do not collide with it.

Anonymous sign-ins are limited per IP (Supabase's 30 per hour); the test gateway raises that to
``SIGNUPS_PER_HOUR`` so suites can sign in freely. Tests of the limit itself run their own
:class:`~watchium_stack.auth.AuthService` with another client address.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import selectors
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests._pg import PROJECT_DIR, TestDatabase
from watchium_functions.tokens import encode_token
from watchium_stack.gateway import READY_LINE, authenticator_url
from watchium_stack.keys import keys_from_secret
from watchium_stack.postgres import free_port

__all__ = ["Stack", "start_stack", "launch_gateway", "SIGNUPS_PER_HOUR"]

SIGNUPS_PER_HOUR = 100_000
# How long the gateway may take to start; only ever reached when it is broken.
_STARTUP_TIMEOUT = 60.0


@dataclass
class Stack:
    """A running gateway subprocess and how to talk to it (see the module docstring)."""

    __test__ = False

    url: str
    port: int
    anon_key: str
    service_role_key: str
    jwt_secret: str
    db_url: str
    api_db_url: str
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    _drain: threading.Thread | None = field(default=None, repr=False)

    @property
    def realtime_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/realtime/v1"

    @property
    def functions_url(self) -> str:
        return self.url + "/functions/v1"

    # -- process ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the gateway process and wait until it listens.

        Raises:
            RuntimeError: it exited or did not get ready; the message has its log's tail.
        """
        if self.process is not None and self.process.poll() is None:
            return
        log = self.log_path.open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "watchium_stack.gateway", "--port", str(self.port)],
            cwd=PROJECT_DIR,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        self.process = proc
        assert proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        buffer = b""
        try:
            while READY_LINE.encode() not in buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    self.process = proc
                    self.stop()
                    raise RuntimeError(f"the gateway did not get ready:\n{self.log_tail()}")
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    self.stop()
                    raise RuntimeError(
                        f"the gateway exited with {proc.returncode}:\n{self.log_tail()}"
                    )
                buffer += chunk
        finally:
            selector.close()
        # Keep reading stdout so the process never blocks on a full pipe.
        self._drain = threading.Thread(target=_drain, args=(proc,), daemon=True)
        self._drain.start()

    def stop(self) -> None:
        """Stop the gateway (SIGTERM, then SIGKILL if it hangs)."""
        proc, self.process = self.process, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._drain is not None:
            self._drain.join(timeout=5)
            self._drain = None
        if proc.stdout is not None:
            proc.stdout.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # -- credentials -----------------------------------------------------------------------

    def access_token(self, user_id: str | None = None, *, ttl: int = 3600, **claims: Any) -> str:
        """A user's access token, signed like the auth server's (no sign-in, no auth.users row)."""
        now = int(time.time())
        body: dict[str, Any] = {
            "sub": user_id or str(uuid.uuid4()),
            "role": "authenticated",
            "aud": "authenticated",
            "iat": now,
            "exp": now + ttl,
            "is_anonymous": True,
            "session_id": str(uuid.uuid4()),
        }
        body.update(claims)
        return encode_token(body, self.jwt_secret)

    def headers(self, token: str | None = None, *, apikey: str | None = None) -> dict[str, str]:
        """Headers for a raw HTTP call: the anon key as apikey and ``token`` (or the key) as
        bearer."""
        key = apikey if apikey is not None else self.anon_key
        return {"apikey": key, "Authorization": f"Bearer {token or key}"}

    # -- supabase-py clients -----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def client(
        self, *, sign_in: bool = True, key: str | None = None, **options: Any
    ) -> AsyncIterator[Any]:
        """A supabase-py ``AsyncClient`` on this stack, signed in anonymously unless
        ``sign_in=False``; closed on exit. ``options`` go to ``AsyncClientOptions``."""
        from supabase import AsyncClientOptions, acreate_client

        http = httpx.AsyncClient(timeout=30)
        opts = AsyncClientOptions(
            httpx_client=http,
            auto_refresh_token=options.pop("auto_refresh_token", False),
            persist_session=options.pop("persist_session", False),
            **options,
        )
        client = await acreate_client(self.url, key or self.anon_key, options=opts)
        try:
            if sign_in:
                await client.auth.sign_in_anonymously()
            yield client
        finally:
            with contextlib.suppress(Exception):
                await client.remove_all_channels()
            await http.aclose()

    @contextlib.contextmanager
    def sync_client(
        self, *, sign_in: bool = True, key: str | None = None, **options: Any
    ) -> Iterator[Any]:
        """The same with supabase-py's sync ``Client``."""
        from supabase import ClientOptions, create_client

        http = httpx.Client(timeout=30)
        opts = ClientOptions(
            httpx_client=http,
            auto_refresh_token=options.pop("auto_refresh_token", False),
            persist_session=options.pop("persist_session", False),
            **options,
        )
        client = create_client(self.url, key or self.anon_key, options=opts)
        try:
            if sign_in:
                client.auth.sign_in_anonymously()
            yield client
        finally:
            http.close()


def _drain(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdout is not None
    with contextlib.suppress(OSError, ValueError):
        while proc.stdout.read(4096):
            pass


def start_stack(database: TestDatabase, *, signups_per_hour: int = SIGNUPS_PER_HOUR) -> Stack:
    """Start the gateway against ``database`` on a free port (see the module docstring).

    Raises:
        RuntimeError: the gateway did not start (with its log).
    """
    stack = launch_gateway(database.url, signups_per_hour=signups_per_hour)
    database._cleanup.append(stack.stop)
    return stack


def launch_gateway(db_url: str, *, signups_per_hour: int = SIGNUPS_PER_HOUR) -> Stack:
    """Start the gateway subprocess against the migrated database at ``db_url`` (superuser URL)
    with new keys, on a free port. The caller stops it (``stack.stop()``); benchmarks use this
    with their own throwaway database.

    Raises:
        RuntimeError: the gateway did not start (with its log).
    """
    keys = keys_from_secret(secrets.token_urlsafe(48), int(time.time()))
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="watchium-stack-"))
    api_db_url = authenticator_url(db_url)
    env = {
        **os.environ,
        "WATCHIUM_PROJECT_DIR": str(PROJECT_DIR),
        "WATCHIUM_DATA_DIR": str(tmp),
        "WATCHIUM_HOST": "127.0.0.1",
        "WATCHIUM_PORT": str(port),
        "WATCHIUM_DB_URL": db_url,
        "WATCHIUM_API_DB_URL": api_db_url,
        "WATCHIUM_JWT_SECRET": keys.jwt_secret,
        "WATCHIUM_ANON_KEY": keys.anon_key,
        "WATCHIUM_SERVICE_ROLE_KEY": keys.service_role_key,
        "WATCHIUM_ANON_SIGNUPS_PER_HOUR": str(signups_per_hour),
        # A slot of its own: other Realtime servers (tests/realtime) may share the database.
        "WATCHIUM_REALTIME_SLOT": f"watchium_stack_{port}",
        "PYTHONUNBUFFERED": "1",
    }
    stack = Stack(
        url=f"http://127.0.0.1:{port}",
        port=port,
        anon_key=keys.anon_key,
        service_role_key=keys.service_role_key,
        jwt_secret=keys.jwt_secret,
        db_url=db_url,
        api_db_url=api_db_url,
        log_path=tmp / "gateway.log",
        env=env,
    )
    stack.start()
    return stack
