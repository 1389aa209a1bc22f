"""postgres_changes subscriptions: made from a join's bindings (validated against the published
tables, upstream's messages when refused), and indexed so that a change finds its subscribers.

Subscriptions filtered by exactly one ``column=eq.value`` (a room's channel:
``room_id=eq.<id>``) are found by value, one lookup per change; other filters are tested one by
one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._catalog import TableColumns
from ._filters import CompiledFilter, Converter, FilterError, compile_filters, parse_filters
from ._member import ChannelMember

__all__ = [
    "Subscription",
    "BindingError",
    "binding_id",
    "subscription_for",
    "TableIndex",
    "SubscriptionIndex",
]


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
    """One binding of one member: which changes it wants, and which columns (``select``)."""

    id: int
    member: ChannelMember
    schema: str
    table: str
    event: str  # * | INSERT | UPDATE | DELETE
    filter: CompiledFilter
    select: tuple[str, ...] | None

    def wants(self, kind: str) -> bool:
        return self.event == "*" or self.event == kind

    def live_for(self, kind: str) -> bool:
        """Whether its member is still joined and wants changes of ``kind``."""
        return self.member.active and (self.event == "*" or self.event == kind)

    def matches(self, row: dict[str, Any]) -> bool:
        """Whether ``row`` passes the subscription's filters."""
        return self.filter.matches(row)

    @property
    def wildcard(self) -> bool:
        return self.schema == "*" or self.table == "*"

    def covers(self, schema: str, table: str) -> bool:
        return self.schema in ("*", schema) and self.table in ("*", table)


class BindingError(Exception):
    """A postgres_changes binding that cannot be subscribed (sent as a system error)."""


def subscription_for(
    member: ChannelMember,
    binding: dict[str, Any],
    tables: Mapping[tuple[str, str], TableColumns],
) -> Subscription:
    """The subscription a binding asks for, among the published ``tables``.

    Raises:
        BindingError: with upstream's message, when the binding names nothing published or
            its filter is wrong.
    """
    schema = binding.get("schema")
    table = binding.get("table")
    if schema is None and table is None:
        raise BindingError(
            "No subscription params provided. Please provide at least a `schema` or `table` "
            f"to subscribe to: {json.dumps(binding)}"
        )
    schema = str(schema) if schema is not None else "public"
    table = str(table) if table is not None else "*"
    event = str(binding.get("event", "*")).upper()
    if event not in ("*", "INSERT", "UPDATE", "DELETE"):
        event = "*"
    raw_select = binding.get("select")
    select = tuple(str(c) for c in raw_select) if isinstance(raw_select, list) else None
    matching = [
        cols
        for (s, t), cols in tables.items()
        if (schema == "*" or s == schema) and (table == "*" or t == table)
    ]
    params = (
        f"event: {event}, schema: {schema}, table: {table}, "
        f"filters: {binding.get('filter') or '[]'}"
    )
    if not matching:
        raise BindingError(
            "Unable to subscribe to changes with given parameters. Please check Realtime is "
            f"enabled for the given connect parameters: [{params}]"
        )
    try:
        filters = parse_filters(binding.get("filter"))
        if filters and len(matching) != 1:
            raise FilterError("filters need an explicit schema and table")
        compiled = compile_filters(filters, matching[0].types if filters else {})
    except FilterError as exc:
        raise BindingError(
            "Unable to subscribe to changes with given parameters. An exception happened so "
            f"please check your connect parameters: [{params}]. Exception: {exc}"
        ) from None
    return Subscription(
        id=binding_id(binding),
        member=member,
        schema=schema,
        table=table,
        event=event,
        filter=compiled,
        select=select,
    )


@dataclass(eq=False, slots=True)
class TableIndex:
    """One table's subscriptions. Those filtered by exactly one ``column=eq.value`` are kept by
    column and value, so a change finds them with one lookup per column instead of testing every
    subscription of the table; the others are tested one by one."""

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
            return [s for s in self if s.live_for(kind)]
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
                found.extend(s for s in bucket if s.live_for(kind))
        found.extend(s for s in self.others if s.live_for(kind) and s.matches(row))
        return found


class SubscriptionIndex:
    """Every member's subscriptions: by table, and those naming ``*`` for a schema or table."""

    def __init__(self) -> None:
        self._by_member: dict[ChannelMember, list[Subscription]] = {}
        self._by_table: dict[tuple[str, str], TableIndex] = defaultdict(TableIndex)
        self._wildcards: dict[Subscription, None] = {}

    def add(self, member: ChannelMember, subscriptions: list[Subscription]) -> None:
        if not subscriptions:
            return
        self._by_member.setdefault(member, []).extend(subscriptions)
        for sub in subscriptions:
            if sub.wildcard:
                self._wildcards[sub] = None
            else:
                self._by_table[(sub.schema, sub.table)].add(sub)

    def remove(self, member: ChannelMember) -> None:
        for sub in self._by_member.pop(member, ()):
            if sub.wildcard:
                self._wildcards.pop(sub, None)
            else:
                index = self._by_table.get((sub.schema, sub.table))
                if index is not None:
                    index.discard(sub)

    def __contains__(self, member: ChannelMember) -> bool:
        """Whether ``member`` has at least one subscription."""
        return member in self._by_member

    def members(self) -> list[ChannelMember]:
        """Every member with at least one subscription."""
        return list(self._by_member)

    def any_for(self, schema: str, table: str, kind: str) -> bool:
        """Whether a change of ``kind`` to the table may concern anyone (before its row is
        looked at)."""
        if self._by_table.get((schema, table)):
            return True
        return any(s.wants(kind) and s.covers(schema, table) for s in self._wildcards)

    def matching(
        self, schema: str, table: str, kind: str, row: dict[str, Any]
    ) -> list[Subscription]:
        """The live subscriptions a change of ``kind`` with ``row`` goes to."""
        index = self._by_table.get((schema, table))
        found = index.matching(kind, row) if index is not None else []
        for s in self._wildcards:
            if (
                s.live_for(kind)
                and s.covers(schema, table)
                and (kind == "DELETE" or s.matches(row))
            ):
                found.append(s)
        return found
