"""The local project's JWT secret and API keys.

The secret is generated once per data directory (``<data dir>/jwt_secret``, mode 0600,
git-ignored) and never leaves the machine. The ``anon`` and ``service_role`` keys are JWTs signed
with it, exactly like a Supabase project's: ``anon`` is safe in clients (RLS protects the data),
``service_role`` bypasses RLS and belongs on servers only.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from watchium_functions.tokens import encode_token

__all__ = ["ProjectKeys", "load_or_create_keys", "keys_from_secret", "new_keys"]

_ISSUER = "watchium-local"
_TEN_YEARS = 10 * 365 * 24 * 3600


@dataclass(frozen=True)
class ProjectKeys:
    """A project's JWT secret and the two API keys signed with it."""

    jwt_secret: str
    anon_key: str
    service_role_key: str


def keys_from_secret(secret: str, issued_at: int) -> ProjectKeys:
    """The API keys for ``secret``: the same secret and time always give the same keys."""

    def key(role: str) -> str:
        claims = {"iss": _ISSUER, "role": role, "iat": issued_at, "exp": issued_at + _TEN_YEARS}
        return encode_token(claims, secret)

    return ProjectKeys(
        jwt_secret=secret, anon_key=key("anon"), service_role_key=key("service_role")
    )


def _new_secret() -> str:
    return secrets.token_urlsafe(48)


def new_keys() -> ProjectKeys:
    """Keys from a new random secret, issued now: a throwaway project's (tests, benchmarks)."""
    return keys_from_secret(_new_secret(), int(time.time()))


def load_or_create_keys(data_dir: Path) -> ProjectKeys:
    """Read the project's secret from ``data_dir`` (made on first use) and derive the keys.

    The file holds the secret and the time the keys were issued, one per line.

    Raises:
        ValueError: when the file is damaged (delete it to make a new secret and keys).
    """
    path = data_dir / "jwt_secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{_new_secret()}\n{int(time.time())}\n")
    lines = path.read_text().split()
    try:
        secret, issued_at = lines[0], int(lines[1])
    except (IndexError, ValueError):
        raise ValueError(f"{path} is damaged: delete it to make a new secret and keys") from None
    if len(secret) < 32:
        raise ValueError(f"{path} holds a secret shorter than 32 characters: delete it")
    return keys_from_secret(secret, issued_at)
