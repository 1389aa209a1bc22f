"""PostgreSQL column values as Supabase Realtime renders them in ``record`` and ``old_record``.

Upstream casts each value to its type and applies ``to_jsonb``; pgoutput gives us the text form,
so this module reproduces ``to_jsonb``'s output from text: integers and floats and numerics as
JSON numbers (NaN and infinities stay strings), booleans, ``json``/``jsonb`` as JSON, dates and
timestamps in ISO 8601 (``2026-11-19T00:22:40.877+00:00``), arrays as JSON arrays, and every other
type (uuid, text, bytea, interval, enums ...) as its text. The replication connection runs with
``DateStyle=ISO`` and ``TimeZone=UTC`` so the text forms are predictable.

Numerics become Python ints or floats: a value with more than 15 significant digits loses
precision (to_jsonb would keep them); JSON clients parse numbers into doubles anyway.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["PgType", "TypeRegistry", "parse_array", "render_value", "BUILTIN_TYPES"]

JsonValue = Any  # what json.loads returns; values are built here and only serialised

# Rendering kinds.
_BOOL, _INT, _FLOAT, _NUMERIC, _JSON, _DATE, _TS, _TSTZ, _TEXT, _ARRAY = (
    "bool",
    "int",
    "float",
    "numeric",
    "json",
    "date",
    "timestamp",
    "timestamptz",
    "text",
    "array",
)


@dataclass(frozen=True, slots=True)
class PgType:
    """What we need to know about a type: its name (``typname``) and how to render it."""

    oid: int
    name: str
    kind: str
    element_oid: int = 0


def _t(oid: int, name: str, kind: str, elem: int = 0) -> PgType:
    return PgType(oid, name, kind, elem)


# Built-in types by OID (these OIDs are fixed in every PostgreSQL release).
BUILTIN_TYPES: dict[int, PgType] = {
    t.oid: t
    for t in (
        _t(16, "bool", _BOOL),
        _t(17, "bytea", _TEXT),
        _t(18, "char", _TEXT),
        _t(19, "name", _TEXT),
        _t(20, "int8", _INT),
        _t(21, "int2", _INT),
        _t(23, "int4", _INT),
        _t(25, "text", _TEXT),
        _t(26, "oid", _TEXT),
        _t(114, "json", _JSON),
        _t(142, "xml", _TEXT),
        _t(650, "cidr", _TEXT),
        _t(700, "float4", _FLOAT),
        _t(701, "float8", _FLOAT),
        _t(790, "money", _TEXT),
        _t(829, "macaddr", _TEXT),
        _t(869, "inet", _TEXT),
        _t(1042, "bpchar", _TEXT),
        _t(1043, "varchar", _TEXT),
        _t(1082, "date", _DATE),
        _t(1083, "time", _TEXT),
        _t(1114, "timestamp", _TS),
        _t(1184, "timestamptz", _TSTZ),
        _t(1186, "interval", _TEXT),
        _t(1266, "timetz", _TEXT),
        _t(1560, "bit", _TEXT),
        _t(1562, "varbit", _TEXT),
        _t(1700, "numeric", _NUMERIC),
        _t(2950, "uuid", _TEXT),
        _t(3614, "tsvector", _TEXT),
        _t(3802, "jsonb", _JSON),
        _t(199, "_json", _ARRAY, 114),
        _t(1000, "_bool", _ARRAY, 16),
        _t(1001, "_bytea", _ARRAY, 17),
        _t(1002, "_char", _ARRAY, 18),
        _t(1003, "_name", _ARRAY, 19),
        _t(1005, "_int2", _ARRAY, 21),
        _t(1007, "_int4", _ARRAY, 23),
        _t(1009, "_text", _ARRAY, 25),
        _t(1014, "_bpchar", _ARRAY, 1042),
        _t(1015, "_varchar", _ARRAY, 1043),
        _t(1016, "_int8", _ARRAY, 20),
        _t(1021, "_float4", _ARRAY, 700),
        _t(1022, "_float8", _ARRAY, 701),
        _t(1028, "_oid", _ARRAY, 26),
        _t(1115, "_timestamp", _ARRAY, 1114),
        _t(1182, "_date", _ARRAY, 1082),
        _t(1183, "_time", _ARRAY, 1083),
        _t(1185, "_timestamptz", _ARRAY, 1184),
        _t(1187, "_interval", _ARRAY, 1186),
        _t(1231, "_numeric", _ARRAY, 1700),
        _t(2951, "_uuid", _ARRAY, 2950),
        _t(3807, "_jsonb", _ARRAY, 3802),
    )
}

_CATEGORY_KIND = {"B": _BOOL, "D": _TEXT, "S": _TEXT, "U": _TEXT, "E": _TEXT}
_TZ_SHORT = re.compile(r"([+-]\d\d)$")


def _number(text: str, *, integral: bool) -> JsonValue:
    if integral:
        return int(text)
    lowered = text.lower()
    if lowered in ("nan", "infinity", "-infinity", "inf", "-inf"):
        # to_jsonb renders non-finite numbers as strings: JSON has no literal for them.
        return text
    if "." not in text and "e" not in lowered:
        return int(text)
    return float(text)


def _iso_timestamp(text: str, *, with_zone: bool) -> str:
    if text in ("infinity", "-infinity") or text.endswith(" BC"):
        return text
    out = text.replace(" ", "T", 1)
    if with_zone and _TZ_SHORT.search(out):
        out += ":00"
    return out


def parse_array(text: str, element: Callable[[str], JsonValue]) -> JsonValue:
    """Parse a PostgreSQL array literal (``{1,2,NULL}``, nested, quoted) into a JSON array.

    Raises:
        ValueError: when ``text`` is not an array literal.
    """
    pos = 0
    if text.startswith("["):  # explicit bounds: "[0:2]={...}"
        eq = text.find("=")
        if eq < 0:
            raise ValueError(f"malformed array literal {text!r}")
        pos = eq + 1

    def parse_level(i: int) -> tuple[list[JsonValue], int]:
        if i >= len(text) or text[i] != "{":
            raise ValueError(f"malformed array literal {text!r}")
        i += 1
        items: list[JsonValue] = []
        if i < len(text) and text[i] == "}":
            return items, i + 1
        while True:
            if i >= len(text):
                raise ValueError(f"malformed array literal {text!r}")
            ch = text[i]
            if ch == "{":
                sub, i = parse_level(i)
                items.append(sub)
            elif ch == '"':
                i += 1
                buf: list[str] = []
                while i < len(text) and text[i] != '"':
                    if text[i] == "\\" and i + 1 < len(text):
                        i += 1
                    buf.append(text[i])
                    i += 1
                i += 1
                items.append(element("".join(buf)))
            else:
                end = i
                while end < len(text) and text[end] not in ",}":
                    end += 1
                raw = text[i:end].strip()
                items.append(None if raw == "NULL" else element(raw))
                i = end
            if i >= len(text):
                raise ValueError(f"malformed array literal {text!r}")
            if text[i] == ",":
                i += 1
            elif text[i] == "}":
                return items, i + 1
            else:
                raise ValueError(f"malformed array literal {text!r}")

    result, _ = parse_level(pos)
    return result


class TypeRegistry:
    """Type OIDs to :class:`PgType`: the built-ins, plus user types learnt from the catalog."""

    def __init__(self) -> None:
        self._types: dict[int, PgType] = dict(BUILTIN_TYPES)

    def get(self, oid: int) -> PgType | None:
        return self._types.get(oid)

    def name(self, oid: int) -> str:
        known = self._types.get(oid)
        return known.name if known else str(oid)

    def unknown(self, oids: Iterable[int]) -> list[int]:
        """The OIDs among ``oids`` that need a catalog lookup."""
        return sorted({oid for oid in oids if oid not in self._types})

    def learn(
        self,
        oid: int,
        name: str,
        typtype: str,
        category: str,
        base_oid: int = 0,
        element_oid: int = 0,
    ) -> None:
        """Record a type from ``pg_type`` (domains render as their base type)."""
        if typtype == "d" and base_oid in self._types:
            base = self._types[base_oid]
            self._types[oid] = PgType(oid, name, base.kind, base.element_oid)
        elif category == "A" and element_oid:
            self._types[oid] = PgType(oid, name, _ARRAY, element_oid)
        elif category == "N":
            # A user numeric type we cannot know the text form of: numbers only if it parses.
            self._types[oid] = PgType(oid, name, _NUMERIC)
        else:
            self._types[oid] = PgType(oid, name, _CATEGORY_KIND.get(category, _TEXT))

    def render(self, oid: int, text: str | None) -> JsonValue:
        """``to_jsonb`` of the value whose text form is ``text`` (None for SQL NULL)."""
        if text is None:
            return None
        pgtype = self._types.get(oid)
        return render_value(pgtype, text, self)


def render_value(pgtype: PgType | None, text: str, registry: TypeRegistry) -> JsonValue:
    """Render one non-NULL value; unknown types and unparsable texts stay strings."""
    if pgtype is None:
        return text
    kind = pgtype.kind
    try:
        if kind == _TEXT:
            return text
        if kind == _INT:
            return int(text)
        if kind in (_FLOAT, _NUMERIC):
            return _number(text, integral=False)
        if kind == _BOOL:
            return text in ("t", "true")
        if kind == _JSON:
            return json.loads(text)
        if kind == _TSTZ:
            return _iso_timestamp(text, with_zone=True)
        if kind == _TS:
            return _iso_timestamp(text, with_zone=False)
        if kind == _DATE:
            return text
        if kind == _ARRAY:
            element = registry.get(pgtype.element_oid)
            return parse_array(text, lambda item: render_value(element, item, registry))
    except ValueError:
        return text
    return text
