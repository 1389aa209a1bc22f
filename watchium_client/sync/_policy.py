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

docs/SYNC_ENGINE.md explains every threshold and how it was chosen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

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


class SyncPhase(StrEnum):
    """What the engine is doing."""

    WAITING = "waiting"
    """No room state or no clock sample yet."""
    PAUSED = "paused"
    """The room is paused: the player is held at the room's position."""
    STARTING = "starting"
    """The room starts playing at a scheduled server time: the player waits for it."""
    IN_SYNC = "in_sync"
    """Tier 0: playing within the band."""
    CORRECTING = "correcting"
    """Tier 1: playing with a speed nudge."""
    SEEKING = "seeking"
    """Tier 2: a seek is in flight."""
    BUFFERING = "buffering"
    """The player is stalled waiting for data."""
    HOLD = "hold"
    """The user acted in the player's UI: hands off until the room answers or the hold ends."""


class Correction(StrEnum):
    """A correction, as counted in the statistics."""

    SPEED = "speed"
    """A speed-nudge episode began."""
    SEEK = "seek"
    """A seek right after a transition (join, host action, stall, hold) or while paused."""
    STEADY_SEEK = "steady_seek"
    """A seek during otherwise steady playback (drift beyond ``seek_threshold``)."""


@dataclass(frozen=True, slots=True)
class PendingSeek:
    """A seek the engine issued and has not yet seen land."""

    aim: float
    issued_at: float
    playing: bool
    room_version: int


@dataclass(frozen=True, slots=True)
class TrimCycle:
    """A stretch of steady playback over which the player's clock-rate error is measured."""

    started_at: float
    start_drift: float
    """Drift at the start, corrected for the clock offset estimate (see `decide`)."""
    nudge_integral: float = 0.0
    """Integral of the applied nudge over the stretch (relative speed x seconds)."""


@dataclass(frozen=True, slots=True)
class PolicyState:
    """What the policy remembers between ticks (immutable: `decide` returns a new one)."""

    phase: SyncPhase = SyncPhase.WAITING
    correcting: bool = False
    nudge: float = 0.0
    trim: float = 0.0
    seek_latency: float = 0.05
    latency_samples: int = 0
    last_seek_at: float = -math.inf
    seek_cooldown: float = 1.0
    pending_seek: PendingSeek | None = None
    transient_until: float = -math.inf
    last_tick: float | None = None
    cycle: TrimCycle | None = None
    room_version: int = 0

    @classmethod
    def initial(cls, thresholds: SyncThresholds) -> PolicyState:
        """The state before the first tick."""
        return cls(
            seek_latency=thresholds.initial_seek_latency, seek_cooldown=thresholds.seek_cooldown
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """One measurement, taken at local time ``now``."""

    now: float
    target: float
    """Where the room is (seconds of media) at ``now``."""
    position: float
    """Where the player is."""
    room_playing: bool
    """The room plays and its start time has passed."""
    room_scheduled: bool = False
    """The room plays from a start time still in the future."""
    starts_in: float = 0.0
    """With ``room_scheduled``: seconds until the start."""
    room_speed: float = 1.0
    player_playing: bool
    player_speed: float
    seeking: bool = False
    buffering: bool = False
    room_changed: bool = False
    """A new room state (a host action) arrived since the previous observation."""
    hold: bool = False
    """The user acted in the player's UI recently (see `SyncThresholds.user_hold`)."""
    clock_offset: float = 0.0
    """The server clock offset estimate used for ``target`` (lets the rate estimate discount
    the jumps of the target that come from a better offset estimate)."""

    @property
    def drift(self) -> float:
        """Player position minus room position: positive when the player is ahead."""
        return self.position - self.target


@dataclass(frozen=True, slots=True)
class SyncDecision:
    """What to tell the player after one observation (None: leave as is)."""

    phase: SyncPhase
    drift: float
    seek_to: float | None = None
    set_speed: float | None = None
    set_playing: bool | None = None
    correction: Correction | None = None
    wake_in: float | None = None
    """Run the next tick after this many seconds (sooner than the tick interval), to start
    playback exactly when the room reaches the player's position."""


# A paused player this little ahead of the room starts now rather than after another tick.
_START_EPSILON = 0.002

# Phases after which the player's picture has just jumped (or never ran): the next tick opens
# the transient window, so what is left is seeked away at the low threshold.
_TRANSITION_PHASES = frozenset({SyncPhase.WAITING, SyncPhase.HOLD, SyncPhase.BUFFERING})

_Step = tuple[PolicyState, SyncDecision]


def decide(state: PolicyState, obs: Observation, th: SyncThresholds) -> _Step:
    """One step of the sync policy: the new state and what to tell the player.

    A host action and a seek that has landed update the state first; then the first of these
    that applies decides: the user's hold, buffering, a seek in flight, a paused room, a paused
    player starting on time, the seek tier, the nudge tier.
    """
    dt = 0.0 if state.last_tick is None else max(0.0, obs.now - state.last_tick)
    s = replace(state, last_tick=obs.now)
    if obs.room_changed:
        s = _after_host_action(s, obs, th)
    if obs.hold:
        return _user_hold(s, obs)
    play_change = None if obs.player_playing == obs.room_playing else obs.room_playing
    if obs.buffering:
        return _buffering(s, obs, play_change)
    if s.phase in _TRANSITION_PHASES:
        s = replace(s, transient_until=obs.now + th.transient_window)
    if s.pending_seek is not None and not obs.seeking:
        s = _land_seek(s, s.pending_seek, obs, th)
    if obs.seeking:
        return _seek_in_flight(s, obs, play_change)
    if not obs.room_playing:
        return _room_paused(s, obs, th, play_change)
    if not obs.player_playing:
        starting = _start_on_time(s, obs, th)
        if starting is not None:
            return starting
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
    )


