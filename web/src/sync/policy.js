// The sync engine's decisions as pure functions of what was measured: the same decisions as
// watchium_client/sync/_policy.py (`decide`), rule for rule, in the same order. The case file
// exported from the Python engine (web/test/sync_cases.json) is replayed against this module by
// `node --test`, and a pytest test checks the file is current, so the two cannot drift apart.
//
// Tiers, by the drift d = player position - room target position: |d| <= outer: nothing (the
// player runs at the room speed times a learned trim); above outer (transient_outer right after
// a transition): a speed nudge against d until |d| <= inner (hysteresis); above a seek threshold
// (low right after a transition, high in steady playback): a seek aimed ahead by the learned
// seek latency, with a cooldown that doubles on repeated seeks. Two transition rules come
// before the tiers: a change of the room's speed is told to the player its speed latency ahead
// and no nudge begins while it takes effect; the room's reference player (its host's) is not
// corrected after its own action, and an offset is handed to the room (a re-anchor) instead.
// docs/SYNC_ENGINE.md explains every threshold.
import { landSeek, learnTrim } from './learning.js';
import { Correction, Phase, decision, driftOf } from './policy_state.js';

export { Correction, Phase, initialState, observation } from './policy_state.js';

// A paused player this little ahead of the room starts now rather than after another tick.
const START_EPSILON = 0.002;
// Phases after which the picture has just jumped (or never ran): the transient window opens.
const TRANSITION_PHASES = new Set([Phase.WAITING, Phase.HOLD, Phase.BUFFERING]);

/** One step: returns [newState, decision] (decide). */
export function decide(state, obs, th) {
  const dt = state.last_tick === null ? 0.0 : Math.max(0.0, obs.now - state.last_tick);
  let s = { ...state, last_tick: obs.now, steady_since: steadySince(state, obs) };
  if (obs.room_changed) s = afterHostAction(s, obs, th);
  s = followRoomSpeed(s, obs, th);
  if (obs.hold) return userHold(s, obs);
  const playChange = obs.player_playing === obs.room_playing ? null : obs.room_playing;
  if (obs.buffering) return buffering(s, obs, playChange);
  if (TRANSITION_PHASES.has(s.phase)) s = { ...s, transient_until: obs.now + th.transient_window };
  if (s.pending_seek !== null && !obs.seeking) s = landSeek(s, s.pending_seek, obs, th, dt);
  if (obs.seeking) return seekInFlight(s, obs, th, playChange);
  if (!obs.room_playing) return roomPaused(s, obs, th, playChange);
  if (!obs.player_playing) {
    const starting = startOnTime(s, obs, th);
    if (starting !== null) return starting;
  }
  if (referenceSettling(s, obs, th)) return referenceSettle(s, obs, th, playChange);
  const seeking = seekTier(s, obs, th, playChange);
  if (seeking !== null) return seeking;
  return nudgeTier(s, obs, th, dt, playChange);
}

// _after_host_action: applied at once, no cooldown left over, no trim across the jump.
function afterHostAction(s, obs, th) {
  return {
    ...s,
    room_version: s.room_version + 1,
    last_seek_at: -Infinity,
    seek_cooldown: th.seek_cooldown,
    cycle: null,
    transient_until: obs.now + th.transient_window,
    own_change_at: obs.reference ? obs.now : s.own_change_at,
  };
}

// _steady_since
function steadySince(s, obs) {
  const moving = obs.player_playing && obs.room_playing && !(obs.seeking || obs.buffering || obs.hold);
  if (!moving) return null;
  return s.steady_since === null ? obs.now : s.steady_since;
}

// _follow_room_speed: a new room speed takes the player's speed latency to be heard; a nudge
// under way ends, and none begins (nor is trim measured) until it has taken effect.
function followRoomSpeed(s, obs, th) {
  const command = commandSpeed(obs);
  if (s.command_speed !== null && Math.abs(command - s.command_speed) > 1e-9 * command) {
    s = {
      ...s,
      settle_until: obs.now + obs.speed_latency + th.speed_settle,
      cycle: null,
      correcting: false,
      nudge: 0.0,
    };
  }
  return { ...s, command_speed: command };
}

// _user_hold: hands off what the user did; a nudge of ours still running is ours to end.
function userHold(s, obs) {
  const ours = commandSpeed(obs) * (1.0 + s.trim + s.nudge);
  let restore = null;
  if (s.nudge !== 0.0 && speedChange(obs, ours) === null) restore = restSpeed(s, obs);
  const next = { ...s, phase: Phase.HOLD, cycle: null, pending_seek: null, correcting: false, nudge: 0.0 };
  return [next, decision(Phase.HOLD, driftOf(obs), { set_speed: restore })];
}

// _buffering: nothing to correct while stalled; only follow a pause.
function buffering(s, obs, playChange) {
  const stop = playChange === false ? false : null;
  return [
    { ...s, phase: Phase.BUFFERING, cycle: null },
    decision(Phase.BUFFERING, driftOf(obs), { set_playing: stop }),
  ];
}

