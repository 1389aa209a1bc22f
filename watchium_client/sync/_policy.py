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

__all__ = [
    "Correction",
    "Observation",
    "PendingSeek",
    "PolicyState",
    "SyncDecision",
    "SyncPhase",
    "SyncThresholds",
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


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncThresholds:
    """Every tunable of the engine (seconds unless said otherwise; speeds are relative).

    Raises (on construction):
        ValueError: values that contradict each other (e.g. ``inner >= outer``).
    """

    tick_interval: float = 0.1
    """How often the engine measures and decides."""
    inner: float = 0.010
    """Tier 1 ends when |drift| falls below this."""
    outer: float = 0.030
    """Tier 1 begins when |drift| rises above this."""
    nudge_time_constant: float = 1.0
    """Proportional gain of tier 1: the nudge would remove the drift in this time."""
    max_nudge: float = 0.05
    """Largest speed nudge, relative to the room speed (0.05 = +-5%)."""
    nudge_slew: float = 0.20
    """Fastest change of the nudge, per second (0.20: 0 to 5% in 0.25 s)."""
    speed_step: float = 0.01
    """Smallest speed change sent to the player during a nudge (relative to the room speed);
    returning to the rest speed is always sent."""
    seek_threshold: float = 1.0
    """Tier 2 in steady playback."""
    transient_seek_threshold: float = 0.10
    """Tier 2 within ``transient_window`` after a transition."""
    transient_window: float = 3.0
    """How long after a transition the lower seek threshold applies."""
    start_lead: float = 0.3
    """A paused player that must seek while the room plays aims this far (plus its seek
    latency) ahead of the room, then starts when the room gets there."""
    max_start_wait: float = 0.5
    """A paused player ahead of a playing room by at most its start lead (seek latency plus
    ``start_lead``) plus this waits for the room instead of seeking."""
    paused_tolerance: float = 0.030
    """While the room is paused, the player is moved to the room position beyond this."""
    seek_cooldown: float = 1.0
    """Least time from a seek's landing to the next drift-driven seek; doubles on each seek
    within ``cooldown_reset_after`` of the previous one."""
    max_seek_cooldown: float = 60.0
    cooldown_reset_after: float = 30.0
    initial_seek_latency: float = 0.05
    """Seek latency assumed until the player's own is measured."""
    max_seek_latency: float = 2.0
    min_seek_latency: float = -0.25
    """The learned seek latency may go below zero: some players report a position ahead of
    the seek target right after landing (mpv by ~50 ms with its null audio output), and aiming
    that much behind cancels it."""
    latency_gain: float = 0.7
    """How much of each measured landing error corrects the seek-latency estimate."""
    latency_learn_limit: float = 0.5
    """A landing error larger than this is not from latency (something else moved): ignored."""
    max_trim: float = 0.01
    """Largest learned correction of the player's clock rate (relative)."""
    trim_gain: float = 0.5
    trim_min_cycle: float = 10.0
    """Shortest stretch of steady playback from which a clock-rate error is estimated."""
    user_hold: float = 2.0
    """After a pause, play, seek or speed change in the player's UI, the engine keeps its hands
    off this long (or until a new room state arrives), so the host's own action is not undone
    before the room confirms it."""
    sync_tolerance: float = 2.0
    """|drift| within which a member counts as synced (the database's rule)."""

    def __post_init__(self) -> None:
        for name in (
            "tick_interval",
            "inner",
            "outer",
            "nudge_time_constant",
            "max_nudge",
            "nudge_slew",
            "seek_threshold",
            "transient_seek_threshold",
            "paused_tolerance",
            "seek_cooldown",
            "sync_tolerance",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if not self.inner < self.outer:
            raise ValueError("inner must be below outer (the hysteresis band)")
        if not self.outer < self.transient_seek_threshold <= self.seek_threshold:
            raise ValueError("need outer < transient_seek_threshold <= seek_threshold")
        if not self.max_nudge < 0.5:
            raise ValueError("max_nudge must be below 0.5")
        if not 0 <= self.max_trim < self.max_nudge:
            raise ValueError("max_trim must be within [0, max_nudge)")
        if not self.seek_cooldown <= self.max_seek_cooldown:
            raise ValueError("seek_cooldown must not exceed max_seek_cooldown")
        if not self.min_seek_latency <= self.initial_seek_latency <= self.max_seek_latency:
            raise ValueError(
                "initial_seek_latency must be within [min_seek_latency, max_seek_latency]"
            )
        if not (0 < self.latency_gain <= 1 and 0 <= self.trim_gain <= 1):
            raise ValueError("latency_gain must be in (0, 1] and trim_gain in [0, 1]")
        if self.start_lead < 0 or self.max_start_wait < 0:
            raise ValueError("start_lead and max_start_wait must be >= 0")
        if self.transient_window < 0 or self.user_hold < 0 or self.trim_min_cycle <= 0:
            raise ValueError("transient_window and user_hold must be >= 0, trim_min_cycle > 0")


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


def decide(
    state: PolicyState, obs: Observation, th: SyncThresholds
) -> tuple[PolicyState, SyncDecision]:
    """One step of the sync policy: the new state and what to tell the player."""
    now = obs.now
    d = obs.drift
    s = state
    dt = 0.0 if s.last_tick is None else max(0.0, now - s.last_tick)
    s = replace(s, last_tick=now)

    if obs.room_changed:
        # A host action is applied at once: no cooldown left over from earlier drift.
        s = replace(
            s,
            room_version=s.room_version + 1,
            last_seek_at=-math.inf,
            seek_cooldown=th.seek_cooldown,
            cycle=None,
            transient_until=now + th.transient_window,
        )

    if obs.hold:
        # Hands off what the user did; but a speed nudge of ours still running is ours to
        # end (unless the user changed the speed too: then it is theirs).
        ours = obs.room_speed * (1.0 + s.trim + s.nudge)
        restore = None
        if s.nudge != 0.0 and _speed_change(obs, ours) is None:
            restore = obs.room_speed * (1.0 + s.trim)
        s = replace(
            s, phase=SyncPhase.HOLD, cycle=None, pending_seek=None, correcting=False, nudge=0.0
        )
        return s, SyncDecision(SyncPhase.HOLD, d, set_speed=restore)

    want_playing = obs.room_playing
    play_change = None if obs.player_playing == want_playing else want_playing

    if obs.buffering:
        # Nothing to correct while stalled; only follow a pause so the stall does not end
        # into playback the room no longer wants.
        stop = False if play_change is False else None
        return replace(s, phase=SyncPhase.BUFFERING, cycle=None), SyncDecision(
            SyncPhase.BUFFERING, d, set_playing=stop
        )

    if state.phase in (SyncPhase.WAITING, SyncPhase.HOLD, SyncPhase.BUFFERING):
        s = replace(s, transient_until=now + th.transient_window)

    if s.pending_seek is not None and not obs.seeking:
        seek = s.pending_seek
        # The cooldown runs from the landing: a slow seek must not eat it.
        s = replace(s, pending_seek=None, last_seek_at=now)
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
            s = replace(
                s,
                seek_latency=min(th.max_seek_latency, max(th.min_seek_latency, latency)),
                latency_samples=s.latency_samples + 1,
            )
        elif not seek.playing and not s.latency_samples:
            # Until a seek during playback measures it, the time a paused seek took (known to
            # within a tick) is a better guess than the prior.
            latency = now - seek.issued_at - th.tick_interval / 2
            s = replace(s, seek_latency=min(th.max_seek_latency, max(0.0, latency)))

    if obs.seeking:
        # A seek made while paused (to start on time) must not be followed by play yet.
        armed = s.pending_seek is not None and not s.pending_seek.playing
        return replace(s, phase=SyncPhase.SEEKING, cycle=None), SyncDecision(
            SyncPhase.SEEKING, d, set_playing=None if armed and play_change else play_change
        )

    rest_speed = obs.room_speed * (1.0 + s.trim)
    cooled = now - s.last_seek_at >= s.seek_cooldown

    if not obs.room_playing:
        phase = SyncPhase.STARTING if obs.room_scheduled else SyncPhase.PAUSED
        s = replace(s, phase=phase, correcting=False, nudge=0.0, cycle=None)
        if abs(d) > th.paused_tolerance and cooled:
            s = _start_seek(s, obs, th, obs.target, playing=False)
            s = replace(s, phase=phase)
            return s, SyncDecision(
                phase,
                d,
                seek_to=obs.target,
                set_speed=_speed_change(obs, rest_speed),
                set_playing=play_change,
                correction=Correction.SEEK,
            )
        return s, SyncDecision(
            phase,
            d,
            set_speed=_speed_change(obs, rest_speed),
            set_playing=play_change,
            wake_in=obs.starts_in if obs.room_scheduled else None,
        )

    transient = now < s.transient_until
    seek_threshold = th.transient_seek_threshold if transient else th.seek_threshold
    correction_kind = Correction.SEEK if transient else Correction.STEADY_SEEK

    if not obs.player_playing:
        # A paused player (joining, or the room just resumed) need not chase a moving target:
        # it seeks ahead while paused and starts when the room reaches it, which lands in sync
        # however long the seek takes.
        lead = (s.seek_latency + th.start_lead) * obs.room_speed
        if _START_EPSILON < d <= lead + th.max_start_wait:
            return replace(s, phase=SyncPhase.STARTING, cycle=None), SyncDecision(
                SyncPhase.STARTING,
                d,
                set_speed=_speed_change(obs, rest_speed),
                wake_in=d / obs.room_speed,
            )
        if abs(d) > seek_threshold and cooled:
            aim = max(0.0, obs.target + lead)
            s = _start_seek(s, obs, th, aim, playing=False)
            return s, SyncDecision(
                SyncPhase.SEEKING,
                d,
                seek_to=aim,
                set_speed=_speed_change(obs, rest_speed),
                correction=correction_kind,
            )

    if abs(d) > seek_threshold and cooled:
        # Aim where the room will be when the seek lands.
        aim = max(0.0, obs.target + s.seek_latency * obs.room_speed)
        s = _start_seek(s, obs, th, aim, playing=True)
        return s, SyncDecision(
            SyncPhase.SEEKING,
            d,
            seek_to=aim,
            set_speed=_speed_change(obs, rest_speed),
            set_playing=play_change,
            correction=correction_kind,
        )

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

    # Rate-error estimate (see TrimCycle): over a stretch of steady playback,
    #   drift change = speed * (trim + rate_error) * T + speed * integral(nudge)
    # so (trim + rate_error) follows from the measured change; the trim moves to cancel it.
    offset_drift = d + obs.clock_offset * obs.room_speed
    trim = s.trim
    cycle = s.cycle
    if cycle is None:
        cycle = TrimCycle(now, offset_drift)
    else:
        # The nudge in effect over the last dt is the one the player actually ran at.
        applied = obs.player_speed / obs.room_speed - 1.0 - s.trim
        cycle = replace(cycle, nudge_integral=cycle.nudge_integral + applied * dt)
        episode_ended = s.nudge != 0.0 and nudge == 0.0 and not correcting
        span = now - cycle.started_at
        if episode_ended and span >= th.trim_min_cycle and obs.player_playing:
            residual = (offset_drift - cycle.start_drift) / (
                obs.room_speed * span
            ) - cycle.nudge_integral / span
            trim = max(-th.max_trim, min(th.max_trim, trim - th.trim_gain * residual))
            cycle = TrimCycle(now, offset_drift)

    phase = SyncPhase.CORRECTING if correcting or nudge != 0.0 else SyncPhase.IN_SYNC
    s = replace(s, phase=phase, correcting=correcting, nudge=nudge, trim=trim, cycle=cycle)
    speed = obs.room_speed * (1.0 + trim + nudge)
    set_speed = _speed_change(obs, speed)
    if (
        set_speed is not None
        and nudge != 0.0
        and abs(set_speed - obs.player_speed) < th.speed_step * obs.room_speed
    ):
        # Each speed change costs a small glitch in a real player; skip the tiny ones.
        set_speed = None
    return s, SyncDecision(
        phase,
        d,
        set_speed=set_speed,
        set_playing=play_change,
        correction=correction,
    )
