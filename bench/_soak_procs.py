"""The soak test's process meter: memory and CPU of the stack's processes, read from /proc, and
the slope that tells a leak from noise.

* ``postgres``: the postmaster and every child; memory is their own memory summed (private
  pages of private mappings: what a leak in a backend would grow; the shared buffers, which fill
  up to ``shared_buffers`` as the tables grow, are left out), CPU the postmaster's own and its
  reaped children's time plus the live children's; ``backends`` counts the children;
* ``walsender``: the WAL senders (Realtime's change stream), private memory and time;
* ``gateway``: the gateway, which runs the functions, auth and Realtime in one process as
  ``watchium up`` does: RSS and time;
* ``clients``: the soak's own process, every SDK session: RSS and time.

CPU is in percent of one core over the interval between two samples.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ROWS", "ProcessMeter", "Reading", "slope"]

ROWS = ("postgres", "walsender", "gateway", "clients")

_TICK = os.sysconf("SC_CLK_TCK")
_MAPPING = re.compile(r"^[0-9a-f]+-[0-9a-f]+ (\S{4}) ")


@dataclass
class Reading:
    """One sample: seconds since the meter started, MiB and CPU% by row."""

    at: float
    memory: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(ppid, own CPU seconds, reaped children's CPU seconds) of ``pid``."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return ppid, (utime + stime) / _TICK, (cutime + cstime) / _TICK


def _kib(pid: int, path: str, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/{path}").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _private_mib(pid: int) -> float:
    """The process's own memory in MiB: private pages of its private mappings. Shared mappings
    are left out whole: a page of the shared buffers that only this backend has touched yet
    counts as "private" in smaps, and the buffers fill up (to ``shared_buffers``) as the tables
    grow, which is no leak."""
    try:
        lines = Path(f"/proc/{pid}/smaps").read_text().splitlines()
    except OSError:
        return 0.0
    total = 0
    shared = False
    for line in lines:
        head = _MAPPING.match(line)
        if head is not None:
            shared = head.group(1)[3] == "s"
        elif not shared and line.startswith(("Private_Clean:", "Private_Dirty:")):
            total += int(line.split()[1])
    return total / 1024


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _children(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None and stat[0] == parent:
                found.append(int(entry))
    return found


class ProcessMeter:
    """Samples the rows of :data:`ROWS` for a postmaster, a gateway and this process."""

    def __init__(self, postmaster: int, gateway: int, clients: int | None = None) -> None:
        self.postmaster = postmaster
        self.gateway = gateway
        self.clients = clients or os.getpid()
        self._last: tuple[float, dict[str, float]] | None = None
        self._start: float | None = None

    def _cpu_seconds(self) -> tuple[dict[str, float], dict[str, float]]:
        """CPU seconds so far and memory in MiB, by row."""
        cpu: dict[str, float] = dict.fromkeys(ROWS, 0.0)
        memory: dict[str, float] = dict.fromkeys(ROWS, 0.0)
        memory["backends"] = 0.0
        master = _stat(self.postmaster)
        if master is not None:
            cpu["postgres"] = master[1] + master[2]
            memory["postgres"] = _private_mib(self.postmaster)
        for child in _children(self.postmaster):
            stat = _stat(child)
            if stat is None:
                continue
            private = _private_mib(child)
            memory["backends"] += 1
            cpu["postgres"] += stat[1]
            memory["postgres"] += private
            if "walsender" in _cmdline(child):
                cpu["walsender"] += stat[1]
                memory["walsender"] += private
        for row, pid in (("gateway", self.gateway), ("clients", self.clients)):
            stat = _stat(pid)
            if stat is not None:
                cpu[row] = stat[1]
                memory[row] = _kib(pid, "status", "VmRSS:") / 1024
        return cpu, memory

    def read(self, now: float) -> Reading:
        """A sample at monotonic time ``now``: CPU% since the previous one (0 for the first)."""
        cpu_total, memory = self._cpu_seconds()
        if self._start is None:
            self._start = now
        reading = Reading(now - self._start, memory)
        if self._last is not None:
            then, before = self._last
            elapsed = max(now - then, 1e-6)
            # A WAL sender that ended takes its time with it: never below zero.
            reading.cpu = {r: max(0.0, 100 * (cpu_total[r] - before[r]) / elapsed) for r in ROWS}
        else:
            reading.cpu = dict.fromkeys(ROWS, 0.0)
        self._last = (now, cpu_total)
        return reading


def slope(points: Sequence[tuple[float, float]]) -> float:
    """The least-squares slope of ``(x, y)`` points (0 with fewer than two distinct x)."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var
