"""A project-local PostgreSQL cluster: create, start, stop and inspect it.

The cluster lives in ``<data dir>/pgdata``, listens on 127.0.0.1 only, and is configured for
Realtime: ``wal_level=logical`` with replication slots and WAL senders enabled, and a cap on
the WAL an abandoned slot may retain. Its programs are found by :mod:`watchium_stack.binaries`.

PostgreSQL refuses to run as root, so when the stack runs as root every server command runs as
the ``postgres`` system user (created when it does not exist) on a data directory that user owns.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from watchium_stack.binaries import (
    Binaries,
    PostgresError,
    find_binaries,
)

__all__ = [
    "PostgresError",
    "PortInUse",
    "VersionMismatch",
    "Cluster",
    "ClusterStatus",
    "free_port",
]

logger = logging.getLogger(__name__)


class PortInUse(PostgresError):
    """The configured port is taken by another process."""


class VersionMismatch(PostgresError):
    """The data directory was created by a different PostgreSQL major version."""


# An immediate shutdown only signals the processes to quit at once: seconds at most.
_IMMEDIATE_STOP_TIMEOUT = 10.0


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid_is_postgres(pid: int) -> bool:
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return _pid_alive(pid)
    return comm in ("postgres", "postmaster")


@dataclass(frozen=True)
class ClusterStatus:
    """What ``watchium db status`` reports."""

    initialized: bool
    running: bool
    pid: int | None
    port: int
    pgdata: Path
    major: int | None


class Cluster:
    """One PostgreSQL cluster in a directory the project owns."""

    SYSTEM_USER = "postgres"

    def __init__(
        self,
        pgdata: Path,
        *,
        port: int,
        host: str = "127.0.0.1",
        password: str = "postgres",
        binaries: Binaries | None = None,
        bindir: str | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.pgdata = Path(pgdata)
        self.port = port
        self.host = host
        self.password = password
        self._binaries = binaries
        self._bindir = bindir
        self.extra_settings = settings or {}
        self.wanted = False
        """Whether the server should be running: set by :meth:`start`, cleared by :meth:`stop`
        (a crash leaves it set, so the stack's watchdog, :mod:`watchium_stack.watchdog`, starts
        it again)."""

    # -- binaries and users ---------------------------------------------------------------

    @property
    def binaries(self) -> Binaries:
        if self._binaries is None:
            self._binaries = find_binaries(self._bindir)
        return self._binaries

    @property
    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _ensure_system_user(self) -> pwd.struct_passwd:
        try:
            return pwd.getpwnam(self.SYSTEM_USER)
        except KeyError:
            pass
        logger.warning("creating the system user %r to run PostgreSQL as", self.SYSTEM_USER)
        useradd = shutil.which("useradd")
        if useradd is None:
            raise PostgresError(
                "PostgreSQL cannot run as root and there is no 'postgres' user to run it as; "
                "create one (`useradd --system postgres`) or run as an ordinary user"
            )
        subprocess.run(
            [
                useradd,
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                self.SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(self.SYSTEM_USER)

    def _run(
        self, args: Sequence[str], *, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run a server program, as the postgres user when we are root."""
        cmd = list(args)
        if self._as_root:
            self._ensure_system_user()
            cmd = ["runuser", "-u", self.SYSTEM_USER, "--", *cmd]
        logger.debug("running %s", " ".join(cmd))
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
        if check and proc.returncode != 0:
            raise PostgresError(
                f"{Path(args[0]).name} failed (exit {proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()}"
            )
        return proc

    def _give_to_system_user(self, path: Path) -> None:
        """Let the postgres user own ``path`` and traverse every directory above it."""
        if not self._as_root:
            return
        user = self._ensure_system_user()
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, user.pw_uid, user.pw_gid)
        for parent in path.parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                os.chmod(parent, mode | 0o001)

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def logfile(self) -> Path:
        return self.pgdata.parent / "postgres.log"

    @property
    def pidfile(self) -> Path:
        return self.pgdata / "postmaster.pid"

    def initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").is_file()

    def data_major(self) -> int | None:
        try:
            return int((self.pgdata / "PG_VERSION").read_text().strip())
        except (OSError, ValueError):
            return None

    def init(self) -> None:
        """Create the cluster (initdb) unless it exists; check its version otherwise."""
        if self.initialized():
            self._check_version()
            return
        if self.pgdata.exists() and any(self.pgdata.iterdir()):
            raise PostgresError(
                f"{self.pgdata} exists, is not empty and holds no PostgreSQL cluster; "
                "remove it or point WATCHIUM_DATA_DIR elsewhere"
            )
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        self._give_to_system_user(self.pgdata)
        self._give_to_system_user(self.logfile.parent)
        pwfile = self.pgdata.parent / ".initdb-pw"
        pwfile.write_text(self.password + "\n")
        if self._as_root:
            user = self._ensure_system_user()
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        try:
            self._run(
                [
                    self.binaries.path("initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    "postgres",
                    "--pwfile",
                    str(pwfile),
                    "--auth-host=scram-sha-256",
                    "--auth-local=peer",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-instructions",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        self._write_settings()

    def _write_settings(self) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'" if self.host == "127.0.0.1" else f"'{self.host}'",
            "unix_socket_directories": "''",
            # Realtime reads changes by logical decoding.
            "wal_level": "logical",
            "max_replication_slots": "20",
            "max_wal_senders": "20",
            # An abandoned slot must not fill the disk.
            "max_slot_wal_keep_size": "'2GB'",
            "max_connections": "300",
            "shared_buffers": "'256MB'",
            "work_mem": "'4MB'",
            "maintenance_work_mem": "'64MB'",
            "timezone": "'UTC'",
            "log_timezone": "'UTC'",
            "log_min_messages": "warning",
            "shared_preload_libraries": "''",
        }
        settings.update(self.extra_settings)
        conf = self.pgdata / "postgresql.auto.conf"
        lines = ["# Written by watchium_stack.postgres: the local stack's settings."]
        lines += [f"{k} = {v}" for k, v in settings.items()]
        conf.write_text("\n".join(lines) + "\n")
        if self._as_root:
            user = self._ensure_system_user()
            os.chown(conf, user.pw_uid, user.pw_gid)

    def _check_version(self) -> None:
        data_major = self.data_major()
        if data_major is not None and data_major != self.binaries.major:
            raise VersionMismatch(
                f"the cluster in {self.pgdata} was created by PostgreSQL {data_major}, but the "
                f"binaries found ({self.binaries.bindir}, {self.binaries.source}) are PostgreSQL "
                f"{self.binaries.major}. Either point WATCHIUM_PG_BINDIR at PostgreSQL "
                f"{data_major} binaries, or remove the cluster with `watchium db reset --hard` "
                "(this deletes its data)"
            )

    def _pid_from_file(self) -> int | None:
        try:
            first = self.pidfile.read_text().splitlines()[0]
            return int(first)
        except (OSError, ValueError, IndexError):
            return None

    def running_pid(self) -> int | None:
        """The postmaster's pid when this cluster's server is running."""
        pid = self._pid_from_file()
        if pid is not None and _pid_alive(pid) and _pid_is_postgres(pid):
            return pid
        return None

    def _clear_stale_pidfile(self) -> None:
        pid = self._pid_from_file()
        if pid is None or self.running_pid() is not None:
            return
        logger.warning(
            "removing the stale pid file %s (pid %d is not running PostgreSQL: the server was "
            "stopped uncleanly); PostgreSQL recovers the data on start",
            self.pidfile,
            pid,
        )
        self.pidfile.unlink(missing_ok=True)

    def start(self, *, timeout: float = 60) -> None:
        """Start the server (creating the cluster first if needed) and wait until it accepts."""
        self.wanted = True
        self.init()
        if self.running_pid() is not None:
            return
        self._clear_stale_pidfile()
        if not _port_is_free(self.host, self.port):
            raise PortInUse(
                f"port {self.port} on {self.host} is already in use by another process; stop "
                "it, or choose another port with WATCHIUM_DB_PORT"
            )
        proc = self._run(
            [
                self.binaries.path("pg_ctl"),
                "-D",
                str(self.pgdata),
                "-l",
                str(self.logfile),
                "-o",
                f"-p {self.port}",
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ],
            check=False,
            timeout=timeout + 10,
        )
        if proc.returncode != 0:
            tail = self.log_tail()
            raise PostgresError(
                f"PostgreSQL did not start: {(proc.stderr or proc.stdout).strip()}\n"
                f"last lines of {self.logfile}:\n{tail}"
            )

    def stop(self, *, mode: str = "fast", timeout: float = 30) -> bool:
        """Stop the server within a bound. Returns False when it was not running.

        A fast shutdown waits for every WAL sender to have its client confirm the last WAL sent,
        so a logical replication client that stopped reading (a frozen Realtime server) makes
        ``pg_ctl stop`` wait forever. After ``timeout`` seconds the stop escalates to an
        immediate shutdown (crash recovery at the next start, no data lost: every commit is on
        disk) and then to SIGKILL.

        Raises:
            PostgresError: the server is still running after all that.
        """
        self.wanted = False
        if self.running_pid() is None:
            self._clear_stale_pidfile()
            return False
        if self._pg_ctl_stop(mode, timeout):
            return True
        if mode != "immediate":
            logger.warning(
                "PostgreSQL did not stop within %.0f s (%s shutdown; a WAL sender may be waiting "
                "for a client that no longer reads): stopping it immediately",
                timeout,
                mode,
            )
            if self._pg_ctl_stop("immediate", _IMMEDIATE_STOP_TIMEOUT):
                return True
        logger.warning("PostgreSQL did not stop: killing it")
        self.kill()
        if self.running_pid() is not None:
            raise PostgresError(f"PostgreSQL in {self.pgdata} cannot be stopped")
        return True

    def _pg_ctl_stop(self, mode: str, timeout: float) -> bool:
        args = [self.binaries.path("pg_ctl"), "-D", str(self.pgdata), "-m", mode, "-w"]
        args += ["-t", str(max(1, int(timeout))), "stop"]
        try:
            proc = self._run(args, check=False, timeout=timeout + 10)
        except subprocess.TimeoutExpired:
            return False
        return proc.returncode == 0 or self.running_pid() is None

    def shut_down_cleanly(self) -> bool:
        """Whether the server's last stop was a clean shutdown (``pg_controldata`` says "shut
        down"), as ``watchium db stop`` does, rather than a crash or a failed recovery."""
        try:
            proc = self._run(
                [self.binaries.path("pg_controldata"), "-D", str(self.pgdata)],
                check=False,
                timeout=30,
            )
        except (OSError, subprocess.SubprocessError):
            return False
        for line in proc.stdout.splitlines():
            if line.startswith("Database cluster state:"):
                return line.split(":", 1)[1].strip() == "shut down"
        return False

    def kill(self) -> None:
        """Kill the postmaster abruptly (for crash-recovery tests)."""
        pid = self.running_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)

    def destroy(self) -> None:
        """Stop the server and delete the cluster directory."""
        with contextlib.suppress(PostgresError):
            self.stop(mode="immediate")
        shutil.rmtree(self.pgdata, ignore_errors=True)
        self.logfile.unlink(missing_ok=True)

    def status(self) -> ClusterStatus:
        return ClusterStatus(
            initialized=self.initialized(),
            running=self.running_pid() is not None,
            pid=self.running_pid(),
            port=self.port,
            pgdata=self.pgdata,
            major=self.data_major(),
        )

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def url(self, dbname: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}:{self.password}@{self.host}:{self.port}/{dbname}"
