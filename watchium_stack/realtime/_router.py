"""postgres_changes delivery: each committed change to the subscribers allowed to see it, in
commit order.

Delivery is a pipeline. Every change of a transaction is prepared as soon as the transaction
arrives (subscribers matched, filters evaluated, one RLS check of the row for all of them:
:mod:`._row_checks`), several changes at once; a single delivery task then sends the prepared
changes strictly in order and confirms the transaction's LSN to the slot.

What happens to a subscriber depends on its role until the RLS check: a role that bypasses RLS
and a table without RLS need no check; every other subscriber gets a row only when it may see
it, and nothing at all otherwise. Unlike upstream, a role that may not select the row's key gets
no ``Error 401: Unauthorized`` frame: a frame for each change its filter matches would tell it
about rows it may not read (a filter such as ``room_id=eq.<id>`` would be an oracle).

A deleted row cannot be checked any more. A DELETE on a table with RLS reaches a subscriber
that does not bypass RLS only through a *delete scope*: the table's row belongs to a row of
another table (a member to its room), and the subscriber must be allowed to see that row now.
Without a scope only the key is sent, as upstream does, and the filter is tested on the key
alone: a filter on any other column never matches, so it learns nothing about a row it could
not read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from ._catalog import Catalog, RelationInfo
from ._change_payloads import Send, change_sends, commit_timestamp, key_text
from ._change_reader import RowChange, Transaction
from ._member import ChannelMember
from ._row_checks import RowChecks
from ._subscriptions import Subscription, SubscriptionIndex

__all__ = ["ChangeRouter"]

logger = logging.getLogger(__name__)


class ChangeRouter:
    """Holds the members' subscriptions and runs the delivery pipeline.

    Args:
        confirm: called with a transaction's end LSN once it is delivered.
        max_in_flight: transactions prepared ahead of delivery at most.
        delete_scopes: for a table with RLS, ``(schema, table) -> (parent schema, parent table,
            column)``: a DELETE of a row is shown to the subscribers who may see the parent row
            whose ``column`` has the deleted row's value of ``column``.
    """

    def __init__(
        self,
        *,
        catalog: Catalog,
        checks: RowChecks,
        confirm: Callable[[int], None],
        max_in_flight: int = 64,
        delete_scopes: Mapping[tuple[str, str], tuple[str, str, str]] | None = None,
    ) -> None:
        self._catalog = catalog
        self._checks = checks
        self._confirm = confirm
        self._delete_scopes = dict(delete_scopes or {})
        self._parents: dict[tuple[str, str], RelationInfo] = {}
        self._index = SubscriptionIndex()
        self._pending: asyncio.Queue[tuple[list[asyncio.Task[list[Send]]], int] | None] = (
            asyncio.Queue(maxsize=max_in_flight)
        )
        self._deliverer: asyncio.Task[None] | None = None
        self.delivered_changes = 0

    # -- subscriptions --------------------------------------------------------------------------

    def add(self, member: ChannelMember, subscriptions: list[Subscription]) -> None:
        """Route changes to ``member``'s subscriptions from now on."""
        self._index.add(member, subscriptions)

    def remove(self, member: ChannelMember) -> None:
        self._index.remove(member)

    def subscribed(self, member: ChannelMember) -> bool:
        """Whether ``member`` has at least one subscription."""
        return member in self._index

    def members(self) -> list[ChannelMember]:
        """Every member with at least one subscription."""
        return self._index.members()

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
            asyncio.create_task(self._prepare(change, txn.xid, txn.commit_time))
            for change in txn.changes
            if self._index.any_for(change.relation.schema, change.relation.table, change.kind)
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
                    sends = await task
                except Exception:
                    logger.exception("a change could not be prepared; it is skipped")
                    continue
                for member, frames in sends:
                    if member.active:
                        member.deliver(frames)
                self.delivered_changes += 1
            self._confirm(end_lsn)

    async def _prepare(self, change: RowChange, xid: int, commit_time: int) -> list[Send]:
        """What ``change`` sends to whom (computed ahead of delivery)."""
        info = await self._catalog.fresh(change.relation)
        kind = change.kind
        new = self._catalog.render(info, change.new)
        old = self._catalog.render(info, change.old)
        if kind == "UPDATE":
            # An unchanged TOASTed value is not sent again: take it from the old row.
            for name in info.column_names:
                if name not in new and name in old:
                    new[name] = old[name]
        subject_row = old if kind == "DELETE" else new

        candidates = self._index.matching(info.schema, info.table, kind, subject_row)
        if not candidates:
            return []

        key = info.key_columns
        if not key:
            return []  # no key, no RLS check possible: nothing is sent (upstream sends a 400)
        visible: list[Subscription] = []
        needs_check: list[Subscription] = []
        scoped: list[Subscription] = []  # a DELETE checked against the row it belonged to
        # What happens to a subscriber depends on its role only (until the RLS check).
        lists_by_role: dict[str, list[Subscription] | None] = {}
        scope = self._delete_scopes.get((info.schema, info.table)) if kind == "DELETE" else None
        key_only = {k: subject_row.get(k) for k in key}
        for sub in candidates:
            role = sub.member.role
            if role in lists_by_role:
                target = lists_by_role[role]
            else:
                cols = info.selectable.get(role, frozenset())
                if not all(k in cols for k in key):
                    target = None  # may not read the table: never told anything about it
                elif not info.rls_enabled or self._catalog.bypasses_rls(role):
                    target = visible
                elif kind != "DELETE":
                    target = needs_check
                elif scope is not None:
                    target = scoped
                else:
                    target = visible
                lists_by_role[role] = target
            if target is None:
                continue
            if target is visible and kind == "DELETE" and info.rls_enabled and scope is None:
                if not self._catalog.bypasses_rls(role) and not sub.matches(key_only):
                    continue  # a filter is tested on what the subscriber may see: the key
            target.append(sub)

        if needs_check:
            raw = change.old if kind == "DELETE" else change.new
            key_values = tuple(key_text(info, raw, k) for k in key)
            answers = await self._checks.visible(
                info, key, key_values, {s.member.subject for s in needs_check}, xid
            )
            visible.extend([s for s in needs_check if answers.get(s.member.subject)])
        if scoped and scope is not None:
            visible.extend(await self._scoped_visible(scope, old, scoped, xid))

        timestamp = commit_timestamp(commit_time)
        return change_sends(info, kind, visible, new, old, timestamp)

    async def _scoped_visible(
        self,
        scope: tuple[str, str, str],
        old: dict[str, Any],
        subs: list[Subscription],
        xid: int,
    ) -> list[Subscription]:
        """The subscriptions among ``subs`` whose subscriber may see the parent row of a
        deleted row (see ``delete_scopes``)."""
        schema, table, column = scope
        value = old.get(column)
        if value is None:
            return []
        parent = self._parents.get((schema, table))
        if parent is None:
            rows = await self._catalog.execute(
                "select to_regclass(format('%%I.%%I', %s::text, %s::text))::oid", (schema, table)
            )
            if not rows or rows[0][0] is None:
                logger.warning("delete scope %s.%s does not exist", schema, table)
                return []
            parent = RelationInfo(int(rows[0][0]), schema, table, (), (), (), (column,), True)
            self._parents[(schema, table)] = parent
        answers = await self._checks.visible(
            parent, (column,), (str(value),), {s.member.subject for s in subs}, xid
        )
        return [s for s in subs if answers.get(s.member.subject)]
