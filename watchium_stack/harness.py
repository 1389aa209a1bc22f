"""A throwaway local stack for the test suite and the benchmarks: one harness for both.

* :func:`throwaway_database`: a migrated PostgreSQL (no seed data) in a temporary directory on a
  free port, deleted afterwards;
* :func:`launch_gateway`: ``python -m watchium_stack.gateway`` in a subprocess against a
  database, on a free port, with new keys (of the key model asked for), as a :class:`Stack`;
* :func:`throwaway_stack`: both at once, removed afterwards (what a benchmark needs);
* :class:`Stack`: the running gateway: its URLs and keys, tokens and headers, supabase-py
  clients, its signing keys (to rotate them), ``stop()``, ``start()`` and ``restart()``, and
  the faults the chaos tests inject: ``kill()``, ``freeze()``/``thaw()``, ``restart_realtime()``;
* :func:`access_token`: a user's access token signed with a legacy secret, without signing in;
* :func:`stop_process`: SIGTERM, then SIGKILL when a process hangs.

The gateway runs in a **subprocess** rather than a thread: fault tests can kill it and start it
again (``stack.restart()``, on the same port), and the server's event loop, signal handling and
crashes stay out of the caller's process. Its log goes to ``stack.log_path`` (shown when it fails
to start)::

    with throwaway_stack() as stack:
        async with stack.client() as client:            # signed in anonymously
            options = {"body": {...}, "responseType": "json"}
            room = await client.functions.invoke("rooms-create", options)
        token = stack.access_token()                    # another user, without signing in
        url = f"{stack.url}/functions/v1/rooms-join"
        r = httpx.post(url, headers=stack.headers(token), json={...})

The gateway's Realtime service (when installed) uses a replication slot of its own,
``watchium_stack_<port>``, so other Realtime servers on the same database do not collide with it.
Anonymous sign-ins are limited per IP (Supabase's 30 per hour); a harness gateway raises that to
:data:`SIGNUPS_PER_HOUR` so a test suite or a benchmark can sign in freely, and notices ended
sessions within :data:`SESSION_CHECK_INTERVAL` seconds.

A stack's clients use ``stack.client_key``: the publishable key for the ``current`` key model
(the default: sessions signed with an ES256 signing key), the legacy anon key for ``legacy``
(sessions signed with the JWT secret). Every kind of key is accepted by both.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from watchium_functions.tokens import encode_token
from watchium_stack._config import authenticator_url, find_project_dir
from watchium_stack.database import throwaway_database
from watchium_stack.gateway import READY_LINE
from watchium_stack.keys import KeyModel, SigningKeys, new_keys, signing_keys_path
from watchium_stack.postgres import free_port

if TYPE_CHECKING:
    from supabase import AsyncClient, Client

__all__ = [
    "SESSION_CHECK_INTERVAL",
    "SIGNUPS_PER_HOUR",
    "Stack",
    "access_token",
    "launch_gateway",
    "stop_process",
    "throwaway_database",
    "throwaway_stack",
]

SIGNUPS_PER_HOUR = 100_000
"""Anonymous sign-ups per hour and address a harness gateway allows: in effect, no limit."""

SESSION_CHECK_INTERVAL = 1.0
"""Seconds within which a harness gateway's functions refuse the tokens of an ended session."""

# How long the gateway may take to start; only ever reached when it is broken.
_STARTUP_TIMEOUT = 60.0


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _claims(user_id: str | None, ttl: int, claims: dict[str, Any]) -> dict[str, Any]:
    now = int(time.time())
    body: dict[str, Any] = {
        "sub": user_id or str(uuid.uuid4()),
        "role": "authenticated",
        "aud": "authenticated",
        "iat": now,
        "exp": now + ttl,
        "is_anonymous": True,
    }
    body.update(claims)
    return body


def access_token(
    jwt_secret: str, user_id: str | None = None, *, ttl: int = 3600, **claims: Any
) -> str:
    """A user's access token signed with the legacy secret ``jwt_secret``, with the claims the
    auth server issues but a ``session_id`` (no sign-in, no ``auth.users`` row or session, which
    only the auth endpoints care about); ``claims`` are added or replace the defaults."""
    return encode_token(_claims(user_id, ttl, claims), jwt_secret)


