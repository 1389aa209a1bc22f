"""The sync engine's decisions, as pure functions of what was measured (no I/O, no clock).

`decide` takes the previous `PolicyState`, one `Observation` (drift, player and room state, time)
and the `SyncThresholds`, and returns the new state and a `SyncDecision` (what to tell the player).
Tiers, by the drift d = player position - room target position:

* tier 0, |d| below the band: nothing. Playback runs at the room speed times a learned *trim*
  that cancels the player's own clock error, so drift stays put instead of ramping.
* tier 1, |d| above ``outer``: nudge the speed in proportion to d (bounded by ``max_nudge``,
  ramped by ``nudge_slew``) until |d| falls below ``inner``; the gap between the two is the
  hysteresis that keeps it from toggling.
* tier 2, |d| above a seek threshold: seek, aiming ahead by the player's measured seek latency.
  Right after a transition (join, host action, end of a stall) the threshold is low, since the
  picture is interrupted anyway; in steady playback it is high, since a seek is a visible glitch.
  A cooldown that doubles on repeated seeks keeps it from ever seeking in a loop.

Two rules for transitions come before the tiers:

* a change of the room's speed is told to the player its speed latency ahead, and no nudge
  begins while it takes effect;
* the room's reference player (its host's) is not corrected after the room's change, which is
  its own action: once it has settled, an offset is handed to the room (a re-anchor) instead.

docs/SYNC_ENGINE.md explains every threshold and how it was chosen.
"""

from __future__ import annotations

import math
from dataclasses import replace

from watchium_client.sync._learning import land_seek, learn_trim
from watchium_client.sync._policy_state import (
    Correction,
    Observation,
    PendingSeek,
    PolicyState,
    SyncDecision,
    SyncPhase,
    TrimCycle,
)
from watchium_client.sync._thresholds import SyncThresholds

__all__ = [
    "Correction",
    "Observation",
    "PendingSeek",
    "PolicyState",
    "SyncDecision",
    "SyncPhase",
    "TrimCycle",
    "decide",
]


# A paused player this little ahead of the room starts now rather than after another tick.
_START_EPSILON = 0.002

# Phases after which the player's picture has just jumped (or never ran): the next tick opens
# the transient window, so what is left is seeked away at the low threshold.
_TRANSITION_PHASES = frozenset({SyncPhase.WAITING, SyncPhase.HOLD, SyncPhase.BUFFERING})

_Step = tuple[PolicyState, SyncDecision]


def decide(state: PolicyState, obs: Observation, th: SyncThresholds) -> _Step:
    """One step of the sync policy: the new state and what to tell the player.

    A host action, a change of the room's speed and a seek that has landed update the state
    first; then the first of these that applies decides: the user's hold, buffering, a seek in
    flight, a paused room, a paused player starting on time, the reference player after its own
    action, the seek tier, the nudge tier.
    """
    dt = 0.0 if state.last_tick is None else max(0.0, obs.now - state.last_tick)
    s = replace(state, last_tick=obs.now, steady_since=_steady_since(state, obs))
    if obs.room_changed:
        s = _after_host_action(s, obs, th)
    s = _follow_room_speed(s, obs, th)
    if obs.hold:
        return _user_hold(s, obs)
    play_change = None if obs.player_playing == obs.room_playing else obs.room_playing
    if obs.buffering:
        return _buffering(s, obs, play_change)
    if s.phase in _TRANSITION_PHASES:
        s = replace(s, transient_until=obs.now + th.transient_window)
    if s.pending_seek is not None and not obs.seeking:
        s = land_seek(s, s.pending_seek, obs, th, dt)
    if obs.seeking:
        return _seek_in_flight(s, obs, th, play_change)
    if not obs.room_playing:
        return _room_paused(s, obs, th, play_change)
    if not obs.player_playing:
        starting = _start_on_time(s, obs, th)
        if starting is not None:
            return starting
    if _reference_settling(s, obs, th):
        return _reference_settle(s, obs, th, play_change)
    seeking = _seek_tier(s, obs, th, play_change)
    if seeking is not None:
        return seeking
    return _nudge_tier(s, obs, th, dt, play_change)


