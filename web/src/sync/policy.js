// The sync engine's decisions as pure functions of what was measured: the same decisions as
// watchium_client/sync/_policy.py (`decide`), step for step. The case file exported from the
// Python engine (web/test/sync_cases.json) is replayed against this module by `node --test`,
// and a pytest test checks the file is current, so the two cannot drift apart.
//
// Tiers, by the drift d = player position - room target position: |d| <= outer: nothing (the
// player runs at the room speed times a learned trim); above outer: a speed nudge against d
// until |d| <= inner (hysteresis); above a seek threshold (low right after a transition, high
// in steady playback): a seek aimed ahead by the learned seek latency, with a cooldown that
// doubles on repeated seeks. docs/SYNC_ENGINE.md explains every threshold.

export const Phase = Object.freeze({
  WAITING: 'waiting',
  PAUSED: 'paused',
  STARTING: 'starting',
  IN_SYNC: 'in_sync',
  CORRECTING: 'correcting',
  SEEKING: 'seeking',
  BUFFERING: 'buffering',
  HOLD: 'hold',
});

export const Correction = Object.freeze({ SPEED: 'speed', SEEK: 'seek', STEADY_SEEK: 'steady_seek' });

const START_EPSILON = 0.002;
const TRANSITION_PHASES = new Set([Phase.WAITING, Phase.HOLD, Phase.BUFFERING]);

/** The policy's memory before the first tick. */
export function initialState(th) {
  return {
    phase: Phase.WAITING,
    correcting: false,
    nudge: 0.0,
    trim: 0.0,
    seek_latency: th.initial_seek_latency,
    latency_samples: 0,
    last_seek_at: -Infinity,
    seek_cooldown: th.seek_cooldown,
    pending_seek: null,
    transient_until: -Infinity,
    last_tick: null,
    cycle: null,
    room_version: 0,
  };
}

/** An observation with the Python defaults filled in; drift = position - target. */
export function observation(fields) {
  return {
    room_scheduled: false,
    starts_in: 0.0,
    room_speed: 1.0,
    seeking: false,
    buffering: false,
    room_changed: false,
    hold: false,
    clock_offset: 0.0,
    ...fields,
  };
}

function decision(phase, drift, extra = {}) {
  return {
    phase,
    drift,
    seek_to: null,
    set_speed: null,
    set_playing: null,
    correction: null,
    wake_in: null,
    ...extra,
  };
}

const driftOf = (obs) => obs.position - obs.target;

/** One step: returns [newState, decision] (see the Python `decide`). */
export function decide(state, obs, th) {
  const dt = state.last_tick === null ? 0.0 : Math.max(0.0, obs.now - state.last_tick);
  let s = { ...state, last_tick: obs.now };
  if (obs.room_changed) s = afterHostAction(s, obs, th);
  if (obs.hold) return userHold(s, obs);
  const playChange = obs.player_playing === obs.room_playing ? null : obs.room_playing;
  if (obs.buffering) return buffering(s, obs, playChange);
  if (TRANSITION_PHASES.has(s.phase)) s = { ...s, transient_until: obs.now + th.transient_window };
  if (s.pending_seek !== null && !obs.seeking) s = landSeek(s, s.pending_seek, obs, th);
  if (obs.seeking) return seekInFlight(s, obs, playChange);
  if (!obs.room_playing) return roomPaused(s, obs, th, playChange);
  if (!obs.player_playing) {
    const starting = startOnTime(s, obs, th);
    if (starting !== null) return starting;
  }
  const seeking = seekTier(s, obs, th, playChange);
  if (seeking !== null) return seeking;
  return nudgeTier(s, obs, th, dt, playChange);
}

function afterHostAction(s, obs, th) {
  return {
    ...s,
    room_version: s.room_version + 1,
    last_seek_at: -Infinity,
    seek_cooldown: th.seek_cooldown,
    cycle: null,
    transient_until: obs.now + th.transient_window,
  };
}

function userHold(s, obs) {
  const ours = obs.room_speed * (1.0 + s.trim + s.nudge);
  let restore = null;
  if (s.nudge !== 0.0 && speedChange(obs, ours) === null) restore = obs.room_speed * (1.0 + s.trim);
  const next = { ...s, phase: Phase.HOLD, cycle: null, pending_seek: null, correcting: false, nudge: 0.0 };
  return [next, decision(Phase.HOLD, driftOf(obs), { set_speed: restore })];
}

function buffering(s, obs, playChange) {
  const stop = playChange === false ? false : null;
  return [
    { ...s, phase: Phase.BUFFERING, cycle: null },
    decision(Phase.BUFFERING, driftOf(obs), { set_playing: stop }),
  ];
}

function landSeek(s, seek, obs, th) {
  s = { ...s, pending_seek: null, last_seek_at: obs.now };
  const d = driftOf(obs);
  if (
    seek.playing &&
    obs.room_playing &&
    obs.player_playing &&
    seek.room_version === s.room_version &&
    Math.abs(d) < th.latency_learn_limit
  ) {
    const gain = s.latency_samples ? th.latency_gain : 1.0;
    const latency = s.seek_latency - (gain * d) / obs.room_speed;
    return {
      ...s,
      seek_latency: Math.min(th.max_seek_latency, Math.max(th.min_seek_latency, latency)),
      latency_samples: s.latency_samples + 1,
    };
  }
  if (!seek.playing && !s.latency_samples) {
    const latency = obs.now - seek.issued_at - th.tick_interval / 2;
    return { ...s, seek_latency: Math.min(th.max_seek_latency, Math.max(0.0, latency)) };
  }
  return s;
}

