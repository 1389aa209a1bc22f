"""The ASGI app that serves every function at ``POST /functions/v1/<name>``.

One request: CORS preflight or method check, the ``apikey`` and bearer token (401), a bounded body
(413) sent as JSON (415), validated by the endpoint's model (400), one SQL call as the caller, and
``{"data": ..., "server_time": ...}``; any refusal is ``{"error": {...}, "server_time": ...}`` with
the status of its code. ``GET /functions/v1/openapi.json`` serves the OpenAPI document.

Run it alone next to a hosted Supabase project (settings from the environment, see
:meth:`FunctionsSettings.from_env`)::

    uvicorn --factory functions:create_app --host 0.0.0.0 --port 8000

or inside the local gateway (``watchium up``), which mounts it at the same paths.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

# Importing the endpoint modules registers them in ENDPOINTS.
from functions import (  # noqa: F401
    comments_create,
    comments_get_by_episode,
    comments_get_history,
    members_get_list,
    members_update_status,
    rooms_create,
    rooms_delete,
    rooms_join,
    rooms_leave,
    rooms_list_public,
    sync_control,
    sync_get_host_time,
)
from functions._auth import Authenticator
from functions._db import Database
from functions._endpoint import ENDPOINTS, Caller, Endpoint, RawJson
from functions._errors import (
    FunctionError,
    InternalError,
    InvalidInput,
    MethodNotAllowed,
    NoSuchFunction,
    TooLarge,
    UnsupportedMediaType,
)
from functions._http import (
    CORS_HEADERS,
    PREFLIGHT_HEADERS,
    Headers,
    Receive,
    Scope,
    Send,
    error_payload,
    header,
    json_bytes,
    read_body,
    run_lifespan,
    send_bytes,
    server_time,
)
from functions._openapi import FUNCTIONS_PREFIX, openapi_document

__all__ = ["FunctionsApp", "FunctionsSettings", "create_app", "BODY_LIMIT"]

logger = logging.getLogger(__name__)

BODY_LIMIT = 64 * 1024
_PREFIX = FUNCTIONS_PREFIX + "/"
_OPENAPI = "openapi.json"


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


@dataclass(frozen=True)
class FunctionsSettings:
    """What the function app needs: a database URL and the project's JWT secret.

    Locally the URL is the ``authenticator`` role's (it switches role per request, like PostgREST);
    on hosted Supabase, the connection pooler's URL (the ``postgres`` role may switch to the API
    roles too).
    """

    db_url: str
    jwt_secret: str
    body_limit: int = BODY_LIMIT
    pool_min: int = 2
    pool_max: int = 10
    pool_timeout: float = 5.0
    statement_timeout: str = "10s"

    @classmethod
    def from_env(cls) -> FunctionsSettings:
        """Settings from the environment.

        | setting | variables (first set wins) |
        | --- | --- |
        | db_url | ``WATCHIUM_FUNCTIONS_DB_URL``, ``SUPABASE_DB_URL``, ``WATCHIUM_DB_URL`` |
        | jwt_secret | ``SUPABASE_JWT_SECRET``, ``WATCHIUM_JWT_SECRET`` |
        | pool_min / pool_max | ``WATCHIUM_DB_POOL_MIN`` / ``WATCHIUM_DB_POOL_MAX`` |

        Raises:
            ValueError: a required setting is missing.
        """
        db_url = _env("WATCHIUM_FUNCTIONS_DB_URL", "SUPABASE_DB_URL", "WATCHIUM_DB_URL")
        secret = _env("SUPABASE_JWT_SECRET", "WATCHIUM_JWT_SECRET")
        if not db_url:
            raise ValueError(
                "set SUPABASE_DB_URL (or WATCHIUM_FUNCTIONS_DB_URL) to the database URL"
            )
        if not secret:
            raise ValueError("set SUPABASE_JWT_SECRET to the project's JWT secret")
        return cls(
            db_url=db_url,
            jwt_secret=secret,
            pool_min=int(_env("WATCHIUM_DB_POOL_MIN") or 2),
            pool_max=int(_env("WATCHIUM_DB_POOL_MAX") or 10),
        )


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    fields = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        loc = [part for part in err["loc"] if not isinstance(part, str) or part]
        fields.append(
            {
                "field": ".".join(str(p) for p in loc),
                "loc": ["body", *loc],
                "message": err["msg"],
                "type": err["type"],
            }
        )
    return fields


def _validation_error(ep: Endpoint[Any], exc: ValidationError) -> FunctionError:
    fields = _field_errors(exc)
    types = {f["type"] for f in fields}
    if "json_invalid" in types:
        return InvalidInput("the request body is not valid JSON", details={"fields": fields})
    if any(f["type"] == "model_type" and f["field"] == "" for f in fields):
        return InvalidInput("the request body must be a JSON object", details={"fields": fields})
    if any(f["type"] == "string_too_long" and f["field"] in ep.too_large_fields for f in fields):
        return TooLarge("the message is too long", details={"fields": fields})
    names = ", ".join(sorted({f["field"] or "(body)" for f in fields}))
    return InvalidInput(f"invalid request body: {names}", details={"fields": fields})


class FunctionsApp:
    """The function bundle as an ASGI application (see the module docstring)."""

    def __init__(self, settings: FunctionsSettings) -> None:
        self.settings = settings
        self.db = Database(
            settings.db_url,
            min_size=settings.pool_min,
            max_size=settings.pool_max,
            timeout=settings.pool_timeout,
            statement_timeout=settings.statement_timeout,
        )
        self.auth = Authenticator(settings.jwt_secret)
        self._openapi_body: bytes | None = None

    async def startup(self) -> None:
        """Open the database pool (without waiting for the database)."""
        await self.db.open()

    async def shutdown(self) -> None:
        """Close the database pool."""
        await self.db.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            await self._http(scope, receive, send)
        except FunctionError as exc:
            await self._send_error(send, exc)
        except Exception:
            logger.exception("unhandled error in %s", scope.get("path"))
            await self._send_error(send, InternalError())

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await run_lifespan(receive, send, self.startup, self.shutdown, name="the function app")

    async def _send_error(self, send: Send, error: FunctionError) -> None:
        iso, epoch = server_time()
        body, headers = error_payload(error, iso)
        await send_bytes(
            send, error.status, body, headers=[*headers, (b"x-server-time", epoch), *CORS_HEADERS]
        )

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if not path.startswith(_PREFIX):
            raise NoSuchFunction(f"no function at {path}")
        name = path[len(_PREFIX) :].rstrip("/")
        if method == "OPTIONS":
            await send_bytes(send, 204, b"", headers=PREFLIGHT_HEADERS)
            return
        if name == _OPENAPI:
            if method not in ("GET", "HEAD"):
                raise MethodNotAllowed(
                    f"{method} is not allowed here: use GET",
                    headers={"Allow": "GET, HEAD, OPTIONS"},
                )
            await self._send_openapi(scope, send)
            return
        ep = ENDPOINTS.get(name)
        if ep is None:
            raise NoSuchFunction(
                f"no function named {name!r}",
                hint="the functions are listed in " + FUNCTIONS_PREFIX + "/openapi.json",
            )
        if method != "POST":
            raise MethodNotAllowed(
                f"{method} is not allowed: functions are called with POST",
                headers={"Allow": "POST, OPTIONS"},
            )
        identity = self.auth.identify(header(scope, b"apikey"), header(scope, b"authorization"))
        body = await read_body(scope, receive, self.settings.body_limit)
        if body.strip():
            if not _is_json(header(scope, b"content-type")):
                raise UnsupportedMediaType(
                    "send the body as JSON with 'Content-Type: application/json'",
                    details={"content_type": header(scope, b"content-type")},
                )
        else:
            body = b"{}"
        try:
            request = ep.request.model_validate_json(body)
        except ValidationError as exc:
            raise _validation_error(ep, exc) from None
        result = await ep.handle(request, Caller(identity, self.db, path))
        iso, epoch = server_time()
        data = result.encode() if isinstance(result, RawJson) else json_bytes(result)
        payload = b'{"data":' + data + b',"server_time":"' + iso.encode() + b'"}'
        headers: Headers = [(b"x-server-time", epoch), *CORS_HEADERS]
        await send_bytes(send, 200, payload, headers=headers)

    async def _send_openapi(self, scope: Scope, send: Send) -> None:
        if self._openapi_body is None:
            self._openapi_body = json_bytes(openapi_document())
        _, epoch = server_time()
        body = b"" if scope["method"] == "HEAD" else self._openapi_body
        await send_bytes(send, 200, body, headers=[(b"x-server-time", epoch), *CORS_HEADERS])


def create_app(settings: FunctionsSettings | None = None) -> FunctionsApp:
    """The function app; settings from the environment when not given (see FunctionsSettings).

    Raises:
        ValueError: a required setting is missing from the environment.
    """
    return FunctionsApp(settings or FunctionsSettings.from_env())
