"""What the sync policy learns about a player: its seek latency, from where seeks land, and
its clock-rate error (the trim), from the drift over stretches of steady playback."""

from __future__ import annotations

from typing import Any

import pytest

from tests.client._policy import TH, obs, run, steady
from watchium_client.sync._policy import PendingSeek, TrimCycle


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


def test_a_hold_forgets_the_seek_in_flight() -> None:
    state, _ = run(steady(seek_latency=0.05), obs(2.0))
    state, _ = run(state, obs(-0.3, now=100.5, hold=True))
    assert state.pending_seek is None
    state, _ = run(state, obs(-0.3, now=100.6))
    assert state.seek_latency == 0.05


# A seek issued at 99.6 lands at 100.0, |drift| then as given.
@pytest.mark.parametrize(
    ("playing", "latency", "samples", "drift", "observed", "learned", "learned_samples"),
    [
        pytest.param(True, 0.1, 0, -0.2, {}, 0.3, 1, id="the first landing replaces the prior"),
        pytest.param(
            True, 0.1, 3, -0.2, {}, 0.1 + TH.latency_gain * 0.2, 4, id="later ones are smoothed"
        ),
        pytest.param(True, 0.1, 0, 0.3, {}, -0.2, 1, id="landing ahead: aim behind"),
        pytest.param(True, 0.1, 0, 0.45, {}, TH.min_seek_latency, 1, id="bounded below"),
        pytest.param(True, 1.8, 0, -0.49, {}, TH.max_seek_latency, 1, id="bounded above"),
        pytest.param(
            True, 0.1, 0, -TH.latency_learn_limit, {}, 0.1, 0, id="this far off: something else"
        ),
        pytest.param(
            True, 0.1, 0, -0.2, {"player_playing": False}, 0.1, 0, id="the player paused since"
        ),
        pytest.param(
            True, 0.1, 0, -0.2, {"room_playing": False}, 0.1, 0, id="the room paused since"
        ),
        pytest.param(
            True, 0.1, 0, 0.2, {"room_speed": 2.0}, 0.0, 1, id="media seconds at the room speed"
        ),
        pytest.param(
            False,
            0.1,
            0,
            0.0,
            {"player_playing": False},
            0.4 - TH.tick_interval / 2,
            0,
            id="a paused seek's duration replaces the prior",
        ),
        pytest.param(
            False, 0.1, 1, 0.0, {"player_playing": False}, 0.1, 1, id="but not a measured one"
        ),
    ],
)
def test_seek_latency_learning(
    playing: bool,
    latency: float,
    samples: int,
    drift: float,
    observed: dict[str, Any],
    learned: float,
    learned_samples: int,
) -> None:
    state = steady(
        seek_latency=latency,
        latency_samples=samples,
        pending_seek=PendingSeek(500.0, 99.6, playing, 0),
        last_seek_at=99.6,
    )
    state, _ = run(state, obs(drift, **observed))
    assert state.seek_latency == pytest.approx(learned)
    assert state.latency_samples == learned_samples
    # The cooldown runs from the landing.
    assert state.pending_seek is None and state.last_seek_at == 100.0


# A nudge episode ends at 100.0 with the drift at 5 ms, the player at the room speed; the
# stretch began ``span`` seconds before at ``start`` (drift plus clock offset, media seconds).
@pytest.mark.parametrize(
    ("span", "start", "offset", "integral", "trim", "restarted"),
    [
        pytest.param(20.0, 0.0, 0.0, 0.0, -0.5 * 0.005 / 20, True, id="ahead: the trim slows"),
        pytest.param(
            20.0, 0.0, -0.005, 0.0, 0.0, True, id="a new clock offset estimate is no rate error"
        ),
        pytest.param(
            20.0, 0.0, 0.0, 0.1, -0.5 * (0.005 - 0.1) / 20, True, id="the nudges are discounted"
        ),
        pytest.param(20.0, 0.5, 0.0, 0.0, TH.max_trim, True, id="bounded"),
        pytest.param(5.0, 0.0, 0.0, 0.0, 0.0, False, id="a stretch too short teaches nothing"),
    ],
)
def test_trim_learning_at_the_end_of_a_nudge_episode(
    span: float, start: float, offset: float, integral: float, trim: float, restarted: bool
) -> None:
    assert TH.trim_gain == 0.5
    state = steady(nudge=0.01, cycle=TrimCycle(100.0 - span, start, integral))
    state, decision = run(state, obs(0.005, clock_offset=offset))
    assert state.nudge == 0.0 and not state.correcting
    assert state.trim == pytest.approx(trim)
    # The new rest speed is sent at once, however small the change.
    if trim == 0.0:
        assert decision.set_speed is None
    else:
        assert decision.set_speed == pytest.approx(1.0 + trim)
    assert state.cycle is not None
    assert state.cycle.started_at == (100.0 if restarted else 100.0 - span)


def test_a_trim_stretch_starts_from_the_drift_plus_the_clock_offset() -> None:
    # Drift measured against the same offset estimate throughout: a later, better estimate
    # then shows as a change of the offset, not of the player's rate.
    state, _ = run(steady(), obs(0.004, clock_offset=0.02))
    assert state.cycle is not None
    assert state.cycle.started_at == 100.0
    assert state.cycle.start_drift == pytest.approx(0.024)
    assert state.cycle.nudge_integral == 0.0


def test_the_trim_stretch_integrates_the_speed_the_player_ran_at() -> None:
    state = steady(nudge=0.02, correcting=True, cycle=TrimCycle(90.0, 0.0))
    state, _ = run(state, obs(-0.05, player_speed=1.02))
    assert state.cycle is not None and state.cycle.started_at == 90.0
    assert state.cycle.nudge_integral == pytest.approx(0.02 * 0.1)
    assert state.trim == 0.0
