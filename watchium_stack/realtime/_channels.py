"""The channels of each socket: what a client sends, dispatched (heartbeat, join, leave,
broadcast, presence, access_token), and the lifecycle of a channel around it.

Error replies and system messages use upstream's wording (``"<Code>: <message>"`` reasons,
``system`` messages followed by ``phx_close`` when a channel is shut down), so clients written
against hosted Supabase handle them the same way here.

A postgres_changes binding is registered with the change router *before* the join reply is
queued: a change committed after the client sees its join succeed is always delivered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ._broadcast_handler import BroadcastHandler
from ._limits import Limits, TokenBucket
from ._member import ChannelMember, ChannelShutdown
from ._membership import JoinRefused, Membership
from ._presence_handler import PresenceHandler
from ._protocol import Inbound
from ._router import ChangeRouter
from ._socket import Socket
from ._tokens import expired_message
from ._topics import Topics

__all__ = ["AddressLoad", "Handlers", "SocketChannels", "Connections"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Handlers:
    """What every socket's channels share: admission, the topics with their broadcast and
    presence handlers, the change router, and the limits."""

    membership: Membership
    topics: Topics
    broadcasts: BroadcastHandler
    presence: PresenceHandler
    router: ChangeRouter
    limits: Limits


class AddressLoad:
    """What one client address holds now (sockets, channels, postgres_changes bindings), against
    the per-address limits: many sockets and subscriptions from one address slow down every other
    member's changes, and a real party never needs many."""

    __slots__ = ("sockets", "channels", "bindings")

    def __init__(self) -> None:
        self.sockets = 0
        self.channels = 0
        self.bindings = 0

    def __bool__(self) -> bool:
        return bool(self.sockets or self.channels or self.bindings)


class SocketChannels:
    """The channels joined on one socket, and the handling of everything its client sends."""

    def __init__(
        self, socket: Socket, api_token: str, handlers: Handlers, load: AddressLoad | None = None
    ) -> None:
        self.socket = socket
        self._load = load if load is not None else AddressLoad()
        self._limits = handlers.limits
        self._bindings: dict[ChannelMember, int] = {}
        self._api_token = api_token
        limits = handlers.limits
        self._max_channels = limits.max_channels_per_socket
        self._rate_limit = TokenBucket(limits.messages_per_second, limits.message_burst)
        self._membership = handlers.membership
        self._topics = handlers.topics
        self._broadcasts = handlers.broadcasts
        self._presence = handlers.presence
        self._router = handlers.router
        self._channels: dict[str, ChannelMember] = {}
        self._closed = False

    # -- dispatch -------------------------------------------------------------------------------

    async def handle(self, msg: Inbound) -> None:
        """One message from the client."""
        if not self._rate_limit.take():
            member = self._channels.get(msg.topic)
            if member is not None:
                self.shutdown(member, "Too many messages per second")
            return
        if msg.topic == "phoenix":
            if msg.event == "heartbeat":
                self.socket.reply(msg, "ok", {})
            return
        if msg.event == "phx_join":
            await self._join(msg)
            return
        member = self._channels.get(msg.topic)
        if member is None or (msg.join_ref is not None and msg.join_ref != member.join_ref):
            self.socket.reply(msg, "error", {"reason": "unmatched topic"})
            return
        try:
            if msg.event == "phx_leave":
                self._remove(member)
                member.reply(msg, "ok", {})
                member.send_close("phx_close")
            elif msg.event == "broadcast":
                self._broadcasts.handle(member, msg)
            elif msg.event == "presence":
                self._presence.handle(member, msg)
            elif msg.event == "access_token":
                if await self._membership.renew(member, msg):
                    member.expire_with_token(lambda: self._expire(member))
            else:
                logger.debug("ignoring event %r on %s", msg.event, msg.topic)
        except ChannelShutdown as shutdown:
            self.shutdown(member, shutdown.message)

    async def _join(self, msg: Inbound) -> None:
        try:
            subtopic = self._membership.subtopic(msg.topic)
        except JoinRefused as refused:
            self.socket.reply(msg, "error", {"reason": refused.reason})
            return
        existing = self._channels.get(msg.topic)
        if existing is not None:
            # Phoenix closes the old channel when the same topic is joined again.
            self._close(existing)
        if len(self._channels) >= self._max_channels:
            self.socket.reply(
                msg, "error", {"reason": "ChannelRateLimitReached: Too many channels"}
            )
            return
        if self._load.channels >= self._limits.max_channels_per_address:
            self.socket.reply(
                msg,
                "error",
                {"reason": "ChannelRateLimitReached: Too many channels from this address"},
            )
            return
        try:
            admission = await self._membership.admit(self.socket, msg, subtopic, self._api_token)
        except JoinRefused as refused:
            self.socket.reply(msg, "error", {"reason": refused.reason})
            return
        member = admission.member
        bindings = len(admission.subscriptions)
        if self._load.bindings + bindings > self._limits.max_bindings_per_address:
            self.socket.reply(
                msg,
                "error",
                {"reason": "ChannelRateLimitReached: Too many subscriptions from this address"},
            )
            return
        if self._channels.get(msg.topic) is not None or not self.socket_open():
            return  # the socket moved on while the join was decided
        self._load.channels += 1
        self._load.bindings += bindings
        self._bindings[member] = bindings

        # Live from here: the bindings are in the router before the client hears of the join.
        self._channels[member.topic] = member
        topic = self._topics.join(member)
        self._router.add(member, admission.subscriptions)
        member.reply(msg, "ok", {"postgres_changes": admission.bindings})
        if admission.bindings:
            if admission.binding_error is None:
                member.system("postgres_changes", "ok", "Subscribed to PostgreSQL")
            else:
                member.system("postgres_changes", "error", admission.binding_error)
        self._presence.joined(member, topic)
        member.expire_with_token(lambda: self._expire(member))

    # -- the end of a channel -------------------------------------------------------------------

    def shutdown(self, member: ChannelMember, message: str) -> None:
        """Upstream's channel shutdown: a system error, then phx_close; the channel is gone."""
        if not member.active:
            return
        logger.info("closing channel %s: %s", member.topic, message)
        member.system("system", "error", message)
        self._close(member)

    def fail_changes(self, message: str) -> None:
        """Changes may have been lost: every channel with postgres_changes bindings gets a
        system error, then phx_error, which makes clients rejoin (and refetch)."""
        for member in list(self._channels.values()):
            if self._router.subscribed(member):
                member.system("postgres_changes", "error", message)
                self._remove(member)
                member.send_close("phx_error")

    def close_all(self) -> None:
        """The socket is gone: leave every channel (presences leave with them)."""
        self._closed = True
        for member in list(self._channels.values()):
            self._remove(member)

    def _expire(self, member: ChannelMember) -> None:
        self.shutdown(member, expired_message(member.credentials.token))

    def _close(self, member: ChannelMember) -> None:
        self._remove(member)
        member.send_close("phx_close")

    def socket_open(self) -> bool:
        return not self._closed

    def _remove(self, member: ChannelMember) -> None:
        if not member.deactivate():
            return
        bindings = self._bindings.pop(member, None)
        if bindings is not None:
            self._load.channels -= 1
            self._load.bindings -= bindings
        if self._channels.get(member.topic) is member:
            del self._channels[member.topic]
        self._router.remove(member)
        topic = self._topics.leave(member)
        if topic is not None:
            self._presence.left(member, topic)


