"""The sync policy (`decide`) tier by tier: one tick at a time, no engine, no clock.

The tables at the end pin each step of `decide` case by case: which phases open the transient
window, starting on time, a paused room, a seek in flight, buffering, and the speed step.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.client._policy import TARGET, TH, expect, obs, run, steady
from watchium_client.sync._policy import Correction, PendingSeek, SyncDecision, SyncPhase
from watchium_client.sync._thresholds import SyncThresholds


def test_tier0_small_drift_does_nothing() -> None:
    for drift in (0.0, 0.005, -0.02, TH.outer, -TH.outer):
        state, decision = run(steady(), obs(drift))
        assert decision.phase is SyncPhase.IN_SYNC
        assert decision.seek_to is None and decision.set_speed is None
        assert decision.set_playing is None and decision.correction is None
        assert not state.correcting


@pytest.mark.parametrize("sign", [1, -1])
def test_tier1_starts_above_outer_and_nudges_against_the_drift(sign: int) -> None:
    drift = sign * (TH.outer + 0.005)
    state, decision = run(steady(), obs(drift))
    assert decision.phase is SyncPhase.CORRECTING
    assert decision.correction is Correction.SPEED
    assert state.correcting
    # The first step is limited by the slew rate; ahead (drift > 0) means slow down.
    assert state.nudge == pytest.approx(-sign * TH.nudge_slew * 0.1)
    assert decision.set_speed == pytest.approx(1.0 + state.nudge)


def test_tier1_nudge_is_bounded_and_ramped() -> None:
    state = steady()
    speeds = []
    speed = 1.0
    for i in range(20):
        state, decision = run(state, obs(-0.5, now=100.0 + 0.1 * i, player_speed=speed))
        speed = decision.set_speed if decision.set_speed is not None else speed
        speeds.append(speed)
    # Monotone ramp up to exactly the bound, never past it, in steps of at most slew x dt.
    assert max(speeds) == pytest.approx(1.0 + TH.max_nudge)
    steps = [b - a for a, b in zip([1.0, *speeds], speeds, strict=False)]
    assert all(-1e-12 <= step <= TH.nudge_slew * 0.1 + 1e-12 for step in steps)


def test_tier1_hysteresis_keeps_correcting_between_inner_and_outer() -> None:
    state, _ = run(steady(), obs(TH.outer + 0.01, now=100.0))
    # Between the thresholds: keeps correcting (it started above outer).
    mid = (TH.inner + TH.outer) / 2
    state, decision = run(state, obs(mid, now=100.1))
    assert state.correcting and decision.phase is SyncPhase.CORRECTING
    # Below inner: stops, and the nudge ramps back to exactly the room speed.
    t = 100.1
    for _ in range(20):
        t += 0.1
        state, decision = run(state, obs(TH.inner - 0.001, now=t))
        assert decision.correction is None
    assert not state.correcting and state.nudge == 0.0
    assert decision.phase is SyncPhase.IN_SYNC
    # Coming back up to the middle of the band does not restart it (no oscillation).
    state, decision = run(state, obs(mid, now=t + 0.1))
    assert not state.correcting and decision.correction is None


def test_tier1_ends_exactly_at_inner_boundary() -> None:
    state, _ = run(steady(), obs(0.05, now=100.0))
    state, _ = run(state, obs(TH.inner, now=100.1))
    assert not state.correcting


@pytest.mark.parametrize("drift", [1.5, -1.5])
def test_tier2_steady_seek_above_the_seek_threshold_aims_ahead_by_the_latency(
    drift: float,
) -> None:
    state = steady(seek_latency=0.2)
    state, decision = run(state, obs(drift))
    assert decision.correction is Correction.STEADY_SEEK
    assert decision.seek_to == pytest.approx(500.0 + 0.2)
    assert decision.phase is SyncPhase.SEEKING
    assert state.pending_seek is not None and state.pending_seek.playing


def test_tier2_below_the_steady_threshold_uses_speed_not_seek() -> None:
    _, decision = run(steady(), obs(TH.seek_threshold - 0.01))
    assert decision.seek_to is None
    assert decision.correction is Correction.SPEED


def test_transient_window_lowers_the_seek_threshold() -> None:
    drift = -(TH.transient_seek_threshold + 0.02)
    state = steady(transient_until=101.0)
    _, decision = run(state, obs(drift, now=100.0))
    assert decision.correction is Correction.SEEK
    # The same drift after the window is left to the speed nudge.
    _, decision = run(state, obs(drift, now=101.5))
    assert decision.seek_to is None and decision.correction is Correction.SPEED


def test_seek_cooldown_and_escalation() -> None:
    state = steady()
    state, decision = run(state, obs(5.0, now=100.0))
    assert decision.seek_to is not None
    # The seek lands at 100.2 still 5 s off (say, the player cannot keep up).
    state, decision = run(state, obs(5.0, now=100.2))
    assert decision.seek_to is None  # cooldown from the landing
    state, decision = run(state, obs(5.0, now=100.2 + TH.seek_cooldown + 0.01))
    assert decision.seek_to is not None
    assert state.seek_cooldown == 2 * TH.seek_cooldown  # repeated: doubles
    t = 100.2 + TH.seek_cooldown + 0.01
    seeks = 0
    for _ in range(600):  # a minute of ticks, always 5 s off
        t += 0.1
        state, decision = run(state, obs(5.0, now=t))
        seeks += decision.seek_to is not None
    assert seeks <= 5  # 2, 4, 8, 16, 32 s apart at most
    assert state.seek_cooldown <= TH.max_seek_cooldown


def test_cooldown_resets_after_a_quiet_period() -> None:
    state = steady(seek_cooldown=16.0, last_seek_at=100.0 - TH.cooldown_reset_after - 1)
    state, decision = run(state, obs(5.0))
    assert decision.seek_to is not None
    assert state.seek_cooldown == TH.seek_cooldown


def test_host_action_clears_the_cooldown_and_opens_the_transient_window() -> None:
    state = steady(seek_cooldown=32.0, last_seek_at=99.0)
    _, decision = run(state, obs(3.0))
    assert decision.seek_to is None  # cooling down
    state, decision = run(state, obs(3.0, room_changed=True))
    assert decision.seek_to is not None  # applied at once
    assert state.transient_until == pytest.approx(100.0 + TH.transient_window)
    assert state.room_version == 1


def test_host_pause_pauses_and_seeks_to_the_exact_position() -> None:
    state, decision = run(
        steady(), obs(0.4, room_playing=False, player_playing=True, room_changed=True)
    )
    assert decision.set_playing is False
    assert decision.seek_to == 500.0  # exactly the room's position, no latency lead
    assert decision.phase is SyncPhase.PAUSED
    assert state.pending_seek is not None and not state.pending_seek.playing


def test_paused_within_tolerance_does_not_seek() -> None:
    _, decision = run(steady(), obs(0.01, room_playing=False, player_playing=False))
    assert decision.seek_to is None and decision.set_playing is None
    assert decision.phase is SyncPhase.PAUSED


def test_host_play_when_in_place_plays_at_once() -> None:
    _, decision = run(steady(), obs(-0.02, player_playing=False, room_changed=True))
    assert decision.set_playing is True
    assert decision.seek_to is None


def test_paused_player_far_behind_seeks_ahead_then_starts_on_time() -> None:
    state = steady(seek_latency=0.1)
    state, decision = run(state, obs(-20.0, player_playing=False, room_changed=True))
    assert decision.seek_to == pytest.approx(500.0 + 0.1 + TH.start_lead)
    assert decision.set_playing is None  # not yet: it waits for the room
    # While the seek is in flight, no play.
    state, decision = run(state, obs(-20.1, now=100.1, player_playing=False, seeking=True))
    assert decision.set_playing is None
    # Landed 0.3 s ahead: wait, and wake up when the room arrives.
    state, decision = run(state, obs(0.3, now=100.2, player_playing=False))
    assert decision.phase is SyncPhase.STARTING
    assert decision.set_playing is None
    assert decision.wake_in == pytest.approx(0.3)
    state, decision = run(state, obs(0.0, now=100.5, player_playing=False))
    assert decision.set_playing is True


def test_scheduled_start_holds_the_player_at_the_position() -> None:
    _, decision = run(
        steady(),
        obs(0.0, room_playing=False, room_scheduled=True, player_playing=False),
    )
    assert decision.phase is SyncPhase.STARTING
    assert decision.set_playing is None and decision.seek_to is None


def test_speed_change_from_the_host_is_applied_at_once() -> None:
    _, decision = run(steady(), obs(0.0, room_speed=1.5, player_speed=1.0, room_changed=True))
    assert decision.set_speed == pytest.approx(1.5)


def test_buffering_is_reported_and_not_corrected() -> None:
    state, decision = run(steady(), obs(-3.0, buffering=True))
    assert decision.phase is SyncPhase.BUFFERING
    assert decision.seek_to is None and decision.set_speed is None
    # The stall ends 3 s behind: a transition, so the low seek threshold applies.
    state, decision = run(state, obs(-3.0, now=100.1))
    assert decision.correction is Correction.SEEK
    assert decision.seek_to == pytest.approx(500.0 + state.seek_latency)


def test_buffering_player_still_follows_a_pause() -> None:
    _, decision = run(steady(), obs(0.0, buffering=True, room_playing=False))
    assert decision.set_playing is False


def test_hold_keeps_hands_off() -> None:
    state, decision = run(steady(), obs(30.0, hold=True, player_playing=False))
    assert decision == SyncDecision(SyncPhase.HOLD, 30.0)
    # The hold ends: back to the room, at once.
    state, decision = run(state, obs(30.0, now=100.1, player_playing=False))
    assert decision.seek_to is not None


def test_hold_ends_our_own_speed_nudge_but_not_a_users_speed() -> None:
    state = steady(nudge=0.03, correcting=True)
    _, decision = run(state, obs(0.2, hold=True, player_speed=1.03))
    assert decision.set_speed == pytest.approx(1.0)
    # The user set 1.5x in the player: theirs to keep during the hold.
    _, decision = run(state, obs(0.2, hold=True, player_speed=1.5))
    assert decision.set_speed is None


def test_thresholds_validate() -> None:
    with pytest.raises(ValueError, match="inner"):
        SyncThresholds(inner=0.05, outer=0.03)
    with pytest.raises(ValueError):
        SyncThresholds(transient_seek_threshold=0.02)
    with pytest.raises(ValueError):
        SyncThresholds(max_nudge=0.6)
    with pytest.raises(ValueError):
        SyncThresholds(tick_interval=0)


# ---------------------------------------------------------------------- tables


@pytest.mark.parametrize(
    ("phase", "seeks"),
    [
        (SyncPhase.WAITING, True),
        (SyncPhase.HOLD, True),
        (SyncPhase.BUFFERING, True),
        (SyncPhase.IN_SYNC, False),
        (SyncPhase.CORRECTING, False),
        (SyncPhase.STARTING, False),
        (SyncPhase.PAUSED, False),
    ],
)
def test_only_the_start_a_hold_or_a_stall_opens_the_transient_window(
    phase: SyncPhase, seeks: bool
) -> None:
    # Between the two seek thresholds: a seek right after a transition, a nudge otherwise.
    drift = TH.transient_seek_threshold + 0.05
    state, decision = run(steady(phase=phase), obs(drift))
    assert (decision.seek_to is not None) is seeks
    assert decision.correction is (Correction.SEEK if seeks else Correction.SPEED)
    assert state.transient_until == (100.0 + TH.transient_window if seeks else -math.inf)


# A paused player in a playing room, seek latency 50 ms: it waits for the room up to
# lead + max_start_wait = (0.05 + 0.3) + 0.5 s ahead, and seeks ahead to TARGET + lead.
LEAD = 0.05 + TH.start_lead


@pytest.mark.parametrize(
    ("drift", "room_speed", "transient", "expected"),
    [
        pytest.param(
            0.001,
            1.0,
            False,
            {"phase": SyncPhase.IN_SYNC, "set_playing": True, "wake_in": None},
            id="at the room: plays now",
        ),
        pytest.param(
            0.003,
            1.0,
            False,
            {"phase": SyncPhase.STARTING, "set_playing": None, "wake_in": 0.003},
            id="just ahead: waits for the room",
        ),
        pytest.param(
            LEAD + TH.max_start_wait - 0.001,
            1.0,
            False,
            {"phase": SyncPhase.STARTING, "wake_in": LEAD + TH.max_start_wait - 0.001},
            id="as far ahead as it may wait",
        ),
        pytest.param(
            1.0,
            2.0,
            False,
            {"phase": SyncPhase.STARTING, "wake_in": 0.5},
            id="at double speed the room arrives in half the time",
        ),
        pytest.param(
            0.9,
            1.0,
            False,
            {"phase": SyncPhase.CORRECTING, "set_playing": True, "correction": Correction.SPEED},
            id="too far ahead to wait, too near to seek: plays and nudges",
        ),
        pytest.param(
            0.9,
            1.0,
            True,
            {
                "phase": SyncPhase.SEEKING,
                "seek_to": TARGET + LEAD,
                "set_playing": None,
                "correction": Correction.SEEK,
            },
            id="too far ahead after a transition: seeks ahead, still paused",
        ),
        pytest.param(
            -0.05,
            1.0,
            True,
            {"phase": SyncPhase.CORRECTING, "set_playing": True, "seek_to": None},
            id="a little behind: plays and nudges",
        ),
        pytest.param(
            -5.0,
            1.0,
            False,
            {
                "phase": SyncPhase.SEEKING,
                "seek_to": TARGET + LEAD,
                "set_playing": None,
                "correction": Correction.STEADY_SEEK,
            },
            id="far behind: seeks ahead, still paused",
        ),
    ],
)
def test_a_paused_player_starts_on_time(
    drift: float, room_speed: float, transient: bool, expected: dict[str, Any]
) -> None:
    state = steady(seek_latency=0.05, transient_until=101.0 if transient else -math.inf)
    _, decision = run(state, obs(drift, player_playing=False, room_speed=room_speed))
    expect(decision, **expected)


@pytest.mark.parametrize(
    ("ours", "room_playing", "player_playing", "set_playing"),
    [
        pytest.param(True, False, True, False, id="the room pauses during our seek: pause now"),
        pytest.param(False, True, False, None, id="our seek ahead while paused: no play yet"),
        pytest.param(False, False, True, False, id="our seek ahead, and the room pauses: pause"),
        pytest.param(None, True, False, True, id="a seek made in the player: play now"),
        pytest.param(True, True, True, None, id="nothing to change"),
    ],
)
def test_a_seek_in_flight_is_left_alone(
    ours: bool | None, room_playing: bool, player_playing: bool, set_playing: bool | None
) -> None:
    pending = None if ours is None else PendingSeek(TARGET, 99.9, ours, 0)
    state, decision = run(
        steady(pending_seek=pending),
        obs(2.0, seeking=True, room_playing=room_playing, player_playing=player_playing),
    )
    # Looked at again soon: the landing is timed to within that.
    assert decision == SyncDecision(
        SyncPhase.SEEKING, 2.0, set_playing=set_playing, wake_in=TH.seek_poll
    )
    assert state.pending_seek == pending


@pytest.mark.parametrize(
    ("room_playing", "player_playing", "set_playing"),
    [
        pytest.param(False, True, False, id="the room pauses: follow it"),
        pytest.param(True, False, None, id="the room plays: the stall ends first"),
        pytest.param(True, True, None, id="both play"),
        pytest.param(False, False, None, id="both paused"),
    ],
)
def test_a_buffering_player_only_follows_a_pause(
    room_playing: bool, player_playing: bool, set_playing: bool | None
) -> None:
    state, decision = run(
        steady(),
        obs(-3.0, buffering=True, room_playing=room_playing, player_playing=player_playing),
    )
    assert decision == SyncDecision(SyncPhase.BUFFERING, -3.0, set_playing=set_playing)
    assert state.cycle is None


@pytest.mark.parametrize(
    ("nudge", "player_speed", "drift", "set_speed"),
    [
        pytest.param(0.0, 1.0, -0.04, 1.0 + TH.nudge_slew * 0.1, id="a nudge starts"),
        pytest.param(0.02, 1.02, -0.025, None, id="a change below speed_step is not sent"),
        pytest.param(0.005, 1.005, 0.0, 1.0, id="the return to the rest speed always is"),
    ],
)
def test_nudges_are_sent_in_steps(
    nudge: float, player_speed: float, drift: float, set_speed: float | None
) -> None:
    state = steady(nudge=nudge, correcting=nudge != 0.0)
    _, decision = run(state, obs(drift, player_speed=player_speed))
    if set_speed is None:
        assert decision.set_speed is None
    else:
        assert decision.set_speed == pytest.approx(set_speed)
