"""postgres_changes: bindings of joined channels, and the delivery of each committed change to
the subscribers allowed to see it.

Delivery is a pipeline that keeps commit order. Every change of a transaction is prepared as
soon as the transaction arrives (subscribers matched, filters evaluated, one RLS round trip for
all of them), several changes at once; a single delivery task then sends the prepared changes
strictly in order and confirms the transaction's LSN to the slot.

A row is checked by one RLS call at a time. Changes of a row that arrive while its check runs
wait for the next one, which covers them all (every subscriber of any of them, each answered
with the row as it is then, as a check made for each change alone would be). A busy row, such as
a room's playback state during a burst of seeks, costs one check per check duration, not one
per change.

Encoding happens once per (channel topic, binding ids, role, serializer version): a room's 500
members with the same bindings and role share one encoded frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ._authorizer import Authorizer, AuthorizerError
from ._catalog import Catalog, RelationInfo
from ._cdc import RowChange, Transaction
from ._filters import CompiledFilter, Converter, FilterError
from ._pgoutput import UNCHANGED_TOAST, TupleData
from ._protocol import encode_text
from ._socket import SharedFrame
from ._wire import ChangeData, ChangePayload, ColumnInfo

if TYPE_CHECKING:
    from ._channel import ChannelMember

__all__ = ["Subscription", "ChangeRouter", "binding_id", "MAX_RECORD_BYTES"]

logger = logging.getLogger(__name__)

MAX_RECORD_BYTES = 1024 * 1024
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def binding_id(binding: dict[str, Any]) -> int:
    """A binding's id: derived from its parameters, so equal bindings get equal ids, never 0."""
    canonical = json.dumps(
        {k: binding.get(k) for k in ("event", "schema", "table", "filter", "select")},
        sort_keys=True,
        separators=(",", ":"),
    )
    value = int.from_bytes(hashlib.blake2b(canonical.encode(), digest_size=4).digest(), "big")
    return (value & 0x7FFFFFF) or 1  # 27 bits, like upstream's phash2


@dataclass(eq=False, slots=True)
class Subscription:
    id: int
    member: ChannelMember
    schema: str
    table: str
    event: str  # * | INSERT | UPDATE | DELETE
    filter: CompiledFilter
    select: tuple[str, ...] | None

    def wants(self, kind: str) -> bool:
        return self.event == "*" or self.event == kind


def _commit_timestamp(commit_time: int) -> str:
    moment = _PG_EPOCH + timedelta(microseconds=commit_time)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


Subject = tuple[str, str]  # (role, claims JSON): whom a row is checked for
RowKey = tuple[int, tuple[str | None, ...]]  # (relation id, primary key values)


@dataclass(eq=False, slots=True)
class _RowCheck:
    """One pending RLS check of a row: the subjects of every change that joined it."""

    subjects: set[Subject]
    done: asyncio.Future[dict[Subject, bool]]


@dataclass(slots=True)
class _Prepared:
    """What one change sends: (member, frame by version) pairs, computed before delivery."""

    sends: list[tuple[ChannelMember, _Frames]]


@dataclass(eq=False, slots=True)
class _TableIndex:
    """One table's subscriptions. Those filtered by exactly one ``column=eq.value`` (a room's
    channel: ``room_id=eq.<id>``) are kept by column and value, so a change finds them with one
    lookup per column instead of testing every subscription of the table; the others are tested
    one by one."""

    by_value: dict[str, tuple[Converter, dict[Any, dict[Subscription, None]]]] = field(
        default_factory=dict
    )
    others: dict[Subscription, None] = field(default_factory=dict)

    def add(self, sub: Subscription) -> None:
        equality = sub.filter.equality
        if equality is not None:
            column, value, convert = equality
            entry = self.by_value.setdefault(column, (convert, {}))
            # The same column converts the same way, unless its type changed in between.
            if entry[0] is convert:
                try:
                    entry[1].setdefault(value, {})[sub] = None
                    return
                except TypeError:  # an unhashable value: tested like the others
                    pass
        self.others[sub] = None

    def discard(self, sub: Subscription) -> None:
        if self.others.pop(sub, False) is None:
            return
        equality = sub.filter.equality
        if equality is None:
            return
        column, value, _convert = equality
        entry = self.by_value.get(column)
        if entry is None:
            return
        with contextlib.suppress(TypeError):
            bucket = entry[1].get(value)
            if bucket is not None:
                bucket.pop(sub, None)
                if not bucket:
                    del entry[1][value]

    def __iter__(self) -> Iterator[Subscription]:
        for _convert, buckets in self.by_value.values():
            for bucket in buckets.values():
                yield from bucket
        yield from self.others

    def __bool__(self) -> bool:
        return bool(self.others) or any(b for _c, b in self.by_value.values())

    def matching(self, kind: str, row: dict[str, Any]) -> list[Subscription]:
        """Active subscriptions that want ``kind`` and whose filters ``row`` passes (a DELETE
        passes every filter, as upstream's)."""
        if kind == "DELETE":
            return [s for s in self if s.member.active and s.wants(kind)]
        found: list[Subscription] = []
        for column, (convert, buckets) in self.by_value.items():
            raw = row.get(column)
            if raw is None:
                continue  # NULL equals nothing
            try:
                bucket = buckets.get(convert(raw))
            except (FilterError, TypeError):
                continue
            if bucket:
                found.extend(s for s in bucket if s.member.active and s.wants(kind))
        found.extend(
            s for s in self.others if s.member.active and s.wants(kind) and s.filter.matches(row)
        )
        return found