def _after_host_action(s: PolicyState, obs: Observation, th: SyncThresholds) -> PolicyState:
    # A host action is applied at once: no cooldown left over from earlier drift, no trim
    # measurement across the jump, and the low seek threshold for what the jump leaves.
    return replace(
        s,
        room_version=s.room_version + 1,
        last_seek_at=-math.inf,
        seek_cooldown=th.seek_cooldown,
        cycle=None,
        transient_until=obs.now + th.transient_window,
        own_change_at=obs.now if obs.reference else s.own_change_at,
    )


def _steady_since(s: PolicyState, obs: Observation) -> float | None:
    moving = (
        obs.player_playing and obs.room_playing and not (obs.seeking or obs.buffering or obs.hold)
    )
    if not moving:
        return None
    return obs.now if s.steady_since is None else s.steady_since


def _follow_room_speed(s: PolicyState, obs: Observation, th: SyncThresholds) -> PolicyState:
    # A new room speed takes the player's speed latency to be heard, with a transient in what
    # it reports: a nudge under way ends, and none begins (nor is trim measured) until that
    # has passed.
    command = _command_speed(obs)
    if s.command_speed is not None and abs(command - s.command_speed) > 1e-9 * command:
        s = replace(
            s,
            settle_until=obs.now + obs.speed_latency + th.speed_settle,
            cycle=None,
            correcting=False,
            nudge=0.0,
        )
    return replace(s, command_speed=command)


def _user_hold(s: PolicyState, obs: Observation) -> _Step:
    # Hands off what the user did; but a speed nudge of ours still running is ours to end
    # (unless the user changed the speed too: then it is theirs).
    ours = _command_speed(obs) * (1.0 + s.trim + s.nudge)
    restore = None
    if s.nudge != 0.0 and _speed_change(obs, ours) is None:
        restore = _rest_speed(s, obs)
    s = replace(s, phase=SyncPhase.HOLD, cycle=None, pending_seek=None, correcting=False, nudge=0.0)
    return s, SyncDecision(SyncPhase.HOLD, obs.drift, set_speed=restore)


def _buffering(s: PolicyState, obs: Observation, play_change: bool | None) -> _Step:
    # Nothing to correct while stalled; only follow a pause so the stall does not end into
    # playback the room no longer wants.
    stop = False if play_change is False else None
    return replace(s, phase=SyncPhase.BUFFERING, cycle=None), SyncDecision(
        SyncPhase.BUFFERING, obs.drift, set_playing=stop
    )


def _seek_in_flight(
    s: PolicyState, obs: Observation, th: SyncThresholds, play_change: bool | None
) -> _Step:
    # A seek made while paused (to start on time) must not be followed by play yet. Look
    # again soon: the landing is timed (the seek latency) to within that.
    armed = s.pending_seek is not None and not s.pending_seek.playing
    return replace(s, phase=SyncPhase.SEEKING, cycle=None), SyncDecision(
        SyncPhase.SEEKING,
        obs.drift,
        set_playing=None if armed and play_change else play_change,
        wake_in=th.seek_poll,
    )


def _room_paused(
    s: PolicyState, obs: Observation, th: SyncThresholds, play_change: bool | None
) -> _Step:
    """The room is paused, or plays from a start time still ahead: hold the player at the
    room's position, exactly (no latency lead: nothing moves). Once sought there, the player
    stays where it landed unless that is beyond ``paused_landing``: one seek, not a loop of
    seeks landing on the same frame."""
    phase = SyncPhase.STARTING if obs.room_scheduled else SyncPhase.PAUSED
    s = replace(s, phase=phase, correcting=False, nudge=0.0, cycle=None)
    set_speed = _speed_change(obs, _rest_speed(s, obs))
    sought = s.paused_seek_target is not None and abs(s.paused_seek_target - obs.target) < 1e-6
    tolerance = th.paused_landing if sought else th.paused_tolerance
    if abs(obs.drift) > tolerance and _cooled(s, obs):
        s = replace(
            _start_seek(s, obs, th, obs.target, playing=False),
            phase=phase,
            paused_seek_target=obs.target,
        )
        return s, SyncDecision(
            phase,
            obs.drift,
            seek_to=obs.target,
            set_speed=set_speed,
            set_playing=play_change,
            correction=Correction.SEEK,
        )
    return s, SyncDecision(
        phase,
        obs.drift,
        set_speed=set_speed,
        set_playing=play_change,
        wake_in=obs.starts_in if obs.room_scheduled else None,
    )


