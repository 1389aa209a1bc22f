"""What a key or an invite token says, read without the server."""

from __future__ import annotations

import base64
import json

__all__ = ["invite_room_id", "key_role"]


def key_role(key: str) -> str | None:
    """The role a project's API key acts as: ``anon`` for a publishable key
    (``sb_publishable_...``) or the legacy anon key, ``service_role`` for a secret key
    (``sb_secret_...``) or the legacy service_role key; None when the key says nothing (this
    reads the key; only the server can tell whether it is valid)."""
    if key.startswith("sb_publishable_"):
        return "anon"
    if key.startswith("sb_secret_"):
        return "service_role"
    parts = key.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    role = payload.get("role") if isinstance(payload, dict) else None
    return role if role in ("anon", "service_role") else None


def invite_room_id(invite_token: str) -> str:
    """The room an invite token (``<room_id>.<expires>.<signature>``) is for.

    Raises:
        ValueError: it is not an invite token.
    """
    room_id, dot, _rest = invite_token.strip().partition(".")
    if not dot or not room_id:
        raise ValueError("not an invite token: expected <room_id>.<expires>.<signature>")
    return room_id
