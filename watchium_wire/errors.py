"""The error catalogue: every code a Watchium answer can carry, in one table.

A refusal travels as ``{"error": {"code", "message", "hint"?, "details"?}}`` with an HTTP status.
Codes come from three places, all listed here:

* the database's project SQLSTATEs (class ``WR``, raised by the migrations);
* PostgreSQL's own codes that the SQL functions let through (constraint violations, ...);
* the HTTP layer's own refusals (class ``WH``), which the database never raises.

Each row names the SDK exception class that a client raises for the code
(``watchium_client.RoomNotFound`` for ``WR404``); several codes may share a class (every 4xx of
bad input is ``InvalidInput``). The function app takes its statuses and default messages from
here, the SDK its classes, and docs/ERRORS.md documents every row: one table, read three ways.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ErrorCode", "CATALOGUE", "by_code", "codes_of"]


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """One error code."""

    code: str
    """The stable code clients match on (``WR404``, ``23514``, ``WH503``)."""
    status: int
    """The HTTP status that answers it."""
    name: str
    """The SDK exception class raised for it."""
    message: str
    """The message when the raiser gives none."""


CATALOGUE: tuple[ErrorCode, ...] = (
    # -- project SQLSTATEs, raised by the database -------------------------------------------
    ErrorCode("WR400", 400, "InvalidInput", "invalid input"),
    ErrorCode("WR401", 401, "SignInRequired", "sign-in required"),
    ErrorCode("WR403", 403, "Forbidden", "you can only act as yourself"),
    ErrorCode("WRH03", 403, "NotHost", "only the host may do this"),
    ErrorCode("WRM03", 403, "NotMember", "not a member of the room"),
    ErrorCode("WRB03", 403, "Banned", "banned from the room"),
    ErrorCode("WRS03", 403, "Muted", "muted in the room"),
    # Raised before migration 016 only (a wrong or missing key is WR404 since): kept so that a
    # client of an older database still gets a typed error.
    ErrorCode("WRK03", 403, "WrongAccessKey", "wrong access key"),
    ErrorCode("WR404", 404, "RoomNotFound", "room not found"),
    ErrorCode("WRC04", 404, "CommentNotFound", "comment not found"),
    ErrorCode("WR409", 409, "Conflict", "conflict"),
    ErrorCode("WRF09", 409, "RoomFull", "the room is full"),
    ErrorCode("WR413", 413, "TooLarge", "too large"),
    ErrorCode("WR429", 429, "RateLimited", "rate limit reached"),
    ErrorCode("WRL29", 429, "KeyChecksPaused", "too many refused joins"),
    # -- PostgreSQL's codes that the SQL functions let through -------------------------------
    ErrorCode("23514", 400, "InvalidInput", "a value breaks a constraint"),
    ErrorCode("23502", 400, "InvalidInput", "a required value is missing"),
    ErrorCode("22001", 400, "InvalidInput", "a value is too long"),
    ErrorCode("22P02", 400, "InvalidInput", "a value has the wrong type"),
    ErrorCode("22003", 400, "InvalidInput", "a number is out of range"),
    ErrorCode("22007", 400, "InvalidInput", "a time has the wrong format"),
    ErrorCode("22008", 400, "InvalidInput", "a time is out of range"),
    ErrorCode("23505", 409, "Conflict", "this already exists"),
    ErrorCode("23503", 409, "Conflict", "a referenced row is gone"),
    ErrorCode("42501", 403, "Forbidden", "permission denied"),
    ErrorCode("40001", 409, "Conflict", "a concurrent change got in the way: retry"),
    ErrorCode("40P01", 409, "Conflict", "a concurrent change got in the way: retry"),
    # -- the HTTP layer's own refusals ---------------------------------------------------------
    ErrorCode("WH404", 404, "FunctionNotFound", "no such function"),
    ErrorCode("WH405", 405, "MethodNotAllowed", "method not allowed"),
    ErrorCode(
        "WH415",
        415,
        "UnsupportedMediaType",
        "send the body as JSON with 'Content-Type: application/json'",
    ),
    ErrorCode("WH500", 500, "ServerError", "internal error: the server logged the cause"),
    ErrorCode("WH503", 503, "ServiceUnavailable", "the database is unavailable: retry shortly"),
)

_BY_CODE = {entry.code: entry for entry in CATALOGUE}
if len(_BY_CODE) != len(CATALOGUE):  # pragma: no cover - a typo in the table above
    raise RuntimeError("an error code is listed twice")


def by_code(code: str) -> ErrorCode | None:
    """The catalogue row of ``code``, or None for a code Watchium does not use."""
    return _BY_CODE.get(code)


def codes_of(name: str) -> tuple[str, ...]:
    """Every code answered by the SDK exception class ``name``, in table order."""
    return tuple(entry.code for entry in CATALOGUE if entry.name == name)
