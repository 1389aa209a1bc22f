"""The local cluster manager against real PostgreSQL binaries."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from watchium_stack.binaries import BinariesNotFound, find_binaries
from watchium_stack.postgres import (
    Cluster,
    PortInUse,
    PostgresError,
    VersionMismatch,
    free_port,
)
from watchium_stack.watchdog import ClusterWatchdog


@pytest.fixture(scope="module")
def cluster(module_workdir: Path) -> Iterator[Cluster]:
    c = Cluster(module_workdir / "pgdata", port=free_port())
    c.start()
    yield c
    c.destroy()


def test_binaries_are_found_and_versioned() -> None:
    found = find_binaries()
    assert (found.bindir / "initdb").exists() and found.major >= 13


def test_explicit_bindir_override_wins_and_is_checked(tmp_path: Path) -> None:
    real = find_binaries()
    assert find_binaries(str(real.bindir)).source == "WATCHIUM_PG_BINDIR"
    with pytest.raises(BinariesNotFound, match="WATCHIUM_PG_BINDIR=.* does not hold initdb"):
        find_binaries(str(tmp_path))


def test_no_binaries_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    original = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pgserver" else original(name, *a),
    )
    with pytest.raises(BinariesNotFound) as info:
        find_binaries(debian_root=tmp_path, path_env=str(tmp_path))
    assert "apt-get install postgresql" in str(info.value)
    assert "bundled-postgres" in str(info.value)


def test_cluster_is_configured_for_realtime(cluster: Cluster) -> None:
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        settings = dict(
            conn.execute(
                "select name, setting from pg_settings where name in "
                "('wal_level', 'max_replication_slots', 'listen_addresses', 'max_wal_senders', "
                "'max_slot_wal_keep_size')"
            ).fetchall()
        )
    # A slot whose reader died or lags keeps at most 2 GB of WAL, then PostgreSQL gives it up.
    assert settings["max_slot_wal_keep_size"] == "2048"
    assert settings["wal_level"] == "logical"
    assert int(settings["max_replication_slots"]) >= 10 and int(settings["max_wal_senders"]) >= 10
    assert settings["listen_addresses"] == "127.0.0.1"


def test_start_is_idempotent_and_status_reports(cluster: Cluster) -> None:
    cluster.start()
    st = cluster.status()
    assert st.running and st.initialized and st.pid == cluster.running_pid()
    assert st.major == find_binaries().major


def test_port_in_use_is_a_clear_error(workdir: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        c = Cluster(workdir / "pgdata", port=port)
        with pytest.raises(PortInUse, match=f"port {port} .* WATCHIUM_DB_PORT"):
            c.start()


def test_data_dir_from_another_version_is_refused(workdir: Path) -> None:
    pgdata = workdir / "pgdata"
    pgdata.mkdir()
    (pgdata / "PG_VERSION").write_text("9\n")
    with pytest.raises(VersionMismatch, match="created by PostgreSQL 9.*reset --hard"):
        Cluster(pgdata, port=free_port()).start()


def test_foreign_non_empty_directory_is_refused(workdir: Path) -> None:
    pgdata = workdir / "pgdata"
    pgdata.mkdir()
    (pgdata / "notes.txt").write_text("mine")
    with pytest.raises(PostgresError, match="not empty and holds no PostgreSQL cluster"):
        Cluster(pgdata, port=free_port()).start()


def test_crash_leaves_a_stale_pid_file_that_start_recovers(cluster: Cluster) -> None:
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute("create table if not exists survivor (v int)")
        conn.execute("insert into survivor values (42)")
    cluster.kill()
    assert cluster.pidfile.exists() and cluster.running_pid() is None
    # A pid that is alive but not PostgreSQL, as after a reboot reuses the number.
    lines = cluster.pidfile.read_text().splitlines()
    lines[0] = str(os.getpid())
    cluster.pidfile.write_text("\n".join(lines) + "\n")
    cluster.start()
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        assert conn.execute("select v from survivor").fetchone() == (42,)


def _wait_until(predicate: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def test_the_watchdog_starts_a_crashed_server_again_but_not_a_stopped_one(
    cluster: Cluster,
) -> None:
    with ClusterWatchdog(cluster, interval=0.1) as watchdog:
        cluster.kill()
        _wait_until(lambda: watchdog.restarts == 1, "the watchdog restarted PostgreSQL")
        _wait_until(lambda: cluster.running_pid() is not None, "PostgreSQL runs")
        # `watchium db stop` from another terminal: another Cluster object, a clean shutdown.
        Cluster(cluster.pgdata, port=cluster.port).stop()
        _wait_until(lambda: not cluster.wanted, "the watchdog saw the stop")
        assert cluster.running_pid() is None and watchdog.restarts == 1
    cluster.start()
