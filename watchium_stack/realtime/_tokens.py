"""Channel tokens: verified as upstream verifies them (``role`` and ``exp`` required, upstream's
reasons when refused), and the credentials a channel acts with once one is accepted."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import jwt

from watchium_functions.tokens import TokenError, decode_token

__all__ = ["TokenProblem", "Credentials", "verify_token", "expired_message"]


class TokenProblem(Exception):
    """A channel token was refused; ``reason`` is upstream's ``Code: message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.message}"


def verify_token(token: str | None, secret: str) -> dict[str, Any]:
    """Verify a channel token as upstream does (``role`` and ``exp`` required).

    Raises:
        TokenProblem: with upstream's code and message.
    """
    try:
        claims = decode_token(token, secret)
    except TokenError as exc:
        if exc.reason == "expired":
            raise TokenProblem("InvalidJWTToken", expired_message(token)) from None
        if exc.reason == "invalid_signature":
            raise TokenProblem("JwtSignatureError", "Failed to validate JWT signature") from None
        if exc.reason == "bad_role":
            raise TokenProblem("InvalidJWTToken", exc.message) from None
        raise TokenProblem("MalformedJWT", "The token provided is not a valid JWT") from None
    if not isinstance(claims.get("exp"), int) or not claims.get("role"):
        raise TokenProblem("InvalidJWTToken", "Fields `role` and `exp` are required in JWT")
    return claims


def expired_message(token: str | None) -> str:
    """Upstream's message for an expired token: how long ago it expired."""
    try:
        exp = jwt.decode(token or "", options={"verify_signature": False})["exp"]
        ago = max(0, int(time.time() - float(exp)))
    except Exception:
        ago = 0
    return f"Token has expired {ago} seconds ago"


@dataclass(frozen=True, slots=True)
class Credentials:
    """Whom a channel acts as: its token's claims, and the ``(role, claims JSON)`` subject that
    row level security checks are made for (subscribers with equal subjects share a check)."""

    token: str
    claims: dict[str, Any]
    role: str
    claims_json: str
    subject: tuple[str, str]

    @classmethod
    def of(cls, token: str, claims: dict[str, Any]) -> Credentials:
        """Credentials for verified ``claims`` (see :func:`verify_token`)."""
        role = str(claims["role"])
        claims_json = json.dumps(claims, sort_keys=True, separators=(",", ":"))
        return cls(token, claims, role, claims_json, (role, claims_json))

    @property
    def sub(self) -> str | None:
        sub = self.claims.get("sub")
        return str(sub) if sub else None

    @property
    def expires_at(self) -> int | None:
        exp = self.claims.get("exp")
        return exp if isinstance(exp, int) else None
