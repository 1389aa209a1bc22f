"""The OpenAPI 3.1 document of the functions, generated from the pydantic models."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from watchium_wire import ENDPOINTS, ErrorResponse, Success

__all__ = ["openapi_document", "FUNCTIONS_PREFIX"]

FUNCTIONS_PREFIX = "/functions/v1"

_STATUS_TEXT = {
    400: "Invalid input: a body that fails validation (details.fields lists every bad field), "
    "malformed JSON, or a value the database refuses",
    401: "No or bad apikey, or a missing, forged or expired access token (WR401); or an action "
    "that needs a signed-in user",
    403: "Not allowed: acting as someone else (WR403), host only (WRH03), members only (WRM03), "
    "wrong access key (WRK03)",
    404: "Room (WR404) or parent comment (WRC04) not found",
    405: "Wrong method (WH405); the Allow header lists the right ones",
    409: "Conflict (WR409, WRF09 room full, 23505, 40001)",
    413: "Body over the size limit, or a comment over 1000 characters (WR413)",
    415: "Body not sent as application/json (WH415)",
    429: "Rate limit reached (WR429, WRL29); Retry-After says when to retry",
    500: "Internal error (WH500): a bug, logged by the server",
    503: "Database unavailable (WH503); Retry-After says when to retry",
}

_COMMON_ERRORS = (405, 413, 415, 500, 503)


@cache
def openapi_document(server_url: str = "/") -> dict[str, Any]:
    """The OpenAPI 3.1 document: every function's request, responses and errors.

    ``server_url`` is the base URL the paths hang off (the gateway's, e.g. http://127.0.0.1:54321).
    """
    models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (ErrorResponse, "serialization")
    ]
    for ep in ENDPOINTS.values():
        models.append((ep.request, "validation"))
        models.append((Success[ep.response], "serialization"))  # type: ignore[name-defined]
    refs, top = models_json_schema(models, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = top.get("$defs", {})

    def ref(model: type[BaseModel], mode: str) -> dict[str, Any]:
        return dict(refs[(model, mode)])  # type: ignore[index]

    error_ref = ref(ErrorResponse, "serialization")
    retry_after = {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 1},
    }
    server_time_header = {
        "description": "The server's clock when it answered (epoch seconds), for clock sync.",
        "schema": {"type": "string"},
    }
    paths: dict[str, Any] = {}
    for name, ep in sorted(ENDPOINTS.items()):
        responses: dict[str, Any] = {
            "200": {
                "description": "Success",
                "headers": {"X-Server-Time": server_time_header},
                "content": {
                    "application/json": {"schema": ref(Success[ep.response], "serialization")}  # type: ignore[name-defined]
                },
            }
        }
        for status in sorted({*ep.errors, *_COMMON_ERRORS}):
            response: dict[str, Any] = {
                "description": _STATUS_TEXT[status],
                "headers": {"X-Server-Time": server_time_header},
                "content": {"application/json": {"schema": error_ref}},
            }
            if status in (429, 503):
                response["headers"]["Retry-After"] = retry_after
            if status == 405:
                response["headers"]["Allow"] = {"schema": {"type": "string"}}
            responses[str(status)] = response
        paths[f"{FUNCTIONS_PREFIX}/{name}"] = {
            "post": {
                "operationId": name,
                "summary": ep.summary,
                "description": ep.description.strip(),
                "requestBody": {
                    "required": ep.body_required,
                    "content": {"application/json": {"schema": ref(ep.request, "validation")}},
                },
                "responses": responses,
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Watchium functions",
            "version": "1.0.0",
            "description": (
                "Synchronized watch parties: rooms, host playback control, members and "
                "per-episode comments. Every call is POST with a JSON body; send the project's "
                "anon key as `apikey` and the user's access token as `Authorization: Bearer`. "
                "Success: `{data, server_time}`; failure: `{error: {code, message, hint?, "
                "details?}, server_time}`. Error codes: docs/ERRORS.md."
            ),
        },
        "servers": [{"url": server_url}],
        "security": [{"apikey": [], "bearer": []}, {"apikey": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apikey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "apikey",
                    "description": "The project's anon (or service_role) key.",
                },
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The user's access token (anonymous sign-in is enough).",
                },
            },
        },
    }
