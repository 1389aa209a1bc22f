"""postgres_changes filters: ``column=op.value`` parsed, checked against a table, evaluated.

The syntax is upstream's (``filter`` of a binding): ``eq, neq, lt, lte, gt, gte, in`` as the
protocol documents, plus the operators newer upstream servers accept (``is``, ``like``,
``ilike``, ``isdistinct``), the ``not.`` prefix, and several filters joined by commas (AND):
``room_id=eq.abc,is_host=is.true``. ``in`` takes a parenthesised list, quoted items allowed:
``id=in.(1,2)``, ``name=in.("a,b",c)``.

Values compare as the column's type does in PostgreSQL: numbers numerically, timestamps as
instants, uuids case-insensitively, booleans as booleans, text by code point (the local cluster
uses the C collation). A comparison with NULL is false, as in SQL, except ``is`` and
``isdistinct``. POSIX-regex operators (``match``, ``imatch``) are refused: Python's regular
expressions are not PostgreSQL's.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ._pgtypes import parse_array

__all__ = [
    "FilterError",
    "Filter",
    "CompiledFilter",
    "Converter",
    "parse_filters",
    "compile_filters",
    "OPERATORS",
]

OPERATORS = frozenset(
    {"eq", "neq", "lt", "lte", "gt", "gte", "in", "is", "like", "ilike", "isdistinct"}
)
_REFUSED = frozenset({"match", "imatch"})


class FilterError(ValueError):
    """A filter does not parse, names an unknown column, or has a value of the wrong type."""


@dataclass(frozen=True, slots=True)
class Filter:
    """One ``column=[not.]op.value`` condition; ``items`` holds the list of an ``in``."""

    column: str
    op: str
    value: str
    negate: bool = False
    items: tuple[str | None, ...] = ()


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside parentheses and double quotes."""
    parts: list[str] = []
    depth = 0
    quoted = False
    current: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted:
            current.append(ch)
            if ch == "\\" and i + 1 < len(text):
                current.append(text[i + 1])
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
            current.append(ch)
        elif ch == "(":
            depth += 1
            current.append(ch)
        elif ch == ")":
            depth = max(0, depth - 1)
            current.append(ch)
        elif ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        out: list[str] = []
        i = 1
        while i < len(value) - 1:
            if value[i] == "\\" and i + 1 < len(value) - 1:
                i += 1
            elif value[i] == '"':
                return value  # an inner unescaped quote: not a quoted value
            out.append(value[i])
            i += 1
        return "".join(out)
    return value


def parse_filters(text: str | None) -> tuple[Filter, ...]:
    """Parse a binding's ``filter`` string; None, empty or blank means no filter.

    Raises:
        FilterError: with upstream's wording (``Error parsing `filter` params: ...``).
    """
    if text is None or not text.strip():
        return ()
    filters: list[Filter] = []
    for segment in _split_top_level(text.strip()):
        segment = segment.strip()
        if not segment:
            raise FilterError(
                "Error parsing `filter` params: filter must not contain empty segments "
                "(check for extra commas)"
            )
        column, sep, rest = segment.partition("=")
        if not sep or not column:
            raise FilterError(f"Error parsing `filter` params: [{json.dumps(segment)}]")
        negate = rest.startswith("not.")
        if negate:
            rest = rest[4:]
        op, sep, value = rest.partition(".")
        if not sep:
            raise FilterError(f"Error parsing `filter` params: [{json.dumps(rest)}]")
        if op in _REFUSED:
            raise FilterError(
                f"Error parsing `filter` params: the `{op}` operator (POSIX regular expressions) "
                "is not supported by the local Realtime server"
            )
        if op not in OPERATORS:
            raise FilterError(
                f"Error parsing `filter` params: [{json.dumps(op)}, {json.dumps(value)}]"
            )
        items: tuple[str | None, ...] = ()
        if op == "in":
            if not (len(value) >= 2 and value[0] == "(" and value[-1] == ")"):
                raise FilterError("`in` filter value must be wrapped by parentheses")
            try:
                parsed = parse_array("{" + value[1:-1] + "}", lambda item: item)
            except ValueError as exc:
                raise FilterError(f"Error parsing `filter` params: {exc}") from None
            items = tuple(None if v is None else str(v) for v in parsed)
        else:
            value = _unquote(value)
        if op == "is" and value.lower() not in ("null", "true", "false", "unknown"):
            raise FilterError("invalid value for is filter: must be null, true, false, or unknown")
        filters.append(Filter(column.strip(), op, value, negate, items))
    return tuple(filters)


# -- evaluation -------------------------------------------------------------------------------

