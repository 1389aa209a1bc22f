"""Who is calling: the ``apikey`` header and the ``Authorization: Bearer`` token, as Supabase's API
gateway and PostgREST read them.

* ``apikey`` is required and must be one of the project's keys: a publishable key (the caller
  is ``anon``) or a secret key (``service_role``; refused from a browser), or one of the legacy
  JWT keys (``anon``, ``service_role``: HS256 with the project's JWT secret).
* ``Authorization: Bearer <access token>`` names the caller: a user's access token, signed with
  one of the project's signing keys (its JWKS) or the legacy secret. Without it, or when it
  repeats the ``apikey`` (supabase-py and supabase-js send the key there when nobody is signed
  in), the caller is the key's role, as with PostgREST. Any other API key there is refused: it
  is not a token.
* A token whose session has ended (``session_id``) is refused: see :mod:`._sessions`.
* A caller without a user learns first that it must sign in: as PostgREST answers, a privilege
  the ``anon`` role lacks (the functions that act as a user are not granted to it) is a 401, not
  the 403 it is for a signed-in user (:meth:`Identity.refusal`).

Verified tokens are cached (by their exact text, until they expire or the published keys change),
so a client calling every second pays for signature verification once; no request waits on the
network but for a key set due for renewal (see :mod:`watchium_functions.jwks`).
"""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

from watchium_functions._db import Database
from watchium_functions._errors import FunctionError
from watchium_functions._sessions import SessionCheck
from watchium_functions._settings import FunctionsSettings
from watchium_functions.apikeys import ApiKeys, is_api_key, is_browser
from watchium_functions.jwks import RemoteJwks, TokenVerifier
from watchium_functions.tokens import KeySet, KeysUnavailable, TokenError, verify_token

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
    session_id: str | None = None

    @classmethod
    def of(cls, claims: dict[str, Any]) -> Identity:
        """The identity of verified ``claims``."""
        exp = claims.get("exp")
        session = claims.get("session_id")
        return cls(
            role=str(claims["role"]),
            claims=claims,
            # PostgREST puts the role into the claims it hands to the database.
            claims_json=json.dumps(claims, separators=(",", ":")),
            expires_at=float(exp) if isinstance(exp, int | float) else None,
            session_id=str(uuid.UUID(session)) if isinstance(session, str) else None,
        )

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


def _refused(reason: str, message: str, hint: str | None = None) -> FunctionError:
    return FunctionError("WR401", message, hint=hint, details={"reason": reason})


_SIGN_IN_AGAIN = "sign in again (anonymous sign-in is enough)"
_HINTS = {"expired": "refresh the session (supabase: auth.refresh_session()) and retry"}


