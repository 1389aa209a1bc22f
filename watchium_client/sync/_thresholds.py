"""Every tunable of the sync engine, with the checks that keep them consistent.

One frozen object, passed to the policy on every decision and to the engine for its tick
interval, so a session, a benchmark variant or a test changes a threshold in one place.
docs/SYNC_ENGINE.md ("Thresholds") says how each default was chosen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["SyncThresholds"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncThresholds:
    """Every tunable of the engine (seconds unless said otherwise; speeds are relative).

    Raises (on construction):
        ValueError: values that contradict each other (e.g. ``inner >= outer``).
    """

    tick_interval: float = 0.1
    """How often the engine measures and decides."""
    seek_poll: float = 0.02
    """How often while a seek is in flight: its landing is timed to within this."""
    inner: float = 0.010
    """Tier 1 ends when |drift| falls below this."""
    outer: float = 0.030
    """Tier 1 begins when |drift| rises above this."""
    transient_outer: float = 0.015
    """Within ``transient_window`` after a transition, tier 1 begins above this instead: what
    a seek or a start leaves is removed while the picture settles anyway, so steady playback
    starts near zero rather than anywhere in the band."""
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
    paused_landing: float = 0.100
    """Once the player was sought to the paused room's position, where it landed stands up to
    this far off: an exact seek lands on the frame at or after its target (up to a frame late:
    42 ms at 24 fps), and seeking again would land on the same frame, again and again."""
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
    initial_speed_latency: float = 0.3
    """How long a speed change takes to be heard, until the player's own is measured (mpv with
    its null audio output: 0.3-0.4 s)."""
    max_speed_latency: float = 1.5
    speed_settle: float = 0.5
    """After a change of the room's speed reaches the player, no nudge begins for its speed
    latency plus this: the change is taking effect (and its latency is measured)."""
    reference_settle: float = 0.5
    """The room's reference player (its host's) is measured against the room this long after
    its own action, once it plays steadily."""
    reference_tolerance: float = 0.015
    """Farther than this from the room then, the reference player moves the room (a re-anchor)
    instead of being corrected."""
    user_hold: float = 2.0
    """After a pause, play, seek or speed change in the player's UI, the engine keeps its hands
    off this long (or until a new room state arrives), so the host's own action is not undone
    before the room confirms it."""
    sync_tolerance: float = 2.0
    """|drift| within which a member counts as synced (the database's rule)."""

    def __post_init__(self) -> None:
        for name in (
            "tick_interval",
            "seek_poll",
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
        if not self.inner < self.transient_outer <= self.outer:
            raise ValueError("need inner < transient_outer <= outer (the hysteresis bands)")
        if not self.outer < self.transient_seek_threshold <= self.seek_threshold:
            raise ValueError("need outer < transient_seek_threshold <= seek_threshold")
        if not self.max_nudge < 0.5:
            raise ValueError("max_nudge must be below 0.5")
        if not 0 <= self.max_trim < self.max_nudge:
            raise ValueError("max_trim must be within [0, max_nudge)")
        if not self.paused_tolerance <= self.paused_landing:
            raise ValueError("need paused_tolerance <= paused_landing")
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
        if not 0 <= self.initial_speed_latency <= self.max_speed_latency:
            raise ValueError("initial_speed_latency must be within [0, max_speed_latency]")
        if self.speed_settle < 0 or self.reference_settle < 0:
            raise ValueError("speed_settle and reference_settle must be >= 0")
        if not 0 < self.reference_tolerance < self.outer:
            raise ValueError("reference_tolerance must be within (0, outer)")