class Connections:
    """Every open socket with its channels."""

    def __init__(self, handlers: Handlers) -> None:
        self._handlers = handlers
        self._open: dict[Socket, SocketChannels] = {}
        self._addresses: dict[str, AddressLoad] = {}
        self._address_of: dict[Socket, str] = {}

    def __len__(self) -> int:
        return len(self._open)

    def sockets(self) -> list[Socket]:
        return list(self._open)

    def may_connect(self, address: str) -> bool:
        """Whether ``address`` may open another socket (``max_sockets_per_address``)."""
        load = self._addresses.get(address)
        return load is None or load.sockets < self._handlers.limits.max_sockets_per_address

    def open(self, socket: Socket, api_token: str, address: str = "") -> SocketChannels:
        """A socket connected with ``api_token`` from ``address``: its (empty) channels."""
        load = self._addresses.get(address)
        if load is None:
            load = self._addresses[address] = AddressLoad()
        load.sockets += 1
        self._address_of[socket] = address
        channels = SocketChannels(socket, api_token, self._handlers, load)
        self._open[socket] = channels
        return channels

    def close(self, socket: Socket) -> None:
        """The socket is over: its channels are left."""
        channels = self._open.pop(socket, None)
        if channels is not None:
            channels.close_all()
        address = self._address_of.pop(socket, None)
        if address is not None:
            load = self._addresses[address]
            load.sockets -= 1
            if not load:
                del self._addresses[address]

    def revoke(self, subtopic: str, user: str, message: str) -> int:
        """Shut down every channel on ``subtopic`` that acts for ``user`` (its membership is
        gone); how many were."""
        closed = 0
        for private in (True, False):
            topic = self._handlers.topics.get(subtopic, private)
            if topic is None:
                continue
            for member in [m for m in topic.members if m.user == user]:
                channels = self._open.get(member.socket)
                if channels is not None:
                    channels.shutdown(member, message)
                    closed += 1
        return closed

    def shutdown(self, code: int, reason: str) -> None:
        """Leave every channel and close every socket (the server stops)."""
        for socket, channels in list(self._open.items()):
            channels.close_all()
            socket.close_soon(code, reason)

    def fail_changes(self, message: str) -> None:
        """Make every channel with postgres_changes bindings rejoin (see
        :meth:`SocketChannels.fail_changes`)."""
        for channels in list(self._open.values()):
            channels.fail_changes(message)
