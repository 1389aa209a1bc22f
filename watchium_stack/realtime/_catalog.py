"""What the server needs to know from the catalog: relations of the publication (columns, types,
primary key, row level security, which roles may select which columns), API roles, and the
replication slot.

All of it is read through one superuser connection and cached; relation metadata is refreshed
when pgoutput announces the relation again (after DDL or a reconnect) and every ``ttl`` seconds,
so a GRANT or an ``enable row level security`` is picked up without a restart.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from ._pgoutput import UNCHANGED_TOAST, Relation, TupleData
from ._pgtypes import TypeRegistry

__all__ = ["CatalogError", "RelationInfo", "TableColumns", "Catalog"]

logger = logging.getLogger(__name__)


class CatalogError(RuntimeError):
    """The catalog could not be read (the database is unreachable)."""


@dataclass(slots=True)
class RelationInfo:
    """A published table as the change pipeline needs it."""

    relid: int
    schema: str
    table: str
    column_names: tuple[str, ...]
    column_types: tuple[int, ...]
    type_names: tuple[str, ...]
    key_columns: tuple[str, ...]
    rls_enabled: bool
    # role -> the columns it may SELECT (column privileges or table privilege)
    selectable: dict[str, frozenset[str]] = field(default_factory=dict)
    loaded_at: float = 0.0


@dataclass(frozen=True, slots=True)
class TableColumns:
    schema: str
    table: str
    types: dict[str, str]  # column -> typname


_RELATION_SQL = """
select c.relrowsecurity as rls,
       coalesce((select array_agg(a.attname::text
                                  order by array_position(i.indkey::int2[], a.attnum))
                   from pg_catalog.pg_index i
                   join pg_catalog.pg_attribute a
                     on a.attrelid = i.indrelid and a.attnum = any(i.indkey::int2[])
                  where i.indrelid = c.oid and i.indisprimary), '{}') as pk,
       (select json_object_agg(r.rolname,
                 (select coalesce(json_agg(a.attname), '[]'::json)
                    from pg_catalog.pg_attribute a
                   where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                     and pg_catalog.has_column_privilege(r.oid, c.oid, a.attnum, 'SELECT')))
          from pg_catalog.pg_roles r where r.rolname = any(%(roles)s)) as selectable
  from pg_catalog.pg_class c
 where c.oid = %(relid)s
"""

_TYPES_SQL = """
select oid::int8, typname::text, typtype::text, typcategory::text, typbasetype::int8, typelem::int8
  from pg_catalog.pg_type where oid = any(%s::oid[])
"""

_PUBLICATION_SQL = """
select p.schemaname::text, p.tablename::text,
       json_object_agg(a.attname, t.typname order by a.attnum) as types
  from pg_catalog.pg_publication_tables p
  join pg_catalog.pg_namespace n on n.nspname = p.schemaname
  join pg_catalog.pg_class c on c.relnamespace = n.oid and c.relname = p.tablename
  join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
  join pg_catalog.pg_type t on t.oid = a.atttypid
 where p.pubname = %s
 group by 1, 2
