"""Errors of the function bundle: one class per error code, and one boundary that maps a database
error to the class that answers it.

Every refusal reaches the client as ``{"error": {"code", "message", "hint"?, "details"?}}`` with the
HTTP status of its class. Codes come from two places:

* the database: project SQLSTATEs (class ``WR``, docs/ERRORS.md) and the PostgreSQL codes the SQL
  functions let through (check violations, truncation, ...), reported with their SQLSTATE;
* the HTTP layer itself, for what never reaches the database: ``WR400`` (a body that fails
  validation), ``WR401`` (a missing, forged or expired token, a bad ``apikey``), ``WR413`` (a body
  or message too large), and the ``WH`` codes (no such function, wrong method, wrong content type,
  database unavailable, internal error).

The registry is filled by ``__init_subclass__(code=...)``, as in ``psycopg.errors``: a class per
code, so ``lookup("WRH03")`` is :class:`HostOnly`. :func:`from_database_error` is the one place a
``psycopg`` exception becomes one of these.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any, ClassVar

import psycopg
import psycopg_pool

__all__ = [
    "FunctionError",
    "lookup",
    "registered_codes",
    "from_database_error",
    "is_outage",
    # database codes
    "InvalidInput",
    "SignInRequired",
    "NotYourself",
    "HostOnly",
    "NotAMember",
    "WrongAccessKey",
    "RoomNotFound",
    "CommentNotFound",
    "Conflict",
    "RoomFull",
    "TooLarge",
    "RateLimited",
    "KeyChecksPaused",
    "CheckViolation",
    "NotNullViolation",
    "StringTooLong",
    "InvalidTextRepresentation",
    "NumericOutOfRange",
    "InvalidDatetimeFormat",
    "DatetimeOutOfRange",
    "UniqueViolation",
    "ForeignKeyViolation",
    "InsufficientPrivilege",
    "SerializationFailure",
    "DeadlockDetected",
    # HTTP layer
    "NoSuchFunction",
    "MethodNotAllowed",
    "UnsupportedMediaType",
    "InternalError",
    "ServiceUnavailable",
]

logger = logging.getLogger(__name__)

_registry: dict[str, type[FunctionError]] = {}


class FunctionError(Exception):
    """A refusal with a stable ``code`` and an HTTP ``status``.

    Subclasses register themselves by code: ``class HostOnly(FunctionError, code="WRH03",
    status=403)``. An instance carries the message, an optional hint, optional structured details
    and optional extra response headers (``Retry-After``, ``Allow``).
    """

    code: ClassVar[str] = ""
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "the request failed"

    def __init_subclass__(cls, code: str | None = None, status: int | None = None, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if code is not None:
            if code in _registry:
                raise TypeError(f"error code {code} is already registered by {_registry[code]}")
            cls.code = code
            _registry[code] = cls

    def __init__(
        self,
        message: str | None = None,
        *,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)
        self.hint = hint
        self.details = details
        self.headers = dict(headers or {})
        # A class that answers several codes (none today) could report the original one.
        self.error_code = code or self.code

    def body(self) -> dict[str, Any]:
        """The ``error`` object of the response."""
        out: dict[str, Any] = {"code": self.error_code, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        if self.details is not None:
            out["details"] = self.details
        return out


def lookup(code: str) -> type[FunctionError] | None:
    """The class registered for ``code``, or None."""
    return _registry.get(code)


def registered_codes() -> frozenset[str]:
    """Every code that has a class."""
    return frozenset(_registry)


# -- project SQLSTATEs (docs/ERRORS.md) ------------------------------------------------------


class InvalidInput(FunctionError, code="WR400", status=400):
    default_message = "invalid input"


class SignInRequired(FunctionError, code="WR401", status=401):
    default_message = "sign-in required"


class NotYourself(FunctionError, code="WR403", status=403):
    default_message = "you can only act as yourself"


class HostOnly(FunctionError, code="WRH03", status=403):
    default_message = "only the host may do this"


class NotAMember(FunctionError, code="WRM03", status=403):
    default_message = "not a member of the room"


class WrongAccessKey(FunctionError, code="WRK03", status=403):
    default_message = "wrong access key"


class RoomNotFound(FunctionError, code="WR404", status=404):
    default_message = "room not found"


class CommentNotFound(FunctionError, code="WRC04", status=404):
    default_message = "comment not found"


class Conflict(FunctionError, code="WR409", status=409):
    default_message = "conflict"


class RoomFull(FunctionError, code="WRF09", status=409):
    default_message = "the room is full"


class TooLarge(FunctionError, code="WR413", status=413):
    default_message = "too large"


class RateLimited(FunctionError, code="WR429", status=429):
    default_message = "rate limit reached"


class KeyChecksPaused(RateLimited, code="WRL29", status=429):
    default_message = "too many wrong access keys"


# -- PostgreSQL codes the SQL functions let through ----------------------------------------


class CheckViolation(FunctionError, code="23514", status=400):
    default_message = "a value breaks a constraint"


class NotNullViolation(FunctionError, code="23502", status=400):
    default_message = "a required value is missing"


class StringTooLong(FunctionError, code="22001", status=400):
    default_message = "a value is too long"


class InvalidTextRepresentation(FunctionError, code="22P02", status=400):
    default_message = "a value has the wrong type"


class NumericOutOfRange(FunctionError, code="22003", status=400):
    default_message = "a number is out of range"


class InvalidDatetimeFormat(FunctionError, code="22007", status=400):
    default_message = "a time has the wrong format"


class DatetimeOutOfRange(FunctionError, code="22008", status=400):
    default_message = "a time is out of range"


class UniqueViolation(FunctionError, code="23505", status=409):
    default_message = "this already exists"


class ForeignKeyViolation(FunctionError, code="23503", status=409):
    default_message = "a referenced row is gone"


class InsufficientPrivilege(FunctionError, code="42501", status=403):
    default_message = "permission denied"


class SerializationFailure(FunctionError, code="40001", status=409):
    default_message = "a concurrent change got in the way: retry"


class DeadlockDetected(FunctionError, code="40P01", status=409):
    default_message = "a concurrent change got in the way: retry"


# -- the HTTP layer's own refusals ---------------------------------------------------------


class NoSuchFunction(FunctionError, code="WH404", status=404):
    default_message = "no such function"


class MethodNotAllowed(FunctionError, code="WH405", status=405):
    default_message = "method not allowed"


class UnsupportedMediaType(FunctionError, code="WH415", status=415):
    default_message = "send the body as JSON with 'Content-Type: application/json'"


class InternalError(FunctionError, code="WH500", status=500):
    default_message = "internal error: the server logged the cause"


class ServiceUnavailable(FunctionError, code="WH503", status=503):
    default_message = "the database is unavailable: retry shortly"


# -- the boundary ----------------------------------------------------------------------------

# Connection-level SQLSTATEs: the server went away or refuses connections for now.
_OUTAGE_STATES = frozenset({"57P01", "57P02", "57P03", "53300", "08000", "08003", "08006"})


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached (rather than that a call failed)."""
    if isinstance(exc, psycopg_pool.PoolTimeout | psycopg_pool.PoolClosed):
        return True
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        return state is None or state in _OUTAGE_STATES or state.startswith("08")
    return isinstance(exc, psycopg.InterfaceError | OSError)


