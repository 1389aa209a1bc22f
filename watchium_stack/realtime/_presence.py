"""Presence state of one channel topic, with Phoenix Presence's wire shapes.

Each joined channel (an *owner*) tracks at most one presence, under its presence key; several
owners may share a key (one user on two devices). The state is ``{key: {"metas": [meta, ...]}}``
where every meta carries a unique ``phx_ref``. A change is a diff ``{"joins": {...},
"leaves": {...}}``; re-tracking is a leave of the old meta plus a join whose meta names the old
one in ``phx_ref_prev``, as Phoenix does. Re-tracking the same payload changes nothing.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, TypedDict

__all__ = ["PresenceMetas", "PresenceDiff", "PresenceState", "Presences"]


class PresenceMetas(TypedDict):
    metas: list[dict[str, Any]]


PresenceState = dict[str, PresenceMetas]


class PresenceDiff(TypedDict):
    joins: PresenceState
    leaves: PresenceState


_counter = itertools.count(1)
_node = secrets.token_urlsafe(6)


def _new_ref() -> str:
    # Unique per process run and never reused: clients match joins and leaves by phx_ref.
    return f"{_node}{next(_counter):x}"


@dataclass(slots=True)
class _Entry:
    key: str
    payload: dict[str, Any]
    ref: str

    def meta(self, prev: str | None = None) -> dict[str, Any]:
        meta = dict(self.payload)
        meta["phx_ref"] = self.ref
        if prev is not None:
            meta["phx_ref_prev"] = prev
        return meta


class Presences:
    """Who is present on one topic. Owners are any hashable (a channel membership)."""

    def __init__(self) -> None:
        self._by_owner: dict[Hashable, _Entry] = {}

    def __len__(self) -> int:
        return len(self._by_owner)

    def state(self) -> PresenceState:
        """The whole state, as sent in ``presence_state``."""
        out: PresenceState = {}
        for entry in self._by_owner.values():
            out.setdefault(entry.key, {"metas": []})["metas"].append(entry.meta())
        return out

    def track(self, owner: Hashable, key: str, payload: dict[str, Any]) -> PresenceDiff | None:
        """Track or update ``owner``'s presence; None when nothing changed."""
        old = self._by_owner.get(owner)
        if old is not None and old.key == key and old.payload == payload:
            return None
        entry = _Entry(key, dict(payload), _new_ref())
        self._by_owner[owner] = entry
        diff: PresenceDiff = {"joins": {}, "leaves": {}}
        if old is None:
            diff["joins"][key] = {"metas": [entry.meta()]}
        else:
            diff["leaves"][old.key] = {"metas": [old.meta()]}
            diff["joins"][key] = {"metas": [entry.meta(prev=old.ref)]}
        return diff

    def untrack(self, owner: Hashable) -> PresenceDiff | None:
        """Remove ``owner``'s presence; None when it had none."""
        old = self._by_owner.pop(owner, None)
        if old is None:
            return None
        return {"joins": {}, "leaves": {old.key: {"metas": [old.meta()]}}}
