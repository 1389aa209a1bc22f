"""A watchdog that starts the local cluster again when it goes down without being stopped."""

from __future__ import annotations

import logging
import subprocess
import threading

from watchium_stack.postgres import Cluster, PostgresError

__all__ = ["ClusterWatchdog"]

logger = logging.getLogger(__name__)


class ClusterWatchdog:
    """Starts a cluster again whenever its server is gone while it should run.

    PostgreSQL restarts its own processes after one of them crashes, but the postmaster gives up
    when that recovery fails: when it cannot write WAL (a full disk), its startup process exits
    and the whole server shuts down, and stays down once space is freed. The watchdog checks every
    ``interval`` seconds; a server that should run (``cluster.wanted``: started and not stopped
    on purpose, here or by a clean shutdown elsewhere) but does not is started again, retrying
    after 1 s, doubling up to ``retry_max``, while it cannot start. It runs in a thread of its
    own, so a blocked event loop cannot hold it up; use it as a context manager.
    """

    def __init__(self, cluster: Cluster, *, interval: float = 0.5, retry_max: float = 2.0) -> None:
        self.cluster = cluster
        self.interval = interval
        self.retry_max = retry_max
        self.restarts = 0
        """How many times the server was started again."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ClusterWatchdog:
        self._thread = threading.Thread(target=self._run, name="postgres-watchdog", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        delay = 1.0
        while not self._stop.wait(self.interval):
            cluster = self.cluster
            if not cluster.wanted or cluster.running_pid() is not None:
                delay = 1.0
                continue
            if cluster.shut_down_cleanly():
                # Stopped on purpose (`watchium db stop` from another terminal): leave it.
                cluster.wanted = False
                continue
            logger.warning("PostgreSQL is not running: starting it again")
            try:
                cluster.start()
            except (PostgresError, OSError, subprocess.SubprocessError) as exc:
                logger.warning("PostgreSQL did not start (retrying in %.0f s): %s", delay, exc)
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, self.retry_max)
                continue
            self.restarts += 1
            logger.warning("PostgreSQL is running again")
            delay = 1.0
