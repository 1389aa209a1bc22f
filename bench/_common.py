"""Shared pieces of the benchmarks: result files, tables, percentiles, pgbench."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = [
    "RESULTS_DIR",
    "PROJECT_DIR",
    "console",
    "percentile",
    "write_results",
    "print_table",
    "PgbenchResult",
    "pgbench",
    "find_program",
]

PROJECT_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT_DIR / "bench" / "results"
console = Console(highlight=False)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def write_results(name: str, data: dict[str, Any]) -> Path:
    """Write ``data`` to bench/results/<name>.json and return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row))
    console.print(table)


def find_program(name: str, extra_dirs: Sequence[Path] = ()) -> str:
    """Find a program on PATH or in ``extra_dirs``.

    Raises:
        SystemExit: with what to install when it is missing.
    """
    found = shutil.which(name)
    if found:
        return found
    for d in extra_dirs:
        if (d / name).exists():
            return str(d / name)
    raise SystemExit(
        f"{name} not found: install it (Debian: apt-get install postgresql-contrib / {name})"
    )


@dataclass(frozen=True)
class PgbenchResult:
    transactions: int
    tps: float
    latencies_ms: list[float]

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)


def pgbench(
    program: str,
    url_parts: dict[str, str],
    script: str,
    *,
    clients: int,
    seconds: int,
    options: str | None = None,
) -> PgbenchResult:
    """Run pgbench with a custom script; latencies from its per-transaction log.

    Raises:
        RuntimeError: when pgbench fails or reports failed transactions.
    """
    with tempfile.TemporaryDirectory(prefix="pgbench-") as tmp:
        script_path = Path(tmp) / "script.sql"
        script_path.write_text(script)
        prefix = Path(tmp) / "log"
        env = {**os.environ, "PGPASSWORD": url_parts["password"]}
        if options:
            env["PGOPTIONS"] = options  # server settings for pgbench's sessions
        proc = subprocess.run(
            [
                program,
                "-n",
                "-M",
                "prepared",
                "-c",
                str(clients),
                "-j",
                str(min(clients, 2)),
                "-T",
                str(seconds),
                "-f",
                str(script_path),
                "-l",
                "--log-prefix",
                str(prefix),
                "-h",
                url_parts["host"],
                "-p",
                url_parts["port"],
                "-U",
                url_parts["user"],
                url_parts["dbname"],
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=seconds + 120,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"pgbench failed: {proc.stderr.strip() or proc.stdout.strip()}")
        failed = re.search(r"number of failed transactions: (\d+)", proc.stdout)
        if failed and int(failed.group(1)):
            raise RuntimeError(f"pgbench: {failed.group(1)} failed transactions\n{proc.stdout}")
        latencies: list[float] = []
        for log in Path(tmp).glob("log*"):
            for line in log.read_text().splitlines():
                fields = line.split()
                if len(fields) >= 3:
                    latencies.append(int(fields[2]) / 1000.0)
        tps_match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", proc.stdout)
        tps = float(tps_match.group(1)) if tps_match else len(latencies) / seconds
        return PgbenchResult(transactions=len(latencies), tps=tps, latencies_ms=latencies)
