"""Where a project's published signing keys come from, and the verifier that uses them.

:class:`RemoteJwks` reads the JSON Web Key Set Supabase Auth publishes at
``<project>/auth/v1/.well-known/jwks.json``:

* **cached**: fetched once, trusted for ``ttl`` seconds (600, as Supabase's own client libraries),
  then fetched again; a key removed from the set (revoked) stops being trusted when the cached
  set is replaced, so within ``ttl`` seconds;
* **refreshed on an unknown kid**: a token naming a key the cached set lacks (a key added since)
  makes it fetch at once, at most ``refreshes`` times per ``refresh_window`` seconds, so tokens
  with made-up kids cannot make every request a fetch;
* **bounded**: a fetch gives up after ``timeout`` seconds or ``max_bytes`` bytes; while the set
  cannot be fetched, the last one fetched stays in use (and the failure is logged); with none
  fetched yet, :class:`~watchium_functions.tokens.KeysUnavailable` is raised.

No request waits on the network except the first one, one every ``ttl`` seconds, and one per
newly seen kid. :class:`StaticJwks` is a fixed set (a process that holds the keys itself).

:class:`TokenVerifier` verifies tokens against the source's keys and the legacy secret (when it
is configured), fetching again once when a token names an unknown key.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol

import jwt

from watchium_functions.tokens import KeySet, KeysUnavailable, TokenError, verify_token

__all__ = ["JwksSource", "RemoteJwks", "StaticJwks", "TokenVerifier", "JWKS_PATH"]

logger = logging.getLogger(__name__)

JWKS_PATH = "/auth/v1/.well-known/jwks.json"
"""Where a Supabase project publishes its signing keys, under the project's URL."""


class JwksSource(Protocol):
    """Published keys by ``kid``; ``version`` changes whenever the set of keys does."""

    @property
    def version(self) -> int: ...

    async def keys(self) -> Mapping[str, jwt.PyJWK]:
        """The keys to trust now.

        Raises:
            KeysUnavailable: there are none to be had.
        """
        ...

    async def refresh(self, kid: str) -> Mapping[str, jwt.PyJWK]:
        """The keys to trust, fetched again if ``kid`` is not among them (when allowed)."""
        ...


class StaticJwks:
    """A fixed key set."""

    version = 0

    def __init__(self, document: Any) -> None:
        self._keys = KeySet.parse_jwks(document)

    async def keys(self) -> Mapping[str, jwt.PyJWK]:
        return self._keys

    async def refresh(self, kid: str) -> Mapping[str, jwt.PyJWK]:
        return self._keys


def _fetch(url: str, timeout: float, max_bytes: int) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body: bytes = response.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise ValueError(f"the key set is larger than {max_bytes} bytes")
    return body


class RemoteJwks:
    """A JWKS fetched over HTTP(S) and cached (see the module docstring).

    Raises (on construction):
        ValueError: ``url`` is not an http(s) URL.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl: float = 600.0,
        timeout: float = 5.0,
        max_bytes: int = 256 * 1024,
        refreshes: int = 3,
        refresh_window: float = 30.0,
        retry_after: float = 5.0,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the JWKS URL must be http(s), got {url!r}")
        self.url = url
        self.ttl = ttl
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.refreshes = refreshes
        self.refresh_window = refresh_window
        self.retry_after = retry_after
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._retry_at = 0.0
        self._fetches = 0
        self._version = 0
        self._recent: collections.deque[float] = collections.deque()
        self._lock = asyncio.Lock()

    @property
    def version(self) -> int:
        return self._version

    async def keys(self) -> Mapping[str, jwt.PyJWK]:
        now = time.monotonic()
        stale = self._fetched_at is None or now - self._fetched_at >= self.ttl
        if stale and now >= self._retry_at:
            await self._update(self._fetches)
        if self._fetched_at is None:
            raise KeysUnavailable(f"the signing keys could not be fetched from {self.url}")
        return self._keys

    async def refresh(self, kid: str) -> Mapping[str, jwt.PyJWK]:
        seen = self._fetches
        if kid in self._keys:
            return self._keys
        now = time.monotonic()
        while self._recent and now - self._recent[0] >= self.refresh_window:
            self._recent.popleft()
        if len(self._recent) < self.refreshes and now >= self._retry_at:
            self._recent.append(now)
            await self._update(seen)
        return self._keys

    async def _update(self, seen: int) -> None:
        async with self._lock:
            if self._fetches != seen:
                return  # another request fetched while this one waited
            self._fetches += 1
            try:
                async with asyncio.timeout(self.timeout):
                    body = await asyncio.to_thread(_fetch, self.url, self.timeout, self.max_bytes)
                fresh = KeySet.parse_jwks(json.loads(body))
            except (OSError, TimeoutError, ValueError, urllib.error.URLError) as exc:
                self._retry_at = time.monotonic() + self.retry_after
                logger.warning("could not fetch the signing keys from %s: %s", self.url, exc)
                return
            if set(fresh) != set(self._keys):
                self._version += 1
            self._keys = fresh
            self._fetched_at = time.monotonic()


class TokenVerifier:
    """Verifies tokens against a project's published keys and, while it is trusted, its legacy
    JWT secret. Either may be absent (a project that never had, or no longer trusts, the other)."""

    def __init__(self, jwks: JwksSource | None = None, legacy_secret: str | None = None) -> None:
        if jwks is None and not legacy_secret:
            raise ValueError("a token verifier needs published keys, a legacy secret, or both")
        self._jwks = jwks
        self.legacy_secret = legacy_secret or None

    async def key_set(self) -> KeySet:
        """The keys to trust now.

        Raises:
            KeysUnavailable: the published keys cannot be had.
        """
        published = await self._jwks.keys() if self._jwks is not None else {}
        return KeySet(published, self.legacy_secret)

    async def version(self) -> int:
        """A number that changes whenever the published keys do (refreshing them first when they
        are due): what was verified under another version must be verified again."""
        if self._jwks is None:
            return 0
        with contextlib.suppress(KeysUnavailable):
            await self._jwks.keys()
        return self._jwks.version

    async def verify(self, token: str | None) -> dict[str, Any]:
        """The claims of a valid token (see :func:`~watchium_functions.tokens.verify_token`).

        Raises:
            TokenError: the token is refused.
            KeysUnavailable: the published keys cannot be had.
        """
        try:
            keys = await self.key_set()
        except KeysUnavailable:
            if not self.legacy_secret:
                raise
            # A token signed with the legacy secret needs no published key.
            try:
                return verify_token(token, KeySet({}, self.legacy_secret))
            except TokenError as exc:
                if exc.reason in ("unknown_key", "bad_algorithm"):
                    raise KeysUnavailable("the signing keys could not be fetched") from None
                raise
        try:
            return verify_token(token, keys)
        except TokenError as exc:
            if exc.kid is None or self._jwks is None:
                raise
            published = await self._jwks.refresh(exc.kid)
        return verify_token(token, KeySet(published, self.legacy_secret))