def _user_hold(s: PolicyState, obs: Observation) -> _Step:
    # Hands off what the user did; but a speed nudge of ours still running is ours to end
    # (unless the user changed the speed too: then it is theirs).
    ours = obs.room_speed * (1.0 + s.trim + s.nudge)
    restore = None
    if s.nudge != 0.0 and _speed_change(obs, ours) is None:
        restore = obs.room_speed * (1.0 + s.trim)
    s = replace(s, phase=SyncPhase.HOLD, cycle=None, pending_seek=None, correcting=False, nudge=0.0)
    return s, SyncDecision(SyncPhase.HOLD, obs.drift, set_speed=restore)


def _buffering(s: PolicyState, obs: Observation, play_change: bool | None) -> _Step:
    # Nothing to correct while stalled; only follow a pause so the stall does not end into
    # playback the room no longer wants.
    stop = False if play_change is False else None
    return replace(s, phase=SyncPhase.BUFFERING, cycle=None), SyncDecision(
        SyncPhase.BUFFERING, obs.drift, set_playing=stop
    )


def _land_seek(
    s: PolicyState, seek: PendingSeek, obs: Observation, th: SyncThresholds
) -> PolicyState:
    """Forgets the seek that has landed, and learns the seek latency from where it landed."""
    # The cooldown runs from the landing: a slow seek must not eat it.
    s = replace(s, pending_seek=None, last_seek_at=obs.now)
    d = obs.drift
    if (
        seek.playing
        and obs.room_playing
        and obs.player_playing
        and seek.room_version == s.room_version
        and abs(d) < th.latency_learn_limit
    ):
        # Landed d seconds off: the latency was misjudged by d / speed. The first landing
        # replaces the prior outright; later ones are smoothed against seek-time jitter.
        gain = th.latency_gain if s.latency_samples else 1.0
        latency = s.seek_latency - gain * d / obs.room_speed
        return replace(
            s,
            seek_latency=min(th.max_seek_latency, max(th.min_seek_latency, latency)),
            latency_samples=s.latency_samples + 1,
        )
    if not seek.playing and not s.latency_samples:
        # Until a seek during playback measures it, the time a paused seek took (known to
        # within a tick) is a better guess than the prior.
        latency = obs.now - seek.issued_at - th.tick_interval / 2
        return replace(s, seek_latency=min(th.max_seek_latency, max(0.0, latency)))
    return s