Converter = Callable[[Any], Any]


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise FilterError("not a number")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise FilterError(f"{value!r} is not a number") from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("t", "true", "y", "yes", "on", "1"):
        return True
    if lowered in ("f", "false", "n", "no", "off", "0"):
        return False
    raise FilterError(f"{value!r} is not a boolean")


def _to_instant(value: Any) -> datetime:
    text = str(value).strip()
    if len(text) > 10 and text[10] == " ":
        text = text[:10] + "T" + text[11:]
    if len(text) > 10 and text[-3] in "+-" and text[-2:].isdigit():
        text += ":00"  # "+00", as PostgreSQL prints a whole-hour offset
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise FilterError(f"{value!r} is not a timestamp") from None
    # A value without a zone is read in the session's zone, which is UTC on our connections.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _to_uuid(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise FilterError(f"{value!r} is not a uuid") from None


def _to_json(value: Any) -> str:
    parsed = json.loads(value) if isinstance(value, str) else value
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"))


def _identity(value: Any) -> Any:
    return str(value)


_CONVERTERS: dict[str, Converter] = {
    "int2": _to_decimal,
    "int4": _to_decimal,
    "int8": _to_decimal,
    "float4": _to_decimal,
    "float8": _to_decimal,
    "numeric": _to_decimal,
    "bool": _to_bool,
    "date": _to_instant,
    "timestamp": _to_instant,
    "timestamptz": _to_instant,
    "uuid": _to_uuid,
}


def _json_converter(value: Any) -> Any:
    try:
        return _to_json(value)
    except (TypeError, ValueError):
        raise FilterError(f"{value!r} is not JSON") from None


def _like_regex(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


@dataclass(frozen=True, slots=True)
class _Condition:
    column: str
    op: str
    negate: bool
    convert: Converter
    operand: Any  # converted value, tuple of converted values (in), regex (like) or keyword (is)

    def test(self, record: Mapping[str, Any]) -> bool:
        raw = record.get(self.column)
        op = self.op
        if op == "is":
            result = _test_is(raw, self.operand)
        elif op == "isdistinct":
            result = (raw is None) != (self.operand is None) or (
                raw is not None and self.convert(raw) != self.operand
            )
        elif raw is None:
            return False  # NULL compared with anything is NULL, and NULL is not true
        elif op in ("like", "ilike"):
            result = self.operand.fullmatch(str(raw)) is not None
        else:
            try:
                value = self.convert(raw)
            except FilterError:
                return False
            if op == "in":
                result = value in self.operand
            elif op == "eq":
                result = value == self.operand
            elif op == "neq":
                result = value != self.operand
            elif op == "lt":
                result = value < self.operand
            elif op == "lte":
                result = value <= self.operand
            elif op == "gt":
                result = value > self.operand
            else:
                result = value >= self.operand
        return not result if self.negate else result


def _test_is(raw: Any, keyword: str) -> bool:
    if keyword == "null":
        return raw is None
    if keyword == "unknown":
        return raw is None
    return raw is (keyword == "true")


@dataclass(frozen=True, slots=True)
class CompiledFilter:
    """Filters bound to a table's column types; ``matches`` is their AND."""

    conditions: tuple[_Condition, ...]

    def matches(self, record: Mapping[str, Any]) -> bool:
        return all(c.test(record) for c in self.conditions)

    @property
    def equality(self) -> tuple[str, Any, Converter] | None:
        """``(column, value, convert)`` when the filter is exactly one ``column=eq.value``: such
        subscriptions can be looked up by the converted value of a row's column."""
        if len(self.conditions) != 1:
            return None
        condition = self.conditions[0]
        if condition.op != "eq" or condition.negate:
            return None
        return condition.column, condition.operand, condition.convert


def compile_filters(filters: tuple[Filter, ...], column_types: Mapping[str, str]) -> CompiledFilter:
    """Bind ``filters`` to a table whose columns have the given type names (``typname``).

    Raises:
        FilterError: for an unknown column or a value that is not of the column's type.
    """
    conditions: list[_Condition] = []
    for f in filters:
        typname = column_types.get(f.column)
        if typname is None:
            raise FilterError(f"invalid column for filter {f.column}")
        if typname in ("json", "jsonb"):
            convert: Converter = _json_converter
        else:
            convert = _CONVERTERS.get(typname, _identity)
        operand: Any
        if f.op == "is":
            operand = f.value.lower()
        elif f.op in ("like", "ilike"):
            operand = _like_regex(f.value, ignore_case=f.op == "ilike")
        elif f.op == "in":
            operand = frozenset(convert(item) for item in f.items if item is not None)
        elif f.op == "isdistinct" and f.value.lower() == "null":
            operand = None
        else:
            operand = convert(f.value)
        conditions.append(_Condition(f.column, f.op, f.negate, convert, operand))
    return CompiledFilter(tuple(conditions))
