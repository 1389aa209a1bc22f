// What the sync policy sees, remembers and says (watchium_client/sync/_policy_state.py):
// its observations, its state and its decisions, as plain objects with the Python field names,
// so the case file exported from the Python engine reads straight into them.

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

/** The policy's memory before the first tick (PolicyState.initial). */
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
    // The room speed the player was last told (to notice the room changing speed).
    command_speed: null,
    // No nudge begins before this: a change of the room's speed is taking effect.
    settle_until: -Infinity,
    // Since when the player plays with the room, not seeking or stalled (null: it does not).
    steady_since: null,
    // When the room last changed while this player was its reference.
    own_change_at: -Infinity,
    // The room version whose offset the reference player last handed to the room.
    reanchored_version: -2,
    // The position of the paused (or not yet started) room the player was last sought to.
    paused_seek_target: null,
  };
}

/** An observation with the Python defaults filled in (Observation); drift = position - target. */
export function observation(fields) {
  return {
    room_scheduled: false,
    starts_in: 0.0,
    room_speed: 1.0,
    // The room speed to tell the player now (null: room_speed); ahead of a scheduled speed
    // change, the new speed from the player's speed latency before the change on.
    command_speed: null,
    // Seconds until command_speed changes (null: no change scheduled).
    command_switch_in: null,
    speed_latency: 0.0,
    // This player is the room's reference (its user hosts the room).
    reference: false,
    seeking: false,
    buffering: false,
    room_changed: false,
    hold: false,
    clock_offset: 0.0,
    ...fields,
  };
}

/** A decision (SyncDecision): null leaves the player as is. */
export function decision(phase, drift, extra = {}) {
  return {
    phase,
    drift,
    seek_to: null,
    set_speed: null,
    set_playing: null,
    correction: null,
    wake_in: null,
    reanchor: false,
    ...extra,
  };
}

export const driftOf = (obs) => obs.position - obs.target;
