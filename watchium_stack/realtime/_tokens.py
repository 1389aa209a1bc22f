"""API keys and channel tokens, checked as upstream Realtime checks them, and the credentials a
channel acts with once one is accepted.

* The socket's API key must be one of the project's: a publishable or secret key, or a legacy
  JWT key; a secret key from a browser is refused, as Supabase refuses it.
* A channel token is a user's access token (signed with one of the project's signing keys or the
  legacy secret; ``role`` and ``exp`` required), or the socket's API key, which acts as its role.
  Refusals carry upstream's reasons.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import jwt

from watchium_functions.apikeys import ApiKeys, is_api_key, is_browser
from watchium_functions.jwks import TokenVerifier
from watchium_functions.tokens import KeySet, KeysUnavailable, TokenError, verify_token

__all__ = ["ChannelAuth", "Credentials", "TokenProblem", "expired_message"]

_API_KEY_ROLES = frozenset({"anon", "service_role"})
_SIGNATURE_REASONS = frozenset({"invalid_signature", "unknown_key", "bad_algorithm"})


class TokenProblem(Exception):
    """A channel token was refused; ``reason`` is upstream's ``Code: message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.message}"


def expired_message(token: str | None) -> str:
    """Upstream's message for an expired token: how long ago it expired."""
    try:
        exp = jwt.decode(token or "", options={"verify_signature": False})["exp"]
        ago = max(0, int(time.time() - float(exp)))
    except Exception:
        ago = 0
    return f"Token has expired {ago} seconds ago"


def _problem(exc: TokenError, token: str) -> TokenProblem:
    if exc.reason == "expired":
        return TokenProblem("InvalidJWTToken", expired_message(token))
    if exc.reason == "invalid_signature":
        return TokenProblem("JwtSignatureError", "Failed to validate JWT signature")
    if exc.reason in _SIGNATURE_REASONS:
        return TokenProblem("JwtSignatureError", exc.message)
    if exc.reason in ("bad_role", "not_yet_valid"):
        return TokenProblem("InvalidJWTToken", exc.message)
    return TokenProblem("MalformedJWT", "The token provided is not a valid JWT")


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
        """Credentials for verified ``claims``."""
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


class ChannelAuth:
    """The project's API keys and token verification, as the Realtime server applies them."""

    def __init__(self, api_keys: ApiKeys, verifier: TokenVerifier) -> None:
        self._api_keys = api_keys
        self._verifier = verifier
        self._legacy = KeySet({}, verifier.legacy_secret)

    def api_key_role(self, value: str, user_agent: str | None = None) -> str:
        """The role of one of the project's API keys.

        Raises:
            TokenProblem: not a project key, or a secret key sent by a browser.
        """
        if is_api_key(value):
            role = self._api_keys.role_of(value)
            if role == "service_role" and is_browser(user_agent):
                raise TokenProblem("Unauthorized", "Forbidden use of secret API key in browser")
        else:
            try:
                role = str(verify_token(value, self._legacy)["role"])
            except TokenError:
                role = None
        if role not in _API_KEY_ROLES:
            raise TokenProblem("Unauthorized", "Invalid API key")
        return role

    async def credentials(self, token: str) -> Credentials:
        """Credentials for a channel token: a user's access token, or an API key accepted at
        the handshake (which acts as its role).

        Raises:
            TokenProblem: with upstream's code and message.
        """
        if is_api_key(token):
            return Credentials.of(token, {"role": self.api_key_role(token)})
        try:
            claims = await self._verifier.verify(token)
        except TokenError as exc:
            raise _problem(exc, token) from None
        except KeysUnavailable:
            raise TokenProblem(
                "UnableToConnectToProject", "Realtime was unable to fetch the project's keys"
            ) from None
        if not isinstance(claims.get("exp"), int) or not claims.get("role"):
            raise TokenProblem("InvalidJWTToken", "Fields `role` and `exp` are required in JWT")
        return Credentials.of(token, claims)