def _retry_after(detail: dict[str, Any] | None) -> str | None:
    if not detail:
        return None
    value = detail.get("retry_after")
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return None
    return str(max(1, math.ceil(value)))


def _parse_detail(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return {"detail": text}
    return value if isinstance(value, dict) else {"detail": value}


def from_database_error(exc: BaseException) -> FunctionError:
    """Map an exception raised while calling the database to the error that answers it.

    * a registered SQLSTATE: its class, with the database's message and hint; project (``WR``)
      codes keep their DETAIL (for rate limits, the JSON ``{"action", "retry_after"}``, which also
      becomes ``Retry-After``); PostgreSQL codes report the constraint they name, never the row;
    * an outage (connection refused or lost, pool timeout, shutdown): :class:`ServiceUnavailable`
      with ``Retry-After``;
    * a value psycopg cannot send (e.g. a NUL character): :class:`InvalidInput`;
    * anything else: :class:`InternalError` with a generic message; the cause is logged with its
      SQLSTATE, never sent to the client.
    """
    if isinstance(exc, FunctionError):
        return exc
    if is_outage(exc):
        logger.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        return ServiceUnavailable(headers={"Retry-After": "1"})
    if isinstance(exc, psycopg.Error) and exc.sqlstate is not None:
        cls = _registry.get(exc.sqlstate)
        diag = exc.diag
        if cls is None:
            if exc.sqlstate == "57014":  # statement timeout: a slow database, not a bad request
                logger.warning("database call timed out: %s", diag.message_primary)
                return ServiceUnavailable(
                    "the database took too long to answer: retry shortly",
                    headers={"Retry-After": "1"},
                )
            logger.error(
                "unmapped database error %s: %s (detail: %s)",
                exc.sqlstate,
                diag.message_primary,
                diag.message_detail,
            )
            return InternalError()
        message = diag.message_primary or cls.default_message
        if exc.sqlstate.startswith("WR"):
            details = _parse_detail(diag.message_detail)
            headers: dict[str, str] = {}
            retry = _retry_after(details) if issubclass(cls, RateLimited) else None
            if retry is not None:
                headers["Retry-After"] = retry
            return cls(message, hint=diag.message_hint, details=details, headers=headers)
        pg_details: dict[str, Any] | None = None
        if diag.constraint_name:
            pg_details = {"constraint": diag.constraint_name}
            if diag.column_name:
                pg_details["column"] = diag.column_name
        return cls(message, hint=diag.message_hint, details=pg_details)
    if isinstance(exc, psycopg.DataError):
        # Raised by psycopg itself before sending, e.g. for a NUL character in a string.
        return InvalidInput(f"a value cannot be stored: {exc}")
    logger.error("unexpected error calling the database", exc_info=exc)
    return InternalError()
