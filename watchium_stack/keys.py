"""The local project's keys, made once per data directory and never leaving the machine.

| file (data directory, mode 0600, git-ignored) | holds |
| --- | --- |
| ``api_keys.json`` | the publishable key (acts as ``anon``) and the secret key (``service_role``) |
| ``signing_keys.json`` | the signing keys (ES256 private keys) and their states |
| ``jwt_secret`` | the legacy JWT secret, and when the legacy keys were issued |

The legacy secret signs the ``anon`` and ``service_role`` JWT keys, and users' sessions when the
stack issues the legacy kind (``WATCHIUM_KEYS=legacy``); otherwise the signing key in use signs
them.

As on a Supabase project: the publishable and secret keys are not JWTs and are independent of
any signing key; the signing keys' public halves are published as a JWKS
(``/auth/v1/.well-known/jwks.json``); a key is added as standby (published before it signs
anything), rotated into use (the one in use becomes previously used, still trusted), and
revoked (no longer trusted). :class:`SigningKeys` re-reads its file when it changes, so a running
stack follows a rotation without a restart.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from watchium_functions.apikeys import key_kind, new_api_key
from watchium_functions.tokens import encode_token

__all__ = [
    "KEY_MODELS",
    "KeyModel",
    "ProjectKeys",
    "SigningKey",
    "SigningKeys",
    "keys_from_secret",
    "load_or_create_keys",
    "new_keys",
    "new_signing_key",
    "signing_keys_path",
]

KeyModel = Literal["current", "legacy"]
KEY_MODELS: tuple[KeyModel, ...] = ("current", "legacy")
"""What the stack issues: ``current`` (publishable and secret keys, sessions signed with a
signing key, as a project created today) or ``legacy`` (the ``anon`` and ``service_role`` JWT
keys, sessions signed with the JWT secret)."""

_ISSUER = "watchium-local"
_TEN_YEARS = 10 * 365 * 24 * 3600
_TRUSTED = ("standby", "in_use", "previously_used")
_PUBLIC_MEMBERS = ("kty", "crv", "x", "y", "n", "e")


@dataclass(frozen=True)
class ProjectKeys:
    """A project's API keys and its legacy JWT secret."""

    jwt_secret: str
    anon_key: str
    service_role_key: str
    publishable_key: str
    secret_key: str


def keys_from_secret(
    secret: str,
    issued_at: int,
    *,
    publishable_key: str | None = None,
    secret_key: str | None = None,
) -> ProjectKeys:
    """The legacy keys for ``secret`` (the same secret and time always give the same ones), with
    the given publishable and secret keys or new ones."""

    def key(role: str) -> str:
        claims = {"iss": _ISSUER, "role": role, "iat": issued_at, "exp": issued_at + _TEN_YEARS}
        return encode_token(claims, secret)

    return ProjectKeys(
        jwt_secret=secret,
        anon_key=key("anon"),
        service_role_key=key("service_role"),
        publishable_key=publishable_key or new_api_key("publishable"),
        secret_key=secret_key or new_api_key("secret"),
    )


def _new_secret() -> str:
    return secrets.token_urlsafe(48)


