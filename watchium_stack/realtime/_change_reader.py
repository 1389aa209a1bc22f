"""The change reader: a permanent logical replication slot, streamed, parsed, and handed on one
committed transaction at a time, in commit order.

Slot lifetime is the service's lifetime. ``start`` drops a slot left behind by an earlier run
(its changes were committed while no server was there to deliver them, and every client of that
run reconnects, rejoins and refetches) and creates a fresh one; ``stop`` drops it. In between,
the slot survives PostgreSQL restarts: when the stream breaks the reader reconnects with backoff
and resumes from the slot, so no change committed while the service is up is lost (a change is
confirmed to the slot once it is in the delivery pipeline, which holds it until it is
delivered). A transaction
PostgreSQL sends again after a crash (the slot's position is saved at checkpoints) is recognised
by its commit LSN and skipped. If the slot itself is gone after a reconnect (the database was
reset), the reader makes a new one and reports the gap, so subscribers can be told to refetch.

A slot that fell too far behind is invalidated by PostgreSQL: the WAL it would need was removed
(``max_slot_wal_keep_size`` bounds what a slow or stopped reader retains) and
``START_REPLICATION`` on it fails for good. The reader checks the slot's ``wal_status`` before
every connection, and after every failed one: a ``lost`` slot is dropped and created again at the
current position, and the gap reported, the same as a slot that is gone. So the stream recovers by
itself; the changes of the gap reach clients through their refetch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import psycopg

from ._catalog import Catalog, CatalogError, RelationInfo
from ._pgoutput import (
    Begin,
    Commit,
    Delete,
    Insert,
    PgOutputError,
    Relation,
    TupleData,
    TypeInfo,
    Update,
    parse_message,
)
from ._replication import ReplicationError, ReplicationStream

__all__ = ["RowChange", "Transaction", "ChangeReader"]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class RowChange:
    relation: RelationInfo
    kind: str  # INSERT | UPDATE | DELETE
    new: TupleData | None
    old: TupleData | None


@dataclass(slots=True)
class Transaction:
    xid: int
    commit_time: int  # microseconds since 2000-01-01 UTC
    end_lsn: int
    changes: list[RowChange] = field(default_factory=list)


OnTransaction = Callable[[Transaction], Awaitable[None]]
OnGap = Callable[[str], None]


class ChangeReader:
    """Streams the slot and calls ``on_transaction`` for every committed transaction."""

    def __init__(
        self,
        *,
        url: str,
        slot: str,
        catalog: Catalog,
        on_transaction: OnTransaction,
        on_gap: OnGap,
    ) -> None:
        self._url = url
        self.slot = slot
        self._catalog = catalog
        self._on_transaction = on_transaction
        self._on_gap = on_gap
        self._stream: ReplicationStream | None = None
        self._task: asyncio.Task[None] | None = None
        self._delivered_lsn = 0
        self._connected = asyncio.Event()
        self.reconnects = 0
        self.invalidations = 0
        """How many times the slot was found invalidated and made again."""

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Create a fresh slot and start streaming.

        Raises:
            CatalogError: when the database cannot be reached.
        """
        # A WAL sender of a crashed run ends as soon as its socket closes; one that stays is
        # another running server using this slot name: refuse rather than steal its stream.
        await self._drop_slot(terminate=False)
        await self._create_slot()
        self._task = asyncio.create_task(self._run(), name="realtime-cdc")

    async def stop(self) -> None:
        """Stop streaming and drop the slot."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        try:
            await self._drop_slot(terminate=True)
        except (CatalogError, psycopg.Error) as exc:
            logger.warning("could not drop replication slot %s: %s", self.slot, exc)

    @property
    def is_connected(self) -> bool:
        """Whether the change stream is connected now."""
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        """Wait until the change stream is connected."""
        await self._connected.wait()

    def confirm(self, end_lsn: int) -> None:
        """Everything up to ``end_lsn`` has been delivered."""
        if self._stream is not None:
            self._stream.confirm(end_lsn)

    # -- slot management ------------------------------------------------------------------------

    async def _slot_state(self) -> str | None:
        """The slot's ``wal_status`` (``reserved``, ``extended``, ``unreserved``, ``lost``), or
        None when there is no slot."""
        rows = await self._catalog.execute(
            "select coalesce(wal_status, 'reserved') from pg_catalog.pg_replication_slots "
            "where slot_name = %s",
            (self.slot,),
        )
        return str(rows[0][0]) if rows else None

    async def _ensure_slot(self) -> None:
        """Make the slot usable: create it when it is gone, replace it when PostgreSQL
        invalidated it; either way the changes in between are lost, and reported as a gap."""
        state = await self._slot_state()
        if state == "lost":
            logger.warning(
                "replication slot %s was invalidated (it fell behind by more than "
                "max_slot_wal_keep_size): creating it again",
                self.slot,
            )
            await self._drop_slot(terminate=True)
            self.invalidations += 1
        elif state is not None:
            return
        await self._create_slot()
        self._on_gap("the replication slot was lost: changes may be missing")

    async def _create_slot(self) -> None:
        await self._catalog.execute(
            "select pg_catalog.pg_create_logical_replication_slot(%s, 'pgoutput')", (self.slot,)
        )
        logger.info("created replication slot %s", self.slot)

    async def _drop_slot(self, *, terminate: bool) -> None:
        for _ in range(50):
            rows = await self._catalog.execute(
                "select active_pid from pg_catalog.pg_replication_slots where slot_name = %s",
                (self.slot,),
            )
            if not rows:
                return
            (active_pid,) = rows[0]
            if active_pid is None:
                try:
                    await self._catalog.execute(
                        "select pg_catalog.pg_drop_replication_slot(%s)", (self.slot,)
                    )
                    logger.info("dropped replication slot %s", self.slot)
                    return
                except psycopg.errors.ObjectInUse:
                    pass
            elif terminate:
                # A WAL sender of a previous run whose client died is still attached.
                await self._catalog.execute(
                    "select pg_catalog.pg_terminate_backend(%s)", (active_pid,)
                )
            await asyncio.sleep(0.1)
        raise CatalogError(
            f"replication slot {self.slot} is in use by another server: give each server "
            "its own slot_name"
        )

    # -- streaming ------------------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            try:
                await self._ensure_slot()
                stream = ReplicationStream(self._url, self.slot, self._catalog.publication)
                await stream.open()
                self._stream = stream
                self._connected.set()
                backoff = 0.05
                await self._consume(stream)
            except asyncio.CancelledError:
                raise
            except (ReplicationError, CatalogError, psycopg.Error, OSError) as exc:
                logger.warning("change stream interrupted: %s (reconnecting)", exc)
            except Exception:
                logger.exception("change stream failed (reconnecting)")
            finally:
                self._connected.clear()
                if self._stream is not None:
                    self._stream.close()
                    self._stream = None
            self.reconnects += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    async def _consume(self, stream: ReplicationStream) -> None:
        catalog = self._catalog
        relations: dict[int, RelationInfo] = {}
        txn: Transaction | None = None
        async for _wal_start, data in stream.messages():
            try:
                message = parse_message(data)
            except PgOutputError as exc:
                logger.error("skipping an unreadable pgoutput message: %s", exc)
                continue
            if isinstance(message, Begin):
                stream.idle = False
                txn = Transaction(message.xid, message.commit_time, 0)
            elif isinstance(message, Insert | Update | Delete):
                info = relations.get(message.relid) or catalog.cached(message.relid)
                if txn is None or info is None:
                    logger.error("change for unknown relation %d skipped", message.relid)
                    continue
                if isinstance(message, Insert):
                    txn.changes.append(RowChange(info, "INSERT", message.new, None))
                elif isinstance(message, Update):
                    txn.changes.append(RowChange(info, "UPDATE", message.new, message.old))
                else:
                    txn.changes.append(RowChange(info, "DELETE", None, message.old))
            elif isinstance(message, Commit):
                if txn is None:
                    continue
                txn.end_lsn = message.end_lsn
                if message.end_lsn <= self._delivered_lsn:
                    # Sent again after a reconnect: already delivered.
                    stream.confirm(message.end_lsn)
                elif txn.changes:
                    await self._on_transaction(txn)
                    self._delivered_lsn = message.end_lsn
                    # Confirmed once it is in the delivery pipeline, not once delivered: a
                    # PostgreSQL shutdown waits for the slot's confirmation, and the pipeline
                    # may be waiting for that same database to authorise the change. Held in
                    # memory, it is delivered when the database is back; if this process dies,
                    # its clients rejoin and refetch anyway.
                    stream.confirm(message.end_lsn)
                else:
                    self._delivered_lsn = message.end_lsn
                    stream.confirm(message.end_lsn)
                txn = None
                stream.idle = True
            elif isinstance(message, Relation):
                relations[message.relid] = await catalog.relation(message)
            elif isinstance(message, TypeInfo):
                pass  # user types are looked up in pg_type with the relation
