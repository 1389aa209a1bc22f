"""SyncEngine on a SimulatedPlayer: the engine around the policy in virtual time (no server, no
sleeps), convergence of simulated followers with network and player faults, and the run loop in
real time."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable
from typing import Any

import pytest

from tests.client._fakes import FakeClock
from watchium_client.players import PlayerEvent, PlayerEventKind, SimulatedPlayer
from watchium_client.sync._clock import ClockSync
from watchium_client.sync._engine import SyncEngine
from watchium_client.sync._playback import PlaybackState
from watchium_client.sync._policy import SyncDecision, SyncPhase
from watchium_client.sync._thresholds import SyncThresholds

TH = SyncThresholds()


def make_engine(
    clock: FakeClock,
    *,
    offset: float = 0.0,
    thresholds: SyncThresholds | None = None,
    **player_options: object,
) -> tuple[SyncEngine, SimulatedPlayer, ClockSync]:
    """An engine on a SimulatedPlayer; the server clock is ``offset`` ahead of local time."""
    sync = ClockSync(monotonic=clock, wall=lambda: 0.0)
    t = sync.local_now()
    sync.add_sample(t, t + offset, t)
    player = SimulatedPlayer(clock=clock, **player_options)  # type: ignore[arg-type]
    return SyncEngine(player, sync, thresholds=thresholds), player, sync


def room(
    server_time: float, position: float = 0.0, playing: bool = True, **kw: Any
) -> PlaybackState:
    return PlaybackState(
        room_id="r", position=position, is_playing=playing, updated_at=server_time, **kw
    )


def target_now(engine: SyncEngine, sync: ClockSync) -> float:
    assert engine.room is not None
    return engine.room.target_position(sync.server_now())


async def tick_for(engine: SyncEngine, clock: FakeClock, seconds: float) -> list[SyncDecision]:
    decisions = []
    end = clock.now + seconds
    while clock.now < end - 1e-9:
        step = engine.thresholds.tick_interval
        decision = await engine.tick()
        if decision is not None:
            decisions.append(decision)
            if decision.wake_in is not None:
                step = min(step, decision.wake_in)
        clock.advance(step)
    return decisions


async def test_engine_waits_for_a_room_and_a_clock_sample() -> None:
    clock = FakeClock(10.0)
    player = SimulatedPlayer(clock=clock)
    engine = SyncEngine(player, ClockSync(monotonic=clock, wall=lambda: 0.0))
    assert await engine.tick() is None
    engine.update_room(room(0.0))
    assert await engine.tick() is None  # still no clock sample
    assert engine.phase is SyncPhase.WAITING
    assert engine.drift is None and not engine.is_synced


async def test_engine_joins_a_playing_room_and_converges() -> None:
    clock = FakeClock(1000.0)
    engine, player, sync = make_engine(clock, offset=-1.7, seek_latency=0.25)
    engine.update_room(room(sync.server_now() - 60.0, position=100.0))
    await tick_for(engine, clock, 3.0)
    target = target_now(engine, sync)
    assert abs(player.true_position() - target) < 0.02
    assert engine.is_synced
    assert engine.status.phase in (SyncPhase.IN_SYNC, SyncPhase.CORRECTING)


async def test_engine_applies_host_pause_and_play_at_once() -> None:
    clock = FakeClock(0.0)
    engine, player, sync = make_engine(clock, seek_latency=0.0)
    engine.update_room(room(sync.server_now(), position=10.0))
    await tick_for(engine, clock, 2.0)
    assert player.is_playing
    # The host pauses at 11.5.
    assert engine.update_room(room(sync.server_now(), position=11.5, playing=False))
    decision = await engine.tick()
    assert decision is not None and decision.set_playing is False
    assert not player.is_playing
    clock.advance(0.01)
    assert await player.position() == pytest.approx(11.5)
    # Re-delivery of the same state is no host action.
    assert engine.room is not None
    assert not engine.update_room(room(engine.room.updated_at, position=11.5, playing=False))
    # The host plays again.
    engine.update_room(room(sync.server_now(), position=11.5, playing=True))
    decision = await engine.tick()
    assert decision is not None and decision.set_playing is True
    assert player.is_playing


async def test_engine_ignores_a_stale_room_state() -> None:
    clock = FakeClock(0.0)
    engine, _, sync = make_engine(clock)
    engine.update_room(room(100.0, position=50.0))
    assert not engine.update_room(room(99.0, position=10.0))
    assert engine.room is not None and engine.room.position == 50.0


async def test_engine_takes_an_earlier_reference_when_the_caller_orders_states() -> None:
    # A host seeks during a scheduled start's lead: the seek's reference time is earlier than
    # the start's, yet it is the newer state (the caller knows from the row's own updated_at).
    clock = FakeClock(0.0)
    engine, _, sync = make_engine(clock)
    now = sync.server_now()
    engine.update_room(room(now + 0.25, position=0.0))
    assert engine.update_room(room(now + 0.1, position=300.0), ordered=True)
    assert engine.room is not None and engine.room.position == 300.0


async def test_engine_follows_a_host_seek_within_the_transient_budget() -> None:
    clock = FakeClock(0.0)
    engine, player, sync = make_engine(clock, seek_latency=0.15)
    engine.update_room(room(sync.server_now(), position=10.0))
    await tick_for(engine, clock, 5.0)
    engine.update_room(room(sync.server_now(), position=300.0))
    await tick_for(engine, clock, 3.0)
    target = target_now(engine, sync)
    assert abs(player.true_position() - target) < 0.05
    assert engine.stats().steady_seeks == 0


async def test_engine_scheduled_start_begins_exactly_on_time() -> None:
    clock = FakeClock(0.0)
    engine, player, sync = make_engine(clock)
    start_at = sync.server_now() + 1.234
    engine.update_room(room(start_at, position=42.0, playing=True))
    await tick_for(engine, clock, 1.0)
    assert not player.is_playing
    assert engine.phase is SyncPhase.STARTING
    await tick_for(engine, clock, 1.0)
    assert player.is_playing
    target = target_now(engine, sync)
    assert abs(player.true_position() - target) < 0.005


async def test_engine_reports_buffering_and_recovers() -> None:
    clock = FakeClock(0.0)
    engine, player, sync = make_engine(clock, buffering=[(5.0, 2.0)], seek_latency=0.1)
    engine.update_room(room(sync.server_now(), position=0.0))
    await tick_for(engine, clock, 5.5)
    assert engine.is_buffering and engine.status.is_buffering
    assert engine.phase is SyncPhase.BUFFERING
    assert engine.drift is not None and engine.drift < -0.3
    await tick_for(engine, clock, 4.0)
    assert not engine.is_buffering
    target = target_now(engine, sync)
    assert abs(player.true_position() - target) < 0.05


async def test_engine_user_action_holds_until_the_room_answers() -> None:
    clock = FakeClock(0.0)
    seen: list[PlayerEvent] = []
    engine, player, sync = make_engine(clock, seek_latency=0.0)
    engine._on_user_action = seen.append  # what a RoomSession would register
    engine.update_room(room(sync.server_now(), position=0.0))
    await tick_for(engine, clock, 1.0)
    await player.user_pause()
    engine.handle_player_event(PlayerEvent(PlayerEventKind.PAUSED, at=clock.now))
    assert [e.kind for e in seen] == [PlayerEventKind.PAUSED]
    await tick_for(engine, clock, 1.0)
    assert not player.is_playing  # not undone during the hold
    phases = [engine.phase]
    # The room confirms the pause (the host's action went through).
    engine.update_room(room(sync.server_now(), position=await player.position(), playing=False))
    await tick_for(engine, clock, 0.5)
    phases.append(engine.phase)
    assert phases == [SyncPhase.HOLD, SyncPhase.PAUSED]
    assert not player.is_playing


async def test_engine_member_user_action_is_undone_after_the_hold() -> None:
    clock = FakeClock(0.0)
    engine, player, sync = make_engine(clock, seek_latency=0.0)
    engine.update_room(room(sync.server_now(), position=0.0))
    await tick_for(engine, clock, 1.0)
    await player.user_seek(500.0)
    engine.handle_player_event(PlayerEvent(PlayerEventKind.SEEKED, at=clock.now, position=500.0))
    await tick_for(engine, clock, TH.user_hold + 1.5)
    target = target_now(engine, sync)
    assert abs(player.true_position() - target) < 0.05


async def test_engine_episode_change_loads_before_aligning() -> None:
    clock = FakeClock(0.0)
    loaded: list[int] = []
    engine, player, sync = make_engine(clock)

    async def load(state: PlaybackState) -> None:
        loaded.append(state.episode_number)
        await player.seek(0.0)

    engine._on_episode_change = load
    engine.update_room(room(sync.server_now(), position=100.0, episode_number=1))
    await tick_for(engine, clock, 1.0)
    engine.update_room(room(sync.server_now(), position=0.0, episode_number=2))
    await tick_for(engine, clock, 1.0)
    assert loaded == [2]


async def test_engine_loads_another_video_with_the_same_episode_number() -> None:
    """A queue may hold episode 1 of two anime: the video tells them apart; a row read without
    its video (sync-get-host-time) is no change of episode."""
    clock = FakeClock(0.0)
    loaded: list[str] = []
    engine, _, sync = make_engine(clock)

    async def load(state: PlaybackState) -> None:
        loaded.append(state.video_url)

    engine._on_episode_change = load
    engine.update_room(room(sync.server_now(), episode_number=1, video_url="https://a/1.mkv"))
    await tick_for(engine, clock, 1.0)
    assert engine.episode_loaded
    engine.update_room(room(sync.server_now(), episode_number=1))
    await tick_for(engine, clock, 1.0)
    assert loaded == []
    engine.update_room(room(sync.server_now(), episode_number=1, video_url="https://b/1.mkv"))
    assert not engine.episode_loaded
    await tick_for(engine, clock, 1.0)
    assert loaded == ["https://b/1.mkv"] and engine.episode_loaded


async def test_engine_stats_and_status() -> None:
    clock = FakeClock(0.0)
    engine, _, sync = make_engine(clock, rate_error=0.004)
    engine.update_room(room(sync.server_now(), position=0.0))
    await tick_for(engine, clock, 120.0)
    stats = engine.stats()
    assert stats.count > 1000
    assert stats.p95 is not None and stats.p95 < TH.outer + 0.005
    assert stats.synced_fraction == 1.0
    status = engine.status
    assert status.is_synced and status.drift is not None
    assert status.position is not None and status.target is not None
    assert status.clock_error_bound == 0.0
    engine.reset_stats()
    assert engine.stats().count == 0


# ---------------------------------------------------------------------- convergence in virtual time


async def follow_with_network(
    seed: int, minutes: float
) -> tuple[list[float], list[float], SyncEngine]:
    """A follower with clock skew, jittered round trips and rate error follows a room whose host
    seeks now and then. Returns (steady |drift| samples, convergence times, engine)."""
    rng = random.Random(seed)
    clock = FakeClock(rng.uniform(0, 1e5))
    true_offset = rng.uniform(-2, 2)  # server minus local
    sync = ClockSync(monotonic=clock, wall=lambda: 0.0)
    player = SimulatedPlayer(
        clock=clock,
        rate_error=rng.uniform(-0.005, 0.005),
        seek_latency=rng.uniform(0.03, 0.3),
        seek_latency_jitter=0.02,
        seek_error=0.003,
        position_noise=0.002,
        speed_latency=0.2,
        speed_glitch=0.005,
        seed=seed,
    )
    engine = SyncEngine(player, sync)
    rtt = rng.uniform(0.02, 0.2)

    def server_now() -> float:
        return sync.local_now() + true_offset

    def clock_sample() -> None:
        up = rtt / 2 + rng.expovariate(1 / (0.2 * rtt))
        down = rtt / 2 + rng.expovariate(1 / (0.2 * rtt))
        t0 = sync.local_now()
        sync.add_sample(t0, t0 + up + true_offset, t0 + up + down)

    for _ in range(5):
        clock_sample()
    state = room(server_now() - 30.0, position=30.0)
    engine.update_room(state)
    event_at = clock.now
    steady: list[float] = []
    converged: list[float] = []
    pending = True
    next_seek = clock.now + rng.uniform(60, 180)
    next_sample = clock.now + 5.0
    end = clock.now + minutes * 60
    while clock.now < end:
        if clock.now >= next_sample:
            clock_sample()
            next_sample += 5.0
        if clock.now >= next_seek:
            state = room(server_now(), position=rng.uniform(0, 1200))
            engine.update_room(state)
            event_at = clock.now
            pending = True
            next_seek = clock.now + rng.uniform(60, 180)
        decision = await engine.tick()
        drift = abs(player.true_position() - state.target_position(server_now()))
        if pending and drift <= 0.05:
            converged.append(clock.now - event_at)
            pending = False
        if clock.now - event_at >= 3.0:
            steady.append(drift)
        step = 0.1
        if decision is not None and decision.wake_in is not None:
            step = min(step, decision.wake_in)
        clock.advance(step)
    return steady, converged, engine


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_simulated_follower_converges_and_stays_within_targets(seed: int) -> None:
    steady, converged, engine = await follow_with_network(seed, minutes=20)
    ordered = sorted(steady)
    p95 = ordered[int(0.95 * len(ordered))]
    p99 = ordered[int(0.99 * len(ordered))]
    assert p95 <= 0.050, f"p95 {p95 * 1000:.1f} ms"
    assert p99 <= 0.100, f"p99 {p99 * 1000:.1f} ms"
    assert max(converged) <= 3.0, f"convergence {max(converged):.2f} s"
    # No seek in steady state: at most 1 per 10 minutes is the target; here, none at all.
    assert engine.stats().steady_seeks == 0
    assert math.isfinite(engine.policy_state.trim)


# ---------------------------------------------------------------------- the run loop, real time


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    # The engine publishes no event when its phase changes: look at it every few ms.
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_run_loop_applies_room_changes_and_forwards_user_actions() -> None:
    sync = ClockSync()
    now = sync.local_now()
    sync.add_sample(now, now + 0.5, now)
    player = SimulatedPlayer(seek_latency=0.01)
    acted = asyncio.Event()
    engine = SyncEngine(player, sync, on_user_action=lambda event: acted.set())
    task = engine.start()
    try:
        engine.update_room(room(sync.server_now(), position=20.0))
        await wait_until(lambda: player.is_playing and engine.phase is SyncPhase.IN_SYNC)
        assert abs(await player.position() - target_now(engine, sync)) < 0.05
        await player.user_pause()
        async with asyncio.timeout(10):
            await acted.wait()
        await wait_until(lambda: engine.phase is SyncPhase.HOLD)
        engine.update_room(room(sync.server_now(), position=await player.position(), playing=False))
        await wait_until(lambda: engine.phase is SyncPhase.PAUSED)
        assert not player.is_playing
        await player.close()
        async with asyncio.timeout(10):
            await task  # the loop ends when the player closes
    finally:
        await engine.stop()


async def test_engine_retries_a_failed_episode_load() -> None:
    clock = FakeClock(0.0)
    attempts: list[int] = []
    engine, _, sync = make_engine(clock)

    async def load(state: PlaybackState) -> None:
        attempts.append(state.episode_number)
        if len(attempts) == 1:
            raise OSError("network down")

    engine._on_episode_change = load
    engine.update_room(room(sync.server_now(), episode_number=1))
    await engine.tick()
    engine.update_room(room(sync.server_now() + 0.001, episode_number=2))
    with pytest.raises(OSError):
        await engine.tick()
    await engine.tick()
    await engine.tick()
    assert attempts == [2, 2]