def _seek_in_flight(s: PolicyState, obs: Observation, play_change: bool | None) -> _Step:
    # A seek made while paused (to start on time) must not be followed by play yet.
    armed = s.pending_seek is not None and not s.pending_seek.playing
    return replace(s, phase=SyncPhase.SEEKING, cycle=None), SyncDecision(
        SyncPhase.SEEKING, obs.drift, set_playing=None if armed and play_change else play_change
    )


def _room_paused(
    s: PolicyState, obs: Observation, th: SyncThresholds, play_change: bool | None
) -> _Step:
    """The room is paused, or plays from a start time still ahead: hold the player at the
    room's position, exactly (no latency lead: nothing moves)."""
    phase = SyncPhase.STARTING if obs.room_scheduled else SyncPhase.PAUSED
    s = replace(s, phase=phase, correcting=False, nudge=0.0, cycle=None)
    set_speed = _speed_change(obs, _rest_speed(s, obs))
    if abs(obs.drift) > th.paused_tolerance and _cooled(s, obs):
        s = replace(_start_seek(s, obs, th, obs.target, playing=False), phase=phase)
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
    if not correcting and abs(d) > th.outer:
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
    trim, cycle = _learn_trim(s, obs, th, dt, episode_ended)

    phase = SyncPhase.CORRECTING if correcting or nudge != 0.0 else SyncPhase.IN_SYNC
    s = replace(s, phase=phase, correcting=correcting, nudge=nudge, trim=trim, cycle=cycle)
    set_speed = _speed_change(obs, obs.room_speed * (1.0 + trim + nudge))
    if (
        set_speed is not None
        and nudge != 0.0
        and abs(set_speed - obs.player_speed) < th.speed_step * obs.room_speed
    ):
        # Each speed change costs a small glitch in a real player; skip the tiny ones.
        set_speed = None
    return s, SyncDecision(
        phase, d, set_speed=set_speed, set_playing=play_change, correction=correction
    )


def _learn_trim(
    s: PolicyState, obs: Observation, th: SyncThresholds, dt: float, episode_ended: bool
) -> tuple[float, TrimCycle]:
    """The trim and the measurement stretch after this tick (see `TrimCycle`).

    Over a stretch of steady playback,
        drift change = speed * (trim + rate_error) * T + speed * integral(nudge)
    so (trim + rate_error) follows from the measured change, and the trim moves to cancel it.
    A stretch ends with a nudge episode, once it is ``trim_min_cycle`` long.
    """
    # Drift on the server's clock as first estimated: a better offset estimate moves the
    # target, and that jump is no rate error of the player.
    offset_drift = obs.drift + obs.clock_offset * obs.room_speed
    if s.cycle is None:
        return s.trim, TrimCycle(obs.now, offset_drift)
    # The nudge in effect over the last dt is the one the player actually ran at.
    applied = obs.player_speed / obs.room_speed - 1.0 - s.trim
    cycle = replace(s.cycle, nudge_integral=s.cycle.nudge_integral + applied * dt)
    span = obs.now - cycle.started_at
    if not (episode_ended and span >= th.trim_min_cycle and obs.player_playing):
        return s.trim, cycle
    residual = (offset_drift - cycle.start_drift) / (
        obs.room_speed * span
    ) - cycle.nudge_integral / span
    trim = max(-th.max_trim, min(th.max_trim, s.trim - th.trim_gain * residual))
    return trim, TrimCycle(obs.now, offset_drift)


def _seek_threshold(
    s: PolicyState, obs: Observation, th: SyncThresholds
) -> tuple[float, Correction]:
    # Within the transient window the picture just jumped anyway: a seek costs little more.
    if obs.now < s.transient_until:
        return th.transient_seek_threshold, Correction.SEEK
    return th.seek_threshold, Correction.STEADY_SEEK


def _cooled(s: PolicyState, obs: Observation) -> bool:
    return obs.now - s.last_seek_at >= s.seek_cooldown


def _rest_speed(s: PolicyState, obs: Observation) -> float:
    # The room's speed corrected by the player's learned clock error.
    return obs.room_speed * (1.0 + s.trim)


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
