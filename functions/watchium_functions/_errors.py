"""The function app's errors: one exception carrying a catalogue code, and the one boundary where
a database error becomes one.

Every refusal reaches the client as ``{"error": {"code", "message", "hint"?, "details"?}}`` with
the HTTP status the error catalogue (:mod:`watchium_wire.errors`) gives its code: the project
SQLSTATEs and the PostgreSQL codes the SQL functions let through keep their own code; what never
reaches the database is ``WR400`` (a body that fails validation), ``WR401`` (a missing, forged or
expired token, a bad ``apikey``), ``WR413`` (a body or message too large) or a ``WH`` code.

:func:`from_database_error` is the one place a ``psycopg`` exception becomes a
:class:`FunctionError`.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import psycopg
import psycopg_pool

from watchium_wire.errors import by_code

__all__ = ["FunctionError", "from_database_error", "is_outage"]

logger = logging.getLogger(__name__)


class FunctionError(Exception):
    """A refusal with a catalogue ``code`` and the HTTP ``status`` of that code.

    ``FunctionError("WRH03")`` answers 403 with the catalogue's message; a message, a hint,
    structured details and extra response headers (``Retry-After``, ``Allow``) may be given.

    Raises (on construction):
        ValueError: a code that is not in the catalogue (a bug: add it there).
    """

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        entry = by_code(code)
        if entry is None:
            raise ValueError(f"error code {code!r} is not in the catalogue")
        self.code = code
        self.status = entry.status
        self.message = message or entry.message
        super().__init__(self.message)
        self.hint = hint
        self.details = details
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The ``error`` object of the response."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        if self.details is not None:
            out["details"] = self.details
        return out


def _unavailable(message: str | None = None) -> FunctionError:
    return FunctionError("WH503", message, headers={"Retry-After": "1"})


# -- the boundary ----------------------------------------------------------------------------

# The server went away, refuses connections for now, or has run out of disk or memory: nothing
# the caller sent is wrong, and the same call may succeed once it is back.
_OUTAGE_STATES = frozenset(
    {"57P01", "57P02", "57P03", "53100", "53200", "53300", "08000", "08003", "08006"}
)


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


def from_returned_error(error: dict[str, Any]) -> FunctionError:
    """The refusal a SQL function returned as ``{"code", "message", "hint", "detail"?}`` instead
    of raising it (so that what it counted is committed), answered like a raised one."""
    code = str(error.get("code") or "WR400")
    if by_code(code) is None:
        logger.error("a function returned an unknown error code %r", code)
        return FunctionError("WH500")
    detail = error.get("detail")
    details = _parse_detail(detail) if isinstance(detail, str) else None
    retry = _retry_after(details)
    return FunctionError(
        code,
        error.get("message"),
        hint=error.get("hint"),
        details=details,
        headers={"Retry-After": retry} if retry is not None else None,
    )


def from_database_error(exc: BaseException) -> FunctionError:
    """Map an exception raised while calling the database to the error that answers it.

    * a SQLSTATE in the catalogue: that code, with the database's message and hint; project (``WR``)
      codes keep their DETAIL (for rate limits, the JSON ``{"action", "retry_after"}``, which also
      becomes ``Retry-After``); PostgreSQL codes answer with the catalogue's message and the
      constraint they name, never PostgreSQL's text or the row;
    * an outage (connection refused or lost, pool timeout, shutdown): ``WH503``
      with ``Retry-After``;
    * a value psycopg cannot send (e.g. a NUL character): ``WR400``;
    * anything else: ``WH500`` with a generic message; the cause is logged with its
      SQLSTATE, never sent to the client.
    """
    if isinstance(exc, FunctionError):
        return exc
    if is_outage(exc):
        logger.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        return _unavailable()
    if isinstance(exc, psycopg.Error) and exc.sqlstate is not None:
        entry = by_code(exc.sqlstate)
        diag = exc.diag
        if entry is None:
            if exc.sqlstate == "57014":  # statement timeout: a slow database, not a bad request
                logger.warning("database call timed out: %s", diag.message_primary)
                return _unavailable("the database took too long to answer: retry shortly")
            logger.error(
                "unmapped database error %s: %s (detail: %s)",
                exc.sqlstate,
                diag.message_primary,
                diag.message_detail,
            )
            return FunctionError("WH500")
        message = diag.message_primary or entry.message
        if exc.sqlstate.startswith("WR"):
            details = _parse_detail(diag.message_detail)
            headers: dict[str, str] = {}
            retry = _retry_after(details) if entry.status == 429 else None
            if retry is not None:
                headers["Retry-After"] = retry
            return FunctionError(
                exc.sqlstate, message, hint=diag.message_hint, details=details, headers=headers
            )
        pg_details: dict[str, Any] | None = None
        if diag.constraint_name:
            pg_details = {"constraint": diag.constraint_name}
            if diag.column_name:
                pg_details["column"] = diag.column_name
        # PostgreSQL's own message speaks of its internals (types, relations, failing rows): the
        # answer says it in the catalogue's words, with the constraint it names.
        logger.info("database refused with %s: %s", exc.sqlstate, diag.message_primary)
        return FunctionError(exc.sqlstate, entry.message, details=pg_details)
    if isinstance(exc, psycopg.DataError):
        # Raised by psycopg itself before sending, e.g. for a NUL character in a string.
        # Its message names psycopg's internals: say what is wrong in the product's terms.
        logger.info("a value could not be sent to the database: %s", exc)
        return FunctionError("WR400", "a value cannot be stored (NUL characters are not allowed)")
    logger.error("unexpected error calling the database", exc_info=exc)
    return FunctionError("WH500")
