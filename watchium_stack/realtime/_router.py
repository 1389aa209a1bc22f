"""postgres_changes delivery: each committed change to the subscribers allowed to see it, in
commit order.

Delivery is a pipeline. Every change of a transaction is prepared as soon as the transaction
arrives (subscribers matched, filters evaluated, one RLS check of the row for all of them:
:mod:`._row_checks`), several changes at once; a single delivery task then sends the prepared
changes strictly in order and confirms the transaction's LSN to the slot.

What happens to a subscriber depends on its role until the RLS check: a role that may not
select the row's key gets upstream's ``Error 401: Unauthorized``; a role that bypasses RLS, a
table without RLS and a DELETE need no check.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ._catalog import Catalog
from ._change_payloads import Send, change_sends, commit_timestamp, error_sends, key_text
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
    """

    def __init__(
        self,
        *,
        catalog: Catalog,
        checks: RowChecks,
        confirm: Callable[[int], None],
        max_in_flight: int = 64,
    ) -> None:
        self._catalog = catalog
        self._checks = checks
        self._confirm = confirm
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
                elif kind == "DELETE" or not info.rls_enabled or self._catalog.bypasses_rls(role):
                    target = visible
                else:
                    target = needs_check
                lists_by_role[role] = target
            target.append(sub)

        if needs_check:
            raw = change.old if kind == "DELETE" else change.new
            key_values = tuple(key_text(info, raw, k) for k in key)
            answers = await self._checks.visible(
                info, key, key_values, {s.member.subject for s in needs_check}, xid
            )
            visible.extend([s for s in needs_check if answers.get(s.member.subject)])

        timestamp = commit_timestamp(commit_time)
        sends = change_sends(info, kind, visible, new, old, timestamp)
        if denied and kind != "DELETE":
            error = (
                "Error 400: Bad Request, no primary key" if not key else "Error 401: Unauthorized"
            )
            sends.extend(error_sends(info, kind, denied, timestamp, error))
        return sends