class Authenticator:
    """Verifies project keys and access tokens (see the module docstring).

    Args:
        api_keys: the project's publishable and secret keys.
        verifier: checks access tokens against the published keys and the legacy secret.
        sessions: refuses tokens of ended sessions (None: no such check).
        cache_size: verified tokens remembered.
    """

    def __init__(
        self,
        *,
        api_keys: ApiKeys,
        verifier: TokenVerifier,
        sessions: SessionCheck | None = None,
        cache_size: int = 4096,
    ) -> None:
        self._api_keys = api_keys
        self._verifier = verifier
        self._legacy = KeySet({}, verifier.legacy_secret)
        self._sessions = sessions
        self._cache: dict[str, tuple[Identity, int]] = {}
        self._legacy_keys: dict[str, Identity] = {}
        self._known_keys: dict[str, str] = {}  # only valid keys: a project has a few
        self._cache_size = cache_size
        self._key_identities = {role: Identity.of({"role": role}) for role in _PROJECT_KEY_ROLES}

    @classmethod
    def from_settings(cls, settings: FunctionsSettings, db: Database) -> Authenticator:
        """The authenticator the settings describe, asking ``db`` about sessions."""
        jwks = None
        if settings.jwks_endpoint is not None:
            jwks = RemoteJwks(settings.jwks_endpoint, ttl=settings.jwks_ttl)
        return cls(
            api_keys=ApiKeys(settings.publishable_keys, settings.secret_keys),
            verifier=TokenVerifier(jwks, settings.jwt_secret),
            sessions=SessionCheck(db, interval=settings.session_check_interval),
        )

    def _remember(self, token: str, identity: Identity, version: int) -> None:
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[token] = (identity, version)

    def _cached(self, token: str, version: int) -> Identity | None:
        found = self._cache.get(token)
        if found is None:
            return None
        identity, verified_under = found
        expired = identity.expires_at is not None and identity.expires_at <= time.time()
        if expired or verified_under != version:
            del self._cache[token]
            return None
        return identity

    def _project_key(self, apikey: str, user_agent: str | None) -> Identity:
        if is_api_key(apikey):
            # The project's own keys are remembered: recognising one costs two digests.
            role = self._known_keys.get(apikey)
            if role is None:
                role = self._api_keys.role_of(apikey)
                if role is None:
                    raise _invalid_apikey()
                self._known_keys[apikey] = role
            if role == "service_role" and is_browser(user_agent):
                raise _refused(
                    "secret_key_in_browser",
                    "a secret API key cannot be used from a browser: it grants everything",
                    "use the project's publishable key in a browser",
                )
            return self._key_identities[role]
        identity = self._legacy_keys.get(apikey)
        if identity is not None and (identity.expires_at or math.inf) > time.time():
            return identity
        # The legacy keys: JWTs signed with the legacy secret, never with a signing key.
        try:
            identity = Identity.of(verify_token(apikey, self._legacy))
        except TokenError:
            raise _invalid_apikey() from None
        if identity.role not in _PROJECT_KEY_ROLES or identity.user_id is not None:
            raise _invalid_apikey()
        if len(self._legacy_keys) >= 16:  # a project has two
            self._legacy_keys.clear()
        self._legacy_keys[apikey] = identity
        return identity

    async def _user(self, token: str) -> Identity:
        try:
            version = await self._verifier.version()
            identity = self._cached(token, version)
            if identity is None:
                identity = Identity.of(await self._verifier.verify(token))
                self._remember(token, identity, version)
        except TokenError as exc:
            hint = _HINTS.get(exc.reason, _SIGN_IN_AGAIN)
            raise _refused(exc.reason, exc.message, hint) from None
        except KeysUnavailable:
            raise FunctionError(
                "WH503",
                "the project's signing keys cannot be fetched: retry shortly",
                headers={"Retry-After": "5"},
            ) from None
        return identity

    async def identify(
        self, apikey: str | None, authorization: str | None, user_agent: str | None = None
    ) -> Identity:
        """The caller, from the ``apikey``, ``Authorization`` and ``User-Agent`` header values.

        Raises:
            FunctionError: (401, WR401) the API key is missing, not a project key or a secret
                key from a browser, or the bearer token is malformed, forged, expired, signed
                with a key or algorithm the project does not use, or its session has ended;
                ``details.reason`` says which. (503, WH503) the signing keys or the database
                cannot be reached.
        """
        if not apikey or not apikey.strip():
            raise _refused(
                "missing_apikey",
                "no API key: send the project's publishable key in the 'apikey' header",
            )
        apikey = apikey.strip()
        key = self._project_key(apikey, user_agent)
        if authorization is None or not authorization.strip():
            return key
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _refused("malformed", "the Authorization header must be 'Bearer <access token>'")
        if token == apikey:
            return key
        if is_api_key(token):
            raise _refused(
                "malformed",
                "an API key in 'Authorization' must be the one in 'apikey': "
                "'Authorization' carries a user's access token",
            )
        identity = await self._user(token)
        if identity.session_id is not None and self._sessions is not None:
            if not await self._sessions.is_active(identity.session_id):
                raise _refused("session_ended", "the session has ended", _SIGN_IN_AGAIN)
        return identity


def _invalid_apikey() -> FunctionError:
    return _refused(
        "invalid_apikey",
        "invalid API key: the 'apikey' header must hold one of the project's keys",
        "use the project's publishable key (or its legacy anon key)",
    )
