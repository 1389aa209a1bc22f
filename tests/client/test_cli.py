"""The ``watchium`` client commands against the real gateway, through typer's CliRunner.

Each test user is a config directory of its own (``WATCHIUM_CONFIG_DIR``): the CLI keeps one
anonymous identity per URL there.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from tests.client._mpv import requires_mpv, write_clip
from watchium_client import NewRoom, RoomSession, WatchiumClient
from watchium_client.cli import app
from watchium_client.players import SimulatedPlayer
from watchium_stack.harness import Stack
from watchium_stack.keys import load_or_create_keys
from watchium_stack.postgres import free_port

runner = CliRunner()
VIDEO = "https://example.com/frieren/01.mkv"


def invoke(stack: Stack | None, home: Path, *args: str, **env: str | None) -> Result:
    base: dict[str, str | None] = {"WATCHIUM_CONFIG_DIR": str(home), "COLUMNS": "200"}
    if stack is not None:
        base.update(WATCHIUM_URL=stack.url, WATCHIUM_PUBLISHABLE_KEY=stack.publishable_key)
    base.update(env)
    return runner.invoke(app, list(args), env=base)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def create(stack: Stack, home: Path, title: str, *extra: str) -> dict[str, Any]:
    result = ok(
        invoke(
            stack, home, "rooms", "create", title, "--anime-id", "frieren",
            "--video-url", VIDEO, "--json", *extra,
        )
    )  # fmt: skip
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_rooms_create_list_join_leave(stack: Stack, tmp_path: Path) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    created = create(stack, alice, "Frieren night", "--username", "alice")
    room_id = created["room"]["room_id"]
    assert created["access_key"] is None

    listed = json.loads(
        ok(invoke(stack, bob, "rooms", "list", "--anime", "frieren", "--json")).stdout
    )
    assert room_id in {room["room_id"] for room in listed}
    table = ok(invoke(stack, bob, "rooms", "list", "--anime", "frieren")).stdout
    assert room_id in table and "Frieren night" in table
    # Listing is a public read: no identity was made for it.
    assert not (bob / "sessions.json").exists()

    joined = ok(invoke(stack, bob, "rooms", "join", room_id, "-u", "bob")).output
    assert f"joined room {room_id}" in joined and "alice (host)" in joined and "bob" in joined

    # The same config directory is the same user: alice is still the host.
    again = json.loads(ok(invoke(stack, alice, "rooms", "join", room_id, "--json")).stdout)
    assert again["rejoined"] and again["member"]["is_host"]
    assert (alice / "sessions.json").stat().st_mode & 0o077 == 0, "tokens readable by others"

    left = ok(invoke(stack, alice, "rooms", "leave", room_id)).output
    assert f"left room {room_id}" in left and "host role moved on" in left
    after = json.loads(ok(invoke(stack, bob, "rooms", "join", room_id, "--json")).stdout)
    assert after["member"]["is_host"], "bob, the earliest member left, hosts now"


@pytest.mark.usefixtures("fresh_address")
def test_a_private_room_needs_its_access_key(stack: Stack, tmp_path: Path) -> None:
    created = create(stack, tmp_path / "host", "Secret club", "--private")
    room_id, key = created["room"]["room_id"], created["access_key"]
    assert re.fullmatch(r"[0-9]{6}", key)
    text = ok(
        invoke(
            stack, tmp_path / "host2", "rooms", "create", "Another", "--anime-id", "frieren",
            "--video-url", VIDEO, "--private",
        )
    ).output  # fmt: skip
    assert "access key:" in text and "--access-key" in text

    # Without a key a private room is not found (it cannot be told from a missing one).
    refused = invoke(stack, tmp_path / "guest", "rooms", "join", room_id)
    assert refused.exit_code == 1
    assert f"room {room_id} not found (a private room needs --access-key or --invite)" in (
        refused.output
    )
    wrong = "000000" if key != "000000" else "111111"
    guessed = invoke(stack, tmp_path / "guest", "rooms", "join", room_id, "-a", wrong)
    assert guessed.exit_code == 1
    assert f"room {room_id} not found, or the access key is wrong" in guessed.output
    ok(invoke(stack, tmp_path / "guest", "rooms", "join", room_id, "--access-key", key))
    missing = invoke(stack, tmp_path / "guest", "rooms", "join", "zzzzzzzzzz")
    assert missing.exit_code == 1 and "room zzzzzzzzzz not found" in missing.output


@pytest.mark.usefixtures("fresh_address")
def test_a_host_invites_and_rotates_the_key(stack: Stack, tmp_path: Path) -> None:
    created = create(stack, tmp_path / "host", "Secret club", "--private")
    room_id, key = created["room"]["room_id"], created["access_key"]
    invite = json.loads(
        ok(invoke(stack, tmp_path / "host", "rooms", "invite", room_id, "--json")).stdout
    )
    token = invite["invite_token"]
    joined = json.loads(
        ok(invoke(stack, tmp_path / "guest", "rooms", "join", "--invite", token, "--json")).stdout
    )
    assert joined["room"]["room_id"] == room_id
    rotated = ok(invoke(stack, tmp_path / "host", "rooms", "rotate-key", room_id)).output
    assert f"new access key of {room_id}" in rotated
    late = invoke(stack, tmp_path / "late", "rooms", "join", "--invite", token)
    assert late.exit_code == 1 and f"room {room_id} not found" in late.output
    stale = invoke(stack, tmp_path / "late", "rooms", "join", room_id, "-a", key)
    assert stale.exit_code == 1
    bad = invoke(stack, tmp_path / "late", "rooms", "join", "--invite", "nonsense")
    assert bad.exit_code == 1 and "not an invite token" in bad.output


def test_a_bad_video_url_says_it_must_be_http(stack: Stack, tmp_path: Path) -> None:
    refused = invoke(
        stack, tmp_path / "u", "rooms", "create", "Frieren night", "--anime-id", "frieren",
        "--video-url", "frieren-01.mkv",
    )  # fmt: skip
    assert refused.exit_code == 1
    assert "video_url: must be an http(s) URL" in refused.output


def test_watch_without_mpv_names_the_options(stack: Stack, tmp_path: Path) -> None:
    video = tmp_path / "frieren-01.mkv"
    video.write_bytes(b"")
    result = invoke(
        stack, tmp_path / "u", "watch", "zzzzzzzzzz", str(video), "--mpv", "no-such-mpv",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "mpv not found ('no-such-mpv' is not on PATH)" in result.output
    assert "--mpv PATH" in result.output and "--player simulated" in result.output
    assert "mpv=" not in result.output, "the Python argument is no option of the command"


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [path]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        paths += _command_paths(sub, (*path, name))
    return paths


def test_help_shows_no_python_types() -> None:
    paths = _command_paths(typer.main.get_command(app))
    assert ("db", "reset") in paths and ("rooms", "create") in paths  # plugins' commands too
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        tags = re.findall(r"<[a-z |\[\]]+>|\{[A-Za-z_]+\}", result.output)
        assert tags == [], f"watchium {' '.join(path)} --help shows {tags}"
    flags = ok(runner.invoke(app, ["rooms", "create", "--help"], env={"COLUMNS": "200"})).output
    assert re.search(r"--video-url +URL ", flags) and re.search(r"--private +Members", flags)


def test_rate_limits_say_how_long_to_wait(stack: Stack, tmp_path: Path) -> None:
    home = tmp_path / "busy"
    for i in range(10):  # room creation: 10 per hour
        create(stack, home, f"room {i}")
    refused = invoke(
        stack, home, "rooms", "create", "one too many", "--anime-id", "frieren",
        "--video-url", VIDEO,
    )  # fmt: skip
    assert refused.exit_code == 1
    assert re.search(r"rate limited \(room_creation\): try again in \d+ (s|min)", refused.output)


def test_errors_say_how_to_start_the_stack(tmp_path: Path) -> None:
    unset: dict[str, str | None] = {
        "WATCHIUM_URL": None,
        "WATCHIUM_PUBLISHABLE_KEY": None,
        "WATCHIUM_ANON_KEY": None,
    }
    data = tmp_path / "data"
    port = str(free_port())
    never_started = invoke(
        None, tmp_path / "u", "rooms", "list", WATCHIUM_DATA_DIR=str(data), WATCHIUM_PORT=port,
        **unset,
    )  # fmt: skip
    assert never_started.exit_code == 1
    assert "make dev" in never_started.output and "--key" in never_started.output

    load_or_create_keys(data)  # started once, not running now
    not_running = invoke(
        None, tmp_path / "u", "rooms", "list", WATCHIUM_DATA_DIR=str(data), WATCHIUM_PORT=port,
        **unset,
    )  # fmt: skip
    assert not_running.exit_code == 1
    assert "is it running?" in not_running.output and "make dev" in not_running.output

    elsewhere = invoke(
        None, tmp_path / "u", "rooms", "list", "--url", f"http://127.0.0.1:{port}",
        "--key", "k", **unset,
    )  # fmt: skip
    assert elsewhere.exit_code == 1 and "cannot reach" in elsewhere.output


def test_either_kind_of_key_works_and_a_secret_key_is_refused(stack: Stack, tmp_path: Path) -> None:
    legacy = {"WATCHIUM_PUBLISHABLE_KEY": None, "WATCHIUM_ANON_KEY": stack.anon_key}
    ok(invoke(stack, tmp_path / "legacy", "rooms", "list", **legacy))
    ok(invoke(stack, tmp_path / "flag", "rooms", "list", "--key", stack.publishable_key))
    for secret in (stack.secret_key, stack.service_role_key):
        refused = invoke(stack, tmp_path / "secret", "rooms", "list", "--key", secret)
        assert refused.exit_code == 1
        assert "that is a secret key" in refused.output and "publishable key" in refused.output


def test_a_malformed_setting_names_the_variable_and_the_value(tmp_path: Path) -> None:
    result = invoke(
        None, tmp_path / "u", "rooms", "list", WATCHIUM_PORT="abc", WATCHIUM_URL=None,
        WATCHIUM_PUBLISHABLE_KEY=None, WATCHIUM_ANON_KEY=None,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "WATCHIUM_PORT: must be a port number (1-65535), got 'abc'" in result.output


# The SDK installed without the `stack` extra: watchium_stack cannot be imported.
SDK_ONLY = """
import logging, sys
sys.modules["watchium_stack"] = None
logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
from watchium_client.cli import main
main()
"""


def test_without_the_local_stack_the_client_commands_still_work(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHIUM_")}
    env.update(WATCHIUM_CONFIG_DIR=str(tmp_path / "u"), WATCHIUM_PORT=str(port))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", SDK_ONLY, *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    listed = run("rooms", "list")
    assert listed.returncode == 1
    assert f"no API key for the local stack at http://127.0.0.1:{port}" in listed.stderr
    assert "watchium_client.cli._plugins: watchium CLI plugin 'stack'" in listed.stderr
    assert "skipped" in listed.stderr
    up = run("up")
    assert up.returncode == 2 and "No such command 'up'" in up.stderr


def test_demo_runs_a_simulated_party(stack: Stack, tmp_path: Path) -> None:
    result = ok(invoke(stack, tmp_path / "demo", "demo", "--members", "2", "--seconds", "6"))
    text = result.stdout
    assert "|drift| in ms while playing" in text
    assert "host: play" in text and "host: seek forward 90 s" in text
    # A two-episode night: the member who stepped away never answers, the check times out and
    # episode 2 starts for everyone; then the host skips its opening.
    assert "queue: episodes 1 and 2; playing 1" in text
    assert "ready check: 2/3 ready, time is up: episode 2 starts for everyone" in text
    assert "host: skip the opening" in text and "refused" not in text
    assert "ep 2" in text
    assert "The server sees 3 of 3 members in sync" in text
    # The identities are kept for the next run.
    cached = json.loads((tmp_path / "demo" / "demo_sessions.json").read_text())
    assert len(cached[stack.url]) == 3


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """20 s of a 440 Hz tone (mono, 8 kHz)."""
    return write_clip(tmp_path / "clip.wav", 20)


class BackgroundHost:
    """A host with a simulated player in a thread of its own (the CLI runs its own loop)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.ready = threading.Event()
        self.room_id = ""
        self.synced: dict[str, bool] = {}
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def __enter__(self) -> BackgroundHost:
        self._thread.start()
        assert self.ready.wait(60), "the host did not start"
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:
            self.error = exc
            self.ready.set()

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        client = await WatchiumClient.connect(self.stack.url, self.stack.anon_key)
        room = NewRoom(title="mpv night", anime_id="frieren", anime_title="F", video_url=VIDEO)
        try:
            async with RoomSession(client, room, username="host", player=SimulatedPlayer()) as s:
                await s.play()
                self.room_id = s.room_id
                self.ready.set()
                await self._stop.wait()
                listed = await client.members(s.room_id)
                self.synced = {m.username: m.is_synced for m in listed.members}
        finally:
            await client.close()