@dataclass
class Stack:
    """A running gateway subprocess and how to talk to it.

    | attribute | what |
    | --- | --- |
    | ``url`` | ``http://127.0.0.1:PORT`` (what supabase-py calls SUPABASE_URL) |
    | ``realtime_url`` | ``ws://127.0.0.1:PORT/realtime/v1`` |
    | ``key_model`` | ``current`` or ``legacy``: what the stack issues |
    | ``client_key``, ``server_key`` | the keys of the key model, for a client and a server |
    | ``publishable_key``, ``secret_key`` | the project's keys (not JWTs) |
    | ``anon_key``, ``service_role_key`` | the legacy keys (JWTs signed with ``jwt_secret``) |
    | ``jwt_secret`` | this stack's legacy secret |
    | ``signing_keys`` | its signing keys (add, rotate, revoke: the stack follows) |
    | ``db_url`` | the superuser URL of the database |
    | ``api_db_url`` | the same database as ``authenticator`` |
    """

    url: str
    port: int
    anon_key: str
    service_role_key: str
    jwt_secret: str
    publishable_key: str
    secret_key: str
    key_model: KeyModel
    signing_keys: SigningKeys
    db_url: str
    api_db_url: str
    log_path: Path
    env: dict[str, str]
    cwd: Path
    process: subprocess.Popen[bytes] | None = None
    _drain: threading.Thread | None = field(default=None, repr=False)

    @property
    def realtime_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/realtime/v1"

    @property
    def functions_url(self) -> str:
        return self.url + "/functions/v1"

    @property
    def client_key(self) -> str:
        """The key a client starts with: the publishable key (the legacy anon key for the
        ``legacy`` key model)."""
        return self.anon_key if self.key_model == "legacy" else self.publishable_key

    @property
    def server_key(self) -> str:
        """The key a trusted server uses: the secret key (``service_role`` for ``legacy``)."""
        return self.service_role_key if self.key_model == "legacy" else self.secret_key

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
            cwd=self.cwd,
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
        stop_process(proc, timeout=15)
        if self._drain is not None:
            self._drain.join(timeout=5)
            self._drain = None
        if proc.stdout is not None:
            proc.stdout.close()

    def restart(self) -> None:
        """Stop the gateway and start it again on the same port."""
        self.stop()
        self.start()

    def kill(self) -> None:
        """Kill the gateway abruptly (SIGKILL: a crash); ``start()`` brings it back."""
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        self.stop()

    def freeze(self) -> None:
        """Stop the gateway's process in its tracks (SIGSTOP): its sockets stay open and nothing
        answers, as with a server that hangs; :meth:`thaw` lets it run on."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Let a frozen gateway run on (SIGCONT)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def health(self) -> dict[str, Any]:
        """``GET /health``'s answer (503 included: it says what is down).

        Raises:
            httpx.HTTPError: the gateway does not answer.
        """
        answer = httpx.get(self.url + "/health", timeout=10)
        body: dict[str, Any] = answer.json()
        return body

    def restart_realtime(self, timeout: float = _STARTUP_TIMEOUT) -> None:
        """Restart the gateway's Realtime service in place (SIGHUP) and wait until it runs again.

        Raises:
            RuntimeError: it did not run again within ``timeout`` seconds (with the log's tail).
        """
        before = int(self.health().get("realtime_restarts", 0))
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health = self.health()
            if health.get("realtime") == "up" and int(health["realtime_restarts"]) > before:
                return
            time.sleep(0.05)
        raise RuntimeError(f"Realtime did not start again:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` of the gateway's log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # -- credentials -----------------------------------------------------------------------

    def access_token(self, user_id: str | None = None, *, ttl: int = 3600, **claims: Any) -> str:
        """A user's access token signed as this stack signs sessions (the signing key in use,
        or the legacy secret for the ``legacy`` key model), with the claims of
        :func:`access_token`."""
        if self.key_model == "legacy":
            return access_token(self.jwt_secret, user_id, ttl=ttl, **claims)
        return self.signing_keys.current().sign(_claims(user_id, ttl, claims))

    def headers(self, token: str | None = None, *, apikey: str | None = None) -> dict[str, str]:
        """Headers for a raw HTTP call: the client key as apikey and ``token`` (or the key) as
        bearer."""
        key = apikey if apikey is not None else self.client_key
        return {"apikey": key, "Authorization": f"Bearer {token or key}"}

    # -- supabase-py clients -----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def client(
        self, *, sign_in: bool = True, key: str | None = None, **options: Any
    ) -> AsyncIterator[AsyncClient]:
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
        client = await acreate_client(self.url, key or self.client_key, options=opts)
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
    ) -> Iterator[Client]:
        """The same with supabase-py's sync ``Client``."""
        from supabase import ClientOptions, create_client

        http = httpx.Client(timeout=30)
        opts = ClientOptions(
            httpx_client=http,
            auto_refresh_token=options.pop("auto_refresh_token", False),
            persist_session=options.pop("persist_session", False),
            **options,
        )
        client = create_client(self.url, key or self.client_key, options=opts)
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


