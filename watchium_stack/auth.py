"""The local auth server: Supabase Auth's anonymous sign-in, for supabase-py and supabase-js.

Served by the gateway at ``/auth/v1``. Only what the two clients call around an anonymous session:

| request | does |
| --- | --- |
| ``POST /signup`` (no email, phone) | ``sign_in_anonymously()``: new ``auth.users`` row, session |
| ``POST /token?grant_type=refresh_token`` | ``refresh_session()``: rotates the refresh token |
| ``GET /user`` | ``get_user()``: the user of the bearer token |
| ``POST /logout?scope=global|local|others`` | ``sign_out()``: ends sessions |
| ``GET /settings``, ``GET /health`` | what is enabled; liveness |
| ``GET /.well-known/jwks.json`` | the public signing keys |

Every request but ``/health`` and the JWKS carries one of the project's API keys (``apikey``): a
publishable or secret key, or a legacy JWT key; a secret key from a browser is refused.

Access tokens carry the claims Supabase Auth issues (``sub``, ``role: authenticated``, ``aud``,
``is_anonymous``, ``session_id``, ``app_metadata.provider = anonymous``, ``amr``, ``aal``...),
signed with the signing key in use (ES256) or, for a project on the legacy keys, with its JWT
secret (HS256), so PostgreSQL's ``auth.uid()`` and the functions accept them. The public keys are
published at ``GET /.well-known/jwks.json`` (:mod:`watchium_stack._auth_tokens`).
Refresh tokens are single-use: a used one is refused and ends its session (it has leaked). Anonymous
sign-ups are limited per client IP (Supabase's default: 30 per hour), since anonymous identities
cost nothing and per-user rate limits mean little without it.

Errors have Supabase Auth's shape, which supabase-py and supabase-js parse: ``{"code", "msg",
"error_code"}`` for clients without the ``X-Supabase-Api-Version`` header, ``{"code",
"message"}`` (``code`` the string) for clients that send ``2024-01-01``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import secrets
import uuid
from typing import Any
from urllib.parse import parse_qs

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from watchium_functions.apikeys import ApiKeys
from watchium_functions.asgi import (
    CORS_HEADERS,
    PREFLIGHT_HEADERS,
    BodyTooLarge,
    Receive,
    Scope,
    Send,
    header,
    json_bytes,
    read_body,
    send_bytes,
)
from watchium_stack._auth_schema import check_auth_schema, check_auth_schema_at
from watchium_stack._auth_tokens import AuthError, AuthKeys, user_json
from watchium_stack._config import ANONYMOUS_SIGNUPS_PER_HOUR
from watchium_stack.keys import SigningKeys

__all__ = ["AuthError", "AuthService", "ANONYMOUS_SIGNUPS_PER_HOUR", "ACCESS_TOKEN_TTL"]

logger = logging.getLogger(__name__)

ACCESS_TOKEN_TTL = 3600
_API_VERSION = "2024-01-01"
_BODY_LIMIT = 64 * 1024
_WITHOUT_API_KEY = frozenset({"/health", "/.well-known/jwks.json"})


def _storable(value: Any) -> bool:
    """Whether every string in a parsed JSON ``value`` (keys too) can be stored as jsonb."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthService:
    """The auth server as an ASGI app (paths relative to its mount point, ``/auth/v1``).

    Args:
        db_url: a URL that may write ``auth.*`` (the local superuser's).
        jwt_secret: the project's legacy secret (verifies the legacy keys and HS256 sessions).
        signing_keys: the project's signing keys (sign sessions); None for a project on the
            legacy keys, whose sessions the legacy secret signs.
        api_keys: the project's publishable and secret keys.
        issuer: the ``iss`` claim (``<API URL>/auth/v1``).
        anonymous_signups_per_hour: per client IP.
        access_token_ttl: seconds an access token lives.
    """

    def __init__(
        self,
        db_url: str,
        jwt_secret: str,
        *,
        signing_keys: SigningKeys | None = None,
        api_keys: ApiKeys | None = None,
        issuer: str = "http://127.0.0.1:54321/auth/v1",
        anonymous_signups_per_hour: int = ANONYMOUS_SIGNUPS_PER_HOUR,
        access_token_ttl: int = ACCESS_TOKEN_TTL,
    ) -> None:
        self.db_url = db_url
        self.keys = AuthKeys(
            jwt_secret=jwt_secret,
            signing_keys=signing_keys,
            api_keys=api_keys or ApiKeys(),
            issuer=issuer,
            access_token_ttl=access_token_ttl,
        )
        self.anonymous_signups_per_hour = anonymous_signups_per_hour
        self._pool: AsyncConnectionPool | None = None

    async def start(self) -> None:
        """Open the database pool (without waiting for the database). Raises AuthSchemaError for a
        database whose ``auth`` schema is not the local stack's (checked now if it answers)."""
        await check_auth_schema_at(self.db_url)
        if self._pool is None:
            self._pool = AsyncConnectionPool(
                self.db_url,
                min_size=1,
                max_size=4,
                timeout=5.0,
                kwargs={"autocommit": True, "row_factory": dict_row},
                # Sign-ins are rare: checking each connection costs little and survives restarts.
                check=AsyncConnectionPool.check_connection,
                configure=check_auth_schema,  # a database that did not answer at start
                open=False,
                name="watchium-auth",
            )
            await self._pool.open(wait=False)

    async def stop(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def __aenter__(self) -> AuthService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        versioned = header(scope, b"x-supabase-api-version") is not None
        try:
            await self._route(scope, receive, send)
        except AuthError as exc:
            await self._send_error(send, exc, versioned)
        except BodyTooLarge as exc:
            await self._send_error(
                send, AuthError(413, "request_too_large", exc.message), versioned
            )
        except (psycopg.Error, OSError) as exc:
            logger.warning("auth: database unavailable: %s", exc)
            await self._send_error(
                send,
                AuthError(
                    503,
                    "unexpected_failure",
                    "Database unavailable: retry shortly",
                    {"Retry-After": "1"},
                ),
                versioned,
            )
        except Exception:
            logger.exception("auth: unhandled error in %s", scope.get("path"))
            await self._send_error(
                send,
                AuthError(
                    500, "unexpected_failure", "Unexpected failure, please check server logs"
                ),
                versioned,
            )

    async def _send_error(self, send: Send, exc: AuthError, versioned: bool) -> None:
        body: dict[str, Any]
        headers = [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]
        if versioned:
            body = {"code": exc.error_code, "message": exc.message}
            headers.append((b"x-supabase-api-version", _API_VERSION.encode()))
        else:
            body = {"code": exc.status, "error_code": exc.error_code, "msg": exc.message}
        await send_bytes(send, exc.status, json_bytes(body), headers=[*headers, *CORS_HEADERS])

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        path: str = scope["path"].rstrip("/") or "/"
        if method == "OPTIONS":
            await send_bytes(send, 204, b"", headers=PREFLIGHT_HEADERS)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        routes = {
            ("POST", "/signup"): self._signup,
            ("POST", "/token"): self._token,
            ("GET", "/user"): self._user,
            ("POST", "/logout"): self._logout,
            ("GET", "/settings"): self._settings,
            ("GET", "/health"): self._health,
            ("GET", "/.well-known/jwks.json"): self._jwks,
        }
        handler = routes.get((method, path))
        if handler is None:
            if any(p == path for _, p in routes):
                raise AuthError(405, "method_not_allowed", f"{method} is not allowed on {path}")
            raise AuthError(
                404,
                "not_found",
                f"{path} is not available: the local auth server offers anonymous sign-in only",
            )
        if path not in _WITHOUT_API_KEY:
            self.keys.check_api_key(scope)
        status, body = await handler(scope, receive, query)
        headers = [*CORS_HEADERS]
        if header(scope, b"x-supabase-api-version") is not None:
            headers.append((b"x-supabase-api-version", _API_VERSION.encode()))
        if status == 204:
            await send_bytes(send, 204, b"", headers=headers)
        else:
            await send_bytes(send, status, json_bytes(body), headers=headers)

    async def _json_body(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        raw = await read_body(scope, receive, _BODY_LIMIT)
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            raise AuthError(400, "bad_json", "Could not parse request body as JSON") from None
        if not isinstance(value, dict):
            raise AuthError(400, "bad_json", "The request body must be a JSON object")
        if not _storable(value):
            # PostgreSQL's jsonb holds neither NUL characters nor lone surrogates: refused here
            # as bad input rather than failing in the database.
            raise AuthError(
                400,
                "validation_failed",
                "The request body must not contain NUL characters or lone surrogates",
            )
        return value

    def _conn(self) -> Any:
        if self._pool is None:
            raise AuthError(503, "unexpected_failure", "The auth server is not started")
        return self._pool.connection()

    # -- handlers ------------------------------------------------------------------------------

    async def _signup(
        self, scope: Scope, receive: Receive, query: dict[str, list[str]]
    ) -> tuple[int, Any]:
        body = await self._json_body(scope, receive)
        if body.get("email") or body.get("phone") or body.get("password"):
            raise AuthError(
                422,
                "email_provider_disabled",
                "Only anonymous sign-in is available on the local stack (sign_in_anonymously)",
            )
        data = body.get("data") or {}
        if not isinstance(data, dict):
            raise AuthError(400, "validation_failed", "data must be a JSON object")
        client = scope.get("client")
        ip = str(client[0]) if client else "unknown"
        refresh_token = secrets.token_urlsafe(32)
        async with self._conn() as conn, conn.transaction():
            cur = await conn.execute(
                "select watchium.rate_limit_take(%s, 'auth_anonymous_signup', %s, "
                "interval '1 hour') as retry",
                (f"ip:{ip}", self.anonymous_signups_per_hour),
            )
            row = await cur.fetchone()
            retry = float(row["retry"]) if row else 0.0
            if retry > 0:
                raise AuthError(
                    429,
                    "over_request_rate_limit",
                    f"Request rate limit reached: at most {self.anonymous_signups_per_hour} "
                    "anonymous sign-ins per hour from one IP address",
                    {"Retry-After": str(max(1, math.ceil(retry)))},
                )
            app_metadata = {"provider": "anonymous", "providers": ["anonymous"]}
            cur = await conn.execute(
                "insert into auth.users (id, aud, role, is_anonymous, raw_app_meta_data, "
                "raw_user_meta_data, last_sign_in_at) values (%s, 'authenticated', "
                "'authenticated', true, %s, %s, now()) returning *",
                (uuid.uuid4(), json.dumps(app_metadata), json.dumps(data)),
            )
            user = await cur.fetchone()
            assert user is not None
            session_id = await self._new_session(conn, scope, user["id"], ip)
            await self._store_refresh_token(conn, refresh_token, user["id"], session_id, None)
        return 200, self.keys.session_json(user, session_id, refresh_token)

    async def _new_session(self, conn: Any, scope: Scope, user_id: Any, ip: str) -> str:
        cur = await conn.execute(
            "insert into auth.sessions (user_id, user_agent, ip) values (%s, %s, %s) returning id",
            (user_id, header(scope, b"user-agent"), ip),
        )
        row = await cur.fetchone()
        return str(row["id"])

    async def _store_refresh_token(
        self, conn: Any, token: str, user_id: Any, session_id: str, parent: int | None
    ) -> None:
        await conn.execute(
            "insert into auth.refresh_tokens (token_hash, user_id, session_id, parent_id) "
            "values (%s, %s, %s, %s)",
            (_hash(token), user_id, session_id, parent),
        )

    async def _token(
        self, scope: Scope, receive: Receive, query: dict[str, list[str]]
    ) -> tuple[int, Any]:
        grant = (query.get("grant_type") or [""])[0]
        body = await self._json_body(scope, receive)
        if grant != "refresh_token":
            raise AuthError(
                400,
                "validation_failed",
                f"unsupported grant_type {grant!r}: the local auth server supports refresh_token",
            )
        token = body.get("refresh_token")
        if not isinstance(token, str) or not token:
            raise AuthError(400, "validation_failed", "refresh_token required")
        new_token = secrets.token_urlsafe(32)
        async with self._conn() as conn, conn.transaction():
            cur = await conn.execute(
                "select t.id, t.revoked, t.session_id, t.user_id from auth.refresh_tokens t "
                "where t.token_hash = %s for update",
                (_hash(token),),
            )
            row = await cur.fetchone()
            if row is None:
                raise AuthError(
                    400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
                )
            if row["revoked"]:
                # A used token presented again has leaked: end the session it belongs to.
                await conn.execute("delete from auth.sessions where id = %s", (row["session_id"],))
                # Commit the revocation, then refuse.
                refused = AuthError(
                    400, "refresh_token_already_used", "Invalid Refresh Token: Already Used"
                )
            else:
                refused = None
                await conn.execute(
                    "update auth.refresh_tokens set revoked = true, updated_at = now() "
                    "where id = %s",
                    (row["id"],),
                )
                await conn.execute(
                    "update auth.sessions set refreshed_at = now(), updated_at = now() "
                    "where id = %s",
                    (row["session_id"],),
                )
                await self._store_refresh_token(
                    conn, new_token, row["user_id"], str(row["session_id"]), row["id"]
                )
                cur = await conn.execute(
                    "update auth.users set last_sign_in_at = now(), updated_at = now() "
                    "where id = %s returning *",
                    (row["user_id"],),
                )
                user = await cur.fetchone()
        if refused is not None:
            raise refused
        assert user is not None
        return 200, self.keys.session_json(user, str(row["session_id"]), new_token)

    async def _load_user(self, conn: Any, claims: dict[str, Any]) -> dict[str, Any]:
        try:
            user_id = uuid.UUID(str(claims["sub"]))
        except ValueError:
            raise AuthError(400, "bad_jwt", "invalid claim: sub claim must be a UUID") from None
        cur = await conn.execute("select * from auth.users where id = %s", (user_id,))
        user: dict[str, Any] | None = await cur.fetchone()
        if user is None:
            raise AuthError(403, "user_not_found", "User from sub claim in JWT does not exist")
        session_id = claims.get("session_id")
        if session_id:
            cur = await conn.execute(
                "select 1 from auth.sessions where id = %s", (uuid.UUID(str(session_id)),)
            )
            if await cur.fetchone() is None:
                raise AuthError(
                    403, "session_not_found", "Session from session_id claim in JWT does not exist"
                )
        return user

    async def _user(
        self, scope: Scope, receive: Receive, query: dict[str, list[str]]
    ) -> tuple[int, Any]:
        claims = self.keys.bearer_claims(scope)
        async with self._conn() as conn:
            user = await self._load_user(conn, claims)
        return 200, user_json(user)

    async def _logout(
        self, scope: Scope, receive: Receive, query: dict[str, list[str]]
    ) -> tuple[int, Any]:
        claims = self.keys.bearer_claims(scope)
        scope_name = (query.get("scope") or ["global"])[0]
        if scope_name not in ("global", "local", "others"):
            raise AuthError(400, "validation_failed", "scope must be global, local or others")
        session_id = claims.get("session_id")
        async with self._conn() as conn:
            user = await self._load_user(conn, claims)
            if scope_name == "local":
                await conn.execute("delete from auth.sessions where id = %s", (session_id,))
            elif scope_name == "others":
                await conn.execute(
                    "delete from auth.sessions where user_id = %s and id is distinct from %s",
                    (user["id"], session_id),
                )
            else:
                await conn.execute("delete from auth.sessions where user_id = %s", (user["id"],))
        return 204, None

    async def _settings(
        self, scope: Scope, receive: Receive, query: dict[str, list[str]]
    ) -> tuple[int, Any]:
        providers = ("email", "phone", "google", "github", "apple", "azure")
        return 200, {
            "external": {"anonymous_users": True, **{p: False for p in providers}},
            "disable_signup": False,
            "mailer_autoconfirm": False,
            "phone_autoconfirm": False,
            "sms_provider": "",
            "saml_enabled": False,
            "anonymous_signups_per_hour": self.anonymous_signups_per_hour,
        }

    async def _health(
        self, scope: Scope, receive: Receive, query: dict[str, list[str]]
    ) -> tuple[int, Any]:
        return 200, {
            "version": "watchium-local",
            "name": "GoTrue",
            "description": "Watchium's local stand-in for Supabase Auth (anonymous sign-in)",
        }

    async def _jwks(
        self, scope: Scope, receive: Receive, query: dict[str, list[str]]
    ) -> tuple[int, Any]:
        return 200, self.keys.jwks()
