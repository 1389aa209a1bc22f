"""The gateway: routing, health, the Realtime mount (and its absence), the port check."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from watchium_functions._endpoint import ROUTES
from watchium_functions.asgi import send_json
from watchium_stack import gateway as gateway_module
from watchium_stack.gateway import (
    Gateway,
    GatewaySettings,
    PortInUse,
    authenticator_url,
    bind_socket,
)
from watchium_stack.harness import Stack
from watchium_stack.postgres import free_port


def test_health_reports_the_database_and_realtime(stack: Stack) -> None:
    response = httpx.get(f"{stack.url}/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] is True
    assert body["realtime"] in {"up", "not installed", "failed"}


def test_unknown_paths_are_404_json(stack: Stack) -> None:
    response = httpx.get(f"{stack.url}/rest/v1/rooms")
    assert response.status_code == 404 and response.json()["error"]["code"] == "WH404"


def test_authenticator_url() -> None:
    assert (
        authenticator_url("postgresql://postgres:postgres@127.0.0.1:5432/postgres")
        == "postgresql://authenticator:postgres@127.0.0.1:5432/postgres"
    )
    assert authenticator_url("postgres://u:p@db.example.com/app?sslmode=require") == (
        "postgres://authenticator:postgres@db.example.com/app?sslmode=require"
    )


def test_a_taken_port_is_a_clear_error() -> None:
    port = free_port()
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))
    holder.listen()
    try:
        with pytest.raises(PortInUse, match=f"port {port} .* already in use.*WATCHIUM_PORT"):
            bind_socket("127.0.0.1", port)
    finally:
        holder.close()


class FakeRealtime:
    """Stands in for RealtimeService to check the mount contract."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.started = self.stopped = False
        self.scopes: list[dict[str, Any]] = []

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        self.scopes.append(dict(scope))
        await send_json(send, 200, {"path": scope["path"], "root_path": scope["root_path"]})


def _settings(stack: Stack) -> GatewaySettings:
    return GatewaySettings(
        db_url=stack.db_url,
        jwt_secret=stack.jwt_secret,
        anon_key=stack.anon_key,
        service_role_key=stack.service_role_key,
        publishable_key=stack.publishable_key,
        secret_key=stack.secret_key,
        data_dir=stack.signing_keys.path.parent,
    )


@pytest.fixture
async def with_fake_realtime(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    created: list[FakeRealtime] = []

    def load(settings: GatewaySettings, signing_keys: Any) -> tuple[Any, str]:
        service = FakeRealtime(
            db_url=settings.db_url,
            authorizer_url=settings.functions_db_url,
            jwt_secret=settings.jwt_secret,
            api_keys={settings.publishable_key, settings.secret_key},
            jwks=signing_keys,
        )
        created.append(service)
        return service, ""

    monkeypatch.setattr(gateway_module, "_load_realtime", load)
    gw = Gateway(_settings(stack))
    await gw.startup()
    try:
        yield gw
    finally:
        await gw.shutdown()
    assert created[0].stopped


async def test_realtime_is_mounted_with_relative_paths(
    with_fake_realtime: Gateway, stack: Stack
) -> None:
    service = with_fake_realtime.realtime
    assert isinstance(service, FakeRealtime) and service.started
    assert service.kwargs["api_keys"] == {stack.publishable_key, stack.secret_key}
    assert service.kwargs["jwks"].current() == stack.signing_keys.current()
    assert service.kwargs["authorizer_url"].startswith("postgresql://authenticator:")
    transport = httpx.ASGITransport(app=with_fake_realtime)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        response = await http.post("/realtime/v1/api/broadcast", json={})
    assert response.json() == {"path": "/api/broadcast", "root_path": "/realtime/v1"}


async def test_without_realtime_its_paths_answer_503(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway_module, "_load_realtime", lambda s, k: (None, "not installed"))
    gw = Gateway(_settings(stack))
    await gw.startup()
    try:
        transport = httpx.ASGITransport(app=gw)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            response = await http.post("/realtime/v1/api/broadcast", json={})
            health = await http.get("/health")
    finally:
        await gw.shutdown()
    assert response.status_code == 503 and response.json()["error"]["code"] == "WH503"
    assert health.json()["realtime"] == "not installed"


async def test_an_unexpected_error_is_logged_with_its_cause_and_not_sent(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        endpoint = ROUTES["rooms-list-public"].endpoint

        async def handle(self, *args: Any) -> Any:
            raise RuntimeError("the cause of the failure")

    monkeypatch.setitem(ROUTES, "rooms-list-public", Broken())
    gw = Gateway(_settings(stack))
    await gw.startup()
    try:
        transport = httpx.ASGITransport(app=gw)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            with caplog.at_level(logging.ERROR, logger="watchium_functions"):
                response = await http.post(
                    "/functions/v1/rooms-list-public", json={}, headers=stack.headers()
                )
    finally:
        await gw.shutdown()
    assert response.status_code == 500 and response.json()["error"]["code"] == "WH500"
    assert "of the failure" not in response.text and "RuntimeError" not in response.text
    assert "RuntimeError: the cause of the failure" in caplog.text


def test_watchium_up_shows_the_logged_causes() -> None:
    # What `watchium up` sets up before it starts the gateway: the packages' records reach
    # stderr, where they used to be dropped (the packages add only a NullHandler).
    code = (
        "import logging\n"
        "from watchium_stack.gateway import log_to_stderr\n"
        "import watchium_functions\n"
        "log_to_stderr()\n"
        "try:\n"
        "    raise RuntimeError('the cause of the failure')\n"
        "except RuntimeError:\n"
        "    logging.getLogger('watchium_functions._app').exception('unhandled error')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "ERROR watchium_functions._app: unhandled error" in run.stderr
    assert "RuntimeError: the cause of the failure" in run.stderr


def test_an_idle_connection_outlives_the_sdks_pause_between_calls(stack: Stack) -> None:
    """A connection idle for longer than the SDK waits between two calls is still open: the
    server never closes it just as the client reuses it (which failed that request)."""
    request = f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{stack.port}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", stack.port), timeout=30) as conn:
        conn.sendall(request)
        assert _read_response(conn).startswith(b"HTTP/1.1 200")
        time.sleep(6.0)  # longer than uvicorn's default keep-alive of 5 s
        conn.sendall(request)
        assert _read_response(conn).startswith(b"HTTP/1.1 200")


def _read_response(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = conn.recv(4096)
        if not chunk:
            break
        body += chunk
    return head
