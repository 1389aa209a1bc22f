"""What the tests of a real mpv share: the skip marker, a clip they write themselves, and a
second IPC client on the player's socket.

Actions "in mpv's own UI" are made from that second client: to mpv it is the same as a key
press, and the player must report it as the user's.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import struct
import subprocess
import wave
from pathlib import Path
from typing import Any

import pytest

__all__ = ["TIMEOUT", "RawClient", "requires_ffmpeg", "requires_mpv", "write_clip", "write_video"]

# Skipped only when the binary is absent (CI installs it); a failing mpv fails the test.
requires_mpv = pytest.mark.skipif(
    shutil.which("mpv") is None, reason="the mpv binary is not installed (apt-get install mpv)"
)
requires_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="ffmpeg is not installed (apt-get install ffmpeg)"
)
TIMEOUT = 15.0


def write_clip(path: Path, seconds: float, rate: int = 8000) -> Path:
    """A mono 16-bit WAV with a 440 Hz tone."""
    frames = int(seconds * rate)
    with wave.open(str(path), "wb") as clip:
        clip.setnchannels(1)
        clip.setsampwidth(2)
        clip.setframerate(rate)
        clip.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
                for i in range(frames)
            )
        )
    return path


def write_video(path: Path, seconds: float, *, fps: int = 10, keyframe_every: int = 25) -> Path:
    """A tiny video with a tone: frames every 1/``fps`` s, a keyframe every ``keyframe_every``
    frames (so a keyframe seek lands visibly away from its target)."""
    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc=size=64x48:rate={fps}",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast",
            "-g", str(keyframe_every), "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
            str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


class RawClient:
    """A second IPC client: what a key press in mpv or a remote-control script does.

    Written against the protocol directly, not with the code under test.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.next_id = 1000

    @classmethod
    async def connect(cls, path: Path) -> RawClient:
        reader, writer = await asyncio.open_unix_connection(str(path))
        return cls(reader, writer)

    async def command(self, *args: Any) -> dict[str, Any]:
        self.next_id += 1
        request_id = self.next_id
        self.writer.write(
            (json.dumps({"command": list(args), "request_id": request_id}) + "\n").encode()
        )
        await self.writer.drain()
        while True:
            async with asyncio.timeout(TIMEOUT):
                line = await self.reader.readline()
            if not line:
                raise ConnectionError("mpv closed the connection")
            message = json.loads(line)
            if message.get("request_id") == request_id:
                return message  # type: ignore[no-any-return]

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()
