"""What the local auth server signs and checks: users' sessions, the bearer tokens it is sent, and
the API key every request must carry.

* **Sessions** are signed as the project's key model says (:data:`~watchium_stack.keys.KEY_MODELS`):
  with the signing key in use (ES256, ``kid`` in the header) or, for a project on the legacy
  keys, with the JWT secret (HS256).
* **Bearer tokens** are accepted when signed by any trusted signing key or the legacy secret.
* **The API key** (``apikey`` header or query parameter) must be one of the project's keys; a
  secret key is refused from a browser, as Supabase's API gateway refuses it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from watchium_functions.apikeys import ApiKeys, is_api_key, is_browser
from watchium_functions.asgi import Scope, header
from watchium_functions.tokens import KeySet, TokenError, encode_token, verify_token
from watchium_stack.keys import SigningKeys

__all__ = ["AuthError", "AuthKeys", "user_json"]


class AuthError(Exception):
    """An error answered in Supabase Auth's shape."""

    def __init__(
        self, status: int, error_code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = headers or {}


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def user_json(row: dict[str, Any]) -> dict[str, Any]:
    """An ``auth.users`` row as Supabase Auth answers it."""
    return {
        "id": str(row["id"]),
        "aud": row["aud"] or "authenticated",
        "role": row["role"] or "authenticated",
        "email": row["email"] or "",
        "phone": "",
        "last_sign_in_at": _iso(row["last_sign_in_at"]),
        "app_metadata": row["raw_app_meta_data"] or {},
        "user_metadata": row["raw_user_meta_data"] or {},
        "identities": [],
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
        "is_anonymous": bool(row["is_anonymous"]),
    }


class AuthKeys:
    """The keys of the auth server (see the module docstring).

    Args:
        jwt_secret: the legacy secret: verifies the legacy API keys and HS256 sessions.
        signing_keys: the project's signing keys; None for a project on the legacy keys (its
            sessions are signed with ``jwt_secret`` and its JWKS is empty).
        api_keys: the publishable and secret keys.
        issuer: the ``iss`` claim (``<API URL>/auth/v1``).
        access_token_ttl: seconds an access token lives.
    """

    def __init__(
        self,
        *,
        jwt_secret: str,
        signing_keys: SigningKeys | None,
        api_keys: ApiKeys,
        issuer: str,
        access_token_ttl: int,
    ) -> None:
        self.jwt_secret = jwt_secret
        self.signing_keys = signing_keys
        self.api_keys = api_keys
        self.issuer = issuer
        self.access_token_ttl = access_token_ttl

    def jwks(self) -> dict[str, Any]:
        """The published keys (none for a project on the legacy keys)."""
        return self.signing_keys.jwks() if self.signing_keys is not None else {"keys": []}

    def _trusted(self) -> KeySet:
        published = self.signing_keys.trusted() if self.signing_keys is not None else {}
        return KeySet(published, self.jwt_secret)

    def check_api_key(self, scope: Scope) -> None:
        """Refuse a request without one of the project's API keys, or with a secret key from a
        browser.

        Raises:
            AuthError: 401 ``no_api_key``, ``invalid_api_key`` or ``secret_key_in_browser``.
        """
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        value = (header(scope, b"apikey") or (query.get("apikey") or [""])[0]).strip()
        if not value:
            raise AuthError(401, "no_api_key", "No API key found in request")
        if is_api_key(value):
            role = self.api_keys.role_of(value)
            if role == "service_role" and is_browser(header(scope, b"user-agent")):
                raise AuthError(
                    401, "secret_key_in_browser", "Forbidden use of secret API key in browser"
                )
        else:
            try:
                claims = verify_token(value, KeySet({}, self.jwt_secret))
            except TokenError:
                role = None
            else:
                role = claims["role"] if claims["role"] != "authenticated" else None
        if role is None:
            raise AuthError(401, "invalid_api_key", "Invalid API key")

    def access_token(self, user: dict[str, Any], session_id: str) -> tuple[str, int, int]:
        """A new access token for ``user``'s session: (token, lifetime, expiry)."""
        now = int(time.time())
        exp = now + self.access_token_ttl
        app_metadata = user["raw_app_meta_data"] or {}
        claims = {
            "iss": self.issuer,
            "sub": str(user["id"]),
            "aud": "authenticated",
            "exp": exp,
            "iat": now,
            "email": user["email"] or "",
            "phone": "",
            "app_metadata": app_metadata,
            "user_metadata": user["raw_user_meta_data"] or {},
            "role": "authenticated",
            "aal": "aal1",
            "amr": [{"method": app_metadata.get("provider", "anonymous"), "timestamp": now}],
            "session_id": session_id,
            "is_anonymous": bool(user["is_anonymous"]),
        }
        if self.signing_keys is not None:
            token = self.signing_keys.current().sign(claims)
        else:
            token = encode_token(claims, self.jwt_secret)
        return token, self.access_token_ttl, exp

    def session_json(
        self, user: dict[str, Any], session_id: str, refresh_token: str
    ) -> dict[str, Any]:
        """A session as Supabase Auth answers it."""
        token, expires_in, expires_at = self.access_token(user, session_id)
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": expires_in,
            "expires_at": expires_at,
            "refresh_token": refresh_token,
            "user": user_json(user),
        }

    def bearer_claims(self, scope: Scope) -> dict[str, Any]:
        """The claims of the request's bearer token, which must name a user.

        Raises:
            AuthError: 401 without a bearer token, 403 for a token that is refused.
        """
        value = header(scope, b"authorization") or ""
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(401, "no_authorization", "This endpoint requires a valid Bearer token")
        try:
            claims = verify_token(token.strip(), self._trusted())
        except TokenError as exc:
            raise AuthError(403, "bad_jwt", f"invalid JWT: {exc.message}") from None
        if not claims.get("sub"):
            raise AuthError(403, "bad_jwt", "invalid claim: missing sub claim")
        return claims
