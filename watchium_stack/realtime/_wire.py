"""Wire payloads: the join request (validated, permissively, as upstream does) and the shapes of
what the server sends."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "ValidationError",
    "BroadcastConfig",
    "PresenceConfig",
    "JoinConfig",
    "JoinPayload",
    "ReplyPayload",
    "SystemPayload",
    "ColumnInfo",
    "ChangeData",
    "ChangePayload",
    "BroadcastPayload",
    "RestBroadcastMessage",
    "RestBroadcastRequest",
]


def _flexible_bool(value: Any) -> Any:
    # Upstream's FlexibleBoolean: "true"/"false" strings count as booleans.
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


class BroadcastConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    ack: bool = False
    self_: bool = Field(default=False, alias="self")

    _flex = field_validator("ack", "self_", mode="before")(_flexible_bool)


class PresenceConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    enabled: bool = False
    key: Any = None

    _flex = field_validator("enabled", mode="before")(_flexible_bool)


class JoinConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    broadcast: BroadcastConfig | None = None
    presence: PresenceConfig | None = None
    # Bindings stay raw: the reply echoes them verbatim and the client compares field by field.
    postgres_changes: list[dict[str, Any]] | None = None
    private: bool = False

    _flex = field_validator("private", mode="before")(_flexible_bool)

    @field_validator("postgres_changes", mode="before")
    @classmethod
    def _drop_nulls(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in value if item is not None]
        return value


class JoinPayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    config: JoinConfig = Field(default_factory=JoinConfig)
    access_token: str | None = None
    user_token: str | None = None


class ReplyPayload(TypedDict):
    status: Literal["ok", "error"]
    response: dict[str, Any]


class SystemPayload(TypedDict):
    extension: str
    status: Literal["ok", "error"]
    message: str
    channel: str


class ColumnInfo(TypedDict):
    name: str
    type: str


class ChangeData(TypedDict):
    schema: str
    table: str
    commit_timestamp: str
    type: Literal["INSERT", "UPDATE", "DELETE"]
    columns: list[ColumnInfo]
    errors: list[str] | None
    record: NotRequired[dict[str, Any]]
    old_record: NotRequired[dict[str, Any]]


class ChangePayload(TypedDict):
    ids: list[int]
    data: ChangeData


class BroadcastPayload(TypedDict):
    type: Literal["broadcast"]
    event: str
    payload: Any
    meta: NotRequired[dict[str, Any]]


class RestBroadcastMessage(BaseModel):
    topic: str = Field(min_length=1)
    event: str = Field(min_length=1)
    payload: dict[str, Any]
    private: bool = False
    id: str | None = None


class RestBroadcastRequest(BaseModel):
    messages: list[RestBroadcastMessage] = Field(min_length=1)
