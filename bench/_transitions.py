"""Transitions, measured the same way by every sync benchmark.

After each transition (a host action, a member's own pause, a join, the end of a stall), for
each member:

* **converge**: seconds from the transition until |drift| <= 50 ms and stays there for 1 s
  (None: not before the next transition);
* **peak**: the largest |drift| in the transition's 3 s, counted once the member is within 1 s of
  its reference for good (after a seek, from its landing: the jump itself is not drift, an
  overshoot is);
* **seeks**: how many seeks its player made from the transition until the next one.

For a member's own pause, the clock starts when its engine resumed it (``Transition.start``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench._common import percentile
from bench.sync_sim import CONVERGED, CONVERGED_FOR, STEADY_AFTER

__all__ = [
    "ARRIVED",
    "CONVERGED",
    "CONVERGED_FOR",
    "STEADY_AFTER",
    "Outcome",
    "Transition",
    "outcomes",
    "summarise",
    "table_rows",
    "TABLE_COLUMNS",
]

ARRIVED = 1.0
_SAMPLE_SLACK = 0.05


@dataclass(frozen=True, slots=True)
class Transition:
    at: float
    kind: str
    start: float | None = None
    """When measuring starts (default ``at``): for a member's own pause, when it was resumed."""


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str
    converge: float | None
    peak: float | None
    seeks: int


def outcomes(
    samples: Sequence[tuple[float, float]],
    seeks: Sequence[float],
    transitions: Sequence[Transition],
    end: float,
) -> list[Outcome]:
    """One member's outcomes. ``samples`` are (time, drift) in time order, ``seeks`` the times
    its player started a seek; the window of a transition ends at the next one (or ``end``)."""
    marks = sorted(transitions, key=lambda t: t.at)
    out: list[Outcome] = []
    for index, mark in enumerate(marks):
        limit = marks[index + 1].at if index + 1 < len(marks) else end
        start = mark.at if mark.start is None else mark.start
        window = [(t, d) for t, d in samples if start <= t < limit]
        converge = _converge(window, start)
        if converge is None and limit - start < CONVERGED_FOR + 0.5:
            continue  # the next transition came too soon to tell
        # From the last sample still a jump away (a seek not yet landed) to the window's end.
        span = [(t, d) for t, d in window if t <= start + STEADY_AFTER]
        away = [i for i, (_, d) in enumerate(span) if abs(d) >= ARRIVED]
        rest = span[away[-1] + 1 :] if away else span
        peak = max((abs(d) for _, d in rest), default=None)
        count = sum(1 for t in seeks if mark.at <= t < limit)
        out.append(Outcome(mark.kind, converge, peak, count))
    return out


def _converge(window: list[tuple[float, float]], start: float) -> float | None:
    streak: float | None = None  # start of the current run of samples within the band
    for t, d in window:
        if abs(d) > CONVERGED:
            streak = None
            continue
        if streak is None:
            streak = t
        if t - streak >= CONVERGED_FOR - _SAMPLE_SLACK:
            return max(0.0, streak - start)
    return None


def summarise(items: Sequence[Outcome]) -> dict[str, Any]:
    """Per kind: counts, convergence and peak percentiles, seeks per member."""
    done = [o.converge for o in items if o.converge is not None]
    peaks = [o.peak for o in items if o.peak is not None]
    seeks = [o.seeks for o in items]
    return {
        "count": len(items),
        "not_converged": sum(1 for o in items if o.converge is None),
        "within_1s": sum(1 for s in done if s <= 1.0),
        "within_2s": sum(1 for s in done if s <= 2.0),
        "within_3s": sum(1 for s in done if s <= 3.0),
        "p50": percentile(done, 50) if done else None,
        "p95": percentile(done, 95) if done else None,
        "max": max(done) if done else None,
        "peak_p50": percentile(peaks, 50) if peaks else None,
        "peak_p95": percentile(peaks, 95) if peaks else None,
        "peak_max": max(peaks) if peaks else None,
        "seeks_mean": sum(seeks) / len(seeks) if seeks else None,
        "seeks_max": max(seeks) if seeks else None,
    }


TABLE_COLUMNS = [
    "after",
    "n",
    "<= 1 s",
    "<= 2 s",
    "conv p50 s",
    "p95 s",
    "max s",
    "peak p95 ms",
    "peak max ms",
    "seeks/member",
]


def table_rows(by_kind: dict[str, dict[str, Any]]) -> list[list[str]]:
    """The transition table's rows (``by_kind``: kind -> `summarise`)."""
    rows = []
    for kind, c in by_kind.items():
        n = c["count"]
        seeks = "-" if c["seeks_mean"] is None else f"{c['seeks_mean']:.2f} (max {c['seeks_max']})"
        rows.append(
            [
                kind,
                str(n),
                f"{c['within_1s']}/{n}",
                f"{c['within_2s']}/{n}",
                _s(c["p50"]),
                _s(c["p95"]),
                _s(c["max"]),
                _ms(c["peak_p95"]),
                _ms(c["peak_max"]),
                seeks,
            ]
        )
    return rows


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