def new_keys() -> ProjectKeys:
    """New random keys, issued now: a throwaway project's (tests, benchmarks)."""
    return keys_from_secret(_new_secret(), int(time.time()))


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load_or_create_keys(data_dir: Path) -> ProjectKeys:
    """The project's keys from ``data_dir``, made on first use.

    ``jwt_secret`` holds the secret and the time the legacy keys were issued, one per line;
    ``api_keys.json`` the publishable and secret keys.

    Raises:
        ValueError: a file is damaged (delete it to make new keys of its kind).
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
    api_path = data_dir / "api_keys.json"
    if not api_path.exists():
        made = {"publishable": new_api_key("publishable"), "secret": new_api_key("secret")}
        _write_private(api_path, json.dumps(made, indent=2) + "\n")
    try:
        api = json.loads(api_path.read_text())
        publishable, secret_key = api["publishable"], api["secret"]
    except (ValueError, KeyError, TypeError):
        publishable = secret_key = None
    if key_kind(str(publishable)) != "publishable" or key_kind(str(secret_key)) != "secret":
        raise ValueError(f"{api_path} is damaged: delete it to make new API keys")
    return keys_from_secret(secret, issued_at, publishable_key=publishable, secret_key=secret_key)


def signing_keys_path(data_dir: Path) -> Path:
    """Where the signing keys of the project in ``data_dir`` are kept."""
    return data_dir / "signing_keys.json"


@dataclass(frozen=True)
class SigningKey:
    """One signing key: its id, algorithm, state and private JWK."""

    kid: str
    alg: str
    state: str
    private_jwk: Mapping[str, Any]

    @property
    def public_jwk(self) -> dict[str, Any]:
        """The public half, as the JWKS publishes it."""
        public = {k: v for k, v in self.private_jwk.items() if k in _PUBLIC_MEMBERS}
        return {
            **public,
            "kid": self.kid,
            "alg": self.alg,
            "use": "sig",
            "key_ops": ["verify"],
            "ext": True,
        }

    def sign(self, claims: Mapping[str, Any]) -> str:
        """A JWT of ``claims`` signed with this key (``kid`` in its header)."""
        key = jwt.PyJWK({**self.private_jwk, "alg": self.alg}).key
        return jwt.encode(dict(claims), key, algorithm=self.alg, headers={"kid": self.kid})


def _new_private_jwk(alg: str) -> dict[str, Any]:
    if alg == "ES256":
        return dict(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()), as_dict=True))
    if alg == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return dict(RSAAlgorithm.to_jwk(private, as_dict=True))
    raise ValueError(f"unsupported signing algorithm {alg!r}: use ES256 or RS256")


def new_signing_key(alg: str = "ES256", state: str = "standby") -> SigningKey:
    """A new key pair with a new ``kid``."""
    return SigningKey(str(uuid.uuid4()), alg, state, _new_private_jwk(alg))


class SigningKeys:
    """The project's signing keys, kept in a file and read again whenever it changes (a running
    auth server signs with the key in use now, and publishes the keys trusted now).

    It is also a key source for :class:`~watchium_functions.jwks.TokenVerifier`: the keys it
    trusts, without a fetch (the local Realtime server reads them so).

    Raises (on use):
        ValueError: the file is damaged.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._keys: list[SigningKey] = []
        self._trusted: dict[str, jwt.PyJWK] = {}
        self._version = 0

    @classmethod
    def load_or_create(cls, path: Path, alg: str = "ES256") -> SigningKeys:
        """The keys in ``path``; a new file with one key in use when there is none."""
        if not path.exists():
            _write_private(path, _dump([new_signing_key(alg, "in_use")]))
        ring = cls(path)
        ring.current()
        return ring

    def _read(self) -> list[SigningKey]:
        stat = self.path.stat()
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            try:
                entries = json.loads(self.path.read_text())["keys"]
                keys = [
                    SigningKey(e["kid"], e["alg"], e["state"], e["private_jwk"]) for e in entries
                ]
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"{self.path} is damaged: delete it to make a new key") from None
            trusted = {k.kid: jwt.PyJWK(k.public_jwk) for k in keys if k.state in _TRUSTED}
            if set(trusted) != set(self._trusted):
                self._version += 1
            self._keys, self._trusted, self._stamp = keys, trusted, stamp
        return self._keys

    def __iter__(self) -> Iterator[SigningKey]:
        return iter(self._read())

    def current(self) -> SigningKey:
        """The key in use: the one new sessions are signed with.

        Raises:
            ValueError: no key is in use.
        """
        for key in self._read():
            if key.state == "in_use":
                return key
        raise ValueError(f"{self.path} has no key in use")

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set: the public keys of every trusted key."""
        return {"keys": [k.public_jwk for k in self._read() if k.state in _TRUSTED]}

    # -- as a key source ------------------------------------------------------------------------

    @property
    def version(self) -> int:
        return self._version

    def trusted(self) -> Mapping[str, jwt.PyJWK]:
        """The public keys of every trusted key, by ``kid``."""
        self._read()
        return self._trusted

    async def keys(self) -> Mapping[str, jwt.PyJWK]:
        return self.trusted()

    async def refresh(self, kid: str) -> Mapping[str, jwt.PyJWK]:
        return await self.keys()

    # -- rotation -------------------------------------------------------------------------------

    def _save(self, keys: list[SigningKey]) -> None:
        _write_private(self.path, _dump(keys))

    def add(self, alg: str = "ES256") -> SigningKey:
        """A new standby key: published now, signing nothing until it is rotated into use."""
        key = new_signing_key(alg)
        self._save([*self._read(), key])
        return key

    def rotate(self) -> SigningKey:
        """Put the newest standby key in use; the key in use becomes previously used (still
        trusted). Returns the key now in use.

        Raises:
            ValueError: there is no standby key (add one first).
        """
        keys = self._read()
        standby = [k for k in keys if k.state == "standby"]
        if not standby:
            raise ValueError("no standby key to rotate to: add one first")
        chosen = standby[-1]
        moved = [
            _with_state(k, "in_use" if k is chosen else "previously_used")
            if k is chosen or k.state == "in_use"
            else k
            for k in keys
        ]
        self._save(moved)
        return _with_state(chosen, "in_use")

    def revoke(self, kid: str) -> None:
        """Stop trusting a previously used key: tokens it signed are refused from now on.

        Raises:
            ValueError: no such key, or it is the key in use (rotate first).
        """
        keys = self._read()
        found = next((k for k in keys if k.kid == kid), None)
        if found is None:
            raise ValueError(f"no signing key {kid}")
        if found.state == "in_use":
            raise ValueError("the key in use cannot be revoked: rotate to another key first")
        self._save([_with_state(k, "revoked") if k.kid == kid else k for k in keys])


def _with_state(key: SigningKey, state: str) -> SigningKey:
    return SigningKey(key.kid, key.alg, state, key.private_jwk)


def _dump(keys: list[SigningKey]) -> str:
    entries = [
        {"kid": k.kid, "alg": k.alg, "state": k.state, "private_jwk": dict(k.private_jwk)}
        for k in keys
    ]
    return json.dumps({"keys": entries}, indent=2) + "\n"
