"""Fixtures of the chaos suite: a stack of its own per test (faults break it on purpose), a small
file system for the disk-full test, and the recovery times every test reports.

Each test starts a throwaway cluster and gateway (a second or two), so a fault cannot leak into
the next test or into the session's stack the rest of the suite shares. The cluster keeps little
WAL (``max_slot_wal_keep_size`` of 32 MB) so that a replication slot falls behind in a moment.

Recovery times are asserted by waiting for conditions, never against a limit; each test records
them here and the run ends with a table of them (``pytest tests/chaos -q`` shows it).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests._pg import PROJECT_DIR
from watchium_stack.database import Database, throwaway_database
from watchium_stack.harness import Stack, launch_gateway

CLUSTER_SETTINGS = {
    "max_slot_wal_keep_size": "'32MB'",
    "max_wal_size": "'64MB'",
    "min_wal_size": "'32MB'",
}
"""The chaos clusters keep little WAL: a slot falls behind after 32 MB of it."""

TMPFS_SIZE = "160m"
"""The disk-full test's file system: the cluster (about 60 MB) and room to fill."""


@dataclass
class Recovery:
    fault: str
    seconds: dict[str, float]


RECOVERIES: list[Recovery] = []


@dataclass
class Chaos:
    """A stack to break: its database (``cluster`` to kill or stop) and its gateway."""

    db: Database
    stack: Stack

    @property
    def cluster(self) -> Any:
        assert self.db.cluster is not None
        return self.db.cluster

    def admin(self, query: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Runs ``query`` as the superuser; its rows (none for a statement that returns none)."""
        with psycopg.connect(self.db.admin_url, autocommit=True, connect_timeout=10) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def report(self, fault: str, **seconds: float) -> None:
        """Records how long recovery took, by what was waited for."""
        RECOVERIES.append(Recovery(fault, {k: round(v, 2) for k, v in seconds.items()}))


@contextlib.contextmanager
def chaos_stack(parent: Path | None = None) -> Iterator[Chaos]:
    """A migrated cluster (in ``parent`` if given) and a gateway on it, removed afterwards."""
    with throwaway_database(PROJECT_DIR, settings=CLUSTER_SETTINGS, parent=parent) as db:
        stack = launch_gateway(db.url, project_dir=PROJECT_DIR)
        try:
            yield Chaos(db, stack)
        finally:
            stack.thaw()
            stack.stop()
            shutil.rmtree(stack.log_path.parent, ignore_errors=True)


@pytest.fixture
def chaos() -> Iterator[Chaos]:
    with chaos_stack() as running:
        yield running


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A tmpfs of :data:`TMPFS_SIZE`, unmounted afterwards; the test skips, naming the missing
    capability, where mounting is not allowed."""
    mountpoint = Path(tempfile.mkdtemp(prefix="watchium-chaos-disk-"))
    mount = shutil.which("mount")
    if mount is None:
        mountpoint.rmdir()
        pytest.skip("no mount command: cannot make a small file system to fill")
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0755", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        mountpoint.rmdir()
        pytest.skip(f"cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, check=False)
        with contextlib.suppress(OSError):
            mountpoint.rmdir()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RECOVERIES:
        return
    terminalreporter.section("chaos: recovery after each fault (seconds from the fault's end)")
    for recovery in RECOVERIES:
        times = ", ".join(f"{what} {value:.2f}" for what, value in recovery.seconds.items())
        terminalreporter.write_line(f"{recovery.fault:<44} {times}")
