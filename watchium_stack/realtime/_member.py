"""One joined channel of one socket (a *member* of a channel topic): what its client asked for at
join, whom it acts as, and how to write to it.

The change router, the topics with their broadcast and presence handlers, and the socket's own
channel table all hold the same members; each of them reads a member through the methods here
rather than through the socket behind it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._authorizer import ChannelPolicies
from ._limits import TokenBucket
from ._protocol import Inbound
from ._socket import SharedFrame, Socket
from ._tokens import Credentials
from ._wire import SystemPayload

__all__ = ["ChannelOptions", "ChannelMember", "ChannelShutdown"]


class ChannelShutdown(Exception):
    """The channel must be shut down: a ``system`` error with this message, then ``phx_close``
    (upstream's channel shutdown)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class ChannelOptions:
    """What the client asked for in its ``phx_join``."""

    topic: str  # "realtime:room:abc"
    subtopic: str  # "room:abc"
    join_ref: str | None
    private: bool
    self_broadcast: bool
    ack: bool
    presence_key: str  # the token's sub ("" without a user, who may not track)


class ChannelMember:
    """One joined channel of one socket.

    ``policies`` are what realtime.messages' policies granted ``credentials`` on a private
    channel (None on a public one). ``active`` turns False once, when the member leaves.
    ``topic``, ``role`` and ``subject`` are read for every change a member is sent, so they are
    kept as plain attributes (``role`` and ``subject`` follow ``credentials``).
    """

    __slots__ = (
        "options",
        "credentials",
        "policies",
        "topic",
        "role",
        "subject",
        "active",
        "presence_enabled",
        "_presence_limit",
        "_socket",
        "_expiry",
    )

    def __init__(
        self,
        socket: Socket,
        options: ChannelOptions,
        credentials: Credentials,
        *,
        policies: ChannelPolicies | None,
        presence_enabled: bool,
        presence_limit: TokenBucket,
    ) -> None:
        self.options = options
        self.credentials = credentials
        self.policies = policies
        self.topic = options.topic  # "realtime:room:abc"
        self.role = credentials.role
        self.subject = credentials.subject  # whom RLS checks are made for: (role, claims JSON)
        self.active = True
        self.presence_enabled = presence_enabled
        self._presence_limit = presence_limit
        self._socket = socket
        self._expiry: asyncio.TimerHandle | None = None

    # -- identity ---------------------------------------------------------------------------------

    @property
    def subtopic(self) -> str:
        return self.options.subtopic

    @property
    def socket(self) -> Socket:
        return self._socket

    @property
    def user(self) -> str | None:
        """The user the channel acts for (the token's ``sub``), None for an API key alone."""
        return self.credentials.sub

    @property
    def join_ref(self) -> str | None:
        return self.options.join_ref

    @property
    def private(self) -> bool:
        return self.options.private

    @property
    def ack(self) -> bool:
        """Whether the client wants a reply to each broadcast it sends."""
        return self.options.ack

    @property
    def presence_key(self) -> str:
        return self.options.presence_key

    # -- what policies allow (always allowed on a public channel) -------------------------------

    def receives_broadcast(self, sender: ChannelMember | None) -> bool:
        if sender is self and not self.options.self_broadcast:
            return False
        return not self.private or (self.policies is not None and self.policies.broadcast_read)

    @property
    def receives_presence(self) -> bool:
        return not self.private or (self.policies is not None and self.policies.presence_read)

    @property
    def may_broadcast(self) -> bool:
        return not self.private or (self.policies is not None and self.policies.broadcast_write)

    @property
    def may_track(self) -> bool:
        """Whether it may track presence: a user (presence is keyed by the token's ``sub``) whom
        a private channel's policies allow to write."""
        if self.credentials.sub is None:
            return False
        return not self.private or (self.policies is not None and self.policies.presence_write)

    def take_presence_turn(self) -> bool:
        """Whether a presence message may be sent now (the channel's presence rate limit)."""
        return self._presence_limit.take()

    # -- writing to the member's socket ---------------------------------------------------------

    def deliver(self, frames: Mapping[str, SharedFrame]) -> bool:
        """The frame for this member's serializer version, shared with other members (a change,
        a broadcast, a presence diff); False when there is none for that version."""
        socket = self._socket
        try:
            frame = frames[socket.vsn]
        except KeyError:
            return False
        socket.push(frame)
        return True

    def send(self, event: str, payload: object) -> None:
        """A push on this channel for this member alone."""
        self._socket.push_message(self.topic, event, payload, ref=None, join_ref=None)

    def reply(self, msg: Inbound, status: str, response: dict[str, Any]) -> None:
        self._socket.reply(msg, status, response)

    def system(self, extension: str, status: str, message: str) -> None:
        """A ``system`` message, as upstream reports a channel's status."""
        payload: SystemPayload = {
            "extension": extension,
            "status": "ok" if status == "ok" else "error",
            "message": message,
            "channel": self.subtopic,
        }
        self.send("system", payload)

    def send_close(self, event: str) -> None:
        """``phx_close`` or ``phx_error``, with the channel's join_ref as Phoenix sends them."""
        join_ref = self.join_ref
        self._socket.push_message(self.topic, event, {}, ref=join_ref, join_ref=join_ref)

    # -- lifetime --------------------------------------------------------------------------------

    def renew(self, credentials: Credentials, policies: ChannelPolicies | None) -> None:
        """Act as ``credentials`` from now on (an access_token push)."""
        self.credentials = credentials
        self.policies = policies
        self.role = credentials.role
        self.subject = credentials.subject

    def expire_with_token(self, on_expiry: Callable[[], None]) -> None:
        """Call ``on_expiry`` when the current token expires (replacing an earlier timer)."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        exp = self.credentials.expires_at
        if exp is None:
            return
        delay = max(0.0, exp - time.time())
        self._expiry = asyncio.get_running_loop().call_later(delay, on_expiry)

    def deactivate(self) -> bool:
        """The member leaves: False when it already had."""
        if not self.active:
            return False
        self.active = False
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        return True