class ChangeRouter:
    """Holds the subscriptions and runs the delivery pipeline."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        authorizer: Authorizer,
        confirm: Callable[[int], None],
        on_gap: Callable[[str], None],
        max_in_flight: int = 64,
        check_patience: float = 60.0,
    ) -> None:
        self._on_gap = on_gap
        self._check_patience = check_patience
        self._catalog = catalog
        self._authorizer = authorizer
        self._confirm = confirm
        self._by_table: dict[tuple[str, str], _TableIndex] = defaultdict(_TableIndex)
        self._wildcards: dict[Subscription, None] = {}
        self._pending: asyncio.Queue[tuple[list[asyncio.Task[_Prepared]], int] | None] = (
            asyncio.Queue(maxsize=max_in_flight)
        )
        self._deliverer: asyncio.Task[None] | None = None
        self._waiting_checks: dict[RowKey, _RowCheck] = {}
        self._running_checks: dict[RowKey, asyncio.Task[None]] = {}
        self.delivered_changes = 0
        self.rls_checks = 0

    # -- subscriptions --------------------------------------------------------------------------

    def add(self, subscriptions: Iterable[Subscription]) -> None:
        for sub in subscriptions:
            if sub.schema == "*" or sub.table == "*":
                self._wildcards[sub] = None
            else:
                self._by_table[(sub.schema, sub.table)].add(sub)

    def remove(self, member: ChannelMember) -> None:
        for sub in member.subscriptions:
            if sub.schema == "*" or sub.table == "*":
                self._wildcards.pop(sub, None)
            else:
                index = self._by_table.get((sub.schema, sub.table))
                if index is not None:
                    index.discard(sub)

    def members(self) -> set[ChannelMember]:
        """Every member with at least one binding."""
        out = {s.member for index in self._by_table.values() for s in index}
        out.update(s.member for s in self._wildcards)
        return out

    def _has_candidates(self, info: RelationInfo, kind: str) -> bool:
        index = self._by_table.get((info.schema, info.table))
        if index:
            return True
        return any(
            s.wants(kind) and s.schema in ("*", info.schema) and s.table in ("*", info.table)
            for s in self._wildcards
        )

    def _candidates(self, info: RelationInfo, kind: str, row: dict[str, Any]) -> list[Subscription]:
        index = self._by_table.get((info.schema, info.table))
        found = index.matching(kind, row) if index is not None else []
        for s in self._wildcards:
            if (
                s.member.active
                and s.wants(kind)
                and s.schema in ("*", info.schema)
                and s.table in ("*", info.table)
                and (kind == "DELETE" or s.filter.matches(row))
            ):
                found.append(s)
        return found

    # -- pipeline -------------------------------------------------------------------------------

    def start(self) -> None:
        self._deliverer = asyncio.create_task(self._deliver_loop(), name="realtime-deliver")

    async def stop(self) -> None:
        if self._deliverer is not None:
            self._deliverer.cancel()
            try:
                await self._deliverer
            except asyncio.CancelledError:
                pass
            self._deliverer = None

    async def submit(self, txn: Transaction) -> None:
        """Start preparing ``txn``'s changes and queue them for in-order delivery."""
        tasks = [
            asyncio.create_task(self._prepare(change, txn.commit_time))
            for change in txn.changes
            if self._has_candidates(change.relation, change.kind)
        ]
        await self._pending.put((tasks, txn.end_lsn))

    async def _deliver_loop(self) -> None:
        while True:
            item = await self._pending.get()
            if item is None:
                return
            tasks, end_lsn = item
            for task in tasks:
                try:
                    prepared = await task
                except Exception:
                    logger.exception("a change could not be prepared; it is skipped")
                    continue
                for member, frames in prepared.sends:
                    if member.active:
                        member.socket.push(frames[member.socket.vsn])
                self.delivered_changes += 1
            self._confirm(end_lsn)

    # -- preparing one change ---------------------------------------------------------------------

    def _render(self, info: RelationInfo, values: TupleData | None) -> dict[str, Any]:
        if values is None:
            return {}
        types = self._catalog.types
        out: dict[str, Any] = {}
        for name, oid, text in zip(info.column_names, info.column_types, values, strict=False):
            if text is UNCHANGED_TOAST:
                continue
            out[name] = types.render(oid, text if isinstance(text, str) else None)
        return out

    async def _prepare(self, change: RowChange, commit_time: int) -> _Prepared:
        info = await self._catalog.fresh(change.relation)
        kind = change.kind
        new = self._render(info, change.new)
        old = self._render(info, change.old)
        if kind == "UPDATE":
            # An unchanged TOASTed value is not sent again: take it from the old row.
            for name in info.column_names:
                if name not in new and name in old:
                    new[name] = old[name]
        subject_row = old if kind == "DELETE" else new

        candidates = self._candidates(info, kind, subject_row)
        if not candidates:
            return _Prepared([])

        key = info.key_columns
        visible: list[Subscription] = []
        denied: list[Subscription] = []  # role lacks SELECT on the key: upstream's 401
        needs_check: list[Subscription] = []
        # What happens to a subscriber depends on its role only (until the RLS check).
        lists_by_role: dict[str, list[Subscription]] = {}
        for sub in candidates:
            role = sub.member.role
            target = lists_by_role.get(role)
            if target is None:
                cols = info.selectable.get(role, frozenset())
                if not key or not all(k in cols for k in key):
                    target = denied
                elif kind == "DELETE" or not info.rls_enabled or self._catalog.bypass_rls.get(role):
                    target = visible
                else:
                    target = needs_check
                lists_by_role[role] = target
            target.append(sub)

        if needs_check:
            raw = change.old if kind == "DELETE" else change.new
            key_values = tuple(_raw_text(info, raw, k) for k in key)
            answers = await self._check(
                info, key, key_values, {s.member.subject for s in needs_check}
            )
            visible.extend([s for s in needs_check if answers.get(s.member.subject)])

        sends: list[tuple[ChannelMember, _Frames]] = []
        timestamp = _commit_timestamp(commit_time)
        sends.extend(self._payloads(info, kind, visible, new, old, timestamp))
        if denied and kind != "DELETE":
            error = (
                "Error 400: Bad Request, no primary key" if not key else "Error 401: Unauthorized"
            )
            sends.extend(self._errors(info, kind, denied, timestamp, error))
        return _Prepared(sends)

    async def _check(
        self,
        info: RelationInfo,
        key: tuple[str, ...],
        key_values: tuple[str | None, ...],
        subjects: set[Subject],
    ) -> dict[Subject, bool]:
        """Whether each subject may see the row, from the row's next check (joined if pending)."""
        row: RowKey = (info.relid, key_values)
        check = self._waiting_checks.get(row)
        if check is None:
            check = _RowCheck(set(), asyncio.get_running_loop().create_future())
            self._waiting_checks[row] = check
            previous = self._running_checks.get(row)
            self._running_checks[row] = asyncio.create_task(
                self._run_check(row, check, info, key, previous)
            )
        check.subjects.update(subjects)
        # Shielded: the check is shared; one waiter going away must not cancel it for the others.
        return await asyncio.shield(check.done)

    async def _run_check(
        self,
        row: RowKey,
        check: _RowCheck,
        info: RelationInfo,
        key: tuple[str, ...],
        previous: asyncio.Task[None] | None,
    ) -> None:
        try:
            if previous is not None:
                # One check of a row at a time; changes arriving meanwhile join this one.
                await asyncio.wait([previous])
            if self._waiting_checks.get(row) is check:
                del self._waiting_checks[row]
            # Sorted, so subjects of the same role are consecutive (each role's plan is reused).
            subjects = sorted(check.subjects)
            answers = await self._check_patiently(info, key, list(row[1]), subjects)
            self.rls_checks += 1
            check.done.set_result(dict(zip(subjects, answers, strict=True)))
        except BaseException as exc:
            if self._waiting_checks.get(row) is check:
                del self._waiting_checks[row]
            if not check.done.done():
                if isinstance(exc, asyncio.CancelledError):
                    check.done.cancel()
                else:
                    check.done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            if self._running_checks.get(row) is asyncio.current_task():
                del self._running_checks[row]

    async def _check_patiently(
        self,
        info: RelationInfo,
        key: tuple[str, ...],
        key_values: list[str | None],
        subjects: list[Subject],
    ) -> list[bool]:
        # The stream and the checks use the same database: when a check cannot be made, the
        # database is restarting. Wait for it (delivery order is kept) rather than drop the change.
        delay = 0.05
        deadline = asyncio.get_running_loop().time() + self._check_patience
        while True:
            try:
                return await self._authorizer.visible(info.relid, key, key_values, subjects)
            except AuthorizerError as exc:
                if asyncio.get_running_loop().time() > deadline:
                    logger.error(
                        "change on %s.%s not delivered to %d subscribers: %s",
                        info.schema,
                        info.table,
                        len(subjects),
                        exc,
                    )
                    self._on_gap("a change could not be authorised: refetch")
                    return [False] * len(subjects)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _payloads(
        self,
        info: RelationInfo,
        kind: str,
        subs: list[Subscription],
        new: dict[str, Any],
        old: dict[str, Any],
        timestamp: str,
    ) -> list[tuple[ChannelMember, _Frames]]:
        # Group: one payload per (role, select), one frame per (topic, ids) of that payload.
        by_member: dict[ChannelMember, list[Subscription]] = {}
        for sub in subs:
            member_subs = by_member.get(sub.member)
            if member_subs is None:
                by_member[sub.member] = [sub]
            else:
                member_subs.append(sub)
        data_cache: dict[tuple[str, tuple[str, ...] | None], ChangeData] = {}
        frame_cache: dict[tuple[str, tuple[int, ...], int], _Frames] = {}
        out: list[tuple[ChannelMember, _Frames]] = []
        for member, member_subs in by_member.items():
            select = member_subs[0].select
            group = (member.role, select)
            data = data_cache.get(group)
            if data is None:
                data = self._data(info, kind, member.role, select, new, old, timestamp)
                data_cache[group] = data
            if len(member_subs) == 1:
                ids: tuple[int, ...] = (member_subs[0].id,)
            else:
                ids = tuple(sorted({s.id for s in member_subs}))
            fkey = (member.topic, ids, id(data))
            frames = frame_cache.get(fkey)
            if frames is None:
                payload: ChangePayload = {"ids": list(ids), "data": data}
                frames = _frames(member.topic, payload)
                frame_cache[fkey] = frames
            out.append((member, frames))
        return out

    def _data(
        self,
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

    def _errors(
        self,
        info: RelationInfo,
        kind: str,
        subs: list[Subscription],
        timestamp: str,
        error: str,
    ) -> list[tuple[ChannelMember, _Frames]]:
        by_member: dict[ChannelMember, list[int]] = defaultdict(list)
        for sub in subs:
            by_member[sub.member].append(sub.id)
        out = []
        for member, ids in by_member.items():
            data: ChangeData = {
                "schema": info.schema,
                "table": info.table,
                "commit_timestamp": timestamp,
                "type": "INSERT" if kind == "INSERT" else "UPDATE",
                "columns": [],
                "errors": [error],
            }
            out.append((member, _frames(member.topic, {"ids": sorted(set(ids)), "data": data})))
        return out


def _small_values(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if len(json.dumps(v, default=str)) <= 64}


def _raw_text(info: RelationInfo, values: TupleData | None, column: str) -> str | None:
    """A column's text as PostgreSQL sent it (what the key comparison casts back)."""
    if values is None:
        return None
    try:
        text = values[info.column_names.index(column)]
    except (ValueError, IndexError):
        return None
    return text if isinstance(text, str) else None


class _Frames(dict[str, SharedFrame]):
    """A change's frame by serializer version, encoded when a socket of that version needs it."""

    __slots__ = ("topic", "payload")

    def __init__(self, topic: str, payload: ChangePayload) -> None:
        super().__init__()
        self.topic = topic
        self.payload = payload

    def __missing__(self, vsn: str) -> SharedFrame:
        frame = SharedFrame(
            encode_text(vsn, None, None, self.topic, "postgres_changes", self.payload)
        )
        self[vsn] = frame
        return frame


def _frames(topic: str, payload: ChangePayload) -> _Frames:
    return _Frames(topic, payload)


Deliver = Callable[[Transaction], Awaitable[None]]
