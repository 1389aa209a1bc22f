"""What the sync policy sees, remembers and says: its observations, its state and its
decisions (immutable values; `watchium_client.sync._policy.decide` maps one to the next)."""

from __future__ import annotations

import math
from dataclasses import dataclass
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
    command_speed: float | None = None
    """The room speed the player was last told (to notice the room changing speed)."""
    settle_until: float = -math.inf
    """No nudge begins before this: a change of the room's speed is taking effect."""
    steady_since: float | None = None
    """Since when the player plays with the room, not seeking or stalled (None: it does not)."""
    own_change_at: float = -math.inf
    """When the room last changed while this player was its reference."""
    reanchored_version: int = -2
    """The room version whose offset the reference player last handed to the room."""
    paused_seek_target: float | None = None
    """The position of the paused (or not yet started) room the player was last sought to."""

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
    """The speed the room moves at ``now``."""
    command_speed: float | None = None
    """The room speed to tell the player now (None: ``room_speed``). Ahead of a scheduled speed
    change it is the new speed from the player's speed latency before the change on, so that
    the change is heard at the agreed instant."""
    command_switch_in: float | None = None
    """Seconds until ``command_speed`` changes (None: no change scheduled)."""
    speed_latency: float = 0.0
    """How long the player takes to apply a speed change (learned, seconds)."""
    reference: bool = False
    """This player is the room's reference: its user hosts the room, so the room's changes are
    its own actions (see `SyncThresholds.reference_settle`)."""
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
    playback exactly when the room reaches the player's position, or to change speed exactly
    on time."""
    reanchor: bool = False
    """The reference player is off the room after the room's change: move the room to the
    player (the engine reports where the player is) rather than the player to the room."""
