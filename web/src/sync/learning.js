// What the sync policy learns about its player (watchium_client/sync/_learning.py): how long
// its seeks take, from where they land, and how fast its clock runs, from the drift between
// nudge episodes. docs/SYNC_ENGINE.md ("Learned seek latency", "Learned clock trim").
import { driftOf } from './policy_state.js';

/** Forgets the seek that has landed and learns the seek latency from it (land_seek). */
export function landSeek(s, seek, obs, th, dt) {
  // The cooldown runs from the landing: a slow seek must not eat it.
  s = { ...s, pending_seek: null, last_seek_at: obs.now };
  const d = driftOf(obs);
  if (
    seek.playing &&
    obs.room_playing &&
    obs.player_playing &&
    seek.room_version === s.room_version &&
    Math.abs(d) < th.latency_learn_limit
  ) {
    // Landed d seconds off: the first landing replaces the prior, later ones are smoothed.
    const gain = s.latency_samples ? th.latency_gain : 1.0;
    const latency = s.seek_latency - (gain * d) / obs.room_speed;
    return {
      ...s,
      seek_latency: Math.min(th.max_seek_latency, Math.max(th.min_seek_latency, latency)),
      latency_samples: s.latency_samples + 1,
    };
  }
  if (!seek.playing && !s.latency_samples) {
    // The time a paused seek took, known to within the time since the previous observation.
    const latency = obs.now - seek.issued_at - dt / 2;
    return { ...s, seek_latency: Math.min(th.max_seek_latency, Math.max(0.0, latency)) };
  }
  return s;
}

/** The trim and the measurement stretch after this tick (learn_trim): [trim, cycle]. */
export function learnTrim(s, obs, th, dt, episodeEnded) {
  // Drift on the server's clock as first estimated: a better offset estimate is no rate error.
  const offsetDrift = driftOf(obs) + obs.clock_offset * obs.room_speed;
  if (s.cycle === null) {
    return [s.trim, { started_at: obs.now, start_drift: offsetDrift, nudge_integral: 0.0 }];
  }
  const applied = obs.player_speed / obs.room_speed - 1.0 - s.trim;
  const cycle = { ...s.cycle, nudge_integral: s.cycle.nudge_integral + applied * dt };
  const span = obs.now - cycle.started_at;
  if (!(episodeEnded && span >= th.trim_min_cycle && obs.player_playing)) return [s.trim, cycle];
  const residual =
    (offsetDrift - cycle.start_drift) / (obs.room_speed * span) - cycle.nudge_integral / span;
  const trim = Math.max(-th.max_trim, Math.min(th.max_trim, s.trim - th.trim_gain * residual));
  return [trim, { started_at: obs.now, start_drift: offsetDrift, nudge_integral: 0.0 }];
}
