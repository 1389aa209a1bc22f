"""Channel protocol of one socket: join, leave, broadcast, presence, access_token, heartbeat.

Error replies and system messages use upstream's wording (``"<Code>: <message>"`` reasons,
``system`` messages followed by ``phx_close`` when a channel is shut down), so clients written
against hosted Supabase handle them the same way here.

A postgres_changes binding is registered with the change router *before* the join reply is
queued: a change committed after the client sees its join succeed is always delivered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from watchium_functions.tokens import TokenError, decode_token

from ._authorizer import Authorizer, AuthorizerError, ChannelPolicies
from ._catalog import Catalog, CatalogError, TableColumns
from ._changes import ChangeRouter, Subscription, binding_id
from ._filters import FilterError, compile_filters, parse_filters
from ._hub import Broadcast, Hub
from ._protocol import Inbound
from ._socket import Socket, TokenBucket
from ._wire import JoinPayload, ReplyPayload, SystemPayload, ValidationError

__all__ = ["Limits", "Context", "ChannelMember", "SocketChannels", "TokenProblem", "verify_token"]

logger = logging.getLogger(__name__)

_PREFIX = "realtime:"
_DB_UNAVAILABLE = "UnableToConnectToProject: Realtime was unable to connect to the project database"


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds applied per socket and per channel (upstream's hosted defaults where they exist)."""

    max_frame_bytes: int = 1024 * 1024
    max_broadcast_bytes: int = 256 * 1024
    max_presence_bytes: int = 256 * 1024
    max_channels_per_socket: int = 100
    messages_per_second: float = 100.0
    message_burst: float = 200.0
    presence_per_second: float = 5.0
    presence_burst: float = 20.0
    max_buffer_bytes: int = 4 * 1024 * 1024
    # Seconds a close frame may wait for the transport before the connection is aborted.
    close_timeout: float = 5.0


@dataclass(slots=True)
class Context:
    """What every socket shares."""

    hub: Hub
    router: ChangeRouter
    catalog: Catalog
    authorizer: Authorizer
    jwt_secret: str
    limits: Limits