def launch_gateway(
    db_url: str,
    *,
    signups_per_hour: int = SIGNUPS_PER_HOUR,
    project_dir: Path | None = None,
    key_model: KeyModel = "current",
    settings: dict[str, str] | None = None,
) -> Stack:
    """Start the gateway subprocess against the migrated database at ``db_url`` (superuser URL)
    with new keys of ``key_model``, on a free port. The caller stops it (``stack.stop()``); its
    log stays in ``stack.log_path``'s directory. ``settings`` are more ``WATCHIUM_*`` variables
    for the gateway (``WATCHIUM_JWKS_TTL``, ...).

    Raises:
        RuntimeError: the gateway did not start (with its log).
    """
    keys = new_keys()
    port = free_port()
    project = project_dir or find_project_dir()
    tmp = Path(tempfile.mkdtemp(prefix="watchium-stack-"))
    signing_keys = SigningKeys.load_or_create(signing_keys_path(tmp))
    api_db_url = authenticator_url(db_url)
    # Pinned, so that WATCHIUM_* variables meant for a developer's own stack cannot point this
    # gateway at another database, port or set of keys.
    env = {
        **os.environ,
        "WATCHIUM_PROJECT_DIR": str(project),
        "WATCHIUM_DATA_DIR": str(tmp),
        "WATCHIUM_HOST": "127.0.0.1",
        "WATCHIUM_PORT": str(port),
        "WATCHIUM_DB_URL": db_url,
        "WATCHIUM_API_DB_URL": api_db_url,
        "WATCHIUM_JWT_SECRET": keys.jwt_secret,
        "WATCHIUM_ANON_KEY": keys.anon_key,
        "WATCHIUM_SERVICE_ROLE_KEY": keys.service_role_key,
        "WATCHIUM_PUBLISHABLE_KEY": keys.publishable_key,
        "WATCHIUM_SECRET_KEY": keys.secret_key,
        "WATCHIUM_KEYS": key_model,
        "WATCHIUM_SESSION_CHECK_INTERVAL": str(SESSION_CHECK_INTERVAL),
        "WATCHIUM_ANON_SIGNUPS_PER_HOUR": str(signups_per_hour),
        # A slot of its own: other Realtime servers (tests/realtime) may share the database.
        "WATCHIUM_REALTIME_SLOT": f"watchium_stack_{port}",
        "PYTHONUNBUFFERED": "1",
        **(settings or {}),
    }
    stack = Stack(
        url=f"http://127.0.0.1:{port}",
        port=port,
        anon_key=keys.anon_key,
        service_role_key=keys.service_role_key,
        jwt_secret=keys.jwt_secret,
        publishable_key=keys.publishable_key,
        secret_key=keys.secret_key,
        key_model=key_model,
        signing_keys=signing_keys,
        db_url=db_url,
        api_db_url=api_db_url,
        log_path=tmp / "gateway.log",
        env=env,
        cwd=project,
    )
    stack.start()
    return stack


@contextlib.contextmanager
def throwaway_stack(project_dir: Path | None = None) -> Iterator[Stack]:
    """The whole local stack on free ports: a new migrated PostgreSQL (no seed data) and the
    gateway (functions, auth, Realtime) in a subprocess, removed afterwards. Anonymous sign-ups
    are not limited.

    Raises:
        RuntimeError: the gateway did not start (with its log).
    """
    project = project_dir or find_project_dir()
    with throwaway_database(project) as db:
        stack = launch_gateway(db.url, project_dir=project)
        try:
            yield stack
        finally:
            stack.stop()
            shutil.rmtree(stack.log_path.parent, ignore_errors=True)
