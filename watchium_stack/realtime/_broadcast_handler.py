"""Broadcast on a channel: messages pushed by a member's client, or posted to the REST endpoint,
relayed to the members of the topic.

As upstream's broadcast handler: a payload is bounded in size (``payload_size_exceeded``), the
sender hears its own message only with ``self``, gets a reply only with ``ack``, and on a
private channel sending needs the write policy (an unauthorised send is dropped without a reply)
and receiving the read policy. A message is encoded once per serializer version and shared by
every member it goes to; binary broadcasts of 2.0.0 sockets reach 1.0.0 sockets as JSON when
their payload is JSON.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from ._authorizer import Authorizer, AuthorizerError
from ._limits import Limits
from ._member import ChannelMember
from ._protocol import (
    ENCODING_JSON,
    VSN_1,
    VSN_2,
    BinaryBroadcast,
    Inbound,
    ProtocolError,
    encode_text,
    encode_user_broadcast,
)
from ._socket import SharedFrame
from ._tokens import Credentials
from ._topics import Topic, Topics
from ._wire import BroadcastPayload

__all__ = ["Broadcast", "BroadcastHandler"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Broadcast:
    """A broadcast to relay: a JSON payload, or the raw payload of a binary push."""

    event: str
    payload: Any = None
    raw: BinaryBroadcast | None = None
    meta: dict[str, Any] | None = None

    def frames(self, topic: str) -> dict[str, str | bytes | None]:
        """The frame for each serializer version (None: that version cannot carry it)."""
        if self.raw is not None:
            raw = self.raw
            try:
                v2: str | bytes | None = encode_user_broadcast(
                    topic, raw.event, raw.encoding, raw.data, raw.meta
                )
            except ProtocolError:
                v2 = None
            v1: str | bytes | None = None
            if raw.encoding == ENCODING_JSON:
                # A 1.0.0 socket cannot take binary frames: rebuild the JSON broadcast.
                try:
                    body: BroadcastPayload = {
                        "type": "broadcast",
                        "event": raw.event,
                        "payload": json.loads(raw.data),
                    }
                    if raw.meta:
                        body["meta"] = json.loads(raw.meta)
                    v1 = encode_text(VSN_1, None, None, topic, "broadcast", body)
                except ValueError:
                    v1 = None
            return {VSN_1: v1, VSN_2: v2}
        body = {"type": "broadcast", "event": self.event, "payload": self.payload}
        if self.meta:
            body["meta"] = self.meta
        return {
            VSN_1: encode_text(VSN_1, None, None, topic, "broadcast", body),
            VSN_2: encode_text(VSN_2, None, None, topic, "broadcast", body),
        }


class BroadcastHandler:
    """Handles broadcast for every channel of the server."""

    def __init__(self, topics: Topics, authorizer: Authorizer, limits: Limits) -> None:
        self._topics = topics
        self._authorizer = authorizer
        self._max_bytes = limits.max_broadcast_bytes

    def handle(self, member: ChannelMember, msg: Inbound) -> None:
        """A ``broadcast`` push from ``member``'s client."""
        if not member.may_broadcast:
            return  # as upstream: an unauthorised send is dropped without a reply
        topic = self._topics.get(member.subtopic, member.private)
        if topic is None:
            return
        ack = member.ack
        if msg.binary is not None:
            too_big = len(msg.binary.data) > self._max_bytes
            message = Broadcast(event=msg.binary.event, raw=msg.binary)
        else:
            payload = msg.payload
            if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
                if ack:
                    member.reply(msg, "error", {"reason": "invalid broadcast payload"})
                return
            body = payload.get("payload")
            too_big = len(json.dumps(body, separators=(",", ":"))) > self._max_bytes
            meta = payload.get("meta") if isinstance(payload.get("meta"), dict) else None
            message = Broadcast(event=payload["event"], payload=body, meta=meta)
        if too_big:
            if ack:
                member.reply(msg, "error", {"reason": "payload_size_exceeded"})
            return
        self._relay(topic, message, sender=member)
        if ack:
            member.reply(msg, "ok", {})

    async def may_publish(self, topic: str, credentials: Credentials) -> bool:
        """Whether ``credentials`` may send to the private ``topic`` (REST broadcast)."""
        try:
            policies = await self._authorizer.channel_policies(
                topic, credentials.role, credentials.claims_json, credentials.sub
            )
        except AuthorizerError as exc:
            logger.warning("REST broadcast to private %s not authorised: %s", topic, exc)
            return False
        return policies.broadcast_write

    def publish(self, topic: str, private: bool, message: Broadcast) -> int:
        """Relay ``message`` from the server (REST broadcast, authorised by the caller) to the
        members of a topic; the number of members it was sent to."""
        state = self._topics.get(topic, private)
        return 0 if state is None else self._relay(state, message, sender=None)

    def _relay(self, topic: Topic, message: Broadcast, sender: ChannelMember | None) -> int:
        frames = {
            vsn: SharedFrame(frame, "broadcast")
            for vsn, frame in message.frames(topic.full_name).items()
            if frame is not None
        }
        count = 0
        for member in topic.members:
            if member.receives_broadcast(sender) and member.deliver(frames):
                count += 1
        return count