function seekInFlight(s, obs, playChange) {
  const armed = s.pending_seek !== null && !s.pending_seek.playing;
  return [
    { ...s, phase: Phase.SEEKING, cycle: null },
    decision(Phase.SEEKING, driftOf(obs), { set_playing: armed && playChange ? null : playChange }),
  ];
}

function roomPaused(s, obs, th, playChange) {
  const phase = obs.room_scheduled ? Phase.STARTING : Phase.PAUSED;
  s = { ...s, phase, correcting: false, nudge: 0.0, cycle: null };
  const setSpeed = speedChange(obs, restSpeed(s, obs));
  const d = driftOf(obs);
  if (Math.abs(d) > th.paused_tolerance && cooled(s, obs)) {
    s = { ...startSeek(s, obs, th, obs.target, false), phase };
    return [
      s,
      decision(phase, d, {
        seek_to: obs.target,
        set_speed: setSpeed,
        set_playing: playChange,
        correction: Correction.SEEK,
      }),
    ];
  }
  return [
    s,
    decision(phase, d, {
      set_speed: setSpeed,
      set_playing: playChange,
      wake_in: obs.room_scheduled ? obs.starts_in : null,
    }),
  ];
}

function startOnTime(s, obs, th) {
  const d = driftOf(obs);
  const setSpeed = speedChange(obs, restSpeed(s, obs));
  const lead = (s.seek_latency + th.start_lead) * obs.room_speed;
  if (START_EPSILON < d && d <= lead + th.max_start_wait) {
    return [
      { ...s, phase: Phase.STARTING, cycle: null },
      decision(Phase.STARTING, d, { set_speed: setSpeed, wake_in: d / obs.room_speed }),
    ];
  }
  const [threshold, correction] = seekThreshold(s, obs, th);
  if (Math.abs(d) > threshold && cooled(s, obs)) {
    const aim = Math.max(0.0, obs.target + lead);
    const next = startSeek(s, obs, th, aim, false);
    return [next, decision(Phase.SEEKING, d, { seek_to: aim, set_speed: setSpeed, correction })];
  }
  return null;
}

function seekTier(s, obs, th, playChange) {
  const [threshold, correction] = seekThreshold(s, obs, th);
  const d = driftOf(obs);
  if (!(Math.abs(d) > threshold && cooled(s, obs))) return null;
  const setSpeed = speedChange(obs, restSpeed(s, obs));
  const aim = Math.max(0.0, obs.target + s.seek_latency * obs.room_speed);
  const next = startSeek(s, obs, th, aim, true);
  return [
    next,
    decision(Phase.SEEKING, d, { seek_to: aim, set_speed: setSpeed, set_playing: playChange, correction }),
  ];
}

function nudgeTier(s, obs, th, dt, playChange) {
  const d = driftOf(obs);
  let correction = null;
  let correcting = s.correcting;
  if (!correcting && Math.abs(d) > th.outer) {
    correcting = true;
    correction = Correction.SPEED;
  } else if (correcting && Math.abs(d) <= th.inner) {
    correcting = false;
  }
  let goal = 0.0;
  if (correcting) {
    goal = -d / (obs.room_speed * th.nudge_time_constant);
    goal = Math.max(-th.max_nudge, Math.min(th.max_nudge, goal));
  }
  const nudge = approach(s.nudge, goal, th.nudge_slew * dt);
  const episodeEnded = s.nudge !== 0.0 && nudge === 0.0 && !correcting;
  const [trim, cycle] = learnTrim(s, obs, th, dt, episodeEnded);
  const phase = correcting || nudge !== 0.0 ? Phase.CORRECTING : Phase.IN_SYNC;
  s = { ...s, phase, correcting, nudge, trim, cycle };
  let setSpeed = speedChange(obs, obs.room_speed * (1.0 + trim + nudge));
  if (
    setSpeed !== null &&
    nudge !== 0.0 &&
    Math.abs(setSpeed - obs.player_speed) < th.speed_step * obs.room_speed
  ) {
    setSpeed = null;
  }
  return [s, decision(phase, d, { set_speed: setSpeed, set_playing: playChange, correction })];
}

function learnTrim(s, obs, th, dt, episodeEnded) {
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

function seekThreshold(s, obs, th) {
  if (obs.now < s.transient_until) return [th.transient_seek_threshold, Correction.SEEK];
  return [th.seek_threshold, Correction.STEADY_SEEK];
}

const cooled = (s, obs) => obs.now - s.last_seek_at >= s.seek_cooldown;
const restSpeed = (s, obs) => obs.room_speed * (1.0 + s.trim);

function approach(value, goal, step) {
  if (value < goal) return Math.min(goal, value + step);
  return Math.max(goal, value - step);
}

function speedChange(obs, speed) {
  return Math.abs(obs.player_speed - speed) <= 1e-5 * speed ? null : speed;
}

function startSeek(s, obs, th, aim, playing) {
  const repeated = obs.now - s.last_seek_at < th.cooldown_reset_after;
  const cooldown = repeated ? Math.min(th.max_seek_cooldown, s.seek_cooldown * 2) : th.seek_cooldown;
  return {
    ...s,
    phase: Phase.SEEKING,
    correcting: false,
    nudge: 0.0,
    last_seek_at: obs.now,
    seek_cooldown: cooldown,
    pending_seek: { aim, issued_at: obs.now, playing, room_version: s.room_version },
    cycle: null,
  };
}
