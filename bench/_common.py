"""Shared pieces of the benchmarks: result files, tables, pgbench, a network-delay proxy and an
event-loop lag monitor. ``stop_process`` and ``percentile`` are the package's
(:mod:`watchium_stack.harness`, :mod:`watchium_client.sync`), re-exported here; the throwaway
stack is :mod:`watchium_stack.harness`'s."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from rich.console import Console
from rich.table import Table

from watchium_client.sync import percentile
from watchium_stack.harness import stop_process

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
    "DelayProxy",
    "OneWayDelay",
    "loop_lag_monitor",
    "stop_process",
]

PROJECT_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT_DIR / "bench" / "results"
console = Console(highlight=False)


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


def chromium_path() -> str:
    """Debian's chromium, for Playwright (its own browser download is not used); the browser
    tests (tests/web) and bench.browser_sync drive it. ``WATCHIUM_CHROMIUM`` names another."""
    found = os.environ.get("WATCHIUM_CHROMIUM") or shutil.which("chromium")
    if not found:
        raise RuntimeError("chromium is not installed: apt-get install chromium (.ci/run does)")
    return found


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
    url: str,
    script: str,
    *,
    clients: int,
    seconds: int,
    options: str | None = None,
) -> PgbenchResult:
    """Run pgbench with a custom script against the database at ``url`` (as its user);
    latencies from its per-transaction log. ``options`` are server settings for its sessions
    (``PGOPTIONS``, e.g. ``-c synchronous_commit=off``).

    Raises:
        RuntimeError: when pgbench fails or reports failed transactions.
    """
    parts = urlsplit(url)
    with tempfile.TemporaryDirectory(prefix="pgbench-") as tmp:
        script_path = Path(tmp) / "script.sql"
        script_path.write_text(script)
        prefix = Path(tmp) / "log"
        env = {**os.environ, "PGPASSWORD": unquote(parts.password or "")}
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
                parts.hostname or "127.0.0.1",
                "-p",
                str(parts.port or 5432),
                "-U",
                unquote(parts.username or "postgres"),
                parts.path.lstrip("/") or "postgres",
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


@dataclass(frozen=True)
class OneWayDelay:
    """One direction of a path: ``base`` seconds, +-``spread`` of it uniformly, plus an
    exponential queueing delay with mean ``jitter`` x base."""

    base: float
    spread: float = 0.1
    jitter: float = 0.1

    def sample(self, rng: random.Random) -> float:
        if self.base <= 0:
            return 0.0
        value = self.base * (1 + rng.uniform(-self.spread, self.spread))
        if self.jitter > 0:
            value += rng.expovariate(1 / (self.jitter * self.base))
        return value


class DelayProxy:
    """A TCP proxy on 127.0.0.1 that delays every chunk of bytes, each direction on its own
    (order preserved, as TCP would): put it between a client and the gateway to give that
    client a network path of its own, for HTTP and websockets alike.

    Args:
        upstream_port: the gateway's port.
        up: client -> server delay; down: server -> client delay.
        seed: seed of the jitter.
    """

    def __init__(self, upstream_port: int, up: OneWayDelay, down: OneWayDelay, seed: int) -> None:
        self.upstream_port = upstream_port
        self.up = up
        self.down = down
        self._rng = random.Random(seed)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> DelayProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            self._tasks.discard(task)
            return
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, self.up), self._pipe(up_reader, writer, self.down)
            )
        except asyncio.CancelledError:
            # close() cancels open connections; a connection handler that ends cancelled makes
            # asyncio (3.11) log a traceback, so it ends normally instead.
            pass
        finally:
            for w in (writer, up_writer):
                with contextlib.suppress(Exception):
                    w.close()
            self._tasks.discard(task)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: OneWayDelay
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while True:
                release, data = await queue.get()
                wait = release - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    with contextlib.suppress(Exception):
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(send())
        last = 0.0
        try:
            while True:
                try:
                    data = await reader.read(65536)
                except (ConnectionError, OSError):
                    data = b""
                last = max(last, time.monotonic() + delay.sample(self._rng))
                queue.put_nowait((last, data))
                if not data:
                    break
            await sender
        except (ConnectionError, OSError):
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender


def loop_lag_monitor(samples: list[float], interval: float = 0.1) -> Callable[[], None]:
    """Starts recording how late the event loop wakes (seconds) into ``samples``; returns a
    function that stops it."""
    loop = asyncio.get_running_loop()
    stopped = False

    def tick(expected: float) -> None:
        if stopped:
            return
        now = loop.time()
        samples.append(max(0.0, now - expected))
        loop.call_at(now + interval, tick, now + interval)

    loop.call_at(loop.time() + interval, tick, loop.time() + interval)

    def stop() -> None:
        nonlocal stopped
        stopped = True

    return stop


# -- CPU of processes ---------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return out


class CpuMeter:
    """CPU time of a set of processes between ``start`` and ``stop``, in percent of one core."""

    def __init__(self, pids: Callable[[], Sequence[int]]) -> None:
        self._pids = pids
        self._start: dict[int, float] = {}
        self._t0 = 0.0

    def start(self) -> None:
        self._start = {pid: _proc_cpu(pid) for pid in self._pids()}
        self._t0 = time.monotonic()

    def stop(self) -> float:
        elapsed = time.monotonic() - self._t0
        used = sum(_proc_cpu(pid) - self._start.get(pid, 0.0) for pid in self._pids())
        return 100.0 * used / elapsed if elapsed > 0 else 0.0
