"""The few ASGI primitives the function app, the auth server and the gateway share.

Raw ASGI rather than a framework: a function call is one small JSON request and one small JSON
response, and a framework's routing and request objects cost more than the rest of the HTTP layer
(docs/BENCHMARKS.md: a trivial endpoint served 22,000 req/s raw, 13,700 with Starlette). These
helpers read a bounded body, read headers, and send JSON.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from watchium_functions._errors import FunctionError

logger = logging.getLogger(__name__)

__all__ = [
    "Scope",
    "Receive",
    "Send",
    "ASGIApp",
    "Headers",
    "header",
    "read_body",
    "run_lifespan",
    "send_bytes",
    "send_json",
    "server_time",
    "json_bytes",
    "CORS_HEADERS",
    "PREFLIGHT_HEADERS",
    "error_payload",
    "BodyTooLarge",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

# A browser app on another origin may call the API; tokens travel in headers, never cookies, so a
# wildcard origin gives a page nothing it could not do with its own token.
CORS_HEADERS: Headers = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"x-server-time, retry-after, x-supabase-api-version"),
]
PREFLIGHT_HEADERS: Headers = [
    *CORS_HEADERS,
    (b"access-control-allow-methods", b"GET, POST, PUT, DELETE, OPTIONS"),
    (
        b"access-control-allow-headers",
        b"authorization, x-client-info, apikey, content-type, x-supabase-api-version, "
        b"x-region, accept, prefer",
    ),
    (b"access-control-max-age", b"86400"),
]


class BodyTooLarge(FunctionError):
    """A request body over the limit: 413 ``WR413``."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            "WR413", f"the request body is larger than {limit} bytes", details={"limit": limit}
        )


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower-case bytes), decoded as latin-1, or None."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def client_address(scope: Scope, forwarded_header: str | None = None) -> str:
    """The client's address as per-address limits count it: the connection's peer, or the last
    address a trusted proxy appended to ``forwarded_header``; an IPv6 address by its /56 (one
    subscriber's whole network), an IPv4 address whole. Empty when unknown."""
    raw: str | None = None
    if forwarded_header:
        value = header(scope, forwarded_header.lower().encode("latin-1"))
        if value:
            raw = value.split(",")[-1].strip()
    if raw is None:
        client = scope.get("client")
        raw = str(client[0]) if client else ""
    try:
        address = ipaddress.ip_address(raw.strip("[]"))
    except ValueError:
        return raw[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/56", strict=False))
    return str(address)


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """Read the request body, refusing more than ``limit`` bytes.

    A declared ``Content-Length`` over the limit is refused before anything is read.

    Raises:
        BodyTooLarge: the body is (or is declared) larger than ``limit``.
    """
    declared = header(scope, b"content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def run_lifespan(
    receive: Receive,
    send: Send,
    startup: Callable[[], Awaitable[None]],
    shutdown: Callable[[], Awaitable[None]],
    *,
    name: str,
) -> None:
    """Answer an ASGI lifespan: ``startup`` on start (a failure is reported to the server, which
    then does not serve), ``shutdown`` on stop."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await startup()
            except Exception as exc:
                logger.exception("%s failed to start", name)
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


def server_time() -> tuple[str, bytes]:
    """The server clock now: (ISO 8601 UTC with microseconds, epoch seconds as header bytes)."""
    now = time.time()
    iso = datetime.fromtimestamp(now, UTC).isoformat()
    return iso, f"{now:.6f}".encode()


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    *,
    content_type: bytes = b"application/json",
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Send a complete response."""
    raw: Headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_json(
    send: Send, status: int, value: Any, *, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """Send ``value`` as JSON."""
    await send_bytes(send, status, json_bytes(value), headers=headers)


def error_payload(error: FunctionError, iso_time: str) -> tuple[bytes, Headers]:
    """The body and headers of an error response in the functions' shape."""
    body = json_bytes({"error": error.body(), "server_time": iso_time})
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in error.headers.items()]
    return body, headers
