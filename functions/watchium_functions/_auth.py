"""Who is calling: the ``apikey`` header and the ``Authorization: Bearer`` token, as Supabase's API
gateway and PostgREST read them.

* ``apikey`` is required and must be one of the project's keys: a token signed with the project's
  secret whose role is ``anon`` or ``service_role``.
* ``Authorization: Bearer <JWT>`` names the caller (a user's access token, or a project key).
  Without it the caller is the ``apikey``'s role, as PostgREST does: usually ``anon``.
* A caller without a user learns first that it must sign in: as PostgREST answers, a privilege
  the ``anon`` role lacks (the functions that act as a user are not granted to it) is a 401, not
  the 403 it is for a signed-in user (:meth:`Identity.refusal`).

Verified tokens are cached (by their exact text, until they expire), so a client calling every
second does not pay for signature verification each time.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from watchium_functions._errors import FunctionError
from watchium_functions.tokens import TokenError, decode_token

__all__ = ["Identity", "Authenticator"]

_PROJECT_KEY_ROLES = frozenset({"anon", "service_role"})
_INSUFFICIENT_PRIVILEGE = "42501"


@dataclass(frozen=True, slots=True)
class Identity:
    """The caller of one request."""

    role: str
    claims: dict[str, Any]
    claims_json: str
    expires_at: float | None

    @property
    def user_id(self) -> str | None:
        sub = self.claims.get("sub")
        return str(sub) if sub is not None else None

    def refusal(self, error: FunctionError) -> FunctionError:
        """``error`` as this caller is answered: for ``anon``, a missing privilege (42501) is
        "sign-in required" (401 WR401), whatever else the request carried."""
        if error.code == _INSUFFICIENT_PRIVILEGE and self.role == "anon":
            return FunctionError(
                "WR401",
                "sign-in required",
                hint="sign in (anonymous sign-in is enough) and send the session's access token",
            )
        return error


class Authenticator:
    """Verifies project keys and access tokens with the project's JWT secret."""

    def __init__(self, jwt_secret: str, *, cache_size: int = 4096) -> None:
        self._secret = jwt_secret
        self._cache: dict[str, Identity] = {}
        self._cache_size = cache_size

    def _verify(self, token: str) -> Identity:
        now = time.time()
        cached = self._cache.get(token)
        if cached is not None:
            if cached.expires_at is None or cached.expires_at > now:
                return cached
            del self._cache[token]
        claims = decode_token(token, self._secret)
        # PostgREST puts the role into the claims it hands to the database.
        role = str(claims["role"])
        exp = claims.get("exp")
        identity = Identity(
            role=role,
            claims=claims,
            claims_json=json.dumps(claims, separators=(",", ":")),
            expires_at=float(exp) if isinstance(exp, int | float) else None,
        )
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[token] = identity
        return identity

    def identify(self, apikey: str | None, authorization: str | None) -> Identity:
        """The caller, from the ``apikey`` and ``Authorization`` header values.

        Raises:
            FunctionError: (401, WR401) the API key is missing or not a project key, or the
                bearer token is malformed, forged or expired; ``details.reason`` says which.
        """
        if not apikey:
            raise FunctionError(
                "WR401",
                "no API key: send the project's anon key in the 'apikey' header",
                details={"reason": "missing_apikey"},
            )
        try:
            key = self._verify(apikey.strip())
        except TokenError:
            key = None
        if key is None or key.role not in _PROJECT_KEY_ROLES:
            raise FunctionError(
                "WR401",
                "invalid API key: the 'apikey' header must hold one of the project's keys",
                details={"reason": "invalid_apikey"},
            )
        if authorization is None or not authorization.strip():
            return key
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise FunctionError(
                "WR401",
                "the Authorization header must be 'Bearer <access token>'",
                details={"reason": "malformed"},
            )
        try:
            return self._verify(token.strip())
        except TokenError as exc:
            hint = (
                "refresh the session (supabase: auth.refresh_session()) and retry"
                if exc.reason == "expired"
                else "sign in again (anonymous sign-in is enough)"
            )
            raise FunctionError(
                "WR401", exc.message, hint=hint, details={"reason": exc.reason}
            ) from None
