"""What the sync policy learns about a player: its seek latency, from where seeks land, and
its clock-rate error (the trim), from the drift over stretches of steady playback."""

from __future__ import annotations

import pytest

from tests.client._policy import TH, obs, run, steady


def test_seek_latency_is_learned_from_the_landing() -> None:
    state = steady(seek_latency=0.05, latency_samples=0)
    state, decision = run(state, obs(2.0))
    assert decision.seek_to == pytest.approx(500.05)
    # It lands 250 ms behind: it took 250 ms longer than assumed. The first landing is trusted.
    state, _ = run(state, obs(-0.25, now=100.5))
    assert state.seek_latency == pytest.approx(0.30)
    assert state.latency_samples == 1
    # Later landings are smoothed.
    state, _ = run(state, obs(5.0, now=140.0))
    state, _ = run(state, obs(0.1, now=140.4))
    assert state.seek_latency == pytest.approx(0.30 - TH.latency_gain * 0.1)


def test_seek_latency_is_not_learned_across_a_host_action() -> None:
    state = steady(seek_latency=0.05)
    state, _ = run(state, obs(2.0))
    state, _ = run(state, obs(-0.3, now=100.5, room_changed=True))
    assert state.seek_latency == 0.05


def test_trim_learns_the_player_clock_error() -> None:
    # A player running 0.4% fast: drift grows by 4 ms/s until the nudge pulls it back.
    state = steady()
    drift = 0.0
    t = 100.0
    rate_error = 0.004
    speed = 1.0
    for _ in range(12000):  # 20 minutes
        t += 0.1
        drift += 0.1 * (speed * (1 + rate_error) - 1.0)
        state, decision = run(state, obs(drift, now=t, player_speed=speed))
        if decision.set_speed is not None:
            speed = decision.set_speed
    assert state.trim == pytest.approx(-rate_error / (1 + rate_error), abs=0.0005)
