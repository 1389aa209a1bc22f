"""The SDK's exceptions: one class per error code of docs/ERRORS.md.

Every refusal of the functions arrives as ``{"error": {"code", "message", "hint"?, "details"?}}``
with an HTTP status; :func:`error_from_response` turns it into the class registered for its code
(subclasses register themselves with ``class X(WatchiumError, code="WR404")``), so an app catches
``RoomNotFound`` or ``RateLimited`` instead of parsing messages. A code the SDK does not know still
gives a :class:`WatchiumError` carrying it.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

__all__ = [
    "WatchiumError",
    "ConnectionFailed",
    "InvalidInput",
    "SignInRequired",
    "Forbidden",
    "NotHost",
    "NotMember",
    "WrongAccessKey",
    "NotFound",
    "RoomNotFound",
    "CommentNotFound",
    "FunctionNotFound",
    "MethodNotAllowed",
    "Conflict",
    "RoomFull",
    "TooLarge",
    "UnsupportedMediaType",
    "RateLimited",
    "KeyChecksPaused",
    "ServerError",
    "ServiceUnavailable",
    "error_from_response",
    "registered_codes",
]


class WatchiumError(Exception):
    """A refusal or failure of a Watchium call.

    Attributes:
        code: the stable error code (``WR404``...), or ``None`` for a failure without one.
        message: what is wrong.
        status: the HTTP status (``None`` when no answer came back).
        hint: what to do about it, when the server says.
        details: structured details (invalid fields, rate-limit wait, ...).
    """

    _registry: ClassVar[dict[str, type[WatchiumError]]] = {}
    code: str | None = None

    def __init_subclass__(
        cls, code: str | None = None, also: tuple[str, ...] = (), **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code
        for each in (code, *also) if code is not None else also:
            if each in WatchiumError._registry:
                raise TypeError(f"error code {each} is already {WatchiumError._registry[each]}")
            WatchiumError._registry[each] = cls

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.status = status
        self.hint = hint
        self.details = details or {}

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}" if self.code else self.message
        return f"{text} ({self.hint})" if self.hint else text


class ConnectionFailed(WatchiumError):
    """No answer from the server (refused, reset, timed out)."""


# PostgreSQL's own codes that reach clients (docs/ERRORS.md) map to the class of their status.
class InvalidInput(
    WatchiumError,
    code="WR400",
    also=("23514", "23502", "22001", "22003", "22007", "22008", "22P02"),
):
    """The request was invalid; ``details["fields"]`` lists every bad field when validation says,
    ``details["constraint"]`` the table constraint a value broke."""


class SignInRequired(WatchiumError, code="WR401"):
    """No valid session: sign in (anonymous sign-in is enough) or refresh the session."""


class Forbidden(WatchiumError, code="WR403", also=("42501",)):
    """Not allowed: e.g. acting for another user, or writing a column the role may not."""


class NotHost(Forbidden, code="WRH03"):
    """Only the room's host may do this."""


class NotMember(Forbidden, code="WRM03"):
    """Only members of the room may do this (join it first)."""


class WrongAccessKey(Forbidden, code="WRK03"):
    """The private room's access key is missing or wrong."""


class NotFound(WatchiumError):
    """Something does not exist (or is not visible to the caller)."""


class RoomNotFound(NotFound, code="WR404"):
    """No such room, or a private room the caller is not a member of."""


class CommentNotFound(NotFound, code="WRC04"):
    """The parent comment does not exist or is not visible."""


class FunctionNotFound(NotFound, code="WH404"):
    """No function of that name (an SDK/server version mismatch)."""


class MethodNotAllowed(WatchiumError, code="WH405"):
    """The function was called with the wrong HTTP method."""


class Conflict(WatchiumError, code="WR409", also=("23505", "23503", "40001", "40P01")):
    """The request conflicts with the current state (a reply to another thread, a concurrent
    change): for 40001/40P01, retrying is safe."""


class RoomFull(Conflict, code="WRF09"):
    """The room has no free place."""


class TooLarge(WatchiumError, code="WR413"):
    """The comment or the request body is too large."""


class UnsupportedMediaType(WatchiumError, code="WH415"):
    """The body was not JSON."""


class RateLimited(WatchiumError, code="WR429"):
    """A rate limit was reached; :attr:`retry_after` says how many seconds to wait."""

    @property
    def retry_after(self) -> float:
        """Seconds until the call may be retried (from the server's details)."""
        value = self.details.get("retry_after")
        try:
            seconds = float(value) if value is not None else math.nan
        except (TypeError, ValueError):
            seconds = math.nan
        return seconds if math.isfinite(seconds) and seconds >= 0 else 1.0


class KeyChecksPaused(RateLimited, code="WRL29"):
    """Too many wrong access keys (by this user, or for this room): key checks are paused."""


class ServerError(WatchiumError, code="WH500"):
    """An internal error of the server (a bug: the server logged its cause)."""


class ServiceUnavailable(WatchiumError, code="WH503"):
    """The server cannot reach its database right now: retry shortly."""


_BY_STATUS: dict[int, type[WatchiumError]] = {
    400: InvalidInput,
    401: SignInRequired,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    429: RateLimited,
    503: ServiceUnavailable,
}


def registered_codes() -> dict[str, type[WatchiumError]]:
    """Every error code the SDK knows, with its class."""
    return dict(WatchiumError._registry)


def error_from_response(status: int | None, error: Any) -> WatchiumError:
    """The exception for an error answer: ``error`` is the body's ``error`` object (or text).

    The class comes from the code; for an unknown code, from the HTTP status.
    """
    if isinstance(error, dict):
        code = error.get("code")
        message = str(error.get("message") or "request refused")
        hint = error.get("hint")
        details = error.get("details") if isinstance(error.get("details"), dict) else None
    else:
        code, message, hint, details = None, str(error or f"HTTP {status}"), None, None
    cls = WatchiumError._registry.get(code) if isinstance(code, str) else None
    if cls is None:
        cls = _BY_STATUS.get(status or 0, ServerError if (status or 0) >= 500 else WatchiumError)
    return cls(
        message,
        code=code if isinstance(code, str) else None,
        status=status,
        hint=str(hint) if hint else None,
        details=details,
    )
