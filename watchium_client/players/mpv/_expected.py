"""Telling the changes a player asked mpv for from the ones the user made in mpv.

mpv reports a pause or a speed change the same way whoever asked for it. Each change the player
requests is expected, by value, for ``EXPECT_FOR`` seconds; a reported value that matches one is
the player's, any other is the user's. mpv writes replies and events in the order it makes them,
and may coalesce quick changes into one report, so a match settles every earlier request too,
and a reply settles every request before it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["EXPECT_FOR", "ExpectedChanges", "same_value"]

# How long a change asked for is expected to show up as a property change (mpv reports one
# within milliseconds).
EXPECT_FOR = 1.0


class ExpectedChanges:
    """Property changes this player asked mpv for whose property change has not arrived yet.

    Each request is (number, value, deadline) in a queue per property; mpv's reports are matched
    against them by value, in order.
    """

    def __init__(self, clock: Callable[[], float], names: Sequence[str]) -> None:
        self._clock = clock
        self._queues: dict[str, deque[tuple[int, Any, float]]] = {name: deque() for name in names}
        self._last_reported: dict[str, Any] = {}
        self._requests = 0

    def ask(self, name: str, value: Any) -> int:
        """Expects ``name`` to change to ``value``; returns the request's number."""
        self._requests += 1
        self._queues[name].append((self._requests, value, self._clock() + EXPECT_FOR))
        return self._requests

    def answered(self, name: str, token: int, value: Any) -> None:
        """mpv replied to request ``token``."""
        # mpv writes replies and events in the order it makes them, so by now it has reported
        # every change an earlier request caused: those will never come. Neither will ours if
        # the value is what mpv last reported (set to the same value, or coalesced away).
        self.withdraw(name, through=token - 1)
        if same_value(name, self._last_reported.get(name), value):
            self.withdraw(name, through=token)

    def withdraw(self, name: str, *, through: int) -> None:
        """Stops expecting the changes of requests up to number ``through``."""
        queue = self._queues[name]
        self._queues[name] = deque(entry for entry in queue if entry[0] > through)

    def reported(self, name: str, value: Any) -> bool:
        """mpv reported ``name`` = ``value`` (called in the order mpv reports): whether this
        player asked for it."""
        self._last_reported[name] = value
        now = self._clock()
        queue = self._queues[name]
        while queue and queue[0][2] < now:
            queue.popleft()
        for index, (_, expected, _) in enumerate(queue):
            if same_value(name, expected, value):
                # mpv may coalesce quick changes: a match also settles every earlier request.
                for _ in range(index + 1):
                    queue.popleft()
                return True
        # A value nobody here asked for supersedes whatever we asked for before it.
        queue.clear()
        return False


def same_value(name: str, a: Any, b: Any) -> bool:
    """Whether two values of property ``name`` are the same as mpv reports them."""
    if name == "speed" and isinstance(a, int | float) and isinstance(b, int | float):
        # mpv's JSON carries 6 decimals.
        return abs(float(a) - float(b)) < 2e-6
    return bool(a == b)