@requires_mpv
@pytest.mark.mpv
def test_watch_keeps_a_real_mpv_in_step(stack: Stack, tmp_path: Path, clip: Path) -> None:
    with BackgroundHost(stack) as host:
        result = ok(
            invoke(
                stack, tmp_path / "viewer", "watch", host.room_id, str(clip), "--headless",
                "--seconds", "5", "-u", "mio",
            )
        )  # fmt: skip
        text = result.output
        assert f"In room {host.room_id}" in text
        match = re.search(r"drift \|p50\| ([\d.]+) ms, p95 ([\d.]+) ms", text)
        assert match, text
        assert float(match.group(2)) < 100, text
    assert host.error is None
    assert "mio" not in host.synced, "the viewer left the room on exit"


@requires_mpv
@pytest.mark.mpv
def test_watch_creates_and_hosts_a_room(stack: Stack, tmp_path: Path, clip: Path) -> None:
    result = ok(
        invoke(
            stack, tmp_path / "host", "watch", "Tonight", str(clip), "--create", "--play",
            "--headless", "--seconds", "3",
        )
    )  # fmt: skip
    assert "You host room" in result.output and "drift |p50|" in result.output


def test_watch_help_reads_whole() -> None:
    result = ok(runner.invoke(app, ["watch", "--help"], env={"COLUMNS": "200"}))
    lines = [line.strip(" │") for line in result.output.splitlines()]
    for sentence in (
        "Join ROOM and keep a local player in sync with it.",
        "As the host, a pause, seek or speed change in the mpv window becomes the room's.",
        "Ctrl-C (or --seconds) leaves the room and prints the drift the sync engine measured.",
    ):
        assert sentence in lines, result.output
    assert "--mpv-arg" in result.output


