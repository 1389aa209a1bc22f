"""How the app serves one endpoint of :data:`watchium_wire.ENDPOINTS`.

Each function is one SQL call derived from its request model: every field ``x`` of the model is
the SQL parameter ``p_x``, with the SQL type its Python type maps to (``str`` text, ``int``
integer, ``float`` numeric, ``bool`` boolean, aware ``datetime`` timestamptz, ``UUID`` uuid, a
string enum text). The statement is built once per endpoint::

    select public.rooms_leave(p_room_id => %(p_room_id)s::text, p_user_id => ...)::text

and the values are bound client-side by psycopg (see :mod:`._db`). The database's JSON answer is
passed to the client as it is. The few endpoints whose answer needs more than the database gives
(the Realtime hints of ``rooms-create`` and ``rooms-join``) name a *finisher* in :data:`FINISHERS`.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel
from pydantic.fields import FieldInfo

from watchium_functions._auth import Identity
from watchium_functions._db import Database
from watchium_functions._errors import FunctionError, from_returned_error
from watchium_wire import ENDPOINTS, ROOMS_CREATE, ROOMS_JOIN, Endpoint, realtime_hints

__all__ = ["Caller", "RawJson", "Result", "Route", "ROUTES", "sql_type"]


class RawJson(str):
    """JSON text exactly as the database produced it, passed to the client without re-encoding."""

    __slots__ = ()

    def parse(self) -> Any:
        return json.loads(self)


Result = RawJson | dict[str, Any]

# Checked in order: bool before int (a bool is an int in Python).
_SQL_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "numeric"),
    (datetime, "timestamptz"),
    (AwareDatetime, "timestamptz"),
    (UUID, "uuid"),
    (Enum, "text"),
    (str, "text"),
)


def sql_type(field: FieldInfo) -> str:
    """The SQL type of a request field's parameter.

    Raises:
        TypeError: a field type with no SQL counterpart (a bug in the request model).
    """
    annotation = field.annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) != 1:
            raise TypeError(f"a request field must have one type, not {annotation!r}")
        annotation = members[0]
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    for python_type, sql in _SQL_TYPES:
        if isinstance(annotation, type) and issubclass(annotation, python_type):
            return sql
    raise TypeError(f"no SQL type for a request field of type {annotation!r}")


@dataclass(frozen=True, slots=True)
class Caller:
    """The caller of one request and the database to call on their behalf."""

    identity: Identity
    db: Database
    path: str = ""
    address: str = ""
    """The client's address as per-address limits see it (:func:`client_address`)."""


Finisher = Callable[[RawJson], Result]


@dataclass(frozen=True)
class Route:
    """An endpoint with its SQL call, ready to serve."""

    endpoint: Endpoint[Any, Any]
    statement: str
    params: tuple[str, ...]
    finish: Finisher | None = None

    @classmethod
    def of(cls, endpoint: Endpoint[Any, Any], finish: Finisher | None = None) -> Route:
        fields = endpoint.request.model_fields
        args = ", ".join(
            f"p_{name} => %(p_{name})s::{sql_type(info)}" for name, info in fields.items()
        )
        statement = f"select public.{endpoint.sql_function}({args})::text"
        return cls(endpoint, statement, tuple(fields), finish)

    async def handle(self, request: BaseModel, caller: Caller) -> Result:
        """Call the SQL function as the caller (their role and claims) in one transaction.

        Raises:
            FunctionError: the database refused (mapped from its SQLSTATE) or is unavailable.
        """
        values = {f"p_{name}": _value(getattr(request, name)) for name in self.params}
        try:
            answer = await caller.db.call(
                self.endpoint.sql_function,
                self.statement,
                values,
                role=caller.identity.role,
                claims=caller.identity.claims_json,
                path=caller.path,
                address=caller.address,
            )
        except FunctionError as error:
            raise caller.identity.refusal(error) from None
        text = RawJson(answer)
        return text if self.finish is None else self.finish(text)


def _value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        # In UTC: PostgreSQL refuses offsets beyond 15:59 that Python accepts.
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise FunctionError("WR400", f"time out of range: {value.isoformat()}") from None
    return value


def _with_realtime(result: dict[str, Any]) -> dict[str, Any]:
    """The answer ({room, member, ...}) plus ``realtime_channel`` and ``realtime``: how to follow
    the room live."""
    room = result["room"]
    hints = realtime_hints(
        str(room["room_id"]),
        is_public=bool(room["is_public"]),
        user_id=str(result["member"]["user_id"]),
    )
    result["realtime_channel"] = hints.channel
    result["realtime"] = hints.model_dump(by_alias=True)
    return result


def _created(text: RawJson) -> dict[str, Any]:
    return _with_realtime(text.parse())


def _joined(text: RawJson) -> dict[str, Any]:
    parsed: dict[str, Any] = text.parse()
    error = parsed.get("error")
    if error is not None:
        # rooms_join returns a refused join instead of raising it, so that the attempt is
        # counted (committed); it is answered like any other refusal.
        raise from_returned_error(error)
    return _with_realtime(parsed)


FINISHERS: dict[str, Finisher] = {ROOMS_CREATE.name: _created, ROOMS_JOIN.name: _joined}

ROUTES: dict[str, Route] = {
    name: Route.of(endpoint, FINISHERS.get(name)) for name, endpoint in ENDPOINTS.items()
}
"""Every endpoint, ready to serve, by name."""
