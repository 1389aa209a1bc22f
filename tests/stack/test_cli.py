"""``watchium up`` and ``watchium keys`` as a user runs them: a subprocess on ports of its own."""

from __future__ import annotations

import os
import re
import selectors
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest

from tests._pg import PROJECT_DIR
from watchium_stack.keys import load_or_create_keys
from watchium_stack.postgres import free_port

WATCHIUM = [sys.executable, "-c", "from watchium_client.cli import main; main()"]


def _env(workdir: Path, port: int, db_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHIUM_")}
    env.update(
        WATCHIUM_PROJECT_DIR=str(PROJECT_DIR),
        WATCHIUM_DATA_DIR=str(workdir / "data"),
        WATCHIUM_PORT=str(port),
        WATCHIUM_DB_PORT=str(db_port),
        COLUMNS="200",
    )
    return env


def test_keys_prints_url_and_keys(workdir: Path) -> None:
    port = free_port()
    env = _env(workdir, port, free_port())
    out = subprocess.run([*WATCHIUM, "keys"], env=env, capture_output=True, text=True, check=True)
    keys = load_or_create_keys(workdir / "data")
    assert f"http://127.0.0.1:{port}" in out.stdout
    assert f"http://127.0.0.1:{port}/auth/v1/.well-known/jwks.json" in out.stdout
    # Today's keys first, the legacy ones after them.
    shown = out.stdout
    assert shown.index(keys.publishable_key) < shown.index(keys.anon_key)
    assert keys.secret_key in shown and keys.service_role_key in shown
    env_out = subprocess.run(
        [*WATCHIUM, "keys", "--env"], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert f"SUPABASE_PUBLISHABLE_KEY={keys.publishable_key}" in env_out
    assert f"SUPABASE_SECRET_KEY={keys.secret_key}" in env_out
    assert f"SUPABASE_ANON_KEY={keys.anon_key}" in env_out


@pytest.mark.parametrize("model", ["current", "legacy"])
def test_keys_export_sets_what_the_examples_read(workdir: Path, model: str) -> None:
    port = free_port()
    env = _env(workdir, port, free_port())
    env["WATCHIUM_KEYS"] = model
    command = " ".join(shlex.quote(part) for part in [*WATCHIUM, "keys", "--export"])
    # `env` lists what the shell exported, as the programs started from it see it.
    run = subprocess.run(
        ["bash", "-c", f'eval "$({command})" && env'], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    exported = dict(line.split("=", 1) for line in run.stdout.splitlines() if "=" in line)
    keys = load_or_create_keys(workdir / "data")
    url = f"http://127.0.0.1:{port}"
    for prefix in ("WATCHIUM", "SUPABASE"):
        assert exported[f"{prefix}_URL"] == url
        if model == "current":
            assert exported[f"{prefix}_PUBLISHABLE_KEY"] == keys.publishable_key
            assert f"{prefix}_ANON_KEY" not in exported
        else:
            assert exported[f"{prefix}_ANON_KEY"] == keys.anon_key


def _read_until(proc: subprocess.Popen[bytes], marker: bytes, limit: float = 180) -> bytes:
    """Output up to ``marker`` (bounded only against a broken `up`)."""
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    seen = b""
    deadline = time.monotonic() + limit
    try:
        while marker not in seen:
            if not selector.select(max(0.0, deadline - time.monotonic())):
                raise AssertionError(f"no {marker!r} in:\n{seen.decode(errors='replace')}")
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"exited early:\n{seen.decode(errors='replace')}")
            seen += chunk
    finally:
        selector.close()
    return seen


@pytest.mark.slow
def test_up_serves_the_gateway_and_stops_everything_on_sigterm(workdir: Path) -> None:
    port, db_port = free_port(), free_port()
    env = _env(workdir, port, db_port)
    # As after `make dev` in a new shell: the virtualenv is not activated.
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    proc = subprocess.Popen(
        [*WATCHIUM, "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        shown = _read_until(proc, b"stops the stack").decode()
        keys = load_or_create_keys(workdir / "data")
        assert f"http://127.0.0.1:{port}" in shown
        # What a user of today's Supabase looks for: the publishable and secret keys, the JWKS.
        assert keys.publishable_key in shown and keys.secret_key in shown
        assert f"http://127.0.0.1:{port}/auth/v1/.well-known/jwks.json" in shown
        assert f'create_client("http://127.0.0.1:{port}", "{keys.publishable_key}")' in shown
        assert "sign_in_anonymously()" in shown and 'functions.invoke("rooms-create"' in shown
        # The seed data's rooms, the private one with its key, and how to go on from a shell.
        private = re.search(
            r"([a-z0-9]{10})  Demo: private .* \(private, access key (\d{6})\)", shown
        )
        assert private, shown
        assert re.search(r"[a-z0-9]{10}  Demo: .* \(public\)", shown)
        assert f"watchium rooms join {private[1]} --access-key {private[2]}" in shown
        assert "bin/activate" in shown
        # The other terminal needs this stack's settings to find it.
        assert re.search(rf'eval "\$\(.*WATCHIUM_PORT={port} .*watchium keys --export\)"', shown)
        health = httpx.get(f"http://127.0.0.1:{port}/health")
        assert health.status_code == 200 and health.json()["database"] is True
        signup = httpx.post(
            f"http://127.0.0.1:{port}/auth/v1/signup",
            headers={"apikey": keys.publishable_key},
            json={},
        )
        assert signup.status_code == 200
        assert jwt.get_unverified_header(signup.json()["access_token"])["alg"] == "ES256"
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 0, rest
    assert "PostgreSQL stopped." in rest
    assert not (workdir / "data" / "pgdata" / "postmaster.pid").exists()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # the gateway let go of its port


def test_up_with_the_port_taken_says_so_and_starts_nothing(workdir: Path) -> None:
    port = free_port()
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))
    holder.listen()
    try:
        result = subprocess.run(
            [*WATCHIUM, "up"],
            env=_env(workdir, port, free_port()),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.close()
    assert result.returncode == 1
    assert f"port {port}" in result.stderr and "already in use" in result.stderr
    assert not (workdir / "data" / "pgdata").exists()