@requires_mpv
@pytest.mark.mpv
def test_watch_passes_extra_arguments_to_mpv(stack: Stack, tmp_path: Path, clip: Path) -> None:
    with BackgroundHost(stack) as host:
        # An option mpv does not know: mpv refuses to start, and says which.
        refused = invoke(
            stack, tmp_path / "viewer", "watch", host.room_id, str(clip), "--headless",
            "--mpv-arg=--no-such-option=1", "--seconds", "2",
        )  # fmt: skip
        assert refused.exit_code == 1
        assert "mpv:" in refused.output and "no-such-option" in refused.output
        ok(
            invoke(
                stack, tmp_path / "viewer", "watch", host.room_id, str(clip), "--headless",
                "--mpv-arg=--volume=37", "--mpv-arg", "--mute=yes", "--seconds", "2",
            )
        )  # fmt: skip


@requires_mpv
@pytest.mark.mpv
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_ctrl_c_leaves_the_room_and_prints_the_summary(
    stack: Stack, tmp_path: Path, clip: Path, sig: signal.Signals
) -> None:
    # Ctrl-C; a polite kill and a closed terminal leave the same way (mpv would outlive them).
    env = {
        **os.environ,
        "WATCHIUM_URL": stack.url,
        "WATCHIUM_ANON_KEY": stack.anon_key,
        "WATCHIUM_CONFIG_DIR": str(tmp_path / "viewer"),
        "COLUMNS": "200",
    }
    watchium = str(Path(sys.executable).with_name("watchium"))
    with BackgroundHost(stack) as host:
        process = subprocess.Popen(
            [watchium, "watch", host.room_id, str(clip), "--headless", "-u", "mio"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert process.stdout is not None
            seen = []
            for line in process.stdout:  # until it is in the room
                seen.append(line)
                if f"In room {host.room_id}" in line:
                    break
            mpv = [
                child
                for child in Path("/proc").iterdir()
                if child.name.isdigit() and _parent(child) == process.pid
            ]
            process.send_signal(sig)
            rest, _ = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        text = "".join(seen) + rest
        assert process.returncode == 130, text
        assert "Leaving: interrupted." in text
        assert not any(path.exists() for path in mpv), "mpv quit with it"
        # What the engine measured, however little: a summary line either way.
        assert re.search(r"drift \|p50\| [\d.]+ ms|no drift measured", text), text
    assert "mio" not in host.synced, "the viewer left the room on Ctrl-C"


def _parent(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Never touch the real user's config, whatever a test forgets to pass.
    monkeypatch.setenv("WATCHIUM_CONFIG_DIR", "/nonexistent/watchium-tests")
    yield
