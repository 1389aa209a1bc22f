"""The SDK's exceptions: one class per kind of refusal, bound to the codes of the error catalogue.

Every refusal of the functions arrives as ``{"error": {"code", "message", "hint"?, "details"?}}``
with an HTTP status; :func:`error_from_response` turns it into the class the catalogue
(:data:`watchium_wire.errors.CATALOGUE`) names for its code, so an app catches ``RoomNotFound`` or
``RateLimited`` instead of parsing messages. A class takes its codes from the catalogue by its own
name; a code the SDK does not know still gives a :class:`WatchiumError` carrying it.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from watchium_wire.errors import CATALOGUE, codes_of

__all__ = [
    "WatchiumError",
    "ConnectionFailed",
    "InvalidInput",
    "SignInRequired",
    "Forbidden",
    "NotHost",
    "NotMember",
    "Banned",
    "Muted",
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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        codes = codes_of(cls.__name__)
        if codes:
            cls.code = codes[0]
        for each in codes:
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


class InvalidInput(WatchiumError):
    """The request was invalid; ``details["fields"]`` lists every bad field when validation says,
    ``details["constraint"]`` the table constraint a value broke."""


class SignInRequired(WatchiumError):
    """No valid session: sign in (anonymous sign-in is enough) or refresh the session."""


class Forbidden(WatchiumError):
    """Not allowed: e.g. acting for another user, or writing a column the role may not."""


class NotHost(Forbidden):
    """Only the room's host may do this."""


class NotMember(Forbidden):
    """Only members of the room may do this (join it first)."""


class Banned(Forbidden):
    """Banned from the room by its host or a co-host: joining it is refused, with any key or
    invite, until the ban is lifted."""


class Muted(Forbidden):
    """Muted in the room by its host or a co-host: comments there are refused."""


class WrongAccessKey(Forbidden):
    """A private room's access key was missing or wrong, as a database before migration 016
    says it (since, that is :class:`RoomNotFound`, so that private rooms cannot be probed)."""


class NotFound(WatchiumError):
    """Something does not exist (or is not visible to the caller)."""


class RoomNotFound(NotFound):
    """No such room, or a private room the caller is not a member of (joining it without the
    right key or invite says the same, so that private rooms cannot be probed)."""


class CommentNotFound(NotFound):
    """The parent comment does not exist or is not visible."""


class FunctionNotFound(NotFound):
    """No function of that name (an SDK/server version mismatch)."""


class MethodNotAllowed(WatchiumError):
    """The function was called with the wrong HTTP method."""


class Conflict(WatchiumError):
    """The request conflicts with the current state (a reply to another thread, a concurrent
    change): for 40001/40P01, retrying is safe."""


class RoomFull(Conflict):
    """The room has no free place."""


class TooLarge(WatchiumError):
    """The comment or the request body is too large."""


class UnsupportedMediaType(WatchiumError):
    """The body was not JSON."""


class RateLimited(WatchiumError):
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


class KeyChecksPaused(RateLimited):
    """Too many wrong access keys (by this user, or for this room): key checks are paused."""


class ServerError(WatchiumError):
    """An internal error of the server (a bug: the server logged its cause)."""


class ServiceUnavailable(WatchiumError):
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


_missing = {entry.name for entry in CATALOGUE} - {
    cls.__name__ for cls in WatchiumError._registry.values()
}
if _missing:  # pragma: no cover - a class named in the catalogue is not defined above
    raise RuntimeError(f"the error catalogue names classes the SDK lacks: {sorted(_missing)}")
