"""A logical replication stream over libpq's streaming replication protocol.

psycopg 3 has no replication API, but its libpq wrapper (``psycopg.pq``) exposes the calls the
protocol needs: a ``replication=database`` connection, ``START_REPLICATION ... LOGICAL`` and the
COPY BOTH sub-protocol (``get_copy_data`` / ``put_copy_data``). The socket is watched by the event
loop, so a committed change reaches us as soon as the WAL sender sends it: no polling interval.

Messages inside the copy stream: ``w`` (XLogData: a pgoutput message) and ``k`` (keepalive,
maybe asking for a reply); we answer with ``r`` (standby status update) carrying the position up
to which changes have been handled, so the slot can release older WAL.

Most WAL holds nothing for the stream: writes to unpublished tables (every member heartbeat),
checkpoints, and transactions pgoutput skips as empty. Confirming only the end of each
transaction received would leave the slot pinned at the last published change: it would retain
all the WAL written since (until ``max_slot_wal_keep_size`` invalidates it), and a fast shutdown
of PostgreSQL, which waits for every WAL sender's client to confirm all it was sent, would never
finish. So while the reader is between transactions (:attr:`ReplicationStream.idle`), a
keepalive's position, up to which the server has decoded and sent everything, is confirmed too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import pq

__all__ = ["ReplicationError", "ReplicationStream", "format_lsn", "replication_dsn"]

logger = logging.getLogger(__name__)

_XLOG_HEADER = struct.Struct("!QQQ")
_KEEPALIVE = struct.Struct("!QQB")
_STATUS = struct.Struct("!cQQQQB")
# Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
_PG_EPOCH_OFFSET_US = 946_684_800_000_000


class ReplicationError(RuntimeError):
    """The replication connection failed, was refused, or ended."""


def format_lsn(lsn: int) -> str:
    """An LSN as PostgreSQL writes it (``16/B374D848``)."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def replication_dsn(url: str) -> str:
    """``url`` turned into a logical replication connection string.

    The session uses ISO dates in UTC so column texts render predictably.
    """
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["replication"] = "database"
    query["options"] = "-c DateStyle=ISO -c TimeZone=UTC -c IntervalStyle=postgres"
    query.setdefault("application_name", "watchium_realtime")
    query.setdefault("connect_timeout", "10")
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def _now_pg_us() -> int:
    return int(time.time() * 1_000_000) - _PG_EPOCH_OFFSET_US


class ReplicationStream:
    """One replication connection streaming a slot.

    Use :meth:`open`, then iterate :meth:`messages`; call :meth:`confirm` with the end LSN of every
    transaction fully handled, and :meth:`close` at the end.
    """

    def __init__(self, url: str, slot: str, publication: str) -> None:
        self._dsn = replication_dsn(url)
        self.slot = slot
        self.publication = publication
        self._conn: pq.abc.PGconn | None = None
        self._readable = asyncio.Event()
        self._fd: int | None = None
        self._confirmed = 0
        self._reported = -1
        self._last_report = 0.0
        self.idle = True
        """Whether every transaction received has been handled (none is partly read): the
        reader clears it at a transaction's start and sets it once the transaction is handled."""

    # -- connection ---------------------------------------------------------------------------

    async def open(self, start_lsn: int = 0) -> None:
        """Connect and start streaming from the slot (which must exist).

        Raises:
            ReplicationError: when the connection or START_REPLICATION fails.
        """
        conn = await asyncio.to_thread(pq.PGconn.connect, self._dsn.encode())
        if conn.status != pq.ConnStatus.OK:
            message = conn.get_error_message()
            conn.finish()
            raise ReplicationError(f"cannot open a replication connection: {message}")
        self._conn = conn
        command = (
            f'START_REPLICATION SLOT "{self.slot}" LOGICAL {format_lsn(start_lsn)} '
            f"(proto_version '1', publication_names '\"{self.publication}\"')"
        )
        result = await asyncio.to_thread(conn.exec_, command.encode())
        if result.status != pq.ExecStatus.COPY_BOTH:
            message = conn.get_error_message()
            self.close()
            raise ReplicationError(f"START_REPLICATION failed: {message}")
        conn.nonblocking = 1
        self._fd = conn.socket
        loop = asyncio.get_running_loop()
        loop.add_reader(self._fd, self._readable.set)
        logger.info("streaming replication slot %s from %s", self.slot, format_lsn(start_lsn))

    def close(self) -> None:
        """Close the connection (idempotent); the WAL sender ends with it."""
        if self._fd is not None:
            try:
                asyncio.get_running_loop().remove_reader(self._fd)
            except RuntimeError:
                pass
            self._fd = None
        if self._conn is not None:
            self._conn.finish()
            self._conn = None

    # -- stream -------------------------------------------------------------------------------

    def confirm(self, lsn: int) -> None:
        """Everything up to ``lsn`` is handled: the slot may forget it (sent on the next report)."""
        if lsn > self._confirmed:
            self._confirmed = lsn

    async def messages(self) -> AsyncIterator[tuple[int, bytes]]:
        """Yield ``(wal_start, pgoutput message)`` as they arrive.

        Raises:
            ReplicationError: when the stream ends or the connection breaks.
        """
        conn = self._conn
        if conn is None:
            raise ReplicationError("the replication stream is not open")
        while True:
            nbytes, data = conn.get_copy_data(1)
            if nbytes == 0:
                self._report_if_due()
                self._readable.clear()
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                # that arrives as the event is set, and stop() would wait forever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._readable.wait()
                try:
                    conn.consume_input()
                except psycopg.OperationalError as exc:
                    raise ReplicationError(f"replication connection lost: {exc}") from None
                continue
            if nbytes < 0:
                raise ReplicationError(
                    f"replication stream ended: {conn.get_error_message() or 'server closed it'}"
                )
            buf = bytes(data)
            tag = buf[:1]
            if tag == b"w":
                wal_start, _wal_end, _server_time = _XLOG_HEADER.unpack_from(buf, 1)
                yield wal_start, buf[1 + _XLOG_HEADER.size :]
            elif tag == b"k":
                wal_end, _server_time, reply = _KEEPALIVE.unpack_from(buf, 1)
                if self.idle:
                    # Everything before wal_end was sent before this keepalive: handled.
                    self.confirm(wal_end)
                if reply:
                    self._send_status(force=True)

    def _report_if_due(self) -> None:
        if self._confirmed != self._reported or time.monotonic() - self._last_report > 10:
            self._send_status(force=False)

    def _send_status(self, *, force: bool) -> None:
        conn = self._conn
        if conn is None:
            return
        lsn = self._confirmed
        message = _STATUS.pack(b"r", lsn, lsn, lsn, _now_pg_us(), 0)
        if conn.put_copy_data(message) != 1 or conn.flush() < 0:
            logger.warning("cannot send a standby status update: %s", conn.get_error_message())
            return
        self._reported = lsn
        self._last_report = time.monotonic()
