"""Row level security checks of changed rows, shared between the changes of a busy row.

A row is checked by one call at a time. Changes of a row that arrive while its check runs wait
for the next one, which covers them all (every subscriber of any of them, each answered with the
row as it is then, as a check made for each change alone would be). A busy row, such as a room's
playback state during a burst of seeks, costs one check per check duration, not one per change.
Each change is still checked after it committed, so a member who left before a change never
gets it; and a check waits until the transactions of the changes it covers are visible to other
sessions (a transaction reaches the stream a moment before it does), so it judges the row as
those transactions left it.

The stream and the checks use the same database: when a check cannot be made, the database is
restarting. A check waits for it (delivery order is kept) rather than drop the change, for a
while; past that the change is reported as a gap, so subscribers refetch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from ._authorizer import Authorizer, AuthorizerError
from ._catalog import RelationInfo

__all__ = ["Subject", "RowChecks"]

logger = logging.getLogger(__name__)

Subject = tuple[str, str]  # (role, claims JSON): whom a row is checked for
RowKey = tuple[int, tuple[str | None, ...]]  # (relation id, primary key values)


@dataclass(eq=False, slots=True)
class _RowCheck:
    """One pending RLS check of a row: the subjects of every change that joined it."""

    subjects: set[Subject]
    xids: set[int]
    done: asyncio.Future[dict[Subject, bool]]


class RowChecks:
    """RLS checks of rows through the authorizer, one check of a row at a time.

    Args:
        on_gap: called when a change could not be authorised in ``patience`` seconds (it is
            then shown to nobody).
    """

    def __init__(
        self, authorizer: Authorizer, *, on_gap: Callable[[str], None], patience: float = 60.0
    ) -> None:
        self._authorizer = authorizer
        self._on_gap = on_gap
        self._patience = patience
        self._waiting: dict[RowKey, _RowCheck] = {}
        self._running: dict[RowKey, asyncio.Task[None]] = {}
        self.count = 0
        """Checks made so far (each one call of the database, for every subject it covered)."""

    async def visible(
        self,
        info: RelationInfo,
        key: tuple[str, ...],
        key_values: tuple[str | None, ...],
        subjects: set[Subject],
        xid: int,
    ) -> dict[Subject, bool]:
        """Whether each subject may see the row whose ``key`` columns have ``key_values``, as
        transaction ``xid`` left it, from the row's next check (joined if pending)."""
        row: RowKey = (info.relid, key_values)
        check = self._waiting.get(row)
        if check is None:
            check = _RowCheck(set(), set(), asyncio.get_running_loop().create_future())
            self._waiting[row] = check
            previous = self._running.get(row)
            self._running[row] = asyncio.create_task(self._run(row, check, info, key, previous))
        check.subjects.update(subjects)
        check.xids.add(xid)
        # Shielded: the check is shared; one waiter going away must not cancel it for the others.
        return await asyncio.shield(check.done)

    async def _run(
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
            if self._waiting.get(row) is check:
                del self._waiting[row]
            # Sorted, so subjects of the same role are consecutive (each role's plan is reused).
            subjects = sorted(check.subjects)
            answers = await self._patiently(info, key, list(row[1]), subjects, check.xids)
            self.count += 1
            check.done.set_result(dict(zip(subjects, answers, strict=True)))
        except BaseException as exc:
            if self._waiting.get(row) is check:
                del self._waiting[row]
            if not check.done.done():
                if isinstance(exc, asyncio.CancelledError):
                    check.done.cancel()
                else:
                    check.done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            if self._running.get(row) is asyncio.current_task():
                del self._running[row]

    async def _patiently(
        self,
        info: RelationInfo,
        key: tuple[str, ...],
        key_values: list[str | None],
        subjects: list[Subject],
        xids: set[int],
    ) -> list[bool]:
        delay = 0.05
        deadline = asyncio.get_running_loop().time() + self._patience
        while True:
            try:
                return await self._authorizer.visible(
                    info.relid, key, key_values, subjects, tuple(xids)
                )
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
