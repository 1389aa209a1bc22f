// Every tunable of the sync engine: the defaults of watchium_client.sync.SyncThresholds.
// docs/SYNC_ENGINE.md says how each was chosen; web/test/sync_cases.json (exported from the
// Python engine) pins them, so the two engines cannot disagree.

export const DEFAULT_THRESHOLDS = Object.freeze({
  tick_interval: 0.1,
  seek_poll: 0.02,
  inner: 0.01,
  outer: 0.03,
  transient_outer: 0.015,
  nudge_time_constant: 1.0,
  max_nudge: 0.05,
  nudge_slew: 0.2,
  speed_step: 0.01,
  seek_threshold: 1.0,
  transient_seek_threshold: 0.1,
  transient_window: 3.0,
  start_lead: 0.3,
  max_start_wait: 0.5,
  paused_tolerance: 0.03,
  paused_landing: 0.1,
  seek_cooldown: 1.0,
  max_seek_cooldown: 60.0,
  cooldown_reset_after: 30.0,
  initial_seek_latency: 0.05,
  max_seek_latency: 2.0,
  min_seek_latency: -0.25,
  latency_gain: 0.7,
  latency_learn_limit: 0.5,
  max_trim: 0.01,
  trim_gain: 0.5,
  trim_min_cycle: 10.0,
  initial_speed_latency: 0.3,
  max_speed_latency: 1.5,
  speed_settle: 0.5,
  reference_settle: 0.5,
  reference_tolerance: 0.015,
  user_hold: 2.0,
  sync_tolerance: 2.0,
});

/** The defaults with some values replaced (names as in the Python class), checked as there. */
export function thresholds(overrides = {}) {
  for (const name of Object.keys(overrides)) {
    if (!(name in DEFAULT_THRESHOLDS)) throw new Error(`unknown threshold ${name}`);
  }
  const th = { ...DEFAULT_THRESHOLDS, ...overrides };
  if (!(th.inner < th.transient_outer && th.transient_outer <= th.outer)) {
    throw new Error('need inner < transient_outer <= outer (the hysteresis bands)');
  }
  if (!(th.outer < th.transient_seek_threshold && th.transient_seek_threshold <= th.seek_threshold)) {
    throw new Error('need outer < transient_seek_threshold <= seek_threshold');
  }
  if (!(th.paused_tolerance <= th.paused_landing)) throw new Error('need paused_tolerance <= paused_landing');
  if (!(th.initial_speed_latency >= 0 && th.initial_speed_latency <= th.max_speed_latency)) {
    throw new Error('initial_speed_latency must be within [0, max_speed_latency]');
  }
  if (!(th.reference_tolerance > 0 && th.reference_tolerance < th.outer)) {
    throw new Error('reference_tolerance must be within (0, outer)');
  }
  return Object.freeze(th);
}
