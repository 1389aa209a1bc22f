"""Channel topics: who has joined each one, their presence, and broadcast fan-out.

A public and a private channel of the same name are different topics, as upstream keeps them
(a private member never hears a public sender and the other way round). Frames are encoded once
per serializer version and pushed to every member's queue.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._presence import PresenceDiff, Presences
from ._protocol import (
    ENCODING_JSON,
    VSN_1,
    VSN_2,
    BinaryBroadcast,
    ProtocolError,
    encode_text,
    encode_user_broadcast,
)
from ._socket import SharedFrame
from ._wire import BroadcastPayload

if TYPE_CHECKING:
    from ._channel import ChannelMember

__all__ = ["Broadcast", "Topic", "Hub"]

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


@dataclass(eq=False, slots=True)
class Topic:
    name: str  # without the "realtime:" prefix
    private: bool
    members: dict[ChannelMember, None] = field(default_factory=dict)
    presences: Presences = field(default_factory=Presences)

    @property
    def full_name(self) -> str:
        return "realtime:" + self.name


class Hub:
    """All topics with members."""

    def __init__(self) -> None:
        self._topics: dict[tuple[str, bool], Topic] = {}

    def topic(self, name: str, private: bool) -> Topic | None:
        return self._topics.get((name, private))

    def join(self, member: ChannelMember) -> Topic:
        key = (member.subtopic, member.private)
        topic = self._topics.get(key)
        if topic is None:
            topic = self._topics[key] = Topic(member.subtopic, member.private)
        topic.members[member] = None
        return topic

    def leave(self, member: ChannelMember) -> None:
        """Remove ``member``; its presence leaves (the others get the diff)."""
        key = (member.subtopic, member.private)
        topic = self._topics.get(key)
        if topic is None:
            return
        topic.members.pop(member, None)
        diff = topic.presences.untrack(member)
        if diff is not None:
            self.presence_diff(topic, diff)
        if not topic.members:
            del self._topics[key]

    def broadcast(self, topic: Topic, message: Broadcast, sender: ChannelMember | None) -> int:
        """Relay ``message`` to the topic's members (the sender only when it asked for self).

        Returns the number of sockets it was queued for.
        """
        frames = {
            vsn: SharedFrame(frame)
            for vsn, frame in message.frames(topic.full_name).items()
            if frame is not None
        }
        count = 0
        for member in topic.members:
            if member is sender and not member.self_broadcast:
                continue
            if not member.can_receive_broadcast:
                continue
            shared = frames.get(member.socket.vsn)
            if shared is None:
                continue
            member.socket.push(shared)
            count += 1
        return count

    def presence_diff(self, topic: Topic, diff: PresenceDiff) -> None:
        frames = {
            VSN_1: SharedFrame(
                encode_text(VSN_1, None, None, topic.full_name, "presence_diff", diff)
            ),
            VSN_2: SharedFrame(
                encode_text(VSN_2, None, None, topic.full_name, "presence_diff", diff)
            ),
        }
        for member in topic.members:
            if member.can_receive_presence:
                member.socket.push(frames[member.socket.vsn])

    def counts(self) -> dict[str, int]:
        return {
            "topics": len(self._topics),
            "members": sum(len(t.members) for t in self._topics.values()),
            "presences": sum(len(t.presences) for t in self._topics.values()),
        }
