"""The ASGI app that serves every function at ``POST /functions/v1/<name>``.

One request: CORS preflight or method check, the ``apikey`` and bearer token (401), a bounded body
(413) sent as JSON (415), validated by the endpoint's model (400), one SQL call as the caller, and
``{"data": ..., "server_time": ...}``; any refusal is ``{"error": {...}, "server_time": ...}`` with
the status of its code. ``GET /functions/v1/openapi.json`` serves the OpenAPI document.

Run it alone next to a hosted Supabase project (settings from the environment, see
:class:`FunctionsSettings`)::

    uvicorn --factory watchium_functions:create_app --host 0.0.0.0 --port 8000

or inside the local gateway (``watchium up``), which mounts it at the same paths.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from pydantic import BaseModel, ValidationError

from watchium_functions._auth import Authenticator
from watchium_functions._db import Database
from watchium_functions._endpoint import ROUTES, Caller, RawJson
from watchium_functions._errors import FunctionError
from watchium_functions._openapi import FUNCTIONS_PREFIX, openapi_document
from watchium_functions._settings import FunctionsSettings
from watchium_functions.asgi import (
    CORS_HEADERS,
    PREFLIGHT_HEADERS,
    Headers,
    Receive,
    Scope,
    Send,
    client_address,
    error_payload,
    header,
    json_bytes,
    read_body,
    run_lifespan,
    send_bytes,
    server_time,
)
from watchium_wire import Endpoint

__all__ = ["FunctionsApp", "create_app"]

logger = logging.getLogger(__name__)

_PREFIX = FUNCTIONS_PREFIX + "/"
_OPENAPI = "openapi.json"


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


# What the request models' string patterns mean. pydantic's own message quotes the regular
# expression, which tells a caller little; tests/functions/test_http.py checks that every pattern
# of every request model is here.
_PATTERN_MEANINGS = {
    r"^[hH][tT][tT][pP][sS]?://[^\s]+$": "must be an http(s) URL",
    r"\S": "must not be blank",
    r"^[0-9]{6}$": "must be 6 digits",
    r"^[a-z0-9]{10}\.[0-9]{1,12}\.[A-Za-z0-9_-]{43}$": "must be an invite from rooms-create-invite",
}


@functools.cache
def _patterns(model: type[BaseModel]) -> dict[str, str]:
    """Each field's string pattern (by its wire name), from the model's JSON schema."""
    found: dict[str, str] = {}
    for name, prop in model.model_json_schema().get("properties", {}).items():
        for option in (prop, *prop.get("anyOf", ())):
            if "pattern" in option:
                found[name] = option["pattern"]
    return found


def _reason(model: type[BaseModel], field: str, err: Any) -> str:
    """What is wrong with a field, in words: for a string that breaks its pattern (or is too
    short to match it, as a URL of three characters is) what the pattern means."""
    if err["type"] in ("string_pattern_mismatch", "string_too_short"):
        meaning = _PATTERN_MEANINGS.get(_patterns(model).get(field, ""))
        if meaning is not None:
            return meaning
    if err["type"] == "value_error" and err.get("ctx", {}).get("error") is not None:
        return str(err["ctx"]["error"])  # the model's own words, without "Value error, "
    return str(err["msg"])


def _field_errors(model: type[BaseModel], exc: ValidationError) -> list[dict[str, Any]]:
    fields = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [part for part in err["loc"] if not isinstance(part, str) or part]
        field = ".".join(str(p) for p in loc)
        fields.append(
            {
                "field": field,
                "loc": ["body", *loc],
                "message": _reason(model, field, err),
                "type": err["type"],
            }
        )
    return fields


def _validation_error(ep: Endpoint[Any, Any], exc: ValidationError) -> FunctionError:
    fields = _field_errors(ep.request, exc)
    details = {"fields": fields}
    types = {f["type"] for f in fields}
    if "json_invalid" in types:
        return FunctionError("WR400", "the request body is not valid JSON", details=details)
    if any(f["type"] == "model_type" and f["field"] == "" for f in fields):
        return FunctionError("WR400", "the request body must be a JSON object", details=details)
    if any(f["type"] == "string_too_long" and f["field"] in ep.too_large_fields for f in fields):
        return FunctionError("WR413", "the message is too long", details=details)
    # One reason per field, the first pydantic gives, so the message says what to fix.
    reasons: dict[str, str] = {}
    for f in fields:
        message = f["message"]
        reasons.setdefault(f["field"] or "(body)", message[:1].lower() + message[1:])
    problems = "; ".join(f"{name}: {reason}" for name, reason in sorted(reasons.items()))
    return FunctionError("WR400", f"invalid request body: {problems}", details=details)


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
        self.auth = Authenticator.from_settings(settings, self.db)
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
            await self._send_error(send, FunctionError("WH500"))

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
            raise FunctionError("WH404", f"no function at {path}")
        name = path[len(_PREFIX) :].rstrip("/")
        if method == "OPTIONS":
            await send_bytes(send, 204, b"", headers=PREFLIGHT_HEADERS)
            return
        if name == _OPENAPI:
            if method not in ("GET", "HEAD"):
                raise FunctionError(
                    "WH405",
                    f"{method} is not allowed here: use GET",
                    headers={"Allow": "GET, HEAD, OPTIONS"},
                )
            await self._send_openapi(scope, send)
            return
        route = ROUTES.get(name)
        if route is None:
            raise FunctionError(
                "WH404",
                f"no function named {name!r}",
                hint="the functions are listed in " + FUNCTIONS_PREFIX + "/openapi.json",
            )
        if method != "POST":
            raise FunctionError(
                "WH405",
                f"{method} is not allowed: functions are called with POST",
                headers={"Allow": "POST, OPTIONS"},
            )
        identity = await self.auth.identify(
            header(scope, b"apikey"), header(scope, b"authorization"), header(scope, b"user-agent")
        )
        body = await read_body(scope, receive, self.settings.body_limit)
        if body.strip():
            if not _is_json(header(scope, b"content-type")):
                raise FunctionError(
                    "WH415",
                    "send the body as JSON with 'Content-Type: application/json'",
                    details={"content_type": header(scope, b"content-type")},
                )
        else:
            body = b"{}"
        endpoint = route.endpoint
        try:
            request = endpoint.request.model_validate_json(body)
        except ValidationError as exc:
            raise _validation_error(endpoint, exc) from None
        address = client_address(scope, self.settings.client_address_header)
        result = await route.handle(request, Caller(identity, self.db, path, address))
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
