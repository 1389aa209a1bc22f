"""Timed replay: an episode's comments from every party that watched it, shown when the video
reaches the moment they were written at.

The replay asks the server for one window of the video at a time (``comments-replay``),
``lookahead`` seconds ahead of the playhead, and fetches the next one when the playhead is
halfway through what it has. Between fetches it sleeps until the next comment is due, by the
playhead's rate, so a comment is handed over within milliseconds of its video timestamp. A seek
(the playhead moving other than at its rate) or a new episode drops what was fetched and starts
again from the new position; comments passed over by a seek are not shown.

The playhead is a function: the session gives the room's playback model on the server's clock,
so the replay needs no round trip to the player.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from watchium_wire import ReplayComment, ReplayWindow

__all__ = ["CommentReplay", "Playhead", "ReplayMode", "ReplayTimings"]

logger = logging.getLogger(__name__)

ReplayMode = Literal["all", "room", "off"]
"""Every party's comments, the viewer's room's only, or none."""


@dataclass(frozen=True, slots=True)
class Playhead:
    """Where the video is: ``episode`` (anime id, episode number), ``position`` in seconds and
    ``rate`` (playback speed while it plays, 0 while paused or waiting for a scheduled start)."""

    episode: tuple[str, int]
    position: float
    rate: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayTimings:
    lookahead: float = 30.0
    """Seconds of video fetched per window (the server takes at most 120)."""
    idle: float = 0.25
    """Longest sleep between two looks at the playhead (a seek or pause is seen this soon)."""
    seek_tolerance: float = 1.0
    """The playhead more than this far from where its rate would have taken it: a seek."""
    late: float = 1.0
    """A comment more than this late (the loop was held up) is dropped rather than shown."""
    retry: float = 2.0
    """Pause after a failed fetch."""


Fetch = Callable[[tuple[str, int], float, float], Awaitable[ReplayWindow]]


class CommentReplay:
    """Hands timed comments to ``show`` as the playhead reaches them.

    Args:
        fetch: gets the window [start, end) of an episode's comments (``comments-replay``).
        playhead: where the video is now (None while unknown).
        show: called with each comment and the playhead position it was shown at.
        timings: fetch and sleep tunables.
        clock: a monotonic clock (seconds).
    """

    def __init__(
        self,
        fetch: Fetch,
        playhead: Callable[[], Playhead | None],
        show: Callable[[ReplayComment, float], None],
        *,
        timings: ReplayTimings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._playhead = playhead
        self._show = show
        self.timings = timings or ReplayTimings()
        self._clock = clock
        self._pending: list[tuple[float, str, ReplayComment]] = []
        self._shown: set[str] = set()
        self._episode: tuple[str, int] | None = None
        self._fetched_to: float | None = None
        self._last: tuple[float, float, float] | None = None  # local time, position, rate
        self._fetching: asyncio.Task[None] | None = None
        self._retry_at = 0.0
        self.fetches = 0
        """Windows fetched so far."""

    async def run(self) -> None:
        """Runs until cancelled."""
        try:
            while True:
                await asyncio.sleep(self.step())
        finally:
            if self._fetching is not None:
                self._fetching.cancel()

    def step(self) -> float:
        """One look at the playhead: shows what is due, fetches ahead if needed; returns how
        long to sleep."""
        t = self.timings
        head = self._playhead()
        now = self._clock()
        if head is None:
            self._last = None
            return t.idle
        if head.episode != self._episode or self._jumped(head, now):
            self._restart(head)
        self._last = (now, head.position, head.rate)

        while self._pending and self._pending[0][0] <= head.position:
            at, comment_id, comment = self._pending.pop(0)
            if comment_id in self._shown or head.position - at > t.late:
                continue
            self._shown.add(comment_id)
            self._show(comment, head.position)

        if self._needs_fetch(head, now):
            start = head.position if self._fetched_to is None else self._fetched_to
            self._fetching = asyncio.create_task(
                self._load(head.episode, start, start + t.lookahead), name="watchium-replay-fetch"
            )

        if head.rate <= 0 or not self._pending:
            return t.idle
        due = (self._pending[0][0] - head.position) / head.rate
        return min(max(due, 0.0), t.idle)

    def _jumped(self, head: Playhead, now: float) -> bool:
        if self._last is None:
            return False
        then, position, rate = self._last
        expected = position + (now - then) * rate
        return abs(head.position - expected) > self.timings.seek_tolerance

    def _restart(self, head: Playhead) -> None:
        """A new episode or a seek: what was fetched is dropped and fetched again from the new
        position (after a seek back, comments are shown again)."""
        if self._fetching is not None:
            self._fetching.cancel()
            self._fetching = None
        self._shown.clear()
        self._episode = head.episode
        self._pending.clear()
        self._fetched_to = None
        self._retry_at = 0.0

    def _needs_fetch(self, head: Playhead, now: float) -> bool:
        if self._fetching is not None and not self._fetching.done():
            return False
        if now < self._retry_at:
            return False
        if self._fetched_to is None:
            return True
        return self._fetched_to - head.position < self.timings.lookahead / 2

    async def _load(self, episode: tuple[str, int], start: float, end: float) -> None:
        try:
            window = await self._fetch(episode, start, end)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a refusal or no answer: try again shortly
            logger.warning("timed comments %.0f-%.0f s: %s", start, end, exc)
            self._retry_at = self._clock() + self.timings.retry
            return
        if episode != self._episode:
            return
        self.fetches += 1
        self._fetched_to = end
        for comment in window.comments:
            if comment.id not in self._shown:
                bisect.insort(self._pending, (comment.video_timestamp, comment.id, comment))
