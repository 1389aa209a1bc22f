"""A clock the tests move by hand, for code that takes a ``clock``/``monotonic`` callable."""

from __future__ import annotations

__all__ = ["FakeClock"]


class FakeClock:
    """Reads ``now``; ``advance`` moves it forward."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
