"""SimulatedPlayer: the player model the engine is tested and benchmarked against."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.client._fakes import FakeClock
from watchium_client.players import (
    Player,
    PlayerClosedError,
    PlayerEvent,
    PlayerEventKind,
    SimulatedPlayer,
)


async def next_event(events: AsyncIterator[PlayerEvent]) -> PlayerEvent:
    return await asyncio.wait_for(anext(events), timeout=5)


def pending(events: AsyncIterator[PlayerEvent]) -> int:
    """Events already queued for a subscription (to check that none was published)."""
    size: int = events._queue.qsize()  # type: ignore[attr-defined]
    return size


def test_is_a_player() -> None:
    assert isinstance(SimulatedPlayer(), Player)


async def test_plays_at_the_set_speed_times_its_rate_error() -> None:
    clock = FakeClock()
    player = SimulatedPlayer(clock=clock, rate_error=0.003, position=10.0)
    assert await player.position() == 10.0
    clock.advance(5)
    assert await player.position() == 10.0  # paused: does not move
    await player.play()
    clock.advance(100)
    assert await player.position() == pytest.approx(10.0 + 100.3)
    await player.set_speed(1.5)
    clock.advance(10)
    assert await player.position() == pytest.approx(110.3 + 15 * 1.003)
    await player.pause()
    clock.advance(10)
    assert await player.position() == pytest.approx(110.3 + 15 * 1.003)
    assert player.speed == 1.5 and not player.is_playing


async def test_seek_lands_after_its_latency_and_playback_continues_from_there() -> None:
    clock = FakeClock()
    player = SimulatedPlayer(clock=clock, seek_latency=0.2)
    await player.play()
    clock.advance(1.0)
    await player.seek(50.0)
    assert player.is_seeking
    clock.advance(0.1)
    assert await player.position() == pytest.approx(1.0)  # frozen while seeking
    assert player.is_seeking
    clock.advance(0.15)
    assert not player.is_seeking
    assert await player.position() == pytest.approx(50.05)
    assert player.seeks == 1


async def test_seek_error_and_latency_jitter_are_reproducible_with_a_seed() -> None:
    async def landing(seed: int) -> tuple[float, float]:
        clock = FakeClock()
        player = SimulatedPlayer(
            clock=clock, seek_latency=0.1, seek_latency_jitter=0.05, seek_error=0.01, seed=seed
        )
        await player.seek(20.0)
        landed_at = 0.0
        while player.is_seeking:
            clock.advance(0.001)
            landed_at = clock.now
        return landed_at, await player.position()

    first = await landing(3)
    assert first == await landing(3)
    assert first != await landing(4)
    assert 0.05 <= first[0] <= 0.151
    assert abs(first[1] - 20.0) < 0.06


async def test_seek_rejects_bad_targets() -> None:
    player = SimulatedPlayer(clock=FakeClock())
    with pytest.raises(ValueError):
        await player.seek(-1.0)
    with pytest.raises(ValueError):
        await player.seek(float("nan"))
    with pytest.raises(ValueError):
        await player.set_speed(0.0)


async def test_scripted_stall_freezes_playback_and_is_reported() -> None:
    clock = FakeClock()
    player = SimulatedPlayer(clock=clock, buffering=[(2.0, 1.5)])
    events = player.events()
    await player.play()
    clock.advance(2.5)
    assert player.is_buffering
    assert await player.position() == pytest.approx(2.0)
    started = await next_event(events)
    assert started.kind is PlayerEventKind.BUFFERING_STARTED
    assert started.at == pytest.approx(2.0)
    assert started.position == pytest.approx(2.0)
    clock.advance(2.0)  # stall ends at 3.5, then 1 s of playback
    assert not player.is_buffering
    assert await player.position() == pytest.approx(3.0)
    ended = await next_event(events)
    assert ended.kind is PlayerEventKind.BUFFERING_ENDED
    assert ended.at == pytest.approx(3.5)
    assert not ended.is_user_action


async def test_a_stall_can_be_started_now() -> None:
    clock = FakeClock()
    player = SimulatedPlayer(clock=clock)
    events = player.events()
    await player.play()
    clock.advance(1.0)
    player.stall(0.5)
    assert player.is_buffering
    assert (await next_event(events)).kind is PlayerEventKind.BUFFERING_STARTED
    clock.advance(1.0)  # 0.5 s stalled, then 0.5 s of playback
    assert not player.is_buffering
    assert await player.position() == pytest.approx(1.5)
    with pytest.raises(ValueError):
        player.stall(0)


async def test_random_stalls_are_seeded_and_only_while_playing() -> None:
    async def stalls(seed: int, playing: bool) -> list[float]:
        clock = FakeClock()
        player = SimulatedPlayer(clock=clock, buffering_per_hour=60, seed=seed)
        events = player.events()
        if playing:
            await player.play()
        for _ in range(3600):
            clock.advance(1.0)
            player.poll()
        starts = []
        while pending(events):
            event = await next_event(events)
            if event.kind is PlayerEventKind.BUFFERING_STARTED:
                starts.append(event.at)
        return starts

    first = await stalls(11, playing=True)
    assert 30 <= len(first) <= 100  # ~60 an hour
    assert first == await stalls(11, playing=True)
    assert await stalls(11, playing=False) == []


async def test_end_of_file() -> None:
    clock = FakeClock()
    player = SimulatedPlayer(clock=clock, duration=10.0, position=9.0)
    events = player.events()
    await player.play()
    clock.advance(5.0)
    assert await player.position() == 10.0
    event = await next_event(events)
    assert event.kind is PlayerEventKind.END_OF_FILE
    assert event.at == pytest.approx(1.0)
    await player.seek(2.0)
    clock.advance(1.0)
    assert await player.position() == pytest.approx(2.95)


async def test_commands_emit_no_events_but_user_actions_do() -> None:
    clock = FakeClock()
    player = SimulatedPlayer(clock=clock, seek_latency=0.0)
    events = player.events()
    await player.play()
    await player.pause()
    await player.seek(5.0)
    await player.set_speed(1.1)
    assert pending(events) == 0
    await player.user_play()
    await player.user_seek(30.0)
    await player.user_set_speed(1.25)
    await player.user_pause()
    kinds = [(await next_event(events)) for _ in range(4)]
    assert [e.kind for e in kinds] == [
        PlayerEventKind.PLAYING,
        PlayerEventKind.SEEKED,
        PlayerEventKind.SPEED_CHANGED,
        PlayerEventKind.PAUSED,
    ]
    assert all(e.is_user_action for e in kinds)
    assert kinds[1].position == 30.0
    assert kinds[2].value == 1.25


async def test_speed_latency_and_glitch() -> None:
    clock = FakeClock()
    player = SimulatedPlayer(clock=clock, speed_latency=0.2)
    await player.play()
    clock.advance(1.0)
    await player.set_speed(2.0)
    assert player.speed == 2.0
    clock.advance(1.0)
    # The first 0.2 s still ran at the old speed.
    assert await player.position() == pytest.approx(1.0 + 0.2 + 0.8 * 2.0)

    glitchy = SimulatedPlayer(clock=clock, speed_glitch=0.01, seed=1)
    await glitchy.play()
    start = await glitchy.position()
    await glitchy.set_speed(1.01)
    assert await glitchy.position() != start
    assert abs(await glitchy.position() - start) < 0.05


async def test_position_noise_is_on_reports_only() -> None:
    clock = FakeClock()
    player = SimulatedPlayer(clock=clock, position=100.0, position_noise=0.005, seed=2)
    reports = [await player.position() for _ in range(200)]
    assert player.true_position() == 100.0
    assert 0.002 < (max(reports) - min(reports)) < 0.1
    assert sum(reports) / len(reports) == pytest.approx(100.0, abs=0.002)


async def test_close_ends_subscriptions_and_refuses_commands() -> None:
    player = SimulatedPlayer(clock=FakeClock())
    events = player.events()
    await player.close()
    closed = await next_event(events)
    assert closed.kind is PlayerEventKind.CLOSED
    with pytest.raises(StopAsyncIteration):
        await next_event(events)
    with pytest.raises(PlayerClosedError):
        await player.play()
    with pytest.raises(PlayerClosedError):
        await player.position()
    late = player.events()
    with pytest.raises(StopAsyncIteration):
        await next_event(late)
    await player.close()  # idempotent


def test_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError):
        SimulatedPlayer(seek_latency=-1)
    with pytest.raises(ValueError):
        SimulatedPlayer(rate_error=0.7)
    with pytest.raises(ValueError):
        SimulatedPlayer(duration=0)
    with pytest.raises(ValueError):
        SimulatedPlayer(buffering=[(1.0, 0.0)])
