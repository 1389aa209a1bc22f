"""The Realtime fan-out benchmark's settings, measured phases, targets and report.

See bench/realtime_fanout.py for what is measured and how.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench._common import percentile, print_table

__all__ = [
    "DRAIN_SECONDS",
    "QUICK",
    "TARGET_B_P95_MS",
    "TARGET_B_RATE",
    "TARGET_IDLE_CPU",
    "TARGET_P99_MS",
    "Phase",
    "Room",
    "Settings",
    "brief",
    "jsonable",
    "report",
]

TARGET_P99_MS = 50.0  # (a)
TARGET_B_P95_MS = 100.0  # (b): the p95 a rate must keep to count
TARGET_B_RATE = 100.0  # (b): changes per second
TARGET_IDLE_CPU = 2.0  # percent of one core
DRAIN_SECONDS = 30.0  # how long delivery may lag behind the last change of a phase


@dataclass(frozen=True)
class Settings:
    rooms_a: int = 20
    members_a: int = 50
    seeks_per_second: float = 5.0
    seconds_a: float = 20.0
    members_b: int = 500
    rates_b: tuple[float, ...] = (25, 50, 100, 150, 200, 300)
    seconds_b: float = 8.0
    idle_seconds: float = 10.0
    processes: int = 4


QUICK = Settings(seconds_a=6.0, rates_b=(50, 100, 200), seconds_b=4.0)


@dataclass
class Room:
    room_id: str
    host: str
    members: list[str]  # the host first


@dataclass
class Phase:
    """One measured run of changes and what the clients received."""

    name: str
    target_rate: float
    changes: int = 0
    achieved_rate: float = 0.0
    deliveries: int = 0
    expected: int = 0
    lost: int = 0
    duplicated: int = 0
    clients_with_loss: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    server_cpu: float = 0.0  # percent of one core, during the changes
    db_cpu: float = 0.0
    clients_cpu: float = 0.0

    def summary(self) -> dict[str, Any]:
        lat = self.latencies_ms
        return {
            "name": self.name,
            "target_rate": self.target_rate,
            "achieved_rate": round(self.achieved_rate, 1),
            "changes": self.changes,
            "expected_deliveries": self.expected,
            "deliveries": self.deliveries,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "clients_with_loss": self.clients_with_loss,
            "p50_ms": round(percentile(lat, 50), 2),
            "p95_ms": round(percentile(lat, 95), 2),
            "p99_ms": round(percentile(lat, 99), 2),
            "max_ms": round(max(lat), 2) if lat else None,
            "server_cpu_percent": round(self.server_cpu, 1),
            "db_cpu_percent": round(self.db_cpu, 1),
            "clients_cpu_percent": round(self.clients_cpu, 1),
        }

    @property
    def p95(self) -> float:
        return percentile(self.latencies_ms, 95)


def brief(phase: Phase) -> str:
    p = phase.summary()
    return (
        f"{p['achieved_rate']}/s, {p['deliveries']}/{p['expected_deliveries']} delivered, "
        f"p50 {p['p50_ms']} p95 {p['p95_ms']} p99 {p['p99_ms']} max {p['max_ms']} ms, "
        f"lost {p['lost']}, dup {p['duplicated']}, server CPU {p['server_cpu_percent']}%"
    )


# -- reporting ------------------------------------------------------------------------------------


def _best_rate(steps: list[Phase]) -> float:
    ok = [s.achieved_rate for s in steps if not s.lost and s.p95 < TARGET_B_P95_MS]
    return max(ok, default=0.0)


def _ratio(ours: float, floor: float) -> str:
    return f"{ours / floor:.1f}x" if floor > 0 else "-"


def _cpu(phase: Phase) -> str:
    return f"{phase.server_cpu:.0f}/{phase.db_cpu:.0f}/{phase.clients_cpu:.0f}"


def report(ours: dict[str, Any], floor: dict[str, Any], settings: Settings) -> list[str]:
    """Print the tables; return the targets missed."""
    a, fa = ours["a"], floor["a"]
    sa, sf = a.summary(), fa.summary()
    rows: list[list[Any]] = []
    for label, x, p in (("realtime", sa, a), ("floor", sf, fa)):
        rows.append(
            [
                label,
                f"{x['deliveries']:,}",
                f"{x['lost']}/{x['duplicated']}",
                x["p50_ms"],
                x["p95_ms"],
                x["p99_ms"],
                x["max_ms"],
                _cpu(p),
            ]
        )
    rows.append(
        [
            "ratio",
            "",
            "",
            _ratio(sa["p50_ms"], sf["p50_ms"]),
            _ratio(sa["p95_ms"], sf["p95_ms"]),
            _ratio(sa["p99_ms"], sf["p99_ms"]),
            _ratio(sa["max_ms"] or 0, sf["max_ms"] or 0),
            "",
        ]
    )
    print_table(
        f"(a) {settings.rooms_a} rooms x {settings.members_a} members, "
        f"{settings.seeks_per_second:g} seeks/s per host ({sa['achieved_rate']:.0f} changes/s); "
        "ms; CPU % of a core: server/db/clients",
        ["", "delivered", "lost/dup", "p50", "p95", "p99", "max", "CPU %"],
        rows,
    )
    floor_steps = {s.target_rate: s for s in floor["b"]}
    rows = []
    for step in ours["b"]:
        x = step.summary()
        f = floor_steps.get(step.target_rate)
        rows.append(
            [
                f"{x['achieved_rate']:.0f}",
                x["lost"],
                x["p50_ms"],
                x["p95_ms"],
                x["p99_ms"],
                f.summary()["p95_ms"] if f else "-",
                _ratio(step.p95, f.p95) if f else "-",
                _cpu(step),
            ]
        )
    print_table(
        f"(b) one room x {settings.members_b} members, by change rate (changes/s); ms; "
        "CPU % of a core: server/db/clients",
        ["rate", "lost", "p50", "p95", "p99", "floor p95", "ratio", "CPU %"],
        rows,
    )
    best, best_floor = _best_rate(ours["b"]), _best_rate(floor["b"])
    print_table(
        "Summary",
        ["measure", "realtime", "floor", "target"],
        [
            ["(a) p99 ms", sa["p99_ms"], sf["p99_ms"], f"< {TARGET_P99_MS:g}"],
            [
                "(a) lost/duplicated",
                f"{a.lost}/{a.duplicated}",
                f"{fa.lost}/{fa.duplicated}",
                "0/0",
            ],
            [
                "(b) best rate, p95 < 100 ms",
                f"{best:.0f}/s",
                f"{best_floor:.0f}/s",
                f">= {TARGET_B_RATE:g}/s",
            ],
            [
                "idle CPU, server",
                f"{ours['idle_cpu_percent']:.2f}%",
                f"{floor['idle_cpu_percent']:.2f}%",
                f"< {TARGET_IDLE_CPU:g}%",
            ],
        ],
    )
    missed = []
    if not sa["p99_ms"] < TARGET_P99_MS:
        missed.append(f"(a) p99 {sa['p99_ms']} ms >= {TARGET_P99_MS:g} ms")
    if a.lost or a.duplicated:
        missed.append(f"(a) {a.lost} lost, {a.duplicated} duplicated")
    if best < TARGET_B_RATE:
        missed.append(f"(b) best rate {best:.0f}/s < {TARGET_B_RATE:g}/s at p95 < 100 ms")
    if not ours["idle_cpu_percent"] < TARGET_IDLE_CPU:
        missed.append(f"idle CPU {ours['idle_cpu_percent']}% >= {TARGET_IDLE_CPU:g}%")
    return missed


def jsonable(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "idle_cpu_percent": run["idle_cpu_percent"],
        "a": run["a"].summary(),
        "b": [s.summary() for s in run["b"]],
        "b_best_rate": round(_best_rate(run["b"]), 1),
    }


# -- main -----------------------------------------------------------------------------------------