def _start_on_time(s: PolicyState, obs: Observation, th: SyncThresholds) -> _Step | None:
    """A paused player in a playing room (joining, or the room just resumed) need not chase a
    moving target: it seeks ahead while paused and starts when the room reaches it, which
    lands in sync however long the seek takes. None: neither wait nor seek (play at once)."""
    d = obs.drift
    set_speed = _speed_change(obs, _rest_speed(s, obs))
    lead = (s.seek_latency + th.start_lead) * obs.room_speed
    if _START_EPSILON < d <= lead + th.max_start_wait:
        return replace(s, phase=SyncPhase.STARTING, cycle=None), SyncDecision(
            SyncPhase.STARTING, d, set_speed=set_speed, wake_in=d / obs.room_speed
        )
    threshold, correction = _seek_threshold(s, obs, th)
    if abs(d) > threshold and _cooled(s, obs):
        aim = max(0.0, obs.target + lead)
        s = _start_seek(s, obs, th, aim, playing=False)
        return s, SyncDecision(
            SyncPhase.SEEKING, d, seek_to=aim, set_speed=set_speed, correction=correction
        )
    return None


def _reference_settling(s: PolicyState, obs: Observation, th: SyncThresholds) -> bool:
    # Within a transition window of its own action, unless something moved it by more than a
    # steady-state seek would fix (then the room's row is right and the player is not).
    return (
        obs.reference
        and obs.now < s.own_change_at + th.transient_window
        and abs(obs.drift) <= th.seek_threshold
    )


def _reference_settle(
    s: PolicyState, obs: Observation, th: SyncThresholds, play_change: bool | None
) -> _Step:
    """The room's reference player after its own action: the room follows it, not the other way
    round. No nudge and no seek; once it has played steadily for ``reference_settle`` (and a
    change of speed has taken effect), an offset beyond ``reference_tolerance`` is handed to the
    room, once per host action (not again for the room's answer to it)."""
    since = max(s.own_change_at, math.inf if s.steady_since is None else s.steady_since)
    settled = obs.now >= since + th.reference_settle and obs.now >= s.settle_until
    reanchor = (
        settled
        and play_change is None
        and abs(obs.drift) > th.reference_tolerance
        and s.reanchored_version < s.room_version - 1
    )
    s = replace(
        s,
        phase=SyncPhase.IN_SYNC,
        correcting=False,
        nudge=0.0,
        cycle=None,
        reanchored_version=s.room_version if reanchor else s.reanchored_version,
    )
    return s, SyncDecision(
        SyncPhase.IN_SYNC,
        obs.drift,
        set_speed=_speed_change(obs, _rest_speed(s, obs)),
        set_playing=play_change,
        reanchor=reanchor,
        wake_in=obs.command_switch_in,
    )


def _seek_tier(
    s: PolicyState, obs: Observation, th: SyncThresholds, play_change: bool | None
) -> _Step | None:
    """Tier 2: a seek aimed where the room will be when it lands. None: below the threshold,
    or cooling down."""
    threshold, correction = _seek_threshold(s, obs, th)
    if not (abs(obs.drift) > threshold and _cooled(s, obs)):
        return None
    set_speed = _speed_change(obs, _rest_speed(s, obs))
    aim = max(0.0, obs.target + s.seek_latency * obs.room_speed)
    s = _start_seek(s, obs, th, aim, playing=True)
    return s, SyncDecision(
        SyncPhase.SEEKING,
        obs.drift,
        seek_to=aim,
        set_speed=set_speed,
        set_playing=play_change,
        correction=correction,
    )


