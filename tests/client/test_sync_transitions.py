"""The rules for transitions, one piece at a time and without a player: a scheduled speed change
(`PlaybackState.continuing`), how long a player takes to change speed (`SpeedLatency`), and the
policy telling a speed change early, letting it settle, tightening the band after a
transition and leaving the room's reference player alone after its own action."""

from __future__ import annotations

import dataclasses

import pytest

from tests.client._policy import TARGET, TH, obs, run, steady
from watchium_client.sync._playback import PlaybackState
from watchium_client.sync._policy import SyncPhase
from watchium_client.sync._speed_latency import SpeedLatency

# ---------------------------------------------------------------------- scheduled speed changes

PLAYING = PlaybackState(room_id="r", position=100.0, is_playing=True, updated_at=1000.0)


def scheduled(position: float, at: float, speed: float = 1.25) -> PlaybackState:
    return PlaybackState(
        room_id="r", position=position, is_playing=True, updated_at=at, playback_speed=speed
    )


def test_a_state_reached_at_its_reference_time_continues_the_one_before() -> None:
    # At 1010 + 0.5 the room playing since 1000 is at 110.5: from there, 1.25x.
    change = scheduled(110.5, 1010.5).continuing(PLAYING)
    assert change.lead_in_speed == 1.0
    assert change.has_started(1010.2)
    assert change.target_position(1010.2) == pytest.approx(110.2)
    assert change.speed_at(1010.2) == 1.0
    assert change.target_position(1012.5) == pytest.approx(110.5 + 2 * 1.25)
    assert change.speed_at(1012.5) == 1.25
    # The row says the same as before: the lead-in is what a client made of it.
    assert change.same_playback(scheduled(110.5, 1010.5))


def test_a_future_reference_time_elsewhere_is_a_scheduled_start() -> None:
    restart = scheduled(300.0, 1010.6, speed=1.0).continuing(PLAYING)
    assert restart.lead_in_speed is None
    assert not restart.has_started(1010.2)
    assert restart.target_position(1010.2) == 300.0
    assert restart.speed_at(1010.2) == 0.0
    # A room not playing before, or paused now, or another episode: nothing continues.
    paused = dataclasses.replace(PLAYING, is_playing=False)
    assert scheduled(100.0, 1010.5).continuing(paused).lead_in_speed is None
    assert (
        dataclasses.replace(scheduled(110.5, 1010.5), episode_number=2)
        .continuing(PLAYING)
        .lead_in_speed
        is None
    )


def test_a_speed_change_during_a_scheduled_start_keeps_the_start() -> None:
    starting = scheduled(50.0, 1011.0, speed=1.0)
    same_start = scheduled(50.0, 1011.0, speed=2.0).continuing(starting)
    assert same_start.lead_in_speed is None and not same_start.has_started(1010.5)


def test_a_lead_in_speed_is_validated() -> None:
    with pytest.raises(ValueError, match="lead_in_speed"):
        dataclasses.replace(PLAYING, lead_in_speed=0.0)


# ---------------------------------------------------------------------- speed latency


def play(meter: SpeedLatency, t0: float, t1: float, positions: object) -> None:
    """Feeds the meter a position every 100 ms over [t0, t1)."""
    assert callable(positions)
    t = t0
    while t < t1 - 1e-9:
        meter.observe(t, positions(t), speed=meter_speed(t), moving=True)
        t = round(t + 0.1, 6)


def meter_speed(t: float) -> float:
    return 1.25 if t >= 10.0 else 1.0


def heard(latency: float, rate: float = 1.0) -> object:
    """A player told 1.25x at t = 10 that plays it from 10 + ``latency`` (clock ``rate``)."""

    def position(t: float) -> float:
        switch = 10.0 + latency
        if t < switch:
            return 100.0 + t * rate
        return 100.0 + switch * rate + (t - switch) * 1.25 * rate

    return position


@pytest.mark.parametrize(("latency", "rate"), [(0.35, 1.0), (0.2, 1.004), (0.0, 0.996)])
def test_speed_latency_is_measured_from_the_players_positions(latency: float, rate: float) -> None:
    meter = SpeedLatency(0.3, limit=1.5)
    positions = heard(latency, rate)
    play(meter, 8.0, 10.0, positions)
    meter.changed(10.0, 1.25)
    play(meter, 10.0, 12.0, positions)
    assert meter.samples == 1
    assert meter.value == pytest.approx(latency, abs=0.01)


