"""The postgres_changes messages a change becomes, in upstream's payload shape
(``ids``, ``data.{schema,table,commit_timestamp,type,columns,record,old_record,errors}``).

What a subscriber sees of a row depends on its role (the columns it may select) and its
binding's ``select``; one payload is built per (role, select), and one frame per (channel topic,
binding ids) of that payload, encoded once per serializer version when a socket of that version
needs it: a room's 500 members with the same bindings and role share one encoded frame.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ._catalog import RelationInfo
from ._member import ChannelMember
from ._pgoutput import TupleData
from ._protocol import encode_text
from ._socket import SharedFrame
from ._subscriptions import Subscription
from ._wire import ChangeData, ChangePayload, ColumnInfo

__all__ = [
    "MAX_RECORD_BYTES",
    "ChangeFrames",
    "Send",
    "commit_timestamp",
    "key_text",
    "change_sends",
]

MAX_RECORD_BYTES = 1024 * 1024
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class ChangeFrames(dict[str, SharedFrame]):
    """A change's frame by serializer version, encoded when a socket of that version needs it."""

    __slots__ = ("topic", "payload")

    def __init__(self, topic: str, payload: ChangePayload) -> None:
        super().__init__()
        self.topic = topic
        self.payload = payload

    def __missing__(self, vsn: str) -> SharedFrame:
        data = self.payload["data"]
        frame = SharedFrame(
            encode_text(vsn, None, None, self.topic, "postgres_changes", self.payload),
            f"postgres_changes/{data['table']}/{data['type']}",
        )
        self[vsn] = frame
        return frame


Send = tuple[ChannelMember, ChangeFrames]  # a member, and the frames of what it is sent


def commit_timestamp(commit_time: int) -> str:
    """A commit time (microseconds since 2000-01-01 UTC) as upstream writes it."""
    moment = _PG_EPOCH + timedelta(microseconds=commit_time)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def key_text(info: RelationInfo, values: TupleData | None, column: str) -> str | None:
    """A column's text as PostgreSQL sent it (what the key comparison casts back)."""
    if values is None:
        return None
    try:
        text = values[info.column_names.index(column)]
    except (ValueError, IndexError):
        return None
    return text if isinstance(text, str) else None


def change_sends(
    info: RelationInfo,
    kind: str,
    subs: list[Subscription],
    new: dict[str, Any],
    old: dict[str, Any],
    timestamp: str,
) -> list[Send]:
    """What each member of ``subs`` is sent: the change, one message per member."""
    # Group: one payload per (role, select), one frame per (topic, ids) of that payload.
    by_member: dict[ChannelMember, list[Subscription]] = {}
    for sub in subs:
        member_subs = by_member.get(sub.member)
        if member_subs is None:
            by_member[sub.member] = [sub]
        else:
            member_subs.append(sub)
    data_cache: dict[tuple[str, tuple[str, ...] | None], ChangeData] = {}
    frame_cache: dict[tuple[str, tuple[int, ...], int], ChangeFrames] = {}
    out: list[Send] = []
    for member, member_subs in by_member.items():
        select = member_subs[0].select
        role = member.role
        group = (role, select)
        data = data_cache.get(group)
        if data is None:
            data = _data(info, kind, role, select, new, old, timestamp)
            data_cache[group] = data
        if len(member_subs) == 1:
            ids: tuple[int, ...] = (member_subs[0].id,)
        else:
            ids = tuple(sorted({s.id for s in member_subs}))
        topic = member.topic
        fkey = (topic, ids, id(data))
        frames = frame_cache.get(fkey)
        if frames is None:
            payload: ChangePayload = {"ids": list(ids), "data": data}
            frames = ChangeFrames(topic, payload)
            frame_cache[fkey] = frames
        out.append((member, frames))
    return out


def _data(
    info: RelationInfo,
    kind: str,
    role: str,
    select: tuple[str, ...] | None,
    new: dict[str, Any],
    old: dict[str, Any],
    timestamp: str,
) -> ChangeData:
    allowed = info.selectable.get(role, frozenset())
    key = set(info.key_columns)

    def shown(name: str) -> bool:
        return name in allowed and (select is None or name in select or name in key)

    columns: list[ColumnInfo] = [
        {"name": n, "type": t}
        for n, t in zip(info.column_names, info.type_names, strict=True)
        if shown(n)
    ]
    data: ChangeData = {
        "schema": info.schema,
        "table": info.table,
        "commit_timestamp": timestamp,
        "type": "INSERT" if kind == "INSERT" else "UPDATE" if kind == "UPDATE" else "DELETE",
        "columns": columns,
        "errors": None,
    }
    if kind in ("INSERT", "UPDATE"):
        data["record"] = {k: v for k, v in new.items() if shown(k)}
    if kind == "UPDATE":
        data["old_record"] = {k: v for k, v in old.items() if shown(k)}
    elif kind == "DELETE":
        # With RLS nobody can check a deleted row: only its key is sent.
        data["old_record"] = {
            k: v for k, v in old.items() if shown(k) and (not info.rls_enabled or k in key)
        }
    if len(json.dumps(data, default=str)) > MAX_RECORD_BYTES:
        # Upstream's rule: keep only values of at most 64 bytes and say why.
        if "record" in data:
            data["record"] = _small_values(data["record"])
        if "old_record" in data:
            data["old_record"] = _small_values(data["old_record"])
        data["errors"] = ["Error 413: Payload Too Large"]
    return data


def _small_values(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if len(json.dumps(v, default=str)) <= 64}
