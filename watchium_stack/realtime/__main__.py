"""Run the Realtime server alone: ``python -m watchium_stack.realtime --db-url ... --port ...``.

The gateway serves it at ``/realtime/v1`` in the local stack; running it alone is for tests,
benchmarks and debugging. The project's publishable and secret keys are given with ``--api-key``
(repeatable); users' tokens are verified with the keys published at ``--jwks-url`` and, for a
project that still trusts it, the legacy ``--jwt-secret`` (which also verifies the legacy keys).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

from watchium_functions.jwks import RemoteJwks

from . import Limits, RealtimeService

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _mounted(app: ASGIApp, prefix: str) -> ASGIApp:
    """``app`` served under ``prefix``, as the gateway mounts it (no framework in the way: every
    frame of every socket goes through the send callable a framework would wrap)."""

    async def mounted(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope.get("path", "")
            if path != prefix and not path.startswith(prefix + "/"):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                body = json.dumps({"error": "not found"}).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 404,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
            scope = {**scope, "root_path": scope.get("root_path", "") + prefix}
        await app(scope, receive, send)

    return mounted


def _limits(args: argparse.Namespace) -> Limits:
    per_address: dict[str, int] = {}
    if args.max_per_address is not None:
        sockets = args.max_per_address
        per_address = {
            "max_sockets_per_address": sockets,
            "max_channels_per_address": 2 * sockets,
            "max_bindings_per_address": 6 * sockets,
        }
    return Limits(
        allow_public_channels=args.allow_public_channels,
        client_address_header=args.client_address_header,
        **per_address,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m watchium_stack.realtime")
    parser.add_argument("--db-url", required=True, help="superuser URL")
    parser.add_argument("--authorizer-url", required=True, help="URL of the authenticator role")
    parser.add_argument("--jwt-secret", default=None, help="the legacy JWT secret")
    parser.add_argument("--jwks-url", default=None, help="where the signing keys are published")
    parser.add_argument("--api-key", action="append", default=[], help="publishable/secret key")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=54323)
    parser.add_argument("--slot", default=None, help="replication slot name")
    parser.add_argument("--prefix", default="/realtime/v1", help="mount path, as the gateway's")
    parser.add_argument("--log-level", default="warning")
    parser.add_argument(
        "--allow-public-channels",
        action="store_true",
        help="accept channels without config.private (hosted Supabase's 'Allow public access')",
    )
    parser.add_argument(
        "--max-per-address",
        type=int,
        default=None,
        metavar="SOCKETS",
        help="sockets one client address may hold (channels x2, bindings x6; default 256), "
        "for load tests that open thousands from one machine",
    )
    parser.add_argument(
        "--client-address-header",
        default=None,
        help="behind a proxy: the header whose last address is the client's (x-forwarded-for)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    if not (args.jwt_secret or args.jwks_url):
        parser.error("give --jwks-url, --jwt-secret or both: users' tokens must be verified")
    kwargs = {"slot_name": args.slot} if args.slot else {}
    service = RealtimeService(
        db_url=args.db_url,
        authorizer_url=args.authorizer_url,
        jwt_secret=args.jwt_secret,
        api_keys=args.api_key,
        jwks=RemoteJwks(args.jwks_url) if args.jwks_url else None,
        limits=_limits(args),
        **kwargs,
    )
    app: ASGIApp = service.app
    if args.prefix.strip("/"):
        app = _mounted(service.app, "/" + args.prefix.strip("/"))
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        lifespan="on",
        # No permessage-deflate, as upstream Realtime (Phoenix) by default: compressing every
        # frame for every socket costs more server CPU than sending it (docs/BENCHMARKS.md).
        ws_per_message_deflate=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