def test_a_nudge_is_not_measured_and_an_interruption_drops_the_measurement() -> None:
    meter = SpeedLatency(0.3, limit=1.5)
    positions = heard(0.35)
    play(meter, 8.0, 10.0, positions)
    meter.changed(9.95, 1.04)  # a nudge: too small to time
    play(meter, 10.0, 12.0, positions)
    assert meter.samples == 0
    play(meter, 12.0, 14.0, heard(0.35))
    meter.changed(14.0, 1.25)
    meter.observe(14.2, 200.0, speed=1.25, moving=False)  # paused meanwhile
    play(meter, 14.3, 16.0, heard(0.35))
    assert meter.samples == 0 and meter.value == 0.3


# ---------------------------------------------------------------------- the policy


def test_a_scheduled_speed_change_is_told_its_latency_early_and_wakes_the_engine() -> None:
    # 0.5 s before the change, with a player that takes 0.3 s: not yet; wake in 0.2 s.
    state, decision = run(steady(), obs(0.0, command_speed=1.0, command_switch_in=0.2))
    assert decision.set_speed is None and decision.wake_in == 0.2
    # Then the new speed, with the learned trim.
    state = dataclasses.replace(state, trim=0.001)
    state, decision = run(
        state, obs(0.0, now=100.2, player_speed=1.001, command_speed=1.25, speed_latency=0.3)
    )
    assert decision.set_speed == pytest.approx(1.25 * 1.001)
    assert state.settle_until == pytest.approx(100.2 + 0.3 + TH.speed_settle)


def test_a_speed_change_ends_a_nudge_under_way() -> None:
    state = steady(command_speed=1.0, correcting=True, nudge=0.03)
    state, decision = run(state, obs(0.04, player_speed=1.03, command_speed=1.25))
    assert decision.set_speed == pytest.approx(1.25)
    assert (state.correcting, state.nudge) == (False, 0.0)


def test_no_nudge_begins_while_a_speed_change_takes_effect() -> None:
    state = steady(command_speed=1.0)
    state, decision = run(state, obs(0.0, command_speed=1.25, speed_latency=0.3))
    # The player lags while its change takes effect: not corrected yet.
    state, decision = run(state, obs(-0.06, now=100.5, room_speed=1.25, player_speed=1.25))
    assert decision.correction is None and decision.set_speed is None
    # Once it has, what is left is corrected as usual.
    _, decision = run(state, obs(-0.06, now=101.0, room_speed=1.25, player_speed=1.25))
    assert decision.phase is SyncPhase.CORRECTING and decision.set_speed is not None


def test_after_a_transition_the_band_is_tighter() -> None:
    # 20 ms is inside the steady band but above the transient one.
    _, decision = run(steady(), obs(0.02))
    assert decision.correction is None
    _, decision = run(steady(transient_until=101.0), obs(0.02))
    assert decision.phase is SyncPhase.CORRECTING and decision.set_speed is not None


def test_the_reference_is_not_corrected_after_its_own_action_and_moves_the_room_once() -> None:
    # The room changed (the host's own action): the reference is 60 ms off.
    state, decision = run(steady(), obs(0.06, room_changed=True, reference=True))
    assert (decision.seek_to, decision.set_speed, decision.reanchor) == (None, None, False)
    # Not before it has played steadily for reference_settle...
    state, decision = run(state, obs(0.06, now=100.3, reference=True))
    assert not decision.reanchor
    # ...then the room is moved to it, once.
    state, decision = run(state, obs(0.06, now=100.6, reference=True))
    assert decision.reanchor and decision.correction is None
    state, decision = run(state, obs(0.06, now=100.7, reference=True))
    assert not decision.reanchor
    # The room's answer is no reason to move it again, nor to correct the player.
    state, decision = run(state, obs(0.02, now=100.8, room_changed=True, reference=True))
    state, decision = run(state, obs(0.02, now=101.5, reference=True))
    assert not decision.reanchor and decision.set_speed is None
    # A later action of the host may.
    state, decision = run(state, obs(0.03, now=105.0, room_changed=True, reference=True))
    _, decision = run(state, obs(0.03, now=105.6, reference=True))
    assert decision.reanchor


def test_the_reference_within_tolerance_leaves_the_room_alone() -> None:
    state, _ = run(steady(), obs(0.01, room_changed=True, reference=True))
    _, decision = run(state, obs(0.01, now=100.6, reference=True))
    assert not decision.reanchor and decision.correction is None


def test_a_reference_far_off_is_seeked_like_any_player() -> None:
    # Something moved it by more than a steady-state seek fixes: the row is right.
    state, decision = run(steady(), obs(1.5, room_changed=True, reference=True))
    assert decision.seek_to == pytest.approx(TARGET + state.seek_latency)


def test_a_member_is_corrected_after_the_same_change() -> None:
    state, _ = run(steady(), obs(0.06, room_changed=True))
    _, decision = run(state, obs(0.06, now=100.1))
    assert decision.phase is SyncPhase.CORRECTING
