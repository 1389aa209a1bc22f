"""The connection under every call: supabase-py's async client, its session, and one request
path (``supabase.functions.invoke``) whose answers are clock samples."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel
from supabase import AsyncClient, AsyncClientOptions, acreate_client
from supabase_auth.errors import AuthRetryableError
from supabase_functions.errors import FunctionsError

from watchium_client._api._keys import key_role
from watchium_client._errors import ConnectionFailed, SignInRequired, error_from_response
from watchium_client.sync import ClockSync
from watchium_wire import Endpoint

__all__ = ["Transport"]

logger = logging.getLogger("watchium_client._api")

R = TypeVar("R", bound=BaseModel)


def _body(fields: dict[str, Any]) -> dict[str, Any]:
    """A request body without the fields left unset (the server applies its defaults)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None:
            continue
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    return out


class Transport:
    """A signed-in supabase-py client and the one way every call goes out.

    Args:
        supabase: a supabase-py ``AsyncClient`` (signed in, for anything but the public reads).
        clock: where to keep the server clock estimate (a new one by default).
    """

    def __init__(
        self,
        supabase: AsyncClient,
        *,
        clock: ClockSync | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.supabase = supabase
        self.clock = clock or ClockSync()
        self._http = http  # the HTTP client connect() made, closed with this one

    @classmethod
    async def connect(
        cls,
        url: str,
        key: str,
        *,
        access_token: str | None = None,
        refresh_token: str | None = None,
        sign_in: bool = True,
        options: AsyncClientOptions | None = None,
    ) -> Self:
        """Create the supabase-py client and start a session.

        ``key`` is the project's publishable key (``sb_publishable_...``) or, on a project still
        using them, its legacy anon key: both act as ``anon`` until the session names a user.
        (A secret or service_role key works too, but bypasses row level security: keep it on
        servers.)

        With ``access_token`` and ``refresh_token`` the given session is used; otherwise, with
        ``sign_in``, the client signs in anonymously (a new user id, no account needed). Without
        ``options``, the session lives in memory and refreshes itself before it expires.

        Raises:
            ConnectionFailed: the server did not answer.
            SignInRequired: the session was refused.
        """
        if key_role(key) == "service_role":
            logger.warning("connecting with a secret key: it bypasses row level security")
        http: httpx.AsyncClient | None = None
        if options is None:
            http = httpx.AsyncClient(timeout=30)
            options = AsyncClientOptions(httpx_client=http, persist_session=False)
        try:
            supabase = await acreate_client(url, key, options)
            if access_token and refresh_token:
                await supabase.auth.set_session(access_token, refresh_token)
            elif sign_in:
                await supabase.auth.sign_in_anonymously()
        except Exception as exc:
            if http is not None:
                await http.aclose()
            # supabase-auth wraps an unreachable server in its "retryable" error.
            if isinstance(exc, httpx.HTTPError | AuthRetryableError):
                raise ConnectionFailed(f"cannot reach {url}: {exc}") from exc
            if type(exc).__module__.startswith("supabase_auth"):
                raise SignInRequired(f"sign-in failed: {exc}", code="WR401") from exc
            raise
        return cls(supabase, http=http)

    async def user_id(self) -> str | None:
        """The signed-in user's id (``auth.uid()`` on the server), or None."""
        session = await self.supabase.auth.get_session()
        return session.user.id if session and session.user else None

    async def close(self) -> None:
        """Leave Realtime channels, close the connections, stop refreshing the session.

        The session itself stays valid (this is not a sign-out).
        """
        try:
            await self.supabase.remove_all_channels()
            if self.supabase.realtime.is_connected:
                await self.supabase.realtime.close()
        finally:
            # supabase-py has no close(): its refresh timer would outlive the client.
            timer = getattr(self.supabase.auth, "_refresh_token_timer", None)
            if timer is not None:
                timer.cancel()
                self.supabase.auth._refresh_token_timer = None
            if self._http is not None:
                await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- transport --------------------------------------------------------------------------

    async def call(self, function: str, body: dict[str, Any]) -> Any:
        """Invoke ``function`` with a JSON body and return the answer's ``data``.

        Raises:
            WatchiumError: the subclass for the refusal's code; ConnectionFailed without an answer.
        """
        sent_at = self.clock.local_now()
        try:
            answer = await self.supabase.functions.invoke(
                function, {"body": body, "responseType": "json"}
            )
        except FunctionsError as exc:
            raise error_from_response(exc.status, exc.message) from None
        except httpx.HTTPError as exc:
            raise ConnectionFailed(f"{function}: no answer from the server: {exc}") from exc
        received_at = self.clock.local_now()
        if not isinstance(answer, dict) or "data" not in answer:
            raise error_from_response(None, f"{function}: unexpected answer {answer!r:.200}")
        server_time = answer.get("server_time")
        if server_time is not None:
            try:
                self.clock.add_sample(sent_at, server_time, received_at)
            except ValueError:
                logger.warning("%s: unusable server_time %r", function, server_time)
        return answer["data"]

    async def _call(self, endpoint: Endpoint[Any, R], **fields: Any) -> R:
        """Calls ``endpoint`` with the fields that are set; the answer as its response model."""
        return endpoint.response.model_validate(await self.call(endpoint.name, _body(fields)))