class TokenProblem(Exception):
    """A channel token was refused; ``reason`` is upstream's ``Code: message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.message}"


def verify_token(token: str | None, secret: str) -> dict[str, Any]:
    """Verify a channel token as upstream does (``role`` and ``exp`` required).

    Raises:
        TokenProblem: with upstream's code and message.
    """
    try:
        claims = decode_token(token, secret)
    except TokenError as exc:
        if exc.reason == "expired":
            raise TokenProblem("InvalidJWTToken", _expired_message(token)) from None
        if exc.reason == "invalid_signature":
            raise TokenProblem("JwtSignatureError", "Failed to validate JWT signature") from None
        if exc.reason == "bad_role":
            raise TokenProblem("InvalidJWTToken", exc.message) from None
        raise TokenProblem("MalformedJWT", "The token provided is not a valid JWT") from None
    if not isinstance(claims.get("exp"), int) or not claims.get("role"):
        raise TokenProblem("InvalidJWTToken", "Fields `role` and `exp` are required in JWT")
    return claims


def _expired_message(token: str | None) -> str:
    try:
        import jwt

        exp = jwt.decode(token or "", options={"verify_signature": False})["exp"]
        ago = max(0, int(time.time() - float(exp)))
    except Exception:
        ago = 0
    return f"Token has expired {ago} seconds ago"


@dataclass(eq=False, slots=True)
class ChannelMember:
    """One joined channel of one socket."""

    socket: Socket
    topic: str  # "realtime:room:abc"
    subtopic: str  # "room:abc"
    join_ref: str | None
    private: bool
    self_broadcast: bool
    ack: bool
    presence_key: str
    presence_enabled: bool
    token: str
    claims: dict[str, Any]
    claims_json: str
    role: str
    policies: ChannelPolicies | None = None
    subscriptions: list[Subscription] = field(default_factory=list)
    active: bool = True
    presence_limit: TokenBucket | None = None
    expiry: asyncio.TimerHandle | None = None
    subject: tuple[str, str] = ("anon", "")  # (role, claims_json): whom RLS checks are made for

    @property
    def can_receive_broadcast(self) -> bool:
        return not self.private or (self.policies is not None and self.policies.broadcast_read)

    @property
    def can_receive_presence(self) -> bool:
        return not self.private or (self.policies is not None and self.policies.presence_read)

    def set_claims(self, token: str, claims: dict[str, Any]) -> None:
        self.token = token
        self.claims = claims
        self.claims_json = json.dumps(claims, sort_keys=True, separators=(",", ":"))
        self.role = str(claims["role"])
        self.subject = (self.role, self.claims_json)


def _reply(status: str, response: dict[str, Any]) -> ReplyPayload:
    return {"status": "ok" if status == "ok" else "error", "response": response}


class SocketChannels:
    """The channels joined on one socket, and the handling of everything the client sends."""

    def __init__(self, ctx: Context, socket: Socket, api_token: str) -> None:
        self.ctx = ctx
        self.socket = socket
        self.api_token = api_token
        self.channels: dict[str, ChannelMember] = {}

    # -- outgoing helpers -----------------------------------------------------------------------

    def _reply(self, msg: Inbound, status: str, response: dict[str, Any]) -> None:
        self.socket.push_message(
            msg.topic, "phx_reply", _reply(status, response), ref=msg.ref, join_ref=msg.join_ref
        )

    def _system(self, member: ChannelMember, extension: str, status: str, message: str) -> None:
        payload: SystemPayload = {
            "extension": extension,
            "status": "ok" if status == "ok" else "error",
            "message": message,
            "channel": member.subtopic,
        }
        self.socket.push_message(member.topic, "system", payload, ref=None, join_ref=None)

    def shutdown(self, member: ChannelMember, message: str) -> None:
        """Upstream's channel shutdown: a system error, then phx_close; the channel is gone."""
        if not member.active:
            return
        logger.info("closing channel %s: %s", member.topic, message)
        self._system(member, "system", "error", message)
        self._close(member)

    def shutdown_with_error(self, member: ChannelMember, message: str) -> None:
        """The channel failed: a system error, then phx_error, which makes clients rejoin."""
        if not member.active:
            return
        self._system(member, "postgres_changes", "error", message)
        self._remove(member)
        self.socket.push_message(
            member.topic, "phx_error", {}, ref=member.join_ref, join_ref=member.join_ref
        )

    def _close(self, member: ChannelMember) -> None:
        self._remove(member)
        self.socket.push_message(
            member.topic, "phx_close", {}, ref=member.join_ref, join_ref=member.join_ref
        )

    def _remove(self, member: ChannelMember) -> None:
        if not member.active:
            return
        member.active = False
        if member.expiry is not None:
            member.expiry.cancel()
        if self.channels.get(member.topic) is member:
            del self.channels[member.topic]
        self.ctx.router.remove(member)
        self.ctx.hub.leave(member)

    def close_all(self) -> None:
        """The socket is gone: leave every channel (presences leave with them)."""
        for member in list(self.channels.values()):
            self._remove(member)

    # -- dispatch -------------------------------------------------------------------------------

    async def handle(self, msg: Inbound) -> None:
        if not self.socket.rate_limit.take():
            member = self.channels.get(msg.topic)
            if member is not None:
                self.shutdown(member, "Too many messages per second")
            return
        if msg.topic == "phoenix":
            if msg.event == "heartbeat":
                self._reply(msg, "ok", {})
            return
        if msg.event == "phx_join":
            await self._join(msg)
            return
        member = self.channels.get(msg.topic)
        if member is None or (msg.join_ref is not None and msg.join_ref != member.join_ref):
            self._reply(msg, "error", {"reason": "unmatched topic"})
            return
        if msg.event == "phx_leave":
            self._remove(member)
            self._reply(msg, "ok", {})
            self.socket.push_message(
                member.topic, "phx_close", {}, ref=member.join_ref, join_ref=member.join_ref
            )
        elif msg.event == "broadcast":
            self._broadcast(member, msg)
        elif msg.event == "presence":
            self._presence(member, msg)
        elif msg.event == "access_token":
            await self._access_token(member, msg)
        else:
            logger.debug("ignoring event %r on %s", msg.event, msg.topic)

    # -- join -----------------------------------------------------------------------------------

    async def _join(self, msg: Inbound) -> None:
        topic = msg.topic
        if not topic.startswith(_PREFIX):
            self._reply(msg, "error", {"reason": "unmatched topic"})
            return
        subtopic = topic[len(_PREFIX) :]
        if not subtopic:
            reason = "TopicNameRequired: You must provide a topic name"
            self._reply(msg, "error", {"reason": reason})
            return
        existing = self.channels.get(topic)
        if existing is not None:
            # Phoenix closes the old channel when the same topic is joined again.
            self._close(existing)
        if len(self.channels) >= self.ctx.limits.max_channels_per_socket:
            self._reply(msg, "error", {"reason": "ChannelRateLimitReached: Too many channels"})
            return
        if not isinstance(msg.payload, dict):
            self._reply(msg, "error", {"reason": "InvalidJoinPayload: the payload is not a map"})
            return
        try:
            join = JoinPayload.model_validate(msg.payload)
        except ValidationError as exc:
            reason = f"InvalidJoinPayload: {exc.errors(include_url=False)[0]['msg']}"
            self._reply(msg, "error", {"reason": reason})
            return

        token = join.access_token or join.user_token
        if not token or token.startswith("sb_"):
            token = self.api_token
        try:
            claims = verify_token(token, self.ctx.jwt_secret)
        except TokenProblem as problem:
            self._reply(msg, "error", {"reason": problem.reason})
            return

        config = join.config
        presence = config.presence
        key = presence.key if presence is not None else None
        member = ChannelMember(
            socket=self.socket,
            topic=topic,
            subtopic=subtopic,
            join_ref=msg.join_ref or msg.ref,
            private=config.private,
            self_broadcast=bool(config.broadcast and config.broadcast.self_),
            ack=bool(config.broadcast and config.broadcast.ack),
            presence_key=str(key) if key not in (None, "") else str(uuid.uuid1()),
            presence_enabled=bool(presence and presence.enabled),
            token=token,
            claims={},
            claims_json="",
            role="anon",
            presence_limit=TokenBucket(
                self.ctx.limits.presence_per_second, self.ctx.limits.presence_burst
            ),
        )
        member.set_claims(token, claims)

        if member.private:
            try:
                member.policies = await self._policies(member)
            except AuthorizerError as exc:
                logger.warning("private join of %s failed: %s", subtopic, exc)
                reason = _DB_UNAVAILABLE
                self._reply(msg, "error", {"reason": reason})
                return
            if not member.policies.can_join:
                reason = (
                    "Unauthorized: You do not have permissions to read from this Channel topic: "
                    + subtopic
                )
                self._reply(msg, "error", {"reason": reason})
                return

        bindings = config.postgres_changes or []
        binding_error: str | None = None
        if bindings:
            try:
                member.subscriptions = await self._subscriptions(member, bindings)
            except _BindingError as exc:
                binding_error = str(exc)
            except CatalogError as exc:
                logger.warning("join of %s failed: %s", subtopic, exc)
                reason = _DB_UNAVAILABLE
                self._reply(msg, "error", {"reason": reason})
                return

        # Live from here: the bindings are in the router before the client hears of the join.
        self.channels[topic] = member
        topic_state = self.ctx.hub.join(member)
        self.ctx.router.add(member.subscriptions)
        echoed = [dict(b, id=binding_id(b)) for b in bindings]
        self._reply(msg, "ok", {"postgres_changes": echoed})
        if bindings:
            if binding_error is None:
                self._system(member, "postgres_changes", "ok", "Subscribed to PostgreSQL")
            else:
                self._system(member, "postgres_changes", "error", binding_error)
        if member.presence_enabled and member.can_receive_presence:
            self.socket.push_message(
                topic, "presence_state", topic_state.presences.state(), ref=None, join_ref=None
            )
        self._schedule_expiry(member)

    async def _policies(self, member: ChannelMember) -> ChannelPolicies:
        sub = member.claims.get("sub")
        return await self.ctx.authorizer.channel_policies(
            member.subtopic, member.role, member.claims_json, str(sub) if sub else None
        )

    async def _subscriptions(
        self, member: ChannelMember, bindings: list[dict[str, Any]]
    ) -> list[Subscription]:
        catalog = self.ctx.catalog
        try:
            tables = await catalog.published_tables()
        except CatalogError:
            tables = catalog.published_tables_cached()
            if not tables:
                raise
        subs: list[Subscription] = []
        for binding in bindings:
            subs.append(self._subscription(member, binding, tables))
        return subs

    def _subscription(
        self,
        member: ChannelMember,
        binding: dict[str, Any],
        tables: dict[tuple[str, str], TableColumns],
    ) -> Subscription:
        schema = binding.get("schema")
        table = binding.get("table")
        if schema is None and table is None:
            raise _BindingError(
                "No subscription params provided. Please provide at least a `schema` or `table` "
                f"to subscribe to: {json.dumps(binding)}"
            )
        schema = str(schema) if schema is not None else "public"
        table = str(table) if table is not None else "*"
        event = str(binding.get("event", "*")).upper()
        if event not in ("*", "INSERT", "UPDATE", "DELETE"):
            event = "*"
        raw_select = binding.get("select")
        select = tuple(str(c) for c in raw_select) if isinstance(raw_select, list) else None
        matching = [
            cols
            for (s, t), cols in tables.items()
            if (schema == "*" or s == schema) and (table == "*" or t == table)
        ]
        params = (
            f"event: {event}, schema: {schema}, table: {table}, "
            f"filters: {binding.get('filter') or '[]'}"
        )
        if not matching:
            raise _BindingError(
                "Unable to subscribe to changes with given parameters. Please check Realtime is "
                f"enabled for the given connect parameters: [{params}]"
            )
        try:
            filters = parse_filters(binding.get("filter"))
            if filters and len(matching) != 1:
                raise FilterError("filters need an explicit schema and table")
            compiled = compile_filters(filters, matching[0].types if filters else {})
        except FilterError as exc:
            raise _BindingError(
                "Unable to subscribe to changes with given parameters. An exception happened so "
                f"please check your connect parameters: [{params}]. Exception: {exc}"
            ) from None
        return Subscription(
            id=binding_id(binding),
            member=member,
            schema=schema,
            table=table,
            event=event,
            filter=compiled,
            select=select,
        )

    def _schedule_expiry(self, member: ChannelMember) -> None:
        if member.expiry is not None:
            member.expiry.cancel()
        exp = member.claims.get("exp")
        if not isinstance(exp, int):
            return
        delay = max(0.0, exp - time.time())
        loop = asyncio.get_running_loop()
        member.expiry = loop.call_later(
            delay, lambda: self.shutdown(member, _expired_message(member.token))
        )

    # -- broadcast ------------------------------------------------------------------------------

    def _broadcast(self, member: ChannelMember, msg: Inbound) -> None:
        if member.private and not (member.policies and member.policies.broadcast_write):
            return  # as upstream: an unauthorised send is dropped without a reply
        topic = self.ctx.hub.topic(member.subtopic, member.private)
        if topic is None:
            return
        limit = self.ctx.limits.max_broadcast_bytes
        if msg.binary is not None:
            too_big = len(msg.binary.data) > limit
            message = Broadcast(event=msg.binary.event, raw=msg.binary)
        else:
            payload = msg.payload
            if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
                if member.ack:
                    self._reply(msg, "error", {"reason": "invalid broadcast payload"})
                return
            body = payload.get("payload")
            too_big = len(json.dumps(body, separators=(",", ":"))) > limit
            meta = payload.get("meta") if isinstance(payload.get("meta"), dict) else None
            message = Broadcast(event=payload["event"], payload=body, meta=meta)
        if too_big:
            if member.ack:
                self._reply(msg, "error", {"reason": "payload_size_exceeded"})
            return
        self.ctx.hub.broadcast(topic, message, sender=member)
        if member.ack:
            self._reply(msg, "ok", {})

    # -- presence -------------------------------------------------------------------------------

    def _presence(self, member: ChannelMember, msg: Inbound) -> None:
        payload = msg.payload if isinstance(msg.payload, dict) else {}
        event = str(payload.get("event", "")).lower()
        if member.presence_limit is not None and not member.presence_limit.take():
            self.shutdown(member, "Client presence rate limit exceeded")
            return
        topic = self.ctx.hub.topic(member.subtopic, member.private)
        if topic is None:
            return
        if event == "track":
            if member.private and not (member.policies and member.policies.presence_write):
                self._reply(msg, "error", {})
                return
            body = payload.get("payload", {})
            if not isinstance(body, dict):
                self._reply(msg, "error", {"reason": "Presence track payload must be a map"})
                return
            if len(json.dumps(body, separators=(",", ":"))) > self.ctx.limits.max_presence_bytes:
                self.shutdown(member, "Track message size exceeded")
                return
            member.presence_enabled = True
            diff = topic.presences.track(member, member.presence_key, body)
            if diff is not None:
                self.ctx.hub.presence_diff(topic, diff)
            self._reply(msg, "ok", {})
        elif event == "untrack":
            diff = topic.presences.untrack(member)
            if diff is not None:
                self.ctx.hub.presence_diff(topic, diff)
            self._reply(msg, "ok", {})
        else:
            self._reply(msg, "error", {})

    # -- access token ---------------------------------------------------------------------------

    async def _access_token(self, member: ChannelMember, msg: Inbound) -> None:
        payload = msg.payload if isinstance(msg.payload, dict) else {}
        token = payload.get("access_token")
        if not isinstance(token, str) or token.startswith("sb_") or token == member.token:
            return
        try:
            claims = verify_token(token, self.ctx.jwt_secret)
        except TokenProblem as problem:
            self.shutdown(member, problem.message)
            return
        previous = member.policies
        member.set_claims(token, claims)
        if member.private:
            try:
                member.policies = await self._policies(member)
            except AuthorizerError:
                self.shutdown(member, "Realtime was unable to connect to the project database")
                return
            revoked = previous is not None and (
                (previous.broadcast_read and not member.policies.broadcast_read)
                or (previous.presence_read and not member.policies.presence_read)
            )
            if revoked:
                self.shutdown(
                    member,
                    "You no longer have permission to read from this Channel topic: "
                    + member.subtopic,
                )
                return
        self._schedule_expiry(member)


class _BindingError(Exception):
    """A postgres_changes binding that cannot be subscribed (sent as a system error)."""
