"""What a run of bench.sync_accuracy measured: each variant's drift, convergence and corrections
as a summary (the JSON), its tables, the drift plot and the verdict against the targets."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from bench._common import console, percentile
from bench._transitions import (
    STEADY_AFTER,
    TABLE_COLUMNS,
    Outcome,
    outcomes,
    summarise,
    table_rows,
)

if TYPE_CHECKING:
    from bench.sync_accuracy import Variant, Viewer

__all__ = [
    "SAMPLE_EVERY",
    "TARGET_CONVERGE",
    "TARGET_P95",
    "TARGET_P99",
    "TARGET_STEADY_SEEKS_PER_10MIN",
    "analyse",
    "check_targets",
    "plot",
    "report",
]

SAMPLE_EVERY = 0.1
TARGET_P95 = 0.050
TARGET_P99 = 0.100
TARGET_CONVERGE = 3.0
TARGET_STEADY_SEEKS_PER_10MIN = 1.0


def _marks(viewer: Viewer) -> list[float]:
    """When each of its transitions began (for its own pause, also when it was resumed)."""
    marks = {t.at for t in viewer.transitions}
    marks |= {t.start for t in viewer.transitions if t.start is not None}
    return sorted(marks)


def _steady(viewer: Viewer) -> list[float]:
    marks = _marks(viewer)
    out: list[float] = []
    for t, d in viewer.samples:
        last = max((m for m in marks if m <= t), default=None)
        if last is not None and t - last >= STEADY_AFTER:
            out.append(abs(d))
    return out


def _distribution(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    return {
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values),
    }


def analyse(
    variant: Variant,
    viewers: list[Viewer],
    actions: list[tuple[float, str]],
    started: float,
    ended: float,
    lags: list[float],
) -> dict[str, Any]:
    steady: list[float] = []
    every: list[float] = []
    convergences: list[Outcome] = []
    nudges = seeks = steady_seeks = 0
    playing_seconds = 0.0
    per_member: list[dict[str, Any]] = []
    for viewer in viewers:
        member_steady = _steady(viewer)
        steady.extend(member_steady)
        every.extend(abs(d) for _, d in viewer.samples)
        convergences.extend(
            o
            for o in outcomes(viewer.samples, viewer.seeks, viewer.transitions, ended)
            if o.kind != "pause"  # nothing plays: nothing to measure
        )
        engine = viewer.session.engine if viewer.session is not None else None
        stats = engine.stats() if engine is not None else None
        seconds = len(viewer.samples) * SAMPLE_EVERY
        playing_seconds += seconds
        if stats is not None:
            nudges += stats.speed_nudges
            seeks += stats.seeks
            steady_seeks += stats.steady_seeks
        p = viewer.participant
        per_member.append(
            {
                "name": p.name,
                "rtt_ms": round(p.rtt * 1000, 1) if variant.network else 0.0,
                "skew_s": round(p.skew, 3) if variant.network else 0.0,
                "rate_error_percent": round(p.profile.rate_error * 100, 3),
                "seek_latency_ms": round(p.profile.seek_latency * 1000, 1),
                "steady": _distribution(member_steady),
                "speed_nudges": stats.speed_nudges if stats else None,
                "seeks": stats.seeks if stats else None,
                "steady_seeks": stats.steady_seeks if stats else None,
                "clock_error_bound_ms": (
                    round(engine.status.clock_error_bound * 1000, 1) if engine else None
                ),
            }
        )
    hours = playing_seconds / 3600
    by_kind: dict[str, list[Outcome]] = {}
    for c in convergences:
        by_kind.setdefault(c.kind, []).append(c)
    return {
        "variant": variant.name,
        "network": variant.network,
        "seconds": variant.seconds,
        "members": len(viewers) - 1,
        "steady": _distribution(steady),
        "steady_samples": len(steady),
        "all": _distribution(every),
        "all_samples": len(every),
        "convergence": {kind: summarise(items) for kind, items in sorted(by_kind.items())},
        "per_member_hour": {
            "speed_nudges": nudges / hours if hours else None,
            "seeks": seeks / hours if hours else None,
            "steady_seeks": steady_seeks / hours if hours else None,
        },
        "steady_seeks_per_10_min": steady_seeks / (hours * 6) if hours else None,
        "playing_member_hours": hours,
        "loop_lag_ms": {"p50": percentile(lags, 50) * 1000, "p99": percentile(lags, 99) * 1000},
        "actions": [(round(t - started, 3), kind) for t, kind in actions],
        "per_member": per_member,
        "_series": [
            (v.participant.name, [(t - started, d) for t, d in v.samples]) for v in viewers
        ],
    }


# ---------------------------------------------------------------------- report


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    # Wide enough for every column, on a terminal or not.
    Console(highlight=False, width=max(console.width, 130)).print(table)


def report(results: list[dict[str, Any]]) -> None:
    rows = []
    for r in results:
        s = r["steady"]
        rows.append(
            [
                r["variant"],
                _ms(s["p50"]),
                _ms(s["p95"]),
                _ms(s["p99"]),
                _ms(s["max"]),
                _ms(r["all"]["p95"]),
                f"{r['per_member_hour']['speed_nudges']:.0f}",
                f"{r['per_member_hour']['seeks']:.0f}",
                f"{r['steady_seeks_per_10_min']:.2f}",
                f"{r['loop_lag_ms']['p99']:.0f}",
            ]
        )
    _table(
        "Steady-state |drift| (ms), corrections per member-hour of playback",
        [
            "variant",
            "p50",
            "p95",
            "p99",
            "max",
            "all p95",
            "nudges/h",
            "seeks/h",
            "steady seeks/10 min",
            "loop lag p99 (ms)",
        ],
        rows,
    )
    conv_rows = []
    for r in results:
        for row in table_rows(r["convergence"]):
            conv_rows.append([r["variant"], *row])
    _table(
        "Transitions: seconds until |drift| <= 50 ms for 1 s, peak |drift|, seeks per member",
        ["variant", *TABLE_COLUMNS],
        conv_rows,
    )


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 1, figsize=(11, 3.4 * len(results)), squeeze=False)
    for ax, r in zip(axes[:, 0], results, strict=True):
        for name, series in r["_series"]:
            if not series:
                continue
            ts: list[float] = []
            ds: list[float] = []
            for t, d in series:
                if ts and t - ts[-1] > 3 * SAMPLE_EVERY:
                    ts.append(math.nan)  # not sampled (stalled, or the room paused): a gap
                    ds.append(math.nan)
                ts.append(t)
                ds.append(max(-300.0, min(300.0, d * 1000)))
            ax.plot(ts, ds, linewidth=0.6, alpha=0.7, color="black" if name == "host" else None)
        for t, kind in r["actions"]:
            ax.axvline(t, color="grey", linestyle=":", linewidth=0.8)
            ax.text(t, 0.97, kind, rotation=90, fontsize=7, va="top", ha="right",
                    transform=ax.get_xaxis_transform())  # fmt: skip
        ax.axhspan(-50, 50, color="tab:green", alpha=0.08)
        ax.set_yscale("symlog", linthresh=50)
        ax.set_ylim(-300, 300)
        ax.set_ylabel("drift (ms)")
        s = r["steady"]
        ax.set_title(
            f"{r['variant']}: steady p95 {_ms(s['p95'])} ms, p99 {_ms(s['p99'])} ms "
            f"({r['members']} members + host)",
            fontsize=10,
        )
    axes[-1, 0].set_xlabel(
        "seconds (members join over the first 30%, at most 20 s; green: +-50 ms)"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def check_targets(main: dict[str, Any]) -> list[str]:
    missed: list[str] = []
    s = main["steady"]
    if s["p95"] is None or s["p95"] > TARGET_P95:
        missed.append(f"steady p95 {_ms(s['p95'])} ms > 50 ms")
    if s["p99"] is None or s["p99"] > TARGET_P99:
        missed.append(f"steady p99 {_ms(s['p99'])} ms > 100 ms")
    for kind in ("join", "seek"):
        c = main["convergence"].get(kind)
        if c is None:
            continue
        if c["not_converged"] or (c["max"] is not None and c["max"] > TARGET_CONVERGE):
            missed.append(
                f"{kind}: {c['within_3s']}/{c['count']} converged within 3 s (max {_s(c['max'])})"
            )
    rate = main["steady_seeks_per_10_min"]
    if rate is not None and rate > TARGET_STEADY_SEEKS_PER_10MIN:
        missed.append(f"{rate:.2f} steady seeks per member per 10 min > 1")
    return missed
