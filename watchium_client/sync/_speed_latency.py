"""How long a speed change takes to be heard, learned from the player's own positions.

A player does not change tempo the moment it is told: the audio it has already prepared plays at
the old speed (mpv with its null audio output: 0.3-0.4 s; the simulated players: their
``speed_latency``). A room changing speed at an agreed instant is only heard together if every
player is told that long before; and a host whose player was just told (in its own UI) knows when
the room's change will be heard.

Each large change of the player's speed (a room's speed change, not a nudge) is measured: a line
through the positions at the old speed before the command, extended, and the positions well after
it at the new speed (the player's clock error carried over) meet where the change took effect.
The first measurement replaces the prior; later ones move the estimate by ``gain``. Anything that
moves the player meanwhile (another speed command, a seek, a pause, a stall) drops the
measurement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SpeedLatency"]

# Fit the line before a change over this much playback, and average the crossing over this much
# playback after it has taken effect (a tick every 100 ms: 3-10 positions each).
_BEFORE = 1.0
_AFTER = 0.3
_MIN_BEFORE = 0.25
# Wait this much longer than the current estimate before trusting a position as "after".
_MARGIN = 0.2
# Changes smaller than this (relative) are nudges: too small to time precisely.
_MIN_CHANGE = 0.1
# Changes smaller than this while a change is measured are the learned trim applied on top of
# it: the measurement goes on.
_TRIM_CHANGE = 0.005


@dataclass
class _Switch:
    at: float
    old: float
    new: float
    before: list[tuple[float, float]]
    after: list[tuple[float, float]] = field(default_factory=list)


class SpeedLatency:
    """The estimate (``value``, seconds) and the measurement in progress.

    Args:
        initial: the estimate until the first measurement.
        limit: the largest latency believed (longer measurements are dropped).
        gain: how far each later measurement moves the estimate.
    """

    def __init__(self, initial: float, *, limit: float, gain: float = 0.5) -> None:
        self.value = initial
        self.samples = 0
        """How many changes were measured."""
        self._limit = limit
        self._gain = gain
        self._recent: list[tuple[float, float]] = []
        self._speed: float | None = None
        self._switch: _Switch | None = None

    def observe(self, now: float, position: float, speed: float, moving: bool) -> None:
        """One position of the player (each tick): ``speed`` is the speed it was last told,
        ``moving`` whether it plays (not paused, seeking or stalled)."""
        if not moving or (self._speed is not None and abs(speed - self._speed) > 1e-9):
            # A halt, or a change nobody announced: what was collected no longer fits a line.
            self._switch = None
            self._recent.clear()
            self._speed = speed
            if not moving:
                return
        self._speed = speed
        switch = self._switch
        if switch is None:
            self._recent.append((now, position))
            while self._recent and now - self._recent[0][0] > _BEFORE:
                self._recent.pop(0)
            return
        wait = min(self._limit, self.value + _MARGIN)
        if now - switch.at < wait:
            return
        switch.after.append((now, position))
        if now - switch.at >= wait + _AFTER:
            self._finish(switch)
            self._switch = None
            self._recent = [(now, position)]

    def changed(self, now: float, speed: float) -> None:
        """The player was told a new speed (by the engine or in its own UI) at ``now``."""
        old, new = self._speed, speed
        switch = self._switch
        if switch is not None and abs(new / switch.new - 1) < _TRIM_CHANGE:
            switch.new = new
            self._speed = new
            return
        recent = self._recent
        large = old is not None and old > 0 and abs(new / old - 1) >= _MIN_CHANGE
        if large and len(recent) >= 3 and recent[-1][0] - recent[0][0] >= _MIN_BEFORE:
            assert old is not None
            self._switch = _Switch(now, old, new, list(recent))
        else:
            self._switch = None
        self._recent = []
        self._speed = new

    def _finish(self, switch: _Switch) -> None:
        fitted = _line(switch.before)
        if fitted is None or not switch.after:
            return
        slope, intercept = fitted
        # The player's clock error shows in the slope at the old speed; it carries over.
        rate = switch.new * slope / switch.old
        if abs(slope - rate) < 1e-6:
            return
        crossings = [(p - intercept - rate * t) / (slope - rate) for t, p in switch.after]
        latency = sum(crossings) / len(crossings) - switch.at
        if not -0.05 <= latency <= self._limit:
            return  # something else moved the player
        latency = max(0.0, latency)
        if self.samples:
            latency = self.value + self._gain * (latency - self.value)
        self.value = min(self._limit, latency)
        self.samples += 1


def _line(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """Least-squares slope and intercept of ``points`` (None when they do not span time)."""
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_p = sum(p for _, p in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread <= 0:
        return None
    slope = sum((t - mean_t) * (p - mean_p) for t, p in points) / spread
    return slope, mean_p - slope * mean_t
