"""Presence on a channel: ``track`` and ``untrack`` from clients, the ``presence_state`` a member
gets after joining, and the ``presence_diff`` every member of the topic gets on a change
(a leave included).

As upstream's presence handler: a client tracks at a bounded rate (past it the channel is shut
down), a track payload is bounded in size, and on a private channel tracking needs the write
policy and receiving presence the read policy. Stricter than upstream: a presence is keyed by the
token's user (``sub``), never by the key the client asked for, and a channel joined without a
user (an API key alone) may not track.
"""

from __future__ import annotations

import json

from ._limits import Limits
from ._member import ChannelMember, ChannelShutdown
from ._presence import PresenceDiff
from ._protocol import VSN_1, VSN_2, Inbound, encode_text
from ._socket import SharedFrame
from ._topics import Topic, Topics

__all__ = ["PresenceHandler"]


class PresenceHandler:
    """Handles presence for every channel of the server."""

    def __init__(self, topics: Topics, limits: Limits) -> None:
        self._topics = topics
        self._max_bytes = limits.max_presence_bytes

    def handle(self, member: ChannelMember, msg: Inbound) -> None:
        """A ``presence`` push from ``member``'s client.

        Raises:
            ChannelShutdown: past the presence rate limit, or for a payload over the size limit.
        """
        payload = msg.payload if isinstance(msg.payload, dict) else {}
        event = str(payload.get("event", "")).lower()
        if not member.take_presence_turn():
            raise ChannelShutdown("Client presence rate limit exceeded")
        topic = self._topics.get(member.subtopic, member.private)
        if topic is None:
            return
        if event == "track":
            if not member.may_track:
                reason = (
                    "Presence is tracked for a signed-in user only"
                    if member.user is None
                    else "You do not have permissions to track presence on this Channel topic"
                )
                member.reply(msg, "error", {"reason": reason})
                return
            body = payload.get("payload", {})
            if not isinstance(body, dict):
                member.reply(msg, "error", {"reason": "Presence track payload must be a map"})
                return
            if len(json.dumps(body, separators=(",", ":"))) > self._max_bytes:
                raise ChannelShutdown("Track message size exceeded")
            member.presence_enabled = True
            diff = topic.track(member, member.presence_key, body)
            if diff is not None:
                self._send_diff(topic, diff)
            member.reply(msg, "ok", {})
        elif event == "untrack":
            diff = topic.untrack(member)
            if diff is not None:
                self._send_diff(topic, diff)
            member.reply(msg, "ok", {})
        else:
            member.reply(msg, "error", {})

    def joined(self, member: ChannelMember, topic: Topic) -> None:
        """``member`` has just joined ``topic``: the state, if it asked for presence."""
        if member.presence_enabled and member.receives_presence:
            member.send("presence_state", topic.presence_state())

    def left(self, member: ChannelMember, topic: Topic) -> None:
        """``member`` has left ``topic``: its presence leaves with it."""
        diff = topic.untrack(member)
        if diff is not None:
            self._send_diff(topic, diff)

    def _send_diff(self, topic: Topic, diff: PresenceDiff) -> None:
        name = topic.full_name
        frames = {
            VSN_1: SharedFrame(
                encode_text(VSN_1, None, None, name, "presence_diff", diff), "presence_diff"
            ),
            VSN_2: SharedFrame(
                encode_text(VSN_2, None, None, name, "presence_diff", diff), "presence_diff"
            ),
        }
        for member in topic.members:
            if member.receives_presence:
                member.deliver(frames)