def _nudge_tier(
    s: PolicyState, obs: Observation, th: SyncThresholds, dt: float, play_change: bool | None
) -> _Step:
    """Tiers 0 and 1: the rest speed inside the band; outside it, a speed nudge against the
    drift until it is back inside ``inner``. Learns the trim between nudge episodes."""
    d = obs.drift
    correction = None
    correcting = s.correcting
    settling = obs.now < s.settle_until
    outer = th.transient_outer if obs.now < s.transient_until else th.outer
    if not correcting and abs(d) > outer and not settling:
        correcting = True
        correction = Correction.SPEED
    elif correcting and abs(d) <= th.inner:
        correcting = False
    goal = 0.0
    if correcting:
        goal = -d / (obs.room_speed * th.nudge_time_constant)
        goal = max(-th.max_nudge, min(th.max_nudge, goal))
    nudge = _approach(s.nudge, goal, th.nudge_slew * dt)
    episode_ended = s.nudge != 0.0 and nudge == 0.0 and not correcting
    if settling:
        trim, cycle = s.trim, None
    else:
        trim, cycle = learn_trim(s, obs, th, dt, episode_ended)

    phase = SyncPhase.CORRECTING if correcting or nudge != 0.0 else SyncPhase.IN_SYNC
    s = replace(s, phase=phase, correcting=correcting, nudge=nudge, trim=trim, cycle=cycle)
    command = _command_speed(obs)
    set_speed = _speed_change(obs, command * (1.0 + trim + nudge))
    if (
        set_speed is not None
        and nudge != 0.0
        and abs(set_speed - obs.player_speed) < th.speed_step * command
    ):
        # Each speed change costs a small glitch in a real player; skip the tiny ones.
        set_speed = None
    return s, SyncDecision(
        phase,
        d,
        set_speed=set_speed,
        set_playing=play_change,
        correction=correction,
        wake_in=obs.command_switch_in,
    )


def _seek_threshold(
    s: PolicyState, obs: Observation, th: SyncThresholds
) -> tuple[float, Correction]:
    # Within the transient window the picture just jumped anyway: a seek costs little more.
    # But not while a change of speed takes effect: the drift is still moving then.
    transient = obs.now < s.transient_until
    if transient and obs.now >= s.settle_until:
        return th.transient_seek_threshold, Correction.SEEK
    return th.seek_threshold, Correction.SEEK if transient else Correction.STEADY_SEEK


def _cooled(s: PolicyState, obs: Observation) -> bool:
    return obs.now - s.last_seek_at >= s.seek_cooldown


def _command_speed(obs: Observation) -> float:
    return obs.room_speed if obs.command_speed is None else obs.command_speed


def _rest_speed(s: PolicyState, obs: Observation) -> float:
    # The room's speed (as the player must be told it now) corrected by the player's learned
    # clock error.
    return _command_speed(obs) * (1.0 + s.trim)


def _approach(value: float, goal: float, step: float) -> float:
    if value < goal:
        return min(goal, value + step)
    return max(goal, value - step)


def _speed_change(obs: Observation, speed: float) -> float | None:
    # A relative tolerance: players keep the speed with less precision than a float (mpv
    # reports 6 decimals), and 1e-5 of speed is 36 ms an hour, far below the band.
    return None if abs(obs.player_speed - speed) <= 1e-5 * speed else speed


def _start_seek(
    s: PolicyState, obs: Observation, th: SyncThresholds, aim: float, playing: bool
) -> PolicyState:
    # The cooldown doubles for a seek soon after the previous one, so a player that cannot
    # keep up is seeked less and less often instead of in a loop.
    repeated = obs.now - s.last_seek_at < th.cooldown_reset_after
    cooldown = min(th.max_seek_cooldown, s.seek_cooldown * 2) if repeated else th.seek_cooldown
    return replace(
        s,
        phase=SyncPhase.SEEKING,
        correcting=False,
        nudge=0.0,
        last_seek_at=obs.now,
        seek_cooldown=cooldown,
        pending_seek=PendingSeek(aim, obs.now, playing, s.room_version),
        cycle=None,
    )
