"""The web app, served by the local gateway at ``/``: the built page (``web/dist``), its
``config.json`` and the demo clip, with HTTP Range requests so the video can seek.

``config.json`` is made per request from the gateway's settings: the publishable key, no URL
(the page then talks to the origin it was loaded from, so the same page works through any
proxy in front of the gateway), the demo clip, and ``videoAliases``: the seed data's video URLs
(``supabase/seed.sql``, placeholders valid on any deployment) mapped to the demo clip, so the
seed rooms play something here. A deployment next to hosted Supabase serves ``web/dist`` as
static files with its own ``config.json`` (docs/WEB.md).
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import re
from email.utils import formatdate
from pathlib import Path

from watchium_functions.asgi import Receive, Scope, Send

__all__ = ["DEMO_CLIP", "StaticSite", "seed_video_urls"]

DEMO_CLIP = "demo/clip.mp4"
_CHUNK = 256 * 1024
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".txt": "text/plain; charset=utf-8",
}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_SEED_URL = re.compile(r"p_video_url\s*=>\s*'([^']+)'")
_NOT_BUILT = (
    b"<!doctype html><meta charset=utf-8><title>Watchium</title>"
    b"<p>The web app is not built yet: run <code>make setup</code> (it needs Node.js 20 and npm)."
)


def seed_video_urls(seed_file: Path) -> list[str]:
    """The video URLs the seed data's rooms are created with."""
    try:
        return _SEED_URL.findall(seed_file.read_text())
    except OSError:
        return []


class StaticSite:
    """Serves ``root`` (the built page) for GET and HEAD, ``/config.json`` from ``config``."""

    def __init__(self, root: Path, *, publishable_key: str, seed_file: Path) -> None:
        self.root = root.resolve()
        self.publishable_key = publishable_key
        self.seed_file = seed_file

    def config(self) -> dict[str, object]:
        clip = (self.root / DEMO_CLIP).is_file()
        return {
            "supabaseUrl": None,
            "publishableKey": self.publishable_key,
            "demoClip": DEMO_CLIP if clip else None,
            "videoAliases": {url: DEMO_CLIP for url in seed_video_urls(self.seed_file)}
            if clip
            else {},
        }

    def _file(self, path: str) -> Path | None:
        relative = path.lstrip("/") or "index.html"
        if any(part.startswith(".") for part in relative.split("/")):
            return None
        candidate = (self.root / relative).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return candidate

    def handles(self, scope: Scope) -> bool:
        """Whether this is a request for the page (anything else keeps the gateway's 404)."""
        if scope["method"] not in ("GET", "HEAD"):
            return False
        path: str = scope["path"]
        return path in ("/", "/config.json") or self._file(path) is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        head = scope["method"] == "HEAD"
        if path == "/config.json":
            body = json.dumps(self.config()).encode()
            await _send(send, 200, body, "application/json", head=head)
            return
        file = self._file(path)
        if file is None:
            await _send(send, 503, _NOT_BUILT, "text/html; charset=utf-8", head=head)
            return
        await self._send_file(scope, send, file, head)

    async def _send_file(self, scope: Scope, send: Send, file: Path, head: bool) -> None:
        stat = file.stat()
        size = stat.st_size
        kind = _TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0]
        headers = [
            (b"content-type", (kind or "application/octet-stream").encode()),
            (b"accept-ranges", b"bytes"),
            (b"last-modified", formatdate(stat.st_mtime, usegmt=True).encode()),
            # The page is rebuilt in place by `make setup`: always revalidate.
            (b"cache-control", b"no-cache"),
            (b"x-content-type-options", b"nosniff"),
        ]
        start, end, status = 0, size - 1, 200
        requested = _header(scope, b"range")
        if requested is not None:
            parsed = _parse_range(requested, size)
            if parsed is None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 416,
                        "headers": [(b"content-range", f"bytes */{size}".encode())],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
            start, end = parsed
            status = 206
            headers.append((b"content-range", f"bytes {start}-{end}/{size}".encode()))
        length = max(0, end - start + 1)
        headers.append((b"content-length", str(length).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if head or length == 0:
            await send({"type": "http.response.body", "body": b""})
            return
        with file.open("rb") as handle:
            handle.seek(start)
            left = length
            while left > 0:
                chunk = await asyncio.to_thread(handle.read, min(_CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": left > 0})
        if left > 0:  # the file shrank underneath: end the body anyway
            await send({"type": "http.response.body", "body": b""})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _parse_range(value: str, size: int) -> tuple[int, int] | None:
    """One ``bytes=a-b`` range within a file of ``size`` bytes (None: not satisfiable)."""
    match = _RANGE.match(value.strip())
    if match is None or size == 0:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        start, end = max(0, size - int(last)), size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        return None
    return start, end


async def _send(send: Send, status: int, body: bytes, kind: str, *, head: bool) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-cache"),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else body})