"""


class Catalog:
    """Cached catalog reads over one superuser connection (reconnected on demand)."""

    def __init__(
        self, url: str, *, publication: str, roles: Iterable[str], ttl: float = 30.0
    ) -> None:
        self._url = url
        self.publication = publication
        self.roles = tuple(roles)
        self.ttl = ttl
        self.types = TypeRegistry()
        self.bypass_rls: dict[str, bool] = {}
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()
        self._relations: dict[int, RelationInfo] = {}
        self._tables: dict[tuple[str, str], TableColumns] = {}
        self._tables_at = 0.0

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        async with self._lock:
            for attempt in (1, 2):
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = await psycopg.AsyncConnection.connect(
                            self._url, autocommit=True, connect_timeout=5
                        )
                    cur = await self._conn.execute(sql, params)
                    return await cur.fetchall() if cur.description else []
                except psycopg.OperationalError as exc:
                    if self._conn is not None:
                        await self._conn.close()
                    self._conn = None
                    if attempt == 2:
                        raise CatalogError(f"cannot read the catalog: {exc}") from exc
        raise CatalogError("unreachable")

    async def execute(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Run a statement as the superuser (slot management, setup).

        Raises:
            CatalogError: when the database cannot be reached.
            psycopg.Error: when the statement fails.
        """
        return await self._query(sql, params)

    async def load_roles(self) -> None:
        """Learn which API roles bypass row level security (service_role does)."""
        rows = await self._query(
            "select rolname::text, rolbypassrls or rolsuper from pg_catalog.pg_roles "
            "where rolname = any(%s)",
            (list(self.roles),),
        )
        self.bypass_rls = {name: bool(flag) for name, flag in rows}

    def bypasses_rls(self, role: str) -> bool:
        """Whether ``role`` sees every row whatever the policies (as of :meth:`load_roles`)."""
        return self.bypass_rls.get(role, False)

    # -- relations of the stream --------------------------------------------------------------

    def cached(self, relid: int) -> RelationInfo | None:
        return self._relations.get(relid)

    async def relation(self, message: Relation) -> RelationInfo:
        """Metadata for a Relation message (always reloaded: it follows DDL or a reconnect)."""
        await self._learn_types(c.type_oid for c in message.columns)
        info = RelationInfo(
            relid=message.relid,
            schema=message.namespace,
            table=message.name,
            column_names=tuple(c.name for c in message.columns),
            column_types=tuple(c.type_oid for c in message.columns),
            type_names=tuple(self.types.name(c.type_oid) for c in message.columns),
            key_columns=(),
            rls_enabled=False,
        )
        await self._reload(info)
        if not info.key_columns:
            # No primary key: the replica identity columns are the best key there is.
            info.key_columns = tuple(c.name for c in message.columns if c.is_key)
        self._relations[message.relid] = info
        return info

    def render(self, info: RelationInfo, values: TupleData | None) -> dict[str, Any]:
        """A row of ``info`` as JSON values by column name (unchanged TOASTed values left out)."""
        if values is None:
            return {}
        types = self.types
        out: dict[str, Any] = {}
        for name, oid, text in zip(info.column_names, info.column_types, values, strict=False):
            if text is UNCHANGED_TOAST:
                continue
            out[name] = types.render(oid, text if isinstance(text, str) else None)
        return out

    async def fresh(self, info: RelationInfo) -> RelationInfo:
        """``info``, reloaded first when older than the TTL."""
        if time.monotonic() - info.loaded_at > self.ttl:
            try:
                await self._reload(info)
            except CatalogError as exc:
                logger.warning("keeping stale metadata of %s.%s: %s", info.schema, info.table, exc)
        return info

    async def _reload(self, info: RelationInfo) -> None:
        rows = await self._query(_RELATION_SQL, {"relid": info.relid, "roles": list(self.roles)})
        if not rows:
            info.loaded_at = time.monotonic()
            return
        rls, pk, selectable = rows[0]
        info.rls_enabled = bool(rls)
        if pk:
            info.key_columns = tuple(pk)
        raw = selectable if isinstance(selectable, dict) else json.loads(selectable or "{}")
        info.selectable = {role: frozenset(cols) for role, cols in raw.items()}
        info.loaded_at = time.monotonic()

    async def _learn_types(self, oids: Iterable[int]) -> None:
        missing = self.types.unknown(oids)
        if not missing:
            return
        rows = await self._query(_TYPES_SQL, (missing,))
        # Domains and arrays refer to other types: learn bases first.
        pending = {int(r[0]): r for r in rows}
        extra = self.types.unknown(
            [int(r[4]) for r in rows if r[4]] + [int(r[5]) for r in rows if r[5]]
        )
        extra = [oid for oid in extra if oid not in pending]
        if extra:
            for r in await self._query(_TYPES_SQL, (extra,)):
                pending[int(r[0])] = r
        for oid, name, typtype, category, base, elem in sorted(
            pending.values(), key=lambda r: r[4] != 0 or r[5] != 0
        ):
            self.types.learn(int(oid), name, typtype, category, int(base), int(elem))

    # -- tables a binding may name ------------------------------------------------------------

    async def published_tables(
        self, *, refresh: bool = False
    ) -> dict[tuple[str, str], TableColumns]:
        """Tables of the publication with their column types (cached for a second)."""
        if refresh or time.monotonic() - self._tables_at > 1.0 or not self._tables:
            rows = await self._query(_PUBLICATION_SQL, (self.publication,))
            tables: dict[tuple[str, str], TableColumns] = {}
            for schema, table, types in rows:
                raw = types if isinstance(types, dict) else json.loads(types)
                tables[(schema, table)] = TableColumns(schema, table, dict(raw))
            self._tables = tables
            self._tables_at = time.monotonic()
        return self._tables

    def published_tables_cached(self) -> dict[tuple[str, str], TableColumns]:
        return self._tables
