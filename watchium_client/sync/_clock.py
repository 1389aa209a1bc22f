"""Offset between this machine's clock and the server's, estimated NTP-style from round trips.

Each request that returns the server's time gives one sample: with ``t0`` the local time the request
left, ``ts`` the server time in the response and ``t1`` the local time the response arrived,

    offset = ts - (t0 + t1) / 2        delay = t1 - t0

The offset is exact when the request and the response took equally long; otherwise it is off by
half their difference, which is at most half the delay. Queueing makes delays longer, never shorter,
so the sample with the smallest delay is the one least disturbed by queueing: we keep the last few
samples and trust the one with the minimum delay (the filter NTP uses, RFC 5905 section 10).

Local time is ``time.monotonic()`` plus a wall-clock anchor taken once, so it reads like epoch
seconds but never jumps when the system clock is stepped.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

__all__ = ["ClockSample", "ClockSync", "ServerTime", "parse_server_time"]

logger = logging.getLogger(__name__)

ServerTime = float | int | str | datetime
"""A server timestamp: epoch seconds, an ISO 8601 string with a timezone, or an aware datetime."""


def parse_server_time(value: ServerTime) -> float:
    """Converts a server timestamp to epoch seconds.

    Accepts epoch seconds, an aware ``datetime`` or an ISO 8601 string with a timezone (what
    PostgreSQL and PostgREST send for ``timestamptz``, e.g. ``2024-05-01T12:00:00.123456+00:00``).

    Raises:
        ValueError: the string is not ISO 8601, the timestamp has no timezone (naive timestamps
            are ambiguous: there is no safe way to guess the zone), or the number is not finite.
        TypeError: the value is of another type.
    """
    if isinstance(value, bool):
        raise TypeError("a server time cannot be a bool")
    if isinstance(value, int | float):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ValueError(f"server time is not a finite number: {value!r}")
        return seconds
    if isinstance(value, str):
        text = value.strip()
        # PostgreSQL's text output uses a space separator and may give a bare "+00" offset;
        # fromisoformat accepts both since Python 3.11.
        try:
            value = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"server time is not ISO 8601: {text!r}") from exc
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"server time has no timezone: {value.isoformat()!r}")
        return value.timestamp()
    raise TypeError(f"unsupported server time type: {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class ClockSample:
    """One round trip: the offset it implies (server minus local, seconds) and its delay."""

    offset: float
    delay: float
    received_at: float
    """Local time (seconds, the `ClockSync.local_now` scale) at which the response arrived."""


class ClockSync:
    """Estimates the server clock from request round trips.

    Args:
        window: how many recent samples to keep; the estimate is the minimum-delay one among them.
        monotonic: a monotonic clock in seconds (injectable for tests and simulations).
        wall: a wall clock in epoch seconds, read once to anchor the monotonic clock.
    """

    def __init__(
        self,
        *,
        window: int = 8,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self._monotonic = monotonic
        self._anchor = wall() - monotonic()
        self._samples: deque[ClockSample] = deque(maxlen=window)
        self._best: ClockSample | None = None

    def local_now(self) -> float:
        """This machine's time in epoch-like seconds, monotonic (never steps backwards)."""
        return self._anchor + self._monotonic()

    def server_now(self) -> float:
        """The estimated server time now, in epoch seconds (the local time before any sample)."""
        return self.local_now() + self.offset

    def to_server(self, local_time: float) -> float:
        """Converts a `local_now` reading to server time."""
        return local_time + self.offset

    def to_local(self, server_time: float) -> float:
        """Converts a server time (epoch seconds) to the `local_now` scale."""
        return server_time - self.offset

    @property
    def offset(self) -> float:
        """Server time minus local time, in seconds (0.0 until the first sample)."""
        return 0.0 if self._best is None else self._best.offset

    @property
    def error_bound(self) -> float:
        """Worst-case error of `offset`: half the delay of the sample it comes from (inf before)."""
        return math.inf if self._best is None else self._best.delay / 2

    @property
    def has_samples(self) -> bool:
        """Whether at least one sample has been added."""
        return self._best is not None

    @property
    def samples(self) -> tuple[ClockSample, ...]:
        """The samples kept, oldest first."""
        return tuple(self._samples)

    @property
    def best(self) -> ClockSample | None:
        """The sample the estimate comes from (minimum delay among those kept)."""
        return self._best

    def add_sample(
        self, sent_at: float, server_time: ServerTime, received_at: float
    ) -> ClockSample:
        """Adds one round trip and returns the sample it gives.

        Args:
            sent_at: `local_now` when the request was sent.
            server_time: the server's time in the response (see `parse_server_time`).
            received_at: `local_now` when the response arrived.

        Raises:
            ValueError: the response arrived before the request was sent, or the server time
                cannot be parsed.
        """
        if received_at < sent_at:
            raise ValueError(f"received_at ({received_at}) is before sent_at ({sent_at})")
        ts = parse_server_time(server_time)
        sample = ClockSample(
            offset=ts - (sent_at + received_at) / 2,
            delay=received_at - sent_at,
            received_at=received_at,
        )
        previous = self.offset if self._best is not None else None
        self._samples.append(sample)
        # On equal delays the newest sample wins: it has seen the least clock-rate drift since.
        self._best = min(reversed(self._samples), key=lambda s: s.delay)
        if previous is not None and abs(self._best.offset - previous) > 0.05:
            logger.info(
                "server clock offset moved by %.1f ms (now %.3f s, delay %.1f ms)",
                (self._best.offset - previous) * 1000,
                self._best.offset,
                self._best.delay * 1000,
            )
        return sample

    async def measure(self, request: Callable[[], Awaitable[ServerTime]]) -> ClockSample:
        """Runs one request that returns the server's time and adds it as a sample.

        Raises:
            Whatever ``request`` raises (nothing is added then), or ValueError from `add_sample`.
        """
        sent_at = self.local_now()
        server_time = await request()
        received_at = self.local_now()
        return self.add_sample(sent_at, server_time, received_at)
