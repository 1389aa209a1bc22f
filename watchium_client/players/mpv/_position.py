"""Where mpv's playback is between the positions it reports.

mpv reports ``playback-time`` in steps (per video frame, or per audio chunk: ~200 ms with
``--ao=null``), and each step is accurate when it is pushed. Polling it would see a staircase up
to one step stale, so the position is the last pushed value advanced at the playback speed from
the moment it arrived, which tracks the media clock to about a millisecond. Whether playback
moves (not paused, stalled, seeking or at the end) is the player's to say.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["PositionEstimate"]


class PositionEstimate:
    """The last position mpv pushed and the local time it arrived; while playback moves, the
    position is that value advanced at the playback speed since then."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        # The anchor position; None when unknown (the player then asks mpv).
        self.value: float | None = None
        self._at = 0.0
        # Counts pushes, to tell whether one came after a seek started.
        self._pushes = 0
        self._pushes_at_seek = 0

    def push(self, value: float) -> None:
        """A position mpv reported, valid now."""
        self.value = value
        self._at = self._clock()
        self._pushes += 1

    def forget(self) -> None:
        self.value = None

    def read(self, speed: float, *, moving: bool) -> float:
        """The position now (the anchor must be known)."""
        assert self.value is not None
        if moving:
            return self.value + (self._clock() - self._at) * speed
        return self.value

    def advance(self, speed: float) -> None:
        """Moves the anchor to now, at ``speed`` (before the speed or the play state changes)."""
        if self.value is not None:
            now = self._clock()
            self.value += (now - self._at) * speed
            self._at = now

    def restart(self) -> None:
        """The anchor position holds until now (playback was halted): advance from here."""
        if self.value is not None:
            self._at = self._clock()

    def mark_seek(self) -> None:
        self._pushes_at_seek = self._pushes

    def pushed_since_seek(self) -> bool:
        return self._pushes > self._pushes_at_seek
