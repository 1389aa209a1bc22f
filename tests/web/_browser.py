"""What the browser tests share: Chromium (Debian's package, through Playwright), waiting for a
condition, and reading a page's real <video> against the room's authoritative row.

The room's live position is computed from its row in the database (position, reference time,
speed) at the instant the page read ``video.currentTime``: the browser and PostgreSQL run on
this machine, so they share its clock.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from tests._pg import PROJECT_DIR

TIMEOUT = 30.0  # generous: the machine is shared; a broken page never gets there anyway
SYNCED = 0.100  # |video.currentTime - room position| required once converged (seconds)
WEB_DIST = PROJECT_DIR / "web" / "dist"


def require_built_page() -> None:
    if not (WEB_DIST / "index.html").is_file() or not (WEB_DIST / "demo" / "clip.mp4").is_file():
        raise RuntimeError("the web app or its demo clip is not built: run make setup")


def until(predicate: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    """Polls ``predicate`` until it returns something truthy (returned), failing after
    ``timeout`` with ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what} (last: {last!r})")
        time.sleep(0.1)


@dataclass(frozen=True)
class RoomRow:
    position: float
    playing: bool
    speed: float
    updated_at: float
    host_user_id: str

    def live(self, at: float) -> float:
        """Where the room is at epoch time ``at``."""
        if not self.playing:
            return self.position
        return max(0.0, self.position + max(0.0, at - self.updated_at) * self.speed)


class Rooms:
    """Reads rooms as the database has them."""

    def __init__(self, db_url: str) -> None:
        self.conn = psycopg.connect(db_url, autocommit=True)

    def row(self, room_id: str) -> RoomRow:
        found = self.conn.execute(
            "select current_playback_time, is_playing, playback_speed,"
            " extract(epoch from playback_updated_at), host_user_id::text"
            " from public.rooms where room_id = %s",
            (room_id,),
        ).fetchone()
        assert found is not None, f"room {room_id} is gone"
        return RoomRow(float(found[0]), bool(found[1]), float(found[2]), float(found[3]), found[4])

    def close(self) -> None:
        self.conn.close()


def probe(page: Any) -> dict[str, Any]:
    """The page's <video> and sync engine, read at one instant (``at``: epoch seconds)."""
    result: dict[str, Any] = page.evaluate(
        "() => window.watchiumRoom && window.watchiumRoom.probe()"
    )
    assert result, "the page shows no room"
    return result


def video_offset(page: Any, rooms: Rooms, room_id: str) -> float:
    """The page's video.currentTime minus the room's live position at that instant."""
    p = probe(page)
    return float(p["currentTime"]) - rooms.row(room_id).live(float(p["at"]))


def screenshot(page: Any, name: str, fallback_dir: Path) -> Path:
    """Saves a screenshot: into WATCHIUM_SCREENSHOTS (docs/web to refresh the documentation's)
    when set, else next to the test's temporary files."""
    folder = Path(os.environ.get("WATCHIUM_SCREENSHOTS") or fallback_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    return path
