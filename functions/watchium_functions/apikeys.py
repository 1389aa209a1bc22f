"""A project's API keys: the publishable and secret keys, as Supabase issues them today.

| key | looks like | acts as |
| --- | --- | --- |
| publishable | ``sb_publishable_<22 characters>_<8 characters>`` | ``anon`` |
| secret | ``sb_secret_<22 characters>_<8 characters>`` | ``service_role`` |

They are not JWTs: a server knows them by value (here, by their SHA-256 digest, so a dump of the
process holds no usable key). The legacy ``anon`` and ``service_role`` keys are JWTs signed with
the project's JWT secret; :mod:`watchium_functions.tokens` verifies those.

A secret key grants everything, so it must never reach a browser: like Supabase's API gateway, a
request that carries one with a browser's ``User-Agent`` is refused (:func:`is_browser`).

Shared with the local stack (which mints the keys with :func:`new_api_key`) and its Realtime
server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import Literal

__all__ = [
    "API_KEY_PREFIX",
    "PUBLISHABLE_PREFIX",
    "SECRET_PREFIX",
    "ApiKeys",
    "KeyKind",
    "is_api_key",
    "is_browser",
    "key_kind",
    "new_api_key",
]

API_KEY_PREFIX = "sb_"
PUBLISHABLE_PREFIX = "sb_publishable_"
SECRET_PREFIX = "sb_secret_"

KeyKind = Literal["publishable", "secret"]

_ROLES: dict[KeyKind, str] = {"publishable": "anon", "secret": "service_role"}
_PREFIXES: dict[KeyKind, str] = {"publishable": PUBLISHABLE_PREFIX, "secret": SECRET_PREFIX}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


_RANDOM = 22  # 16 random bytes in base64url
_CHECKSUM = 8


def _checksum(body: str) -> str:
    return _b64(hashlib.sha256(body.encode()).digest())[:_CHECKSUM]


def new_api_key(kind: KeyKind) -> str:
    """A new random key of ``kind``: the prefix, 128 random bits, and a checksum of both (a
    mistyped key is told from an unknown one without asking anybody)."""
    body = _PREFIXES[kind] + _b64(secrets.token_bytes(16))
    return f"{body}_{_checksum(body)}"


def is_api_key(value: str) -> bool:
    """Whether ``value`` has the form of a publishable or secret key (not a JWT)."""
    return value.startswith(API_KEY_PREFIX)


def key_kind(value: str) -> KeyKind | None:
    """``publishable`` or ``secret`` for a well-formed key (checksum included), else None."""
    for kind, prefix in _PREFIXES.items():
        if value.startswith(prefix):
            rest = value[len(prefix) :]
            if len(rest) != _RANDOM + 1 + _CHECKSUM or rest[_RANDOM] != "_":
                return None
            body, checksum = prefix + rest[:_RANDOM], rest[_RANDOM + 1 :]
            return kind if hmac.compare_digest(checksum, _checksum(body)) else None
    return None


def is_browser(user_agent: str | None) -> bool:
    """Whether a ``User-Agent`` is a web browser's: every browser's starts with ``Mozilla/``
    (HTTP libraries and runtimes name themselves: ``python-httpx/...``, ``node``, ``curl/...``)."""
    return user_agent is not None and user_agent.lstrip().startswith("Mozilla/")


class ApiKeys:
    """The publishable and secret keys a project accepts, known by digest.

    ``ApiKeys.of(values)`` sorts keys by their prefix and ignores anything else (the legacy JWT
    keys are recognised by their signature instead).
    """

    def __init__(self, publishable: Iterable[str] = (), secret: Iterable[str] = ()) -> None:
        self._roles: dict[bytes, str] = {}
        given: tuple[tuple[KeyKind, Iterable[str]], ...] = (
            ("publishable", publishable),
            ("secret", secret),
        )
        for kind, keys in given:
            for key in keys:
                if key_kind(key) != kind:
                    # Never the whole key in a message: the prefix says enough.
                    raise ValueError(f"not a {kind} key: {_PREFIXES[kind]}...")
                self._roles[_digest(key)] = _ROLES[kind]

    @classmethod
    def of(cls, values: Iterable[str]) -> ApiKeys:
        """The publishable and secret keys among ``values``."""
        found = [v for v in values if key_kind(v) is not None]
        return cls(
            publishable=[v for v in found if key_kind(v) == "publishable"],
            secret=[v for v in found if key_kind(v) == "secret"],
        )

    def __bool__(self) -> bool:
        return bool(self._roles)

    def role_of(self, value: str) -> str | None:
        """The role of one of the project's keys (``anon`` for a publishable key,
        ``service_role`` for a secret key), or None for any other value."""
        if key_kind(value) is None:
            return None
        return self._roles.get(_digest(value))


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()
