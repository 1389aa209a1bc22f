"""CommentReplay's bookkeeping, step by step on a scripted playhead and clock: windows fetched
ahead, comments shown when due and once, seeks, episodes and failed fetches. (Against the real
server: tests/e2e/test_comment_replay.py.)"""

from __future__ import annotations

import asyncio

import pytest

from watchium_client.comments import CommentReplay, Playhead, ReplayTimings
from watchium_wire import ReplayComment, ReplayWindow

EPISODE = ("frieren", 1)


class Script:
    """A playhead and a clock the test moves, and a server of timed comments."""

    def __init__(self, stamps: list[float]) -> None:
        self.stamps = stamps
        self.now = 0.0
        self.position = 0.0
        self.rate = 1.0
        self.episode = EPISODE
        self.windows: list[tuple[float, float]] = []
        self.shown: list[tuple[str, float]] = []
        self.fail = False

    async def fetch(self, episode: tuple[str, int], start: float, end: float) -> ReplayWindow:
        self.windows.append((start, end))
        if self.fail:
            raise ConnectionError("no answer")
        comments = [
            ReplayComment(
                id=f"{episode[1]}-{s}",
                user_id="u",
                username="u",
                message=f"at {s}",
                video_timestamp=s,
                in_room=False,
            )
            for s in self.stamps
            if start <= s < end
        ]
        return ReplayWindow(start=start, end=end, per_second=4, comments=comments)

    def playhead(self) -> Playhead:
        return Playhead(self.episode, self.position, self.rate)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.position += seconds * self.rate

    def replay(self) -> CommentReplay:
        return CommentReplay(
            self.fetch,
            self.playhead,
            lambda c, at: self.shown.append((c.message, at)),
            timings=ReplayTimings(lookahead=10.0),
            clock=lambda: self.now,
        )


async def settle(replay: CommentReplay) -> float:
    """One step, then let a fetch it started finish; returns the step's sleep."""
    sleep = replay.step()
    for _ in range(3):
        await asyncio.sleep(0)
    return sleep


async def test_comments_are_shown_when_due_and_the_sleep_aims_at_the_next() -> None:
    script = Script([1.0, 2.5, 12.0])
    replay = script.replay()
    await settle(replay)
    assert script.windows == [(0.0, 10.0)]
    sleep = replay.step()
    assert sleep == 0.25  # the next comment is 1 s away: look again after the idle step
    script.advance(0.9)
    assert replay.step() == pytest.approx(0.1)
    script.advance(0.1)
    replay.step()
    assert script.shown == [("at 1.0", 1.0)]
    script.advance(1.5)
    replay.step()
    replay.step()
    assert [m for m, _ in script.shown] == ["at 1.0", "at 2.5"]  # each once


async def test_the_next_window_is_fetched_halfway_through() -> None:
    script = Script([12.0])
    replay = script.replay()
    await settle(replay)
    script.advance(4.0)
    await settle(replay)
    assert script.windows == [(0.0, 10.0)]
    script.advance(1.5)  # 5.5 s: less than half a window left
    await settle(replay)
    assert script.windows == [(0.0, 10.0), (10.0, 20.0)]
    script.advance(6.5)
    replay.step()
    assert script.shown == [("at 12.0", 12.0)]


async def test_a_seek_refetches_from_the_new_position_and_skips_what_it_passed() -> None:
    script = Script([1.0, 30.5, 31.0])
    replay = script.replay()
    await settle(replay)
    script.position = 30.2  # the host seeks
    await settle(replay)
    assert script.windows[-1] == (30.2, 40.2)
    script.advance(1.0)
    replay.step()
    assert [m for m, _ in script.shown] == ["at 30.5", "at 31.0"]
    script.position = 0.5  # back: shown again
    await settle(replay)
    script.advance(0.5)
    replay.step()
    assert [m for m, _ in script.shown][-1] == "at 1.0"


async def test_paused_playback_shows_nothing_and_a_new_episode_starts_over() -> None:
    script = Script([1.0])
    replay = script.replay()
    script.rate = 0.0
    await settle(replay)
    script.now += 5
    assert replay.step() == 0.25 and script.shown == []
    script.episode = ("frieren", 2)
    script.rate = 1.0
    await settle(replay)
    script.advance(1.0)
    replay.step()
    assert script.shown == [("at 1.0", 1.0)]
    assert replay.fetches == 2


async def test_a_failed_fetch_is_retried_after_a_pause() -> None:
    script = Script([3.0])
    replay = script.replay()
    script.fail = True
    await settle(replay)
    await settle(replay)
    assert len(script.windows) == 1  # not again at once
    script.fail = False
    script.advance(2.0)
    await settle(replay)
    assert len(script.windows) == 2
    script.advance(1.0)
    replay.step()
    assert script.shown == [("at 3.0", 3.0)]
