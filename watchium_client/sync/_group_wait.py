"""The host's decision to pause the room while members buffer, and to resume it.

Members report buffering through presence; the host alone controls playback, so it is the host's
SDK that decides whether the room waits. A stall is debounced (a blip of a few frames does not
stop everyone), a wait never outlasts ``timeout`` (one member stuck for good must not freeze the
room), and a member who caused a wait cannot cause another for a while. The policy is a plain
object fed with times and flags, so it is tested without a server or a clock.
docs/SYNC_ENGINE.md ("Group wait") gives the defaults.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["GroupWaitAction", "GroupWaitDecision", "GroupWaitPolicy"]


class GroupWaitAction(StrEnum):
    """What the host should do with the room."""

    NONE = "none"
    PAUSE = "pause"
    RESUME = "resume"


@dataclass(frozen=True, slots=True)
class GroupWaitDecision:
    """The action, and the members the room waits for (empty when it waits for nobody)."""

    action: GroupWaitAction
    waiting_for: frozenset[str] = frozenset()


@dataclass
class GroupWaitPolicy:
    """Host side: pause the room while members buffer, never for longer than ``timeout``.

    Call `update` with the members' buffering flags (from presence) whenever presence changes
    and at least once a second, and carry out the returned action with the room's playback
    control. The policy resumes only a pause it caused: a pause by the host stays.

    Args:
        enabled: when False, `update` always returns NONE.
        timeout: longest wait for the same stall; then the room resumes without the members
            still buffering, who are not waited for again until they have recovered.
        debounce: a stall shorter than this does not pause the room (blips of a few frames).
        member_cooldown: after a wait caused by a member ends, that member cannot pause the
            room again for this long (a member who stalls every minute must not stop the room
            every minute).
    """

    enabled: bool = True
    timeout: float = 10.0
    debounce: float = 0.5
    member_cooldown: float = 30.0
    _since: dict[str, float] = field(default_factory=dict, init=False, repr=False)
    _ignored: set[str] = field(default_factory=set, init=False, repr=False)
    _cooldown_until: dict[str, float] = field(default_factory=dict, init=False, repr=False)
    _waiting: frozenset[str] = field(default=frozenset(), init=False, repr=False)
    _wait_started: float | None = field(default=None, init=False, repr=False)

    @property
    def waiting_for(self) -> frozenset[str]:
        """The members the room is paused for."""
        return self._waiting

    @property
    def is_waiting(self) -> bool:
        """Whether the room is paused by this policy."""
        return self._wait_started is not None

    def update(
        self, now: float, room_playing: bool, buffering: Mapping[str, bool]
    ) -> GroupWaitDecision:
        """Decides from the members' buffering flags (user id -> buffering) at time ``now``.

        ``room_playing`` is the room's state as last seen; when it is playing while the policy
        thinks it paused the room, the host resumed by hand and the wait is over.
        """
        stalled = {user for user, flag in buffering.items() if flag}
        for user in list(self._since):
            if user not in stalled:
                del self._since[user]
        for user in stalled:
            self._since.setdefault(user, now)
        # A member who recovered (or left) may be waited for again.
        self._ignored &= stalled

        if not self.enabled:
            return GroupWaitDecision(GroupWaitAction.NONE)

        if self._wait_started is not None:
            if room_playing:
                # The host resumed by hand: stop waiting, and do not pause again for them.
                self._ignored |= self._waiting & stalled
                self._end_wait(now)
                return GroupWaitDecision(GroupWaitAction.NONE)
            still = self._waiting & stalled
            if not still:
                self._end_wait(now)
                return GroupWaitDecision(GroupWaitAction.RESUME)
            if now - self._wait_started >= self.timeout:
                self._ignored |= still
                self._end_wait(now)
                return GroupWaitDecision(GroupWaitAction.RESUME)
            # Members who stall during the wait join it, without extending the timeout.
            self._waiting = still | self._eligible(now)
            return GroupWaitDecision(GroupWaitAction.NONE, self._waiting)

        if not room_playing:
            return GroupWaitDecision(GroupWaitAction.NONE)
        eligible = self._eligible(now)
        if not eligible:
            return GroupWaitDecision(GroupWaitAction.NONE)
        self._waiting = frozenset(eligible)
        self._wait_started = now
        return GroupWaitDecision(GroupWaitAction.PAUSE, self._waiting)

    def _eligible(self, now: float) -> frozenset[str]:
        return frozenset(
            user
            for user, since in self._since.items()
            if now - since >= self.debounce
            and user not in self._ignored
            and now >= self._cooldown_until.get(user, -math.inf)
        )

    def _end_wait(self, now: float) -> None:
        for user in self._waiting:
            self._cooldown_until[user] = now + self.member_cooldown
        self._waiting = frozenset()
        self._wait_started = None
