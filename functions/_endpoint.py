"""What an endpoint module declares, and what its handler gets to work with.

An endpoint module (``functions/rooms_create.py``, ...) holds one request model, one
``SqlFunction`` and one ``async def handle(request, caller)`` that makes one call::

    ROOMS_CREATE = SqlFunction("rooms_create", p_title="text", ...)

    async def handle(request: RoomsCreateRequest, caller: Caller) -> Result:
        return await caller.call(ROOMS_CREATE, p_title=request.title, ...)

and registers itself with :func:`endpoint`. The SQL text is built once, from names and types the
module declares, with every value sent as a parameter.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from functions._auth import Identity
from functions._db import Database, call_sql
from functions._errors import InvalidInput

__all__ = [
    "SqlFunction",
    "Caller",
    "Endpoint",
    "Result",
    "RawJson",
    "endpoint",
    "ENDPOINTS",
]


class RawJson(str):
    """JSON text exactly as the database produced it, passed to the client without re-encoding."""

    __slots__ = ()

    def parse(self) -> Any:
        return json.loads(self)


Result = RawJson | dict[str, Any]


class SqlFunction:
    """A ``public`` SQL function and its named, typed parameters (in call order)."""

    def __init__(self, name: str, **params: str) -> None:
        self.name = name
        self.params = tuple(params.items())
        self._names = tuple(params)

    def statement(self, args: dict[str, Any]) -> str:
        """The call with these argument values; every parameter must be given (None = NULL).

        Raises:
            TypeError: a parameter is missing or unknown (a bug in the endpoint module).
            InvalidInput: a value cannot be written (a NUL character, a non-finite number).
        """
        if args.keys() != set(self._names):
            missing = set(self._names) - set(args)
            unknown = set(args) - set(self._names)
            raise TypeError(f"{self.name}: missing {sorted(missing)}, unknown {sorted(unknown)}")
        try:
            return call_sql(self.name, self.params, [args[name] for name in self._names])
        except ValueError as exc:
            raise InvalidInput(f"a value cannot be stored: {exc}") from None


@dataclass(frozen=True, slots=True)
class Caller:
    """The caller of one request and the database to call on their behalf."""

    identity: Identity
    db: Database
    path: str = ""

    @property
    def user_id(self) -> str | None:
        return self.identity.user_id

    async def call(self, function: SqlFunction, **args: Any) -> RawJson:
        """Call ``function`` as the caller (their role and claims) in one transaction.

        Raises:
            FunctionError: the database refused (mapped from its SQLSTATE) or is unavailable.
        """
        text = await self.db.call(
            function.name,
            function.statement(args),
            role=self.identity.role,
            claims=self.identity.claims_json,
            path=self.path,
        )
        return RawJson(text)


RequestT = TypeVar("RequestT", bound=BaseModel)
Handler = Callable[[Any, Caller], Awaitable[Result]]


@dataclass(frozen=True)
class Endpoint(Generic[RequestT]):
    """One function: ``POST /functions/v1/<name>``."""

    name: str
    request: type[RequestT]
    response: type[BaseModel]
    handle: Handler
    summary: str
    description: str = ""
    errors: tuple[int, ...] = (400, 401, 403, 404, 429)
    # Fields whose over-long value is a 413 (the database's WR413), not a 400.
    too_large_fields: frozenset[str] = field(default_factory=frozenset)
    body_required: bool = True


ENDPOINTS: dict[str, Endpoint[Any]] = {}


def endpoint(
    name: str,
    request: type[RequestT],
    response: type[BaseModel],
    *,
    summary: str,
    description: str = "",
    errors: tuple[int, ...] = (400, 401, 403, 404, 429),
    too_large_fields: frozenset[str] = frozenset(),
    body_required: bool = True,
) -> Callable[[Handler], Handler]:
    """Register the decorated ``handle`` as the function ``name``."""

    def register(handle: Handler) -> Handler:
        if name in ENDPOINTS:
            raise ValueError(f"function {name} is registered twice")
        ENDPOINTS[name] = Endpoint(
            name=name,
            request=request,
            response=response,
            handle=handle,
            summary=summary,
            description=description,
            errors=errors,
            too_large_fields=too_large_fields,
            body_required=body_required,
        )
        return handle

    return register
