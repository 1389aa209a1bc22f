"""Sync on real mpv players: a host and members, each running ``watchium watch`` as a user would.

Every participant is a ``watchium watch ROOM FILE --headless`` process (the real CLI, its own
anonymous user, HTTP calls and Realtime socket, its own headless mpv) against a throwaway stack
on loopback. The benchmark connects a second IPC client to each mpv (`bench._mpv_probe`), finds
where every player really is by mpv's own clocks (``audio-pts``, the audio clock, and
``time-pos``, the frame shown: not the engine's estimate), every 50 ms, all players at once, and
acts there as a user would with a keyboard: the host seeks forward (a relative, keyframe seek),
pauses, plays, changes the speed to 1.25x and back, seeks back (an absolute seek); and a member
pauses its own player. Drift is a member's position minus the host's at the same instant, by
``audio-pts`` while either plays and by ``time-pos`` (where playback resumes) while both are
paused: a player paused after a seek has an audio clock 100-200 ms behind its frame.

* **steady**: samples at least 3 s after the member's last transition, both playing;
* **transitions** (`bench._transitions`): per kind, time to converge within 50 ms, peak drift,
  seeks per member; after a member's own pause, how long its engine kept its hands off;
* **the host's own corrections**: seeks and speed nudges its own engine made to the host's
  player after the host's actions (the room's reference should never be corrected).

    python -m bench.mpv_sync                      # one 4-minute run (about 5 minutes)
    python -m bench.mpv_sync --runs 3             # three runs, reported together
    python -m bench.mpv_sync --quick              # one 70-second run

Writes bench/results/mpv_sync.json. Needs mpv and ffmpeg (the clip is generated, 160x90 at
24 fps with a 440 Hz tone, into a temporary directory). Targets: steady p95 <= 20 ms by the audio
clock; after seek, pause, play and speed, each member within 50 ms within 1 s (p95) and 2 s
(max), peak drift below 100 ms, at most one seek per member per host action, no correction of
the host's player, a member's own pause kept for the engine's 2 s hold.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._common import PROJECT_DIR, child_pids, console, write_results
from bench._mpv_probe import MpvProbe, ProbeLog, Reading
from bench._mpv_report import analyse, check_targets, combine, report
from watchium_stack.harness import Stack, throwaway_stack

__all__ = ["main"]

SAMPLE_EVERY = 0.05
CYCLE = ("seek+", "pause", "play", "speed 1.25", "speed 1", "seek-", "own pause")
CLIP_SECONDS = 1500.0


@dataclass(frozen=True)
class Settings:
    members: int = 2
    seconds: float = 240.0
    gap: float = 8.0
    settle: float = 8.0
    runs: int = 1
    seed: int = 1


QUICK = Settings(seconds=70.0)


@dataclass
class Participant:
    name: str
    process: asyncio.subprocess.Process | None
    output: list[str] = field(default_factory=list)
    probe: MpvProbe | None = None
    log: ProbeLog = field(default_factory=ProbeLog)
    readings: list[Reading | None] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None
    mpv_pid: int | None = None


@dataclass
class Run:
    """What one run recorded, for `bench._mpv_report.analyse`."""

    ticks: list[float] = field(default_factory=list)
    participants: list[Participant] = field(default_factory=list)
    actions: list[tuple[float, str, str]] = field(default_factory=list)
    """(time, what, who): ``what`` from CYCLE; ``who`` is "all" for the host's actions, else the
    member that acted."""
    joined: dict[str, float] = field(default_factory=dict)
    ended: float = 0.0


# ---------------------------------------------------------------------- media and processes


def make_clip(directory: Path, seconds: float) -> Path:
    """A small video with a tone, so mpv has both clocks (audio and frames) to report."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SystemExit("ffmpeg not found: install it (Debian: apt-get install ffmpeg)")
    path = directory / "clip.mkv"
    subprocess.run(
        [
            ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc=size=160x90:rate=24",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", "24",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-shortest", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


def _watchium() -> str:
    script = Path(sys.executable).with_name("watchium")
    if not script.exists():
        raise SystemExit(f"{script} not found: run `make setup` first")
    return str(script)


async def start_participant(
    name: str, args: list[str], env: dict[str, str], ready: re.Pattern[str]
) -> tuple[Participant, re.Match[str]]:
    process = await asyncio.create_subprocess_exec(
        _watchium(), "watch", *args, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    participant = Participant(name, process)
    matched: asyncio.Future[re.Match[str]] = asyncio.get_running_loop().create_future()

    async def read() -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            participant.output.append(line)
            found = ready.search(line)
            if found and not matched.done():
                matched.set_result(found)
        if not matched.done():
            matched.set_exception(RuntimeError(f"{name} exited: {participant.output[-5:]}"))

    participant.reader = asyncio.create_task(read())
    async with asyncio.timeout(60):
        match = await matched
    return participant, match


def find_mpv(pid: int) -> tuple[int, Path]:
    """The mpv a ``watchium watch`` process started, and its IPC socket."""
    for child in child_pids(pid):
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for arg in argv:
            if arg.startswith(b"--input-ipc-server="):
                return child, Path(arg.split(b"=", 1)[1].decode())
    raise RuntimeError(f"no mpv child with an IPC socket under process {pid}")


async def stop_participant(participant: Participant) -> None:
    process = participant.process
    if process is not None and process.returncode is None:
        process.send_signal(signal.SIGINT)  # Ctrl-C, as a user leaves
        try:
            async with asyncio.timeout(20):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
            if participant.mpv_pid is not None:  # it no longer can quit its mpv
                with contextlib.suppress(ProcessLookupError):
                    os.kill(participant.mpv_pid, signal.SIGKILL)
    if participant.reader is not None:
        with contextlib.suppress(Exception):
            await participant.reader


# ---------------------------------------------------------------------- one run


async def run_once(stack: Stack, clip: Path, settings: Settings, index: int) -> Run:
    work = Path(tempfile.mkdtemp(prefix="watchium-mpv-bench-"))
    (work / "mpv-home").mkdir()  # no user mpv config: every player starts the same
    base_env = {
        **os.environ,
        "WATCHIUM_URL": stack.url,
        "WATCHIUM_ANON_KEY": stack.anon_key,
        "MPV_HOME": str(work / "mpv-home"),
        "COLUMNS": "200",
        "PYTHONUNBUFFERED": "1",
    }
    run = Run()
    rng = random.Random(settings.seed * 100 + index)
    try:
        host, found = await start_participant(
            "host",
            [f"mpv bench {index}", str(clip), "--create", "--play", "--headless", "-u", "host"],
            {**base_env, "WATCHIUM_CONFIG_DIR": str(work / "host")},
            re.compile(r"You host room (\w+)"),
        )
        run.participants.append(host)
        room_id = found.group(1)
        run.joined["host"] = time.monotonic()
        started = await asyncio.gather(
            *(
                start_participant(
                    f"m{i}",
                    [room_id, str(clip), "--headless", "-u", f"m{i}"],
                    {**base_env, "WATCHIUM_CONFIG_DIR": str(work / f"m{i}")},
                    re.compile(r"In room "),
                )
                for i in range(1, settings.members + 1)
            )
        )
        for member, _ in started:
            run.participants.append(member)
            run.joined[member.name] = time.monotonic()
        for participant in run.participants:
            assert participant.process is not None
            participant.mpv_pid, socket_path = find_mpv(participant.process.pid)
            participant.probe = await MpvProbe.connect(participant.name, socket_path)
            participant.log = participant.probe.log
        sampler = asyncio.create_task(_sample(run))
        try:
            await _script(run, settings, rng)
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        run.ended = time.monotonic()
    finally:
        for participant in run.participants:
            if participant.probe is not None:
                await participant.probe.close()
        await asyncio.gather(*(stop_participant(p) for p in run.participants))
        shutil.rmtree(work, ignore_errors=True)
    return run


async def _sample(run: Run) -> None:
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    while True:
        next_at += SAMPLE_EVERY
        await asyncio.sleep(max(0.0, next_at - loop.time()))
        probes = [p.probe for p in run.participants]
        readings = await asyncio.gather(
            *(probe.read() for probe in probes if probe is not None), return_exceptions=True
        )
        run.ticks.append(time.monotonic())
        for participant, reading in zip(run.participants, readings, strict=True):
            participant.readings.append(reading if isinstance(reading, Reading) else None)


async def _script(run: Run, settings: Settings, rng: random.Random) -> None:
    host = run.participants[0].probe
    members = run.participants[1:]
    assert host is not None
    begin = time.monotonic() + settings.settle
    step = 0
    while True:
        when = begin + step * settings.gap
        if when > begin + settings.seconds - settings.gap:
            break
        await asyncio.sleep(max(0.0, when - time.monotonic()))
        what = CYCLE[step % len(CYCLE)]
        now = time.monotonic()
        if what == "own pause":
            member = members[(step // len(CYCLE)) % len(members)]
            assert member.probe is not None
            run.actions.append((now, what, member.name))
            await member.probe.command("set_property", "pause", True)
        else:
            run.actions.append((now, what, "all"))
            await _host_action(host, what, rng)
        step += 1
    await asyncio.sleep(max(0.0, begin + step * settings.gap - time.monotonic()))


async def _host_action(host: MpvProbe, what: str, rng: random.Random) -> None:
    if what == "pause":
        await host.command("set_property", "pause", True)
    elif what == "play":
        await host.command("set_property", "pause", False)
    elif what.startswith("speed"):
        await host.command("set_property", "speed", float(what.split()[1]))
    elif what == "seek+":
        position = float(await host.command("get_property", "time-pos") or 0.0)
        if position > CLIP_SECONDS - 200:
            await host.command("seek", rng.uniform(60, 300), "absolute")
        else:
            # The arrow keys: relative, to a keyframe.
            await host.command("seek", round(rng.uniform(30, 90)), "relative")
    else:  # seek-: a click on the seek bar, to an exact position
        position = float(await host.command("get_property", "time-pos") or 0.0)
        await host.command("seek", max(5.0, position - rng.uniform(10, 40)), "absolute")


def trace(run: Run) -> dict[str, Any]:
    """Everything a run recorded, times in seconds from its first reading."""
    zero = run.ticks[0] if run.ticks else 0.0

    def rel(t: float) -> float:
        return round(t - zero, 4)

    participants = {}
    for p in run.participants:
        participants[p.name] = {
            "readings": [
                None if r is None else [rel(r.at), r.audio_pts, r.time_pos, r.speed, r.paused]
                for r in p.readings
            ],
            "seeks": [rel(t) for t in p.log.seeks],
            "speeds": [(rel(t), v) for t, v in p.log.speeds],
            "pauses": [(rel(t), v) for t, v in p.log.pauses],
            "output": p.output[-20:],
        }
    return {
        "actions": [(rel(t), what, who) for t, what, who in run.actions],
        "joined": {name: rel(t) for name, t in run.joined.items()},
        "ended": rel(run.ended),
        "participants": participants,
    }


def from_trace(data: dict[str, Any]) -> Run:
    """A run back from `trace` (to analyse it again)."""
    last = max(
        (r[0] for p in data["participants"].values() for r in p["readings"] if r is not None),
        default=0.0,
    )
    run = Run(
        actions=[(t, what, who) for t, what, who in data["actions"]],
        joined=dict(data["joined"]),
        ended=data.get("ended", last),
    )
    for name, p in data["participants"].items():
        readings = [None if r is None else Reading(*r) for r in p["readings"]]
        log = ProbeLog(
            seeks=list(p["seeks"]),
            speeds=[(t, v) for t, v in p["speeds"]],
            pauses=[(t, v) for t, v in p["pauses"]],
        )
        run.participants.append(Participant(name, None, list(p["output"]), None, log, readings))
    return run


# ---------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mpv_sync", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one 70-second run")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--members", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None, help="length of each run")
    parser.add_argument("--label", default="", help="a name for this measurement in the JSON")
    parser.add_argument(
        "--trace", action="store_true", help="also write every reading to mpv_sync_trace.json"
    )
    parser.add_argument("--analyse", metavar="TRACE", help="report on a trace written before")
    args = parser.parse_args(argv)
    if args.analyse:
        runs = [from_trace(r) for r in json.loads(Path(args.analyse).read_text())["runs"]]
        results = [analyse(run) for run in runs]
        total = combine(results)
        report(results, total)
        missed = check_targets(total)
        for line in missed:
            console.print(f"[red]missed:[/] {line}")
        return 1 if missed else 0
    settings = QUICK if args.quick else Settings()
    overrides = {
        key: value
        for key, value in (
            ("runs", args.runs),
            ("members", args.members),
            ("seconds", args.seconds),
        )
        if value is not None
    }
    settings = Settings(**{**settings.__dict__, **overrides})
    if shutil.which("mpv") is None:
        raise SystemExit("mpv not found: install it (Debian: apt-get install mpv)")
    began = time.monotonic()
    results = []
    traces = []
    with tempfile.TemporaryDirectory(prefix="watchium-mpv-clip-") as media:
        console.print(f"Generating a {CLIP_SECONDS / 60:.0f}-minute clip with ffmpeg...")
        clip = make_clip(Path(media), CLIP_SECONDS)
        console.print("Starting a throwaway stack (PostgreSQL, functions, Realtime)...")
        with throwaway_stack() as stack:
            for index in range(settings.runs):
                console.print(
                    f"[bold]run {index + 1}/{settings.runs}[/]: host + {settings.members} "
                    f"members, {settings.seconds:.0f} s"
                )
                run = asyncio.run(run_once(stack, clip, settings, index))
                results.append(analyse(run))
                if args.trace:
                    traces.append(trace(run))
    total = combine(results)
    report(results, total)
    missed = check_targets(total)
    data: dict[str, Any] = {
        "benchmark": "mpv_sync",
        "label": args.label,
        "settings": settings.__dict__,
        "elapsed_s": round(time.monotonic() - began, 1),
        "missed": missed,
        "total": total,
        "runs": [{k: v for k, v in r.items() if not k.startswith("_")} for r in results],
    }
    if traces:
        write_results("mpv_sync_trace", {"runs": traces})
    path = write_results("mpv_sync", data)
    console.print(f"results: {path.relative_to(PROJECT_DIR)}")
    for line in missed:
        console.print(f"[red]missed:[/] {line}")
    if not missed:
        console.print("[green]all targets met[/]")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
