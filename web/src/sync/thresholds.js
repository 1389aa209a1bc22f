// Every tunable of the sync engine: the defaults of watchium_client.sync.SyncThresholds.
// docs/SYNC_ENGINE.md says how each was chosen; web/test/sync_cases.json (exported from the
// Python engine) pins them, so the two engines cannot disagree.

export const DEFAULT_THRESHOLDS = Object.freeze({
  tick_interval: 0.1,
  inner: 0.01,
  outer: 0.03,
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
  user_hold: 2.0,
  sync_tolerance: 2.0,
});

/** The defaults with some values replaced (names as in the Python class). */
export function thresholds(overrides = {}) {
  for (const name of Object.keys(overrides)) {
    if (!(name in DEFAULT_THRESHOLDS)) throw new Error(`unknown threshold ${name}`);
  }
  const th = { ...DEFAULT_THRESHOLDS, ...overrides };
  if (!(th.inner < th.outer)) throw new Error('inner must be below outer (the hysteresis band)');
  if (!(th.outer < th.transient_seek_threshold && th.transient_seek_threshold <= th.seek_threshold)) {
    throw new Error('need outer < transient_seek_threshold <= seek_threshold');
  }
  return Object.freeze(th);
}
