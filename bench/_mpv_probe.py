"""A second IPC client on a participant's mpv: what bench.mpv_sync reads and does there.

It is written against mpv's JSON IPC protocol directly, not with the code under test, so what it
measures is mpv's own clock: ``audio-pts`` (the audio clock, what is heard) and ``time-pos`` (the
frame shown), read together on request. It also records every ``seek`` mpv starts and every
change of ``speed`` and ``pause``, whoever made it, with the local time it was reported. Commands
it sends (``set pause yes``, ``seek 30 relative``) are to mpv the same as a key press: the
participant's player reports them as its user's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["MpvProbe", "ProbeLog", "Reading"]

_TIMEOUT = 5.0
_OBSERVED = {1: "speed", 2: "pause"}


@dataclass(frozen=True, slots=True)
class Reading:
    """One reading of a player's clocks, taken at local time ``at`` (the round trip's middle)."""

    at: float
    audio_pts: float | None
    time_pos: float | None
    speed: float
    paused: bool


@dataclass
class ProbeLog:
    """What happened in one mpv, with the local time it was reported."""

    seeks: list[float] = field(default_factory=list)
    speeds: list[tuple[float, float]] = field(default_factory=list)
    pauses: list[tuple[float, bool]] = field(default_factory=list)


class MpvProbe:
    """One IPC connection to an mpv someone else started (see the module docstring)."""

    def __init__(self, name: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.name = name
        self._reader = reader
        self._writer = writer
        self._next_id = 100
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._task: asyncio.Task[None] | None = None
        self.log = ProbeLog()
        self.speed = 1.0
        self.paused = True

    @classmethod
    async def connect(cls, name: str, path: Path) -> MpvProbe:
        reader, writer = await asyncio.open_unix_connection(str(path))
        probe = cls(name, reader, writer)
        probe._task = asyncio.create_task(probe._read(), name=f"probe-{name}")
        for number, prop in _OBSERVED.items():
            await probe.command("observe_property", number, prop)
        return probe

    async def command(self, *args: Any) -> Any:
        """Sends one command and returns its ``data``.

        Raises:
            RuntimeError: mpv answered with an error.
        """
        return await self._send(list(args))

    async def read(self) -> Reading:
        """``audio-pts`` and ``time-pos`` together (two requests in one write)."""
        loop = asyncio.get_running_loop()
        futures = []
        lines = []
        for prop in ("audio-pts", "time-pos"):
            self._next_id += 1
            future: asyncio.Future[Any] = loop.create_future()
            self._waiting[self._next_id] = future
            futures.append(future)
            lines.append(
                json.dumps({"command": ["get_property", prop], "request_id": self._next_id})
            )
        sent = time.monotonic()
        self._writer.write(("\n".join(lines) + "\n").encode())
        async with asyncio.timeout(_TIMEOUT):
            audio, frame = [await future for future in futures]
        done = time.monotonic()
        return Reading(
            at=(sent + done) / 2,
            audio_pts=audio if isinstance(audio, int | float) else None,
            time_pos=frame if isinstance(frame, int | float) else None,
            speed=self.speed,
            paused=self.paused,
        )

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()

    async def _send(self, command: list[Any]) -> Any:
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        self._writer.write(
            (json.dumps({"command": command, "request_id": request_id}) + "\n").encode()
        )
        async with asyncio.timeout(_TIMEOUT):
            return await future

    async def _read(self) -> None:
        while True:
            line = await self._reader.readline()
            if not line:
                for future in self._waiting.values():
                    if not future.done():
                        future.set_exception(ConnectionError(f"{self.name}: mpv went away"))
                return
            now = time.monotonic()
            message = json.loads(line)
            request_id = message.get("request_id")
            if request_id in self._waiting:
                future = self._waiting.pop(request_id)
                if future.done():
                    continue
                error = message.get("error")
                if error not in ("success", "property unavailable"):
                    future.set_exception(RuntimeError(f"{self.name}: mpv says {error}"))
                else:
                    future.set_result(message.get("data"))
                continue
            event = message.get("event")
            if event == "seek":
                self.log.seeks.append(now)
            elif event == "property-change":
                name, data = message.get("name"), message.get("data")
                if name == "speed" and isinstance(data, int | float):
                    self.speed = float(data)
                    self.log.speeds.append((now, self.speed))
                elif name == "pause" and isinstance(data, bool):
                    self.paused = data
                    self.log.pauses.append((now, data))
