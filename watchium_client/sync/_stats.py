"""Drift statistics of a sync engine, in constant memory, and the percentile every report uses.

A percentile is the nearest-rank one: the q-th percentile of n values is the smallest value with at
least ``ceil(q/100 * n)`` values at or below it, so it is always a measured value.

|drift| samples go into a histogram with 0.5 ms bins up to 1 s and 10 ms bins up to 10 s (larger
values are kept in the overflow bin, and the maximum exactly), so percentiles are exact to half a
millisecond where the targets are (tens of ms) and a session of any length costs ~3000 counters.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass

from watchium_client.sync._policy import Correction

__all__ = ["DriftStats", "DriftSummary", "percentile"]

_FINE_STEP = 0.0005
_FINE_LIMIT = 1.0
_COARSE_STEP = 0.01
_COARSE_LIMIT = 10.0
_EDGES: tuple[float, ...] = tuple(
    [i * _FINE_STEP for i in range(1, int(_FINE_LIMIT / _FINE_STEP) + 1)]
    + [
        _FINE_LIMIT + i * _COARSE_STEP
        for i in range(1, int((_COARSE_LIMIT - _FINE_LIMIT) / _COARSE_STEP) + 1)
    ]
)


def _rank(q: float, n: int) -> int:
    if not 0 <= q <= 100:
        raise ValueError("q must be within [0, 100]")
    return max(1, math.ceil(q / 100 * n))


def percentile(values: Iterable[float], q: float) -> float:
    """The nearest-rank q-th percentile (0-100) of ``values``; NaN when there are none.

    Raises:
        ValueError: q outside [0, 100].
    """
    ordered = sorted(values)
    if not ordered:
        _rank(q, 1)
        return math.nan
    return ordered[_rank(q, len(ordered)) - 1]


@dataclass(frozen=True, slots=True)
class DriftSummary:
    """Drift statistics since start or since the last reset (seconds; None without samples)."""

    count: int
    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None
    synced_fraction: float | None
    """Share of samples within the sync tolerance."""
    speed_nudges: int
    seeks: int
    steady_seeks: int

    def as_dict(self) -> dict[str, float | int | None]:
        """The summary as plain JSON-able values (for presence and logs)."""
        return {
            "count": self.count,
            "mean": self.mean,
            "p50": self.p50,
            "p95": self.p95,
            "p99": self.p99,
            "max": self.max,
            "synced_fraction": self.synced_fraction,
            "speed_nudges": self.speed_nudges,
            "seeks": self.seeks,
            "steady_seeks": self.steady_seeks,
        }


class DriftStats:
    """Accumulates |drift| samples and counts corrections.

    Args:
        sync_tolerance: |drift| within which a sample counts as synced.
    """

    def __init__(self, sync_tolerance: float = 2.0) -> None:
        self._tolerance = sync_tolerance
        self.reset()

    def reset(self) -> None:
        """Forgets every sample and count."""
        self._bins = [0] * (len(_EDGES) + 1)
        self._count = 0
        self._sum = 0.0
        self._max = 0.0
        self._synced = 0
        self._corrections = dict.fromkeys(Correction, 0)

    def add(self, drift: float) -> None:
        """Records one drift sample (the sign is ignored; non-finite samples are dropped)."""
        value = abs(drift)
        if not math.isfinite(value):
            return
        self._bins[bisect.bisect_left(_EDGES, value)] += 1
        self._count += 1
        self._sum += value
        self._max = max(self._max, value)
        if value <= self._tolerance:
            self._synced += 1

    def count_correction(self, kind: Correction) -> None:
        """Counts one correction of the given kind."""
        self._corrections[kind] += 1

    @property
    def count(self) -> int:
        return self._count

    def percentile(self, q: float) -> float | None:
        """The q-th percentile (0-100) of |drift|: the upper edge of the bin that holds it,
        capped by the largest sample (None without samples)."""
        rank = _rank(q, max(1, self._count))
        if self._count == 0:
            return None
        seen = 0
        for index, n in enumerate(self._bins):
            seen += n
            if seen >= rank:
                edge = _EDGES[index] if index < len(_EDGES) else self._max
                return min(edge, self._max)
        return self._max

    def summary(self) -> DriftSummary:
        """The statistics so far."""
        n = self._count
        return DriftSummary(
            count=n,
            mean=self._sum / n if n else None,
            p50=self.percentile(50),
            p95=self.percentile(95),
            p99=self.percentile(99),
            max=self._max if n else None,
            synced_fraction=self._synced / n if n else None,
            speed_nudges=self._corrections[Correction.SPEED],
            seeks=self._corrections[Correction.SEEK] + self._corrections[Correction.STEADY_SEEK],
            steady_seeks=self._corrections[Correction.STEADY_SEEK],
        )
