"""Supabase-style JWTs: users' access tokens (and the legacy API keys), whose claims PostgreSQL
reads through ``auth.uid()``.

A project signs its tokens with one of two systems, and trusts both while both exist:

* **signing keys**: asymmetric keys (ES256, RS256) whose public halves the project publishes as a
  JSON Web Key Set at ``<project>/auth/v1/.well-known/jwks.json``; a token names its key with the
  ``kid`` header;
* **the legacy JWT secret**: one HS256 secret that signs users' tokens and the ``anon`` and
  ``service_role`` API keys.

:func:`verify_token` checks a token against a :class:`KeySet` (the published keys and, when
configured, the legacy secret). Every refusal is a :class:`TokenError` whose ``reason`` is one of
:data:`REASONS` and whose message is ours (never the JWT library's). Verification is shared by
the functions, the local auth server and the local Realtime server; where the keys come from is
:mod:`watchium_functions.jwks`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

__all__ = [
    "API_ROLES",
    "LEGACY_ALGORITHM",
    "REASONS",
    "SIGNING_ALGORITHMS",
    "KeySet",
    "KeysUnavailable",
    "TokenError",
    "encode_token",
    "verify_token",
]

API_ROLES = frozenset({"anon", "authenticated", "service_role"})
"""The roles a token may carry; anything else is refused before it reaches ``set role``."""

LEGACY_ALGORITHM = "HS256"
SIGNING_ALGORITHMS = frozenset({"ES256", "RS256"})
"""The asymmetric algorithms Supabase Auth's signing keys use."""

REASONS = {
    "missing": "no access token: send 'Authorization: Bearer <access token>'",
    "malformed": "the access token is not a valid JWT",
    "invalid_signature": "the access token's signature does not match the project's key",
    "unknown_key": "the access token is signed with a key the project does not list",
    "bad_algorithm": "the access token is signed with an algorithm the project does not use",
    "expired": "the access token has expired: refresh the session",
    "not_yet_valid": "the access token is not valid yet",
    "bad_role": "the access token's role must be one of anon, authenticated, service_role",
}
"""Every reason a token is refused for, with the message that says so."""


class TokenError(Exception):
    """A token was refused; ``reason`` is a key of :data:`REASONS`.

    ``kid`` is set when the token names a key the :class:`KeySet` does not hold (a newer key
    may have been published since the set was fetched).
    """

    def __init__(self, reason: str, message: str | None = None, *, kid: str | None = None):
        self.reason = reason
        self.message = message or REASONS[reason]
        self.kid = kid
        super().__init__(self.message)


class KeysUnavailable(Exception):
    """The project's published keys could not be had (never fetched, or the fetch failed)."""


@dataclass(frozen=True, slots=True)
class KeySet:
    """The keys a project's tokens may be signed with: published keys by ``kid``, and the legacy
    secret when it is still trusted."""

    keys: Mapping[str, jwt.PyJWK] = field(default_factory=dict)
    legacy_secret: str | None = None

    @property
    def algorithms(self) -> frozenset[str]:
        """The ``alg`` values a token of this project may carry."""
        found = {key.algorithm_name for key in self.keys.values()}
        if self.legacy_secret:
            found.add(LEGACY_ALGORITHM)
        return frozenset(found)

    @staticmethod
    def parse_jwks(document: Any) -> dict[str, jwt.PyJWK]:
        """The usable public keys of a JWKS document (``{"keys": [...]}``) by ``kid``: keys without
        a ``kid``, symmetric keys and algorithms other than :data:`SIGNING_ALGORITHMS` are left
        out.

        Raises:
            ValueError: the document is not a JSON Web Key Set.
        """
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("not a JSON Web Key Set: expected an object with a 'keys' list")
        found: dict[str, jwt.PyJWK] = {}
        for entry in document["keys"]:
            if not isinstance(entry, dict) or entry.get("kty") == "oct":
                continue
            kid = entry.get("kid")
            if not isinstance(kid, str) or not kid:
                continue
            try:
                key = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue
            if key.algorithm_name in SIGNING_ALGORITHMS:
                found[kid] = key
        return found


def encode_token(claims: dict[str, Any], secret: str) -> str:
    """Sign ``claims`` with HS256 and ``secret`` (the legacy system)."""
    return jwt.encode(claims, secret, algorithm=LEGACY_ALGORITHM)


def _key_for(header: dict[str, Any], keys: KeySet) -> tuple[str, Any]:
    alg, kid = header.get("alg"), header.get("kid")
    if not isinstance(alg, str):
        raise TokenError("malformed")
    if alg == LEGACY_ALGORITHM:
        if not keys.legacy_secret:
            raise TokenError(
                "bad_algorithm",
                "the access token is signed with the legacy JWT secret (HS256), "
                "which this project does not accept",
            )
        return alg, keys.legacy_secret
    found = keys.keys.get(kid) if isinstance(kid, str) else None
    if found is None:
        unknown = kid if isinstance(kid, str) and kid else None
        if alg not in keys.algorithms:
            raise TokenError("bad_algorithm", kid=unknown)
        raise TokenError("unknown_key", kid=unknown)
    if found.algorithm_name != alg:
        raise TokenError("bad_algorithm")
    return alg, found.key


def _check_claims(claims: dict[str, Any]) -> None:
    role = claims.get("role")
    if not isinstance(role, str) or role not in API_ROLES:
        raise TokenError("bad_role")
    sub = claims.get("sub")
    if sub is not None and not isinstance(sub, str):
        raise TokenError("malformed", "the access token's 'sub' must be a string")
    if role == "authenticated" and not sub:
        raise TokenError("malformed", "a user's access token must carry 'sub'")
    session_id = claims.get("session_id")
    if session_id is not None and not _is_uuid(session_id):
        raise TokenError("malformed", "the access token's 'session_id' must be a UUID")


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def verify_token(token: str | None, keys: KeySet, *, leeway: float = 0) -> dict[str, Any]:
    """Verify a token against ``keys`` and return its claims.

    The token's ``alg`` chooses the key: HS256 the legacy secret, an asymmetric algorithm the
    published key its ``kid`` names (whose own algorithm must be the same). ``exp`` and ``nbf``
    are checked when present (Supabase's legacy API keys carry an ``exp`` far in the future);
    ``role`` must be one of :data:`API_ROLES`, and a user's token (``authenticated``) must name
    its user (``sub``).

    Raises:
        TokenError: with ``reason`` saying what is wrong.
    """
    if not token:
        raise TokenError("missing")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenError("malformed") from None
    alg, key = _key_for(header, keys)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[alg],
            leeway=leeway,
            options={"verify_aud": False, "require": []},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("expired") from None
    except jwt.InvalidSignatureError:
        raise TokenError("invalid_signature") from None
    except jwt.ImmatureSignatureError:
        raise TokenError("not_yet_valid") from None
    except jwt.PyJWTError:
        raise TokenError("malformed") from None
    _check_claims(claims)
    return claims
