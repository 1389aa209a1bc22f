"""A parser for the messages of PostgreSQL's built-in logical decoding plugin ``pgoutput``.

Protocol version 1 (what we ask for): Begin, Commit, Origin, Relation, Type, Insert, Update,
Delete, Truncate and Message. Tuple columns arrive in PostgreSQL's text format; turning them into
JSON values is :mod:`._pgtypes`' job. Layouts follow the documentation chapter "Logical
Replication Message Formats".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = [
    "PgOutputError",
    "Begin",
    "Commit",
    "Origin",
    "RelationColumn",
    "Relation",
    "TypeInfo",
    "Insert",
    "Update",
    "Delete",
    "Truncate",
    "LogicalMessage",
    "Message",
    "TupleData",
    "UNCHANGED_TOAST",
    "parse_message",
    "pg_timestamp_to_datetime",
]

# PostgreSQL timestamps count microseconds from 2000-01-01 00:00:00 UTC.
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class PgOutputError(ValueError):
    """A pgoutput message is truncated or of an unknown kind."""


class _UnchangedToast:
    """Marker for a TOASTed value the update did not touch (pgoutput sends no value)."""

    _instance: _UnchangedToast | None = None

    def __new__(cls) -> _UnchangedToast:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNCHANGED_TOAST"


UNCHANGED_TOAST = _UnchangedToast()

# One column of a tuple: its text, None for SQL NULL, or UNCHANGED_TOAST.
TupleData = tuple["str | None | _UnchangedToast", ...]


@dataclass(frozen=True, slots=True)
class Begin:
    final_lsn: int
    commit_time: int  # microseconds since 2000-01-01 UTC
    xid: int


@dataclass(frozen=True, slots=True)
class Commit:
    flags: int
    commit_lsn: int
    end_lsn: int
    commit_time: int


@dataclass(frozen=True, slots=True)
class Origin:
    lsn: int
    name: str


@dataclass(frozen=True, slots=True)
class RelationColumn:
    name: str
    type_oid: int
    type_modifier: int
    is_key: bool


@dataclass(frozen=True, slots=True)
class Relation:
    relid: int
    namespace: str
    name: str
    replica_identity: str  # d(efault), n(othing), f(ull), i(ndex)
    columns: tuple[RelationColumn, ...]


@dataclass(frozen=True, slots=True)
class TypeInfo:
    type_oid: int
    namespace: str
    name: str


@dataclass(frozen=True, slots=True)
class Insert:
    relid: int
    new: TupleData


@dataclass(frozen=True, slots=True)
class Update:
    relid: int
    # The old row: all columns with REPLICA IDENTITY FULL ("O"), the key columns when the key
    # changed ("K"), otherwise absent.
    old: TupleData | None
    old_is_key_only: bool
    new: TupleData


@dataclass(frozen=True, slots=True)
class Delete:
    relid: int
    old: TupleData
    old_is_key_only: bool


@dataclass(frozen=True, slots=True)
class Truncate:
    options: int
    relids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class LogicalMessage:
    transactional: bool
    lsn: int
    prefix: str
    content: bytes


Message = (
    Begin
    | Commit
    | Origin
    | Relation
    | TypeInfo
    | Insert
    | Update
    | Delete
    | Truncate
    | LogicalMessage
)

_I8 = struct.Struct("!b")
_U8 = struct.Struct("!B")
_I16 = struct.Struct("!h")
_I32 = struct.Struct("!i")
_U32 = struct.Struct("!I")
_U64 = struct.Struct("!Q")
_I64 = struct.Struct("!q")


class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes | memoryview) -> None:
        self.buf = memoryview(buf)
        self.pos = 0

    def _take(self, fmt: struct.Struct) -> int:
        end = self.pos + fmt.size
        if end > len(self.buf):
            raise PgOutputError("pgoutput message is truncated")
        (value,) = fmt.unpack_from(self.buf, self.pos)
        self.pos = end
        return int(value)

    def i8(self) -> int:
        return self._take(_I8)

    def u8(self) -> int:
        return self._take(_U8)

    def i16(self) -> int:
        return self._take(_I16)

    def i32(self) -> int:
        return self._take(_I32)

    def u32(self) -> int:
        return self._take(_U32)

    def u64(self) -> int:
        return self._take(_U64)

    def i64(self) -> int:
        return self._take(_I64)

    def byte(self) -> str:
        return chr(self.u8())

    def cstring(self) -> str:
        buf = self.buf
        start = self.pos
        end = start
        n = len(buf)
        while end < n and buf[end] != 0:
            end += 1
        if end >= n:
            raise PgOutputError("pgoutput string is not terminated")
        self.pos = end + 1
        return bytes(buf[start:end]).decode()

    def raw(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.buf):
            raise PgOutputError("pgoutput message is truncated")
        data = bytes(self.buf[self.pos : end])
        self.pos = end
        return data

    def tuple_data(self) -> TupleData:
        count = self.i16()
        values: list[str | None | _UnchangedToast] = []
        for _ in range(count):
            kind = self.byte()
            if kind == "n":
                values.append(None)
            elif kind == "u":
                values.append(UNCHANGED_TOAST)
            elif kind in ("t", "b"):
                # "b" (binary) appears only when the binary option is requested, which we never
                # do; keep it readable as text rather than fail the whole stream.
                length = self.i32()
                values.append(self.raw(length).decode("utf-8", errors="replace"))
            else:
                raise PgOutputError(f"unknown tuple column kind {kind!r}")
        return tuple(values)


def _parse_update(r: _Reader) -> Update:
    relid = r.u32()
    kind = r.byte()
    old: TupleData | None = None
    key_only = False
    if kind in ("K", "O"):
        key_only = kind == "K"
        old = r.tuple_data()
        kind = r.byte()
    if kind != "N":
        raise PgOutputError(f"update without a new tuple (got {kind!r})")
    return Update(relid=relid, old=old, old_is_key_only=key_only, new=r.tuple_data())


def parse_message(data: bytes | memoryview) -> Message:
    """Parse one pgoutput message (the payload of an XLogData message).

    Raises:
        PgOutputError: when the message is truncated or of a kind this parser does not know
            (streaming messages appear only with the ``streaming`` option, which we never set).
    """
    r = _Reader(data)
    kind = r.byte()
    if kind == "B":
        return Begin(final_lsn=r.u64(), commit_time=r.i64(), xid=r.u32())
    if kind == "C":
        return Commit(flags=r.u8(), commit_lsn=r.u64(), end_lsn=r.u64(), commit_time=r.i64())
    if kind == "O":
        return Origin(lsn=r.u64(), name=r.cstring())
    if kind == "R":
        relid = r.u32()
        namespace = r.cstring()
        name = r.cstring()
        identity = r.byte()
        columns = []
        for _ in range(r.i16()):
            flags = r.u8()
            col_name = r.cstring()
            columns.append(
                RelationColumn(
                    name=col_name, type_oid=r.u32(), type_modifier=r.i32(), is_key=bool(flags & 1)
                )
            )
        return Relation(relid, namespace, name, identity, tuple(columns))
    if kind == "Y":
        return TypeInfo(type_oid=r.u32(), namespace=r.cstring(), name=r.cstring())
    if kind == "I":
        relid = r.u32()
        if r.byte() != "N":
            raise PgOutputError("insert without a new tuple")
        return Insert(relid=relid, new=r.tuple_data())
    if kind == "U":
        return _parse_update(r)
    if kind == "D":
        relid = r.u32()
        old_kind = r.byte()
        if old_kind not in ("K", "O"):
            raise PgOutputError(f"delete without an old tuple (got {old_kind!r})")
        return Delete(relid=relid, old=r.tuple_data(), old_is_key_only=old_kind == "K")
    if kind == "T":
        count = r.i32()
        options = r.i8()
        return Truncate(options=options, relids=tuple(r.u32() for _ in range(count)))
    if kind == "M":
        transactional = bool(r.u8())
        lsn = r.u64()
        prefix = r.cstring()
        length = r.i32()
        return LogicalMessage(transactional, lsn, prefix, r.raw(length))
    raise PgOutputError(f"unknown pgoutput message kind {kind!r}")


def pg_timestamp_to_datetime(value: int) -> datetime:
    """A pgoutput timestamp (microseconds since 2000-01-01 UTC) as an aware datetime."""
    return _PG_EPOCH + timedelta(microseconds=value)
