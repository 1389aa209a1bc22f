"""The local stack's demo clip: two minutes of a test pattern with the playback time burnt in
(and a quiet tone), made with ffmpeg at ``make setup``, served by the gateway at
``/demo/clip.mp4``. The clock on the picture makes sync visible: two windows of the same room
show the same time.

    python -m watchium_stack.democlip web/dist/demo/clip.mp4

H.264 and AAC in MP4 with the index up front (plays while it downloads) and a key frame every
half second (seeks land quickly). Without ffmpeg it says so and makes nothing: the page then
asks for a video URL or a local file instead.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["SECONDS", "make_clip"]

SECONDS = 120
_CLOCK = (
    "drawtext=text='%{pts\\:hms}':fontsize=56:fontcolor=white:box=1:boxcolor=black@0.7:"
    "boxborderw=8:x=(w-tw)/2:y=h-th-24"
)


def make_clip(out: Path, *, seconds: int = SECONDS) -> bool:
    """Writes the clip to ``out`` (atomically). False when ffmpeg is not installed.

    Raises:
        RuntimeError: ffmpeg failed (with its message).
    """
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial.mp4")
    command = [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25,{_CLOCK}",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", str(seconds),
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "30", "-pix_fmt", "yuv420p", "-g", "12",
        "-af", "volume=0.1", "-c:a", "aac", "-b:a", "48k",
        "-movflags", "+faststart", str(partial),
    ]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"ffmpeg failed: {proc.stderr.strip()[-2000:]}")
    partial.replace(out)
    return True


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m watchium_stack.democlip OUT.mp4", file=sys.stderr)
        return 2
    out = Path(args[0])
    try:
        made = make_clip(out)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    if not made:
        print("ffmpeg not found: no demo clip (apt-get install ffmpeg, then make setup)")
        return 0
    print(f"made the demo clip {out} ({SECONDS} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