// _seek_in_flight: a paused seek (to start on time) is not followed by play yet; look again
// soon (seek_poll), so the landing is timed to within that.
function seekInFlight(s, obs, th, playChange) {
  const armed = s.pending_seek !== null && !s.pending_seek.playing;
  return [
    { ...s, phase: Phase.SEEKING, cycle: null },
    decision(Phase.SEEKING, driftOf(obs), {
      set_playing: armed && playChange ? null : playChange,
      wake_in: th.seek_poll,
    }),
  ];
}

// _room_paused: hold the player at the room's position; once sought there, it stays where it
// landed unless that is beyond paused_landing.
function roomPaused(s, obs, th, playChange) {
  const phase = obs.room_scheduled ? Phase.STARTING : Phase.PAUSED;
  s = { ...s, phase, correcting: false, nudge: 0.0, cycle: null };
  const setSpeed = speedChange(obs, restSpeed(s, obs));
  const d = driftOf(obs);
  const sought = s.paused_seek_target !== null && Math.abs(s.paused_seek_target - obs.target) < 1e-6;
  const tolerance = sought ? th.paused_landing : th.paused_tolerance;
  if (Math.abs(d) > tolerance && cooled(s, obs)) {
    s = { ...startSeek(s, obs, th, obs.target, false), phase, paused_seek_target: obs.target };
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

// _start_on_time: a paused player seeks ahead while paused and starts when the room gets there.
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

// _reference_settling: within a transition window of its own action, unless something moved
// it by more than a steady seek would fix (then the row is right and the player is not).
function referenceSettling(s, obs, th) {
  return (
    obs.reference &&
    obs.now < s.own_change_at + th.transient_window &&
    Math.abs(driftOf(obs)) <= th.seek_threshold
  );
}

// _reference_settle: no nudge and no seek; once settled, an offset beyond reference_tolerance
// is handed to the room, once per host action (not again for the room's answer to it).
function referenceSettle(s, obs, th, playChange) {
  const d = driftOf(obs);
  const since = Math.max(s.own_change_at, s.steady_since === null ? Infinity : s.steady_since);
  const settled = obs.now >= since + th.reference_settle && obs.now >= s.settle_until;
  const reanchor =
    settled &&
    playChange === null &&
    Math.abs(d) > th.reference_tolerance &&
    s.reanchored_version < s.room_version - 1;
  s = {
    ...s,
    phase: Phase.IN_SYNC,
    correcting: false,
    nudge: 0.0,
    cycle: null,
    reanchored_version: reanchor ? s.room_version : s.reanchored_version,
  };
  return [
    s,
    decision(Phase.IN_SYNC, d, {
      set_speed: speedChange(obs, restSpeed(s, obs)),
      set_playing: playChange,
      reanchor,
      wake_in: obs.command_switch_in,
    }),
  ];
}

// _seek_tier: tier 2, a seek aimed where the room will be when it lands (null: not now).
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

// _nudge_tier: tiers 0 and 1, and the trim learned between nudge episodes.
function nudgeTier(s, obs, th, dt, playChange) {
  const d = driftOf(obs);
  let correction = null;
  let correcting = s.correcting;
  const settling = obs.now < s.settle_until;
  const outer = obs.now < s.transient_until ? th.transient_outer : th.outer;
  if (!correcting && Math.abs(d) > outer && !settling) {
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
  const [trim, cycle] = settling ? [s.trim, null] : learnTrim(s, obs, th, dt, episodeEnded);
  const phase = correcting || nudge !== 0.0 ? Phase.CORRECTING : Phase.IN_SYNC;
  s = { ...s, phase, correcting, nudge, trim, cycle };
  const command = commandSpeed(obs);
  let setSpeed = speedChange(obs, command * (1.0 + trim + nudge));
  if (setSpeed !== null && nudge !== 0.0 && Math.abs(setSpeed - obs.player_speed) < th.speed_step * command) {
    setSpeed = null; // each speed change costs a small glitch in a real player
  }
  return [
    s,
    decision(phase, d, {
      set_speed: setSpeed,
      set_playing: playChange,
      correction,
      wake_in: obs.command_switch_in,
    }),
  ];
}

// _seek_threshold: low within the transient window, but not while a speed change takes effect.
function seekThreshold(s, obs, th) {
  const transient = obs.now < s.transient_until;
  if (transient && obs.now >= s.settle_until) return [th.transient_seek_threshold, Correction.SEEK];
  return [th.seek_threshold, transient ? Correction.SEEK : Correction.STEADY_SEEK];
}

const cooled = (s, obs) => obs.now - s.last_seek_at >= s.seek_cooldown;
const commandSpeed = (obs) => (obs.command_speed === null ? obs.room_speed : obs.command_speed);
// _rest_speed: the room's speed as the player must be told it now, times the learned trim.
const restSpeed = (s, obs) => commandSpeed(obs) * (1.0 + s.trim);

function approach(value, goal, step) {
  if (value < goal) return Math.min(goal, value + step);
  return Math.max(goal, value - step);
}

// _speed_change: players keep the speed to about 6 decimals.
function speedChange(obs, speed) {
  return Math.abs(obs.player_speed - speed) <= 1e-5 * speed ? null : speed;
}

// _start_seek: the cooldown doubles for a seek soon after the previous one.
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
