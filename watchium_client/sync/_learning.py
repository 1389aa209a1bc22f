"""What the sync policy learns about its player: how long its seeks take (from where they land)
and how fast its clock runs (from the drift between nudge episodes). Pure functions of the
policy's state and one observation; docs/SYNC_ENGINE.md ("Learned seek latency", "Learned clock
trim") explains both."""

from __future__ import annotations

from dataclasses import replace

from watchium_client.sync._policy_state import Observation, PendingSeek, PolicyState, TrimCycle
from watchium_client.sync._thresholds import SyncThresholds

__all__ = ["land_seek", "learn_trim"]


def land_seek(
    s: PolicyState, seek: PendingSeek, obs: Observation, th: SyncThresholds, dt: float
) -> PolicyState:
    """Forgets the seek that has landed, and learns the seek latency from where it landed
    (``dt``: the time since the previous observation, when it had not landed yet)."""
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
        # within the time since the previous observation) is a better guess than the prior.
        latency = obs.now - seek.issued_at - dt / 2
        return replace(s, seek_latency=min(th.max_seek_latency, max(0.0, latency)))
    return s


def learn_trim(
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
