"""Supabase-style JWTs: HS256 tokens whose claims PostgreSQL reads through ``auth.uid()``.

The same secret signs the project's API keys (``anon``, ``service_role``) and users' access tokens.
Verification is shared by the functions and the local Realtime server.
"""

from __future__ import annotations

from typing import Any

import jwt

__all__ = ["TokenError", "decode_token", "encode_token", "API_ROLES"]

# The roles a token may carry; anything else is refused before it reaches `set role`.
API_ROLES = frozenset({"anon", "authenticated", "service_role"})


class TokenError(Exception):
    """A token was missing, malformed, forged, expired or named an unknown role."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = (
            reason  # "missing" | "malformed" | "invalid_signature" | "expired" | "bad_role"
        )
        self.message = message


def encode_token(claims: dict[str, Any], secret: str) -> str:
    """Sign ``claims`` with HS256."""
    return jwt.encode(claims, secret, algorithm="HS256")


def decode_token(token: str | None, secret: str, *, leeway: float = 0) -> dict[str, Any]:
    """Verify an HS256 token and return its claims.

    The token must carry a ``role`` among :data:`API_ROLES`; ``exp`` is checked when present
    (Supabase's API keys carry one far in the future).

    Raises:
        TokenError: with ``reason`` saying what is wrong.
    """
    if not token:
        raise TokenError("missing", "no access token: send 'Authorization: Bearer <JWT>'")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            leeway=leeway,
            options={"verify_aud": False, "require": []},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("expired", "the access token has expired: refresh the session") from None
    except jwt.InvalidSignatureError:
        raise TokenError("invalid_signature", "the access token's signature is invalid") from None
    except jwt.InvalidTokenError as exc:
        raise TokenError("malformed", f"the access token is not a valid JWT: {exc}") from None
    role = claims.get("role")
    if role not in API_ROLES:
        raise TokenError("bad_role", f"the access token's role {role!r} is not an API role")
    if role == "authenticated" and not claims.get("sub"):
        raise TokenError("malformed", "a user's access token must carry 'sub'")
    return claims
