"""Channel topics: who has joined each one, and the presence state kept on it.

A public and a private channel of the same name are different topics, as upstream keeps them
(a private member never hears a public sender and the other way round). A topic exists while it
has members.
"""

from __future__ import annotations

from typing import Any

from ._member import ChannelMember
from ._presence import PresenceDiff, Presences, PresenceState

__all__ = ["Topic", "Topics"]


class Topic:
    """One channel topic: its members, in join order, and their presences."""

    __slots__ = ("name", "private", "members", "_presences")

    def __init__(self, name: str, private: bool) -> None:
        self.name = name  # without the "realtime:" prefix
        self.private = private
        self.members: dict[ChannelMember, None] = {}
        self._presences = Presences()

    @property
    def full_name(self) -> str:
        return "realtime:" + self.name

    def track(self, member: ChannelMember, key: str, meta: dict[str, Any]) -> PresenceDiff | None:
        """Track or update ``member``'s presence; None when nothing changed."""
        return self._presences.track(member, key, meta)

    def untrack(self, member: ChannelMember) -> PresenceDiff | None:
        """Remove ``member``'s presence; None when it had none."""
        return self._presences.untrack(member)

    def presence_state(self) -> PresenceState:
        return self._presences.state()

    def presence_count(self) -> int:
        return len(self._presences)


class Topics:
    """Every topic with members."""

    def __init__(self) -> None:
        self._topics: dict[tuple[str, bool], Topic] = {}

    def get(self, name: str, private: bool) -> Topic | None:
        return self._topics.get((name, private))

    def join(self, member: ChannelMember) -> Topic:
        key = (member.subtopic, member.private)
        topic = self._topics.get(key)
        if topic is None:
            topic = self._topics[key] = Topic(member.subtopic, member.private)
        topic.members[member] = None
        return topic

    def leave(self, member: ChannelMember) -> Topic | None:
        """Remove ``member`` from its topic, which is forgotten once empty; the topic it left."""
        key = (member.subtopic, member.private)
        topic = self._topics.get(key)
        if topic is None:
            return None
        topic.members.pop(member, None)
        if not topic.members:
            del self._topics[key]
        return topic

    def counts(self) -> dict[str, int]:
        return {
            "topics": len(self._topics),
            "members": sum(len(t.members) for t in self._topics.values()),
            "presences": sum(t.presence_count() for t in self._topics.values()),
        }
